//! `retry ID... [--at TIME]`: a failed or cancelled task waits again with a fresh attempt budget,
//! its history kept; anything else is refused (exit 3) and nothing changes, all or none.

mod common;
#[path = "support/operators.rs"]
mod operators;

use common::{exits, refused_unchanged, show, state_of, Env, Server};
use operators::listed_ids;
use serde_json::Value;

/// An endpoint `hook` whose URL answers 404 and a `/fixed` path that answers 200.
fn broken_hook() -> (Env, Server) {
    let env = Env::new();
    let server = Server::start();
    server.answer("/gone", 404, "no such thing");
    env.ok(&["register", "hook", "--url", &server.url("/gone")]);
    (env, server)
}

/// Schedules a task due now to `endpoint` and lets a tick send it.
fn sent_task(env: &Env, endpoint: &str, extra: &[&str]) -> i64 {
    let mut args = vec![endpoint, "--at", "now"];
    args.extend_from_slice(extra);
    let id = env.schedule(&args);
    env.ok(&["tick"]);
    id
}

fn attempt_numbers(detail: &Value) -> Vec<u64> {
    detail["attempts"]
        .as_array()
        .expect("show --json has attempts")
        .iter()
        .map(|a| a["number"].as_u64().expect("an attempt number"))
        .collect()
}

fn has_transition(detail: &Value, from: &str, to: &str) -> bool {
    detail["transitions"]
        .as_array()
        .expect("show --json has transitions")
        .iter()
        .any(|t| t["from"] == from && t["to"] == to)
}

#[test]
fn a_failed_task_retried_after_its_endpoint_is_fixed_succeeds_and_show_tells_both_attempts() {
    let (env, server) = broken_hook();
    let id = sent_task(&env, "hook", &[]);
    assert_eq!(state_of(&env, id), "failed", "a 404 fails at once");

    env.ok(&["retry", &id.to_string()]);
    assert_eq!(state_of(&env, id), "due");

    env.ok(&["register", "hook", "--url", &server.url("/fixed")]);
    env.ok(&["tick"]);

    let detail = show(&env, id);
    assert_eq!(detail["state"], "succeeded", "{detail:#}");
    assert_eq!(attempt_numbers(&detail), vec![1, 2], "{detail:#}");
    assert_eq!(detail["attempts"][0]["status"], 404);
    assert_eq!(detail["attempts"][1]["status"], 200);
    assert!(
        has_transition(&detail, "failed", "due"),
        "the retry is in the history: {detail:#}"
    );
    assert!(
        has_transition(&detail, "running", "failed"),
        "the first failure stays in the history: {detail:#}"
    );
    let paths: Vec<String> = server.requests().iter().map(|r| r.url.clone()).collect();
    assert_eq!(paths, vec!["/gone", "/fixed"]);

    let text = env.ok(&["show", &id.to_string()]);
    assert!(text.contains("#1") && text.contains("#2"), "{text}");
    assert!(text.contains("404") && text.contains("200"), "{text}");
}

#[test]
fn retry_at_a_later_time_makes_the_task_scheduled_and_a_tick_now_leaves_it() {
    let (env, server) = broken_hook();
    let id = sent_task(&env, "hook", &[]);

    env.ok(&["retry", &id.to_string(), "--at", "+1h"]);
    let detail = show(&env, id);
    assert_eq!(detail["state"], "scheduled", "{detail:#}");
    assert_eq!(detail["next_attempt_at"], "2026-11-25T13:00:00.000Z");
    assert_eq!(
        detail["due_at"], "2026-11-25T12:00:00.000Z",
        "the time it was scheduled for stays"
    );
    assert!(has_transition(&detail, "failed", "scheduled"), "{detail:#}");

    env.ok(&["tick"]);
    assert_eq!(server.requests().len(), 1, "not sent before its new time");
    assert_eq!(listed_ids(&env, &["--state", "scheduled"]), vec![id]);
}

#[test]
fn a_cancelled_task_can_be_retried_and_keeps_its_time() {
    let (env, server) = broken_hook();
    let id = env.schedule(&["hook", "--at", "+2h"]);
    env.ok(&["cancel", &id.to_string(), "--reason", "roll moved by hand"]);
    env.ok(&["retry", &id.to_string()]);
    let detail = show(&env, id);
    assert_eq!(detail["state"], "scheduled", "{detail:#}");
    assert_eq!(detail["due_at"], "2026-11-25T14:00:00.000Z", "{detail:#}");
    assert_eq!(detail["next_attempt_at"], "2026-11-25T14:00:00.000Z");
    assert!(
        has_transition(&detail, "cancelled", "scheduled"),
        "{detail:#}"
    );
    env.ok(&["tick"]);
    assert_eq!(server.count(), 0, "a retry never makes a cool-down shorter");
}

#[test]
fn retry_of_a_task_that_is_not_failed_or_cancelled_is_refused_naming_its_state() {
    let env = Env::new();
    let server = Server::start();
    env.ok(&["register", "hook", "--url", &server.url("/ok")]);
    let succeeded = sent_task(&env, "hook", &[]);
    assert_eq!(state_of(&env, succeeded), "succeeded");
    let scheduled = env.schedule(&["hook", "--in", "1h"]);
    let due = env.schedule(&["hook", "--at", "now"]);

    for (id, state) in [
        (scheduled, "scheduled"),
        (succeeded, "succeeded"),
        (due, "due"),
    ] {
        let stderr = refused_unchanged(&env, &["retry", &id.to_string()], 3);
        assert!(
            stderr.contains(state) && stderr.contains(&id.to_string()),
            "the refusal names task {id} and its state {state}: {stderr}"
        );
        assert_eq!(state_of(&env, id), state);
    }
}

#[test]
fn retry_of_an_unknown_task_is_refused() {
    let (env, _server) = broken_hook();
    sent_task(&env, "hook", &[]);
    let stderr = refused_unchanged(&env, &["retry", "4242"], 3);
    assert!(stderr.contains("4242"), "{stderr}");
}

#[test]
fn several_ids_are_retried_all_or_none() {
    let (env, _server) = broken_hook();
    let first = sent_task(&env, "hook", &[]);
    let second = sent_task(&env, "hook", &[]);
    let waiting = env.schedule(&["hook", "--in", "1h"]);
    let (a, b, w) = (first.to_string(), second.to_string(), waiting.to_string());

    let stderr = refused_unchanged(&env, &["retry", &a, &b, &w], 3);
    assert!(
        stderr.contains(&w) && stderr.contains("scheduled"),
        "{stderr}"
    );
    let stderr = refused_unchanged(&env, &["retry", &a, "9999", &b], 3);
    assert!(stderr.contains("9999"), "{stderr}");
    assert_eq!(state_of(&env, first), "failed");
    assert_eq!(state_of(&env, second), "failed");

    env.ok(&["retry", &a, &b]);
    assert_eq!(state_of(&env, first), "due");
    assert_eq!(state_of(&env, second), "due");
}

#[test]
fn retry_refills_a_used_up_attempt_budget() {
    let env = Env::new();
    let server = Server::start();
    server.answer("/flaky", 503, "busy");
    env.ok(&["register", "flaky", "--url", &server.url("/flaky")]);
    let id = sent_task(&env, "flaky", &["--max-attempts", "1"]);
    let detail = show(&env, id);
    assert_eq!(
        detail["state"], "failed",
        "a 503 with one attempt allowed fails: {detail:#}"
    );
    assert_eq!(detail["attempts"].as_array().map(Vec::len), Some(1));

    env.ok(&["retry", &id.to_string()]);
    let detail = show(&env, id);
    assert_eq!(detail["state"], "due", "{detail:#}");
    assert_eq!(
        (
            &detail["max_attempts"],
            detail["attempts"].as_array().map(Vec::len)
        ),
        (&Value::from(1), Some(1)),
        "the budget is still one attempt and the old one stays: {detail:#}"
    );
    let listed = env.json(&["list", "--state", "due"]);
    assert_eq!(
        listed["tasks"][0]["attempts_used"], 0,
        "the budget is fresh: none of it used: {listed:#}"
    );

    server.answer("/flaky", 200, "ok");
    env.ok(&["tick"]);
    let detail = show(&env, id);
    assert_eq!(detail["state"], "succeeded", "{detail:#}");
    assert_eq!(attempt_numbers(&detail), vec![1, 2]);
    assert_eq!(server.requests().len(), 2);

    // A fresh budget of one is one more attempt, not the sum of the budgets.
    server.answer("/flaky", 503, "busy");
    let second = sent_task(&env, "flaky", &["--max-attempts", "1", "--arg", "n=2"]);
    assert_eq!(state_of(&env, second), "failed");
    env.ok(&["retry", &second.to_string()]);
    exits(&env, &["tick"], 0);
    let detail = show(&env, second);
    assert_eq!(detail["state"], "failed", "{detail:#}");
    assert_eq!(attempt_numbers(&detail), vec![1, 2]);
}

#[test]
fn retry_at_a_time_before_the_task_was_scheduled_for_is_refused() {
    let (env, _server) = broken_hook();
    let id = env.schedule(&["hook", "--at", "2030-06-01T06:00:00Z"]);
    env.ok(&["cancel", &id.to_string()]);
    let stderr = refused_unchanged(&env, &["retry", &id.to_string(), "--at", "+1h"], 3);
    assert!(
        stderr.contains("2030-06-01T06:00:00.000Z") && stderr.contains("earlier"),
        "{stderr}"
    );
    env.ok(&["retry", &id.to_string(), "--at", "2030-06-02T06:00:00Z"]);
    assert_eq!(
        show(&env, id)["next_attempt_at"],
        "2030-06-02T06:00:00.000Z"
    );
}

#[test]
fn retry_endpoint_retries_its_failed_tasks_in_one_go() {
    let mut env = Env::new();
    let server = Server::start();
    server.answer("/gone", 404, "no such thing");
    env.ok(&["register", "hook", "--url", &server.url("/gone")]);
    env.ok(&["register", "other", "--url", &server.url("/gone")]);
    let early = sent_task(&env, "hook", &["--arg", "n=1"]);
    env.now("2026-11-25T13:00:00Z");
    let late = sent_task(&env, "hook", &["--arg", "n=2"]);
    let elsewhere = sent_task(&env, "other", &[]);
    let cancelled = env.schedule(&["hook", "--in", "1h", "--arg", "n=3"]);
    env.ok(&["cancel", &cancelled.to_string()]);
    let waiting = env.schedule(&["hook", "--in", "1h", "--arg", "n=4"]);

    let after = env.json(&[
        "retry",
        "--endpoint",
        "hook",
        "--after",
        "2026-11-25T12:30:00Z",
    ]);
    let retried: Vec<i64> = after["retried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(retried, vec![late], "{after:#}");
    assert_eq!(after["endpoint"], "hook");
    assert_eq!(after["retried"][0]["was"], "failed");
    assert_eq!(after["retried"][0]["state"], "due");

    let out = env.ok(&["retry", "--endpoint", "hook"]);
    assert!(
        out.contains("retried 1 failed task(s) of endpoint \"hook\""),
        "{out}"
    );
    for (id, state) in [
        (early, "due"),
        (late, "due"),
        (elsewhere, "failed"),
        (cancelled, "cancelled"),
        (waiting, "scheduled"),
    ] {
        assert_eq!(state_of(&env, id), state, "task {id}");
    }
    let out = env.ok(&["retry", "--endpoint", "hook"]);
    assert!(out.contains("retried 0 failed task(s)"), "{out}");
    let stderr = refused_unchanged(&env, &["retry", "--endpoint", "nope"], 3);
    assert!(stderr.contains("\"nope\" is not registered"), "{stderr}");
}
