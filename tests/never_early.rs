//! Invariant 1, never early: no request is sent before its scheduled time or its next attempt
//! time, to the millisecond, whatever the tick's minute.

mod common;
#[path = "support/invariants.rs"]
mod invariants;

use common::{Env, Reply, Server};
use invariants::{ms_between, shift_ms, tick};

const T: &str = "2026-11-25T12:00:30.000Z";

fn show(env: &mut Env, now: &str, id: i64) -> serde_json::Value {
    env.now(now).json(&["show", &id.to_string()])
}

fn keys_received(server: &Server) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| r.header("Idempotency-Key").unwrap_or("<none>").to_string())
        .collect()
}

#[test]
fn a_task_is_not_sent_a_millisecond_before_its_time_and_is_sent_at_it() {
    let mut env = Env::new();
    let server = Server::start();
    env.ok(&["register", "hook", "--url", &server.url("/hook")]);
    let id = env.schedule(&["hook", "--at", "2026-11-25T12:00:30Z", "--key", "roll-42"]);

    // The 12:00 tick of cron, then one a millisecond before the time.
    for now in ["2026-11-25T12:00:00Z", &shift_ms(T, -1)] {
        tick(&env, now, &[]);
        assert_eq!(
            server.count(),
            0,
            "the tick at {now} sent a task due at {T}"
        );
        let task = show(&mut env, now, id);
        assert_eq!(task["state"], "scheduled", "at {now}: {task:#}");
        assert_eq!(task["attempts"].as_array().map(Vec::len), Some(0));
    }

    tick(&env, T, &[]);
    assert_eq!(keys_received(&server), ["roll-42"]);
    let task = show(&mut env, T, id);
    assert_eq!(task["state"], "succeeded", "{task:#}");
}

#[test]
fn tasks_a_millisecond_apart_go_only_once_their_own_time_has_come() {
    let env = Env::new();
    let server = Server::start();
    env.ok(&["register", "hook", "--url", &server.url("/hook")]);
    let offsets_ms = [-1, 0, 1, 1000];
    for offset in offsets_ms {
        let at = shift_ms(T, offset);
        env.schedule(&["hook", "--at", &at, "--key", &format!("at{offset:+}")]);
    }

    let expectations: [(i64, &[&str]); 4] = [
        (0, &["at-1", "at+0"]),
        (1, &["at-1", "at+0", "at+1"]),
        (999, &["at-1", "at+0", "at+1"]),
        (1000, &["at-1", "at+0", "at+1", "at+1000"]),
    ];
    for (offset, expected) in expectations {
        let now = shift_ms(T, offset);
        tick(&env, &now, &[]);
        let mut received = keys_received(&server);
        received.sort();
        let mut expected: Vec<String> = expected.iter().map(|k| k.to_string()).collect();
        expected.sort();
        assert_eq!(received, expected, "after the tick at {now}");
    }
}

/// Schedules one task at T on a path that answers `first` and then 200; ticks at T; checks the
/// next attempt time is at least `min_wait_ms` after T; then proves the retry is not sent a
/// millisecond before that time and is sent at it.
fn retry_waits_for_its_time(first: Reply, min_wait_ms: i64) {
    let mut env = Env::new();
    let server = Server::start();
    server.script("/flaky", vec![first, Reply::status(200)]);
    env.ok(&["register", "flaky", "--url", &server.url("/flaky")]);
    let id = env.schedule(&["flaky", "--at", T]);

    tick(&env, T, &[]);
    assert_eq!(server.count(), 1, "the first attempt was not sent at {T}");
    let task = show(&mut env, T, id);
    assert_eq!(task["state"], "retrying", "{task:#}");
    let next = task["next_attempt_at"]
        .as_str()
        .expect("show --json has next_attempt_at")
        .to_string();
    let wait = ms_between(T, &next);
    assert!(
        wait >= min_wait_ms,
        "next attempt at {next} is only {wait} ms after {T}; expected at least {min_wait_ms} ms"
    );

    let early = shift_ms(&next, -1);
    tick(&env, &early, &[]);
    assert_eq!(
        server.count(),
        1,
        "the retry due at {next} was sent by a tick at {early}"
    );
    let task = show(&mut env, &early, id);
    assert_eq!(task["state"], "retrying", "at {early}: {task:#}");

    tick(&env, &next, &[]);
    assert_eq!(server.count(), 2, "the retry was not sent at {next}");
    let keys = keys_received(&server);
    assert_eq!(
        keys[0], keys[1],
        "the retry carries the same Idempotency-Key"
    );
    let task = show(&mut env, &next, id);
    assert_eq!(task["state"], "succeeded", "{task:#}");
    let outcomes: Vec<&str> = task["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["outcome"].as_str().unwrap_or("<none>"))
        .collect();
    assert_eq!(outcomes, ["retryable", "success"], "{task:#}");
}

#[test]
fn a_retrying_task_is_not_sent_before_its_next_attempt_time() {
    // The first backoff is one minute.
    retry_waits_for_its_time(Reply::status(503), 60_000);
}

#[test]
fn retry_after_in_seconds_is_honoured() {
    retry_waits_for_its_time(Reply::status(503).header("Retry-After", "120"), 120_000);
}

#[test]
fn retry_after_as_a_date_is_honoured() {
    // 12:10:00 is 9 min 30 s after T, far beyond the first backoff.
    let reply = Reply::status(429).header("Retry-After", "Wed, 25 Nov 2026 12:10:00 GMT");
    retry_waits_for_its_time(reply, 570_000);
}

#[test]
fn a_time_between_two_milliseconds_is_not_brought_forward() {
    // SPEC: times are stored "to the millisecond at least and never rounded". A time with
    // sub-millisecond digits may be refused as bad input, but once accepted, no tick before
    // it may send the task: truncating it to 12:00:30.000 would send it early.
    let env = Env::new();
    let server = Server::start();
    env.ok(&["register", "hook", "--url", &server.url("/hook")]);
    let asked = "2026-11-25T12:00:30.000500Z";
    let out = env
        .cmd(&["schedule", "hook", "--at", asked])
        .output()
        .expect("run httpat schedule");
    if out.status.code() == Some(2) {
        return;
    }
    assert!(out.status.success(), "{out:?}");

    let early = "2026-11-25T12:00:30.000100Z";
    tick(&env, early, &[]);
    assert_eq!(
        server.count(),
        0,
        "a task asked for {asked} was sent by a tick at {early}"
    );
    // Stored times have millisecond precision and a time between two milliseconds is rounded
    // up: the task goes at the next whole millisecond, never before it was asked for.
    let next_millisecond = "2026-11-25T12:00:30.001Z";
    tick(&env, next_millisecond, &[]);
    assert_eq!(
        server.count(),
        1,
        "the task was not sent at {next_millisecond}"
    );
}
