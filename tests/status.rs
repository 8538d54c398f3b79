//! `status [--check]`: the last ticks, the tasks per state (agreeing with `list --state`), the
//! oldest due task and how late it is, and a warning, with `--check` exiting 3, when tasks are
//! due and no tick has ended in the last 3 minutes.

mod common;
#[path = "support/operators.rs"]
mod operators;

use common::{exits, spawn, state_of, Env, Reply, Server};
use operators::matched;
use serde_json::Value;

const STATES: [&str; 7] = [
    "scheduled",
    "due",
    "running",
    "retrying",
    "succeeded",
    "failed",
    "cancelled",
];

fn env_with_hook(server_url: &str) -> Env {
    let env = Env::new();
    env.ok(&["register", "hook", "--url", server_url]);
    env
}

/// `status --check`, which must exit `code`; returns stdout and stderr together.
fn check(env: &Env, code: i32) -> String {
    let (stdout, stderr) = exits(env, &["status", "--check"], code);
    format!("{stdout}{stderr}")
}

fn parse_time(text: &Value) -> chrono::DateTime<chrono::Utc> {
    let text = text.as_str().expect("a time string");
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
        .with_timezone(&chrono::Utc)
}

#[test]
fn a_due_task_and_no_tick_ever_fails_the_check_with_a_word_about_cron() {
    let server = Server::start();
    let env = env_with_hook(&server.url("/hook"));
    let id = env.schedule(&["hook", "--at", "now"]);

    let said = check(&env, 3);
    assert!(said.contains("cron"), "the warning points at cron: {said}");
    let status = env.json(&["status"]);
    assert!(
        status["warning"]
            .as_str()
            .is_some_and(|w| w.contains("cron")),
        "{status:#}"
    );
    assert_eq!(status["last_tick_ended_at"], Value::Null, "{status:#}");
    assert_eq!(status["oldest_due"]["id"], id, "{status:#}");
    let text = env.ok(&["status"]);
    assert!(
        text.contains("cron"),
        "without --check it warns too: {text}"
    );
}

#[test]
fn after_a_tick_at_that_time_the_check_passes_even_with_tasks_still_due() {
    let server = Server::start();
    let env = env_with_hook(&server.url("/hook"));
    env.schedule(&["hook", "--at", "now"]);
    env.schedule(&["hook", "--at", "now", "--arg", "n=2"]);
    check(&env, 3);

    env.ok(&["tick", "--limit", "1"]);
    assert_eq!(server.requests().len(), 1);
    let status = env.json(&["status"]);
    assert_eq!(status["counts"]["due"], 1, "one is still due: {status:#}");
    assert_eq!(status["warning"], Value::Null, "{status:#}");
    check(&env, 0);

    env.ok(&["tick"]);
    check(&env, 0);
}

#[test]
fn nothing_due_is_no_alarm_even_without_ticks() {
    let server = Server::start();
    let env = env_with_hook(&server.url("/hook"));
    check(&env, 0);
    env.schedule(&["hook", "--in", "1h"]);
    check(&env, 0);
    assert_eq!(env.json(&["status"])["oldest_due"], Value::Null);
}

#[test]
fn a_tick_that_ended_more_than_three_minutes_ago_with_a_task_due_fails_the_check() {
    let server = Server::start();
    let mut env = env_with_hook(&server.url("/hook"));
    env.ok(&["tick"]);
    env.schedule(&["hook", "--at", "2026-11-25T12:01:00Z"]);

    env.now("2026-11-25T12:02:00Z");
    check(&env, 0);

    env.now("2026-11-25T12:04:00Z");
    let said = check(&env, 3);
    assert!(said.contains("cron"), "{said}");
    let status = env.json(&["status"]);
    assert!(
        status["last_tick_ended_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("2026-11-25T12:00:0")),
        "{status:#}"
    );
    assert_eq!(status["oldest_due"]["late_ms"], 180_000, "{status:#}");

    env.now("2026-11-25T12:04:00Z");
    env.ok(&["tick"]);
    check(&env, 0);
}

#[test]
fn a_retrying_task_whose_next_attempt_time_has_passed_counts_as_waiting() {
    let server = Server::start();
    server.answer("/hook", 503, "busy");
    let mut env = env_with_hook(&server.url("/hook"));
    let id = env.schedule(&["hook", "--at", "now"]);
    env.ok(&["tick"]);
    assert_eq!(state_of(&env, id), "retrying");

    env.now("2026-11-25T13:00:00Z");
    let status = env.json(&["status"]);
    let oldest = &status["oldest_due"];
    assert_eq!(oldest["id"], id, "{status:#}");
    assert_eq!(oldest["state"], "retrying", "{status:#}");
    assert_eq!(oldest["endpoint"], "hook", "{status:#}");
    let late = oldest["late_ms"].as_i64().expect("late_ms is a number");
    let due = parse_time(&oldest["due_at"]);
    assert_eq!(
        due + chrono::Duration::milliseconds(late),
        parse_time(&Value::from("2026-11-25T13:00:00Z")),
        "due_at plus late_ms is now: {status:#}"
    );
    check(&env, 3);
}

#[test]
fn json_counts_agree_with_list_for_every_state_and_name_the_oldest_due_task() {
    let server = Server::start();
    server.reply("/gone", Reply::status(404));
    server.reply("/flaky", Reply::status(503));
    let env = Env::new();
    for (name, path) in [
        ("ok", "/ok"),
        ("gone", "/gone"),
        ("flaky", "/flaky"),
        ("slow", "/slow"),
    ] {
        env.ok(&["register", name, "--url", &server.url(path)]);
    }
    let succeeded = env.schedule(&["ok", "--at", "now"]);
    let failed = env.schedule(&["gone", "--at", "now"]);
    let retrying = env.schedule(&["flaky", "--at", "now"]);
    let cancelled = env.schedule(&["ok", "--in", "1h"]);
    env.ok(&["cancel", &cancelled.to_string()]);
    env.schedule(&["ok", "--in", "2h"]);
    env.schedule(&["ok", "--in", "3h"]);
    env.ok(&["tick"]);
    assert!(server.wait_for(3), "requests: {:?}", server.requests());

    // A tick that stays `running` until the test lets its request through.
    server.hold("/slow");
    let running = env.schedule(&["slow", "--at", "now"]);
    let mut held_tick = spawn(&env, common::DEFAULT_NOW, &["tick", "--limit", "1"]);
    assert!(server.wait_for(4), "requests: {:?}", server.requests());
    let due = env.schedule(&["ok", "--at", "2026-11-25T11:50:00Z"]);

    let status = env.json(&["status"]);
    let expected = [2, 1, 1, 1, 1, 1, 1];
    for (state, n) in STATES.iter().zip(expected) {
        assert_eq!(
            status["counts"][state], n,
            "status counts {state}: {status:#}"
        );
        assert_eq!(matched(&env, state), n, "list --state {state} matched");
    }
    assert_eq!(state_of(&env, running), "running");
    for (id, state) in [
        (succeeded, "succeeded"),
        (failed, "failed"),
        (retrying, "retrying"),
    ] {
        assert_eq!(state_of(&env, id), state);
    }
    assert_eq!(
        status["oldest_due"],
        serde_json::json!({
            "id": due,
            "endpoint": "ok",
            "state": "due",
            "due_at": "2026-11-25T11:50:00.000Z",
            "late_ms": 600_000,
        })
    );
    assert_eq!(
        status["warning"],
        Value::Null,
        "a tick ended just now: {status:#}"
    );
    let ticks = status["ticks"].as_array().expect("status --json has ticks");
    assert_eq!(ticks.len(), 2, "both ticks are recorded: {status:#}");
    assert_eq!(
        ticks.iter().filter(|t| t["ended_at"].is_null()).count(),
        1,
        "the held tick has not ended: {status:#}"
    );
    assert!(
        status["last_tick_ended_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("2026-11-25T12:00:0")),
        "{status:#}"
    );
    let text = env.ok(&["status"]);
    assert!(text.contains(&format!("task {due}")), "{text}");

    server.release();
    let out = held_tick.wait().expect("the held tick ends");
    assert!(out.success(), "the held tick exits 0");
    let status = env.json(&["status"]);
    assert_eq!(status["counts"]["running"], 0, "{status:#}");
    assert_eq!(status["counts"]["succeeded"], 2, "{status:#}");
    assert_eq!(matched(&env, "succeeded"), 2);
}
