//! How a tick classifies what came back (SPEC.md, tick step 5): success, permanent failure,
//! retry with backoff (and `Retry-After`), attempts used up, `--success`, the stored body limit,
//! `--limit` with priorities, and the story `show` tells afterwards.

mod common;
#[path = "support/tick.rs"]
mod tick_support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{instant, refused_url, show, state_of, Reply, Server, DEFAULT_NOW};
use serde_json::Value;
use tick_support::{env_with, schedule_now, text, tick, tick_at_next_attempt};

fn now() -> DateTime<Utc> {
    instant(DEFAULT_NOW)
}

fn attempts(task: &Value) -> &Vec<Value> {
    task["attempts"]
        .as_array()
        .unwrap_or_else(|| panic!("no attempts array in {task:#}"))
}

/// Seconds from the pinned now to the task's next attempt time.
fn seconds_to_next_attempt(task: &Value) -> f64 {
    let next = instant(text(task, "next_attempt_at"));
    (next - now()).num_milliseconds() as f64 / 1000.0
}

/// Checks the first backoff: one minute plus up to 10 % jitter, counted from when the tick
/// recorded the result (at most `ran` after the pinned now).
fn assert_first_backoff(task: &Value, ran: Duration) {
    let waited = seconds_to_next_attempt(task);
    let most = 66.0 + ran.as_secs_f64();
    assert!(
        (60.0..=most).contains(&waited),
        "next attempt {waited}s after the tick's now, expected 60..={most}: {task:#}"
    );
}

#[test]
fn a_200_succeeds() {
    let server = Server::start();
    let env = env_with(&server.url("/ok"), &[]);
    let id = schedule_now(&env, &[]);

    tick(&env, &[]);

    let task = show(&env, id);
    assert_eq!(task["state"], "succeeded", "{task:#}");
    assert_eq!(attempts(&task).len(), 1);
    assert_eq!(attempts(&task)[0]["status"], 200);
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_404_fails_at_once() {
    let server = Server::start();
    server.reply("/gone", Reply::status(404));
    let env = env_with(&server.url("/gone"), &[]);
    let id = schedule_now(&env, &[]);

    env.cmd(&["tick"]).assert().success();

    let task = show(&env, id);
    assert_eq!(task["state"], "failed", "{task:#}");
    assert_eq!(task["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(attempts(&task)[0]["status"], 404);
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn server_errors_timeouts_and_throttling_statuses_retry_after_a_minute() {
    for status in [500, 503, 408, 429] {
        let server = Server::start();
        server.reply("/busy", Reply::status(status));
        let env = env_with(&server.url("/busy"), &[]);
        let id = schedule_now(&env, &[]);

        let ran = tick(&env, &[]);

        let task = show(&env, id);
        assert_eq!(task["state"], "retrying", "{status}: {task:#}");
        assert_eq!(attempts(&task).len(), 1, "{status}");
        assert_eq!(attempts(&task)[0]["status"], status);
        assert_first_backoff(&task, ran);
    }
}

#[test]
fn connection_refused_retries() {
    let env = env_with(&refused_url("/nobody"), &[]);
    let id = schedule_now(&env, &[]);

    let ran = tick(&env, &[]);

    let task = show(&env, id);
    assert_eq!(task["state"], "retrying", "{task:#}");
    let last = text(&task, "last_result");
    assert!(
        last.to_lowercase().contains("connection refused"),
        "last_result {last:?} should say the connection was refused"
    );
    assert_first_backoff(&task, ran);
}

#[test]
fn a_timeout_retries_and_says_after_how_long() {
    let server = Server::start();
    server.reply("/slow", Reply::status(200).delay(Duration::from_secs(4)));
    let env = env_with(&server.url("/slow"), &["--timeout", "1s"]);
    let id = schedule_now(&env, &[]);

    let ran = tick(&env, &[]);

    let task = show(&env, id);
    assert_eq!(task["state"], "retrying", "{task:#}");
    let last = text(&task, "last_result");
    assert!(
        last.contains("timeout after 1s"),
        "last_result {last:?} should say \"timeout after 1s\""
    );
    assert_eq!(attempts(&task)[0]["status"], Value::Null, "{task:#}");
    assert_first_backoff(&task, ran);
}

#[test]
fn a_task_fails_when_its_attempts_are_used_up() {
    let server = Server::start();
    server.reply("/broken", Reply::status(500));
    let mut env = env_with(&server.url("/broken"), &["--max-attempts", "2"]);
    let id = schedule_now(&env, &[]);

    tick(&env, &[]);
    assert_eq!(state_of(&env, id), "retrying");
    tick_at_next_attempt(&mut env, id);

    let task = show(&env, id);
    assert_eq!(task["state"], "failed", "{task:#}");
    assert_eq!(attempts(&task).len(), 2, "{task:#}");
    assert_eq!(server.requests().len(), 2);

    // Failed is final: a later tick sends nothing more.
    env.now("2026-11-25T14:00:00Z");
    tick(&env, &[]);
    assert_eq!(server.requests().len(), 2);
    assert_eq!(state_of(&env, id), "failed");
}

#[test]
fn a_status_named_in_success_succeeds() {
    let server = Server::start();
    server.reply("/conflict", Reply::status(409));
    let env = env_with(&server.url("/conflict"), &["--success", "2xx,409"]);
    let id = schedule_now(&env, &[]);

    tick(&env, &[]);

    let task = show(&env, id);
    assert_eq!(task["state"], "succeeded", "{task:#}");
    assert_eq!(attempts(&task)[0]["status"], 409);

    // Without it, 409 is a permanent failure.
    let other = env_with(&server.url("/conflict"), &[]);
    let id = schedule_now(&other, &[]);
    tick(&other, &[]);
    assert_eq!(state_of(&other, id), "failed");
}

#[test]
fn retry_after_pushes_the_next_attempt_back() {
    let server = Server::start();
    server.reply(
        "/throttled",
        Reply::status(503).header("Retry-After", "600"),
    );
    let env = env_with(&server.url("/throttled"), &[]);
    let id = schedule_now(&env, &[]);

    tick(&env, &[]);

    let task = show(&env, id);
    assert_eq!(task["state"], "retrying", "{task:#}");
    let waited = seconds_to_next_attempt(&task);
    assert!(
        waited >= 600.0,
        "next attempt {waited}s after now, expected at least the Retry-After of 600s"
    );
}

#[test]
fn a_large_body_is_stored_cut_to_64_kib() {
    const LIMIT: usize = 64 * 1024;
    let server = Server::start();
    let body: String = (0..LIMIT + 10_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    server.reply("/big", Reply::status(200).body(body.clone()));
    let env = env_with(&server.url("/big"), &[]);
    let id = schedule_now(&env, &[]);

    tick(&env, &[]);

    let task = show(&env, id);
    assert_eq!(task["state"], "succeeded", "{}", task["state"]);
    let attempt = &attempts(&task)[0];
    let stored = attempt["body"].as_str().expect("a stored body");
    assert_eq!(stored.len(), LIMIT, "the body is cut to exactly 64 KiB");
    assert_eq!(stored, &body[..LIMIT], "the first 64 KiB, as received");
    assert_eq!(attempt["body_truncated"], true);
}

#[test]
fn a_small_body_is_stored_whole() {
    let server = Server::start();
    server.reply("/small", Reply::status(200).body("roll moved"));
    let env = env_with(&server.url("/small"), &[]);
    let id = schedule_now(&env, &[]);

    tick(&env, &[]);

    let task = show(&env, id);
    let attempt = &attempts(&task)[0];
    assert_eq!(attempt["body"], "roll moved");
    assert_eq!(attempt["body_truncated"], false);
}

#[test]
fn limit_sends_only_that_many_highest_priority_first() {
    let server = Server::start();
    let env = env_with(&server.url("/rolls/{roll}"), &[]);
    let priorities = [0, 5, 1, 9, 3];
    let ids: Vec<i64> = priorities
        .iter()
        .map(|priority| {
            env.schedule(&[
                "hook",
                "--at",
                "now",
                "--arg",
                &format!("roll=p{priority}"),
                "--priority",
                &priority.to_string(),
            ])
        })
        .collect();

    tick(&env, &["--limit", "2"]);

    let mut sent: Vec<String> = server.requests().into_iter().map(|r| r.url).collect();
    sent.sort();
    assert_eq!(sent, vec!["/rolls/p5", "/rolls/p9"]);
    for (id, priority) in ids.iter().zip(priorities) {
        let expected = if priority >= 5 { "succeeded" } else { "due" };
        assert_eq!(state_of(&env, *id), expected, "priority {priority}");
    }
}

#[test]
fn a_retry_then_a_success_keeps_both_attempts_and_tells_the_story() {
    let server = Server::start();
    server.reply("/flaky", Reply::status(500));
    let mut env = env_with(&server.url("/flaky"), &[]);
    let id = schedule_now(&env, &[]);

    tick(&env, &[]);
    server.reply("/flaky", Reply::status(200));
    tick_at_next_attempt(&mut env, id);

    let task = show(&env, id);
    assert_eq!(task["state"], "succeeded", "{task:#}");
    let statuses: Vec<&Value> = attempts(&task).iter().map(|a| &a["status"]).collect();
    assert_eq!(statuses, [500, 200], "{task:#}");
    let transitions: Vec<(Option<&str>, &str)> = task["transitions"]
        .as_array()
        .expect("transitions")
        .iter()
        .map(|t| (t["from"].as_str(), t["to"].as_str().expect("a to state")))
        .collect();
    let story: Vec<(Option<&str>, &str)> = vec![
        (Some("due"), "running"),
        (Some("running"), "retrying"),
        (Some("retrying"), "running"),
        (Some("running"), "succeeded"),
    ];
    assert!(
        transitions.ends_with(&story),
        "transitions {transitions:?} should end with {story:?}"
    );
}
