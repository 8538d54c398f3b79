//! Notifications: `register NAME --on-failure OTHER` / `--on-success OTHER`. A task of NAME that
//! ends failed (a permanent status, its attempts used up, a crashed tick's last attempt) or is
//! cancelled by the executor makes one task to OTHER, due at once, key `on-failure:ID`, in the
//! transaction that records the outcome; a success likewise with `--on-success`. An operator's
//! cancel makes none, a notification never notifies, and overlapping or killed ticks make
//! exactly one per outcome. OTHER must exist and cannot be removed while named.

mod common;
#[path = "support/invariants.rs"]
mod invariants;

use std::collections::HashMap;
use std::time::Duration;

use common::{exits, refused_unchanged, show, spawn_tick, state_of, Env, Server};
use invariants::{schedule_many, shift_ms, tick};
use serde_json::{json, Value};

const NOW: &str = "2026-12-01T12:00:00.000Z";

/// A home with `release-roll` (answers from `/rolls/...`) reporting its failures to `chat`.
fn home(server: &Server) -> Env {
    let mut env = Env::new();
    env.now(NOW);
    env.ok(&["register", "chat", "--url", &server.url("/chat")]);
    env.ok(&[
        "register",
        "release-roll",
        "--url",
        &server.url("/rolls/{roll}/release"),
        "--on-failure",
        "chat",
    ]);
    env
}

/// A home whose endpoint `bulk` (POST /fail, answered 404) reports its failures to `chat`.
fn bulk(server: &Server, max_attempts: &str) -> Env {
    server.answer("/fail", 404, "no");
    let env = home(server);
    env.ok(&[
        "register",
        "bulk",
        "--url",
        &server.url("/fail"),
        "--max-attempts",
        max_attempts,
        "--on-failure",
        "chat",
    ]);
    env
}

/// The tasks to `chat`, by the task each reports on.
fn notifications(env: &Env) -> HashMap<i64, Vec<Value>> {
    let listed = env.json(&["list", "--endpoint", "chat", "--limit", "100000"]);
    let mut by_task: HashMap<i64, Vec<Value>> = HashMap::new();
    for task in listed["tasks"].as_array().unwrap() {
        let reported = task["args"]["task"]
            .as_i64()
            .expect("a notification names its task");
        by_task.entry(reported).or_default().push(task.clone());
    }
    by_task
}

#[test]
fn a_permanent_failure_notifies_once_with_the_documented_arguments() {
    let server = Server::start();
    server.answer("/rolls/CCT-0042/release", 404, "no such roll");
    let env = home(&server);
    let id = env.schedule(&[
        "release-roll",
        "--at",
        NOW,
        "--arg",
        "roll=CCT-0042",
        "--key",
        "release-CCT-0042",
    ]);

    tick(&env, NOW, &[]);
    assert_eq!(state_of(&env, id), "failed");
    let made = notifications(&env);
    assert_eq!(made.len(), 1, "one notification: {made:?}");
    let note = &made[&id][0];
    assert_eq!(note["key"], format!("on-failure:{id}"));
    assert_eq!(note["notifies"], id);
    assert!(
        common::instant(note["due_at"].as_str().unwrap()) <= common::instant(&shift_ms(NOW, 1_000)),
        "due at once: {note}"
    );

    // The next tick sends it: a POST whose JSON body is its arguments.
    let later = shift_ms(NOW, 60_000);
    tick(&env, &later, &[]);
    let sent = server.requests_to("/chat");
    assert_eq!(sent.len(), 1);
    let body: Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(
        body,
        json!({
            "task": id,
            "endpoint": "release-roll",
            "state": "failed",
            "reason": show(&env, id)["reason"],
            "attempts": 1,
            "status": 404,
            "key": "release-CCT-0042",
            "args": {"roll": "CCT-0042"},
        })
    );
    assert!(body["reason"].as_str().unwrap().contains("404"));
    assert_eq!(
        sent[0].header("Idempotency-Key"),
        Some(format!("on-failure:{id}").as_str())
    );
    // Ticking on makes no second one.
    tick(&env, &shift_ms(NOW, 120_000), &[]);
    assert_eq!(notifications(&env)[&id].len(), 1);
    assert_eq!(server.requests_to("/chat").len(), 1);
}

#[test]
fn attempts_used_up_on_503s_notify_once_after_the_last_attempt() {
    let server = Server::start();
    server.answer("/rolls/CCT-0043/release", 503, "busy");
    let env = home(&server);
    let id = env.schedule(&[
        "release-roll",
        "--at",
        NOW,
        "--arg",
        "roll=CCT-0043",
        "--max-attempts",
        "3",
    ]);
    // Backoff is at most 1, 2 minutes (with jitter): ticks an hour apart always find it due.
    for hour in 0..3 {
        assert!(
            notifications(&env).is_empty(),
            "a notification before the last attempt (after {hour} attempts)"
        );
        tick(&env, &shift_ms(NOW, hour * 3_600_000), &[]);
    }
    assert_eq!(state_of(&env, id), "failed");
    assert_eq!(server.requests_to("/rolls/CCT-0043/release").len(), 3);
    let made = notifications(&env);
    assert_eq!(made[&id].len(), 1);
    let args = &made[&id][0]["args"];
    assert_eq!(args["attempts"], 3);
    assert_eq!(args["status"], 503);
    assert_eq!(args["state"], "failed");
}

#[test]
fn the_executor_cancelling_a_task_notifies_and_an_operator_cancelling_one_does_not() {
    let server = Server::start();
    let env = home(&server);
    let unrenderable = env.schedule(&["release-roll", "--at", NOW, "--arg", "roll=A"]);
    let by_hand = env.schedule(&["release-roll", "--in", "1h", "--arg", "roll=B"]);
    // The URL changes under the waiting task: it can no longer be rendered.
    env.ok(&[
        "register",
        "release-roll",
        "--url",
        &server.url("/batches/{batch}"),
        "--force",
    ]);
    env.ok(&["cancel", &by_hand.to_string(), "--reason", "roll scrapped"]);

    tick(&env, NOW, &[]);
    assert_eq!(state_of(&env, unrenderable), "cancelled");
    assert_eq!(state_of(&env, by_hand), "cancelled");
    let made = notifications(&env);
    assert_eq!(
        made.len(),
        1,
        "only the executor's cancel notifies: {made:?}"
    );
    let args = &made[&unrenderable][0]["args"];
    assert_eq!(args["state"], "cancelled");
    assert_eq!(args["status"], Value::Null);
    assert!(args["reason"].as_str().unwrap().contains("executor error"));
}

#[test]
fn a_success_notifies_the_on_success_endpoint_only() {
    let server = Server::start();
    server.answer("/rolls/ok/release", 200, "released");
    let env = home(&server);
    env.ok(&["register", "audit", "--url", &server.url("/audit")]);
    env.ok(&["register", "release-roll", "--on-success", "audit"]);
    let id = env.schedule(&["release-roll", "--at", NOW, "--arg", "roll=ok"]);
    tick(&env, NOW, &[]);
    tick(&env, &shift_ms(NOW, 60_000), &[]);
    assert!(notifications(&env).is_empty(), "a success told chat");
    let sent = server.requests_to("/audit");
    assert_eq!(sent.len(), 1);
    let body: Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(body["state"], "succeeded");
    assert_eq!(body["status"], 200);
    assert_eq!(body["task"], id);
}

#[test]
fn a_notification_that_fails_does_not_notify_again() {
    let server = Server::start();
    server.answer("/rolls/x/release", 404, "no");
    server.answer("/chat", 500, "chat is down");
    let env = home(&server);
    // Even when chat reports its own failures to itself.
    env.ok(&[
        "register",
        "chat",
        "--on-failure",
        "chat",
        "--max-attempts",
        "1",
    ]);
    let id = env.schedule(&["release-roll", "--at", NOW, "--arg", "roll=x"]);
    for minute in 0..4 {
        tick(&env, &shift_ms(NOW, minute * 60_000), &[]);
    }
    let made = notifications(&env);
    assert_eq!(made.len(), 1, "{made:?}");
    let note = made[&id][0]["id"].as_i64().unwrap();
    assert_eq!(state_of(&env, note), "failed");
    assert_eq!(server.requests_to("/chat").len(), 1);
}

#[test]
fn overlapping_ticks_make_exactly_one_notification_per_failure() {
    let server = Server::start();
    server.set_delay_between(Duration::from_millis(1), Duration::from_millis(15));
    let env = bulk(&server, "5");
    let ids = schedule_many(&env, "bulk", NOW, 60);
    let ticks: Vec<_> = (0..3)
        .map(|_| spawn_tick(&env, NOW, &["--concurrency", "4"]))
        .collect();
    for child in ticks {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", common::describe(&out));
    }
    let made = notifications(&env);
    for id in &ids {
        assert_eq!(state_of(&env, *id), "failed");
        assert_eq!(made.get(id).map(Vec::len), Some(1), "task {id}: {made:?}");
    }
    assert_eq!(made.len(), ids.len());
}

#[test]
fn ticks_killed_mid_work_leave_exactly_one_notification_per_outcome() {
    let server = Server::start();
    server.set_delay_between(Duration::from_millis(0), Duration::from_millis(5));
    let env = bulk(&server, "1");
    let ids = schedule_many(&env, "bulk", NOW, 80);
    // Kill ticks at moments spread over their work: some while sending, some while recording.
    for (round, wait_ms) in [3u64, 8, 15, 25, 40, 60, 90].iter().enumerate() {
        let now = shift_ms(NOW, round as i64 * 1_000);
        let mut child = spawn_tick(&env, &now, &["--concurrency", "4"]);
        std::thread::sleep(Duration::from_millis(*wait_ms));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // Then ticks until every task of bulk has ended (recovering the killed ones' work:
    // with one attempt, an interrupted attempt fails the task).
    for minute in 1..5 {
        tick(&env, &shift_ms(NOW, minute * 60_000), &[]);
    }
    let made = notifications(&env);
    let mut failed = 0;
    for id in &ids {
        assert_eq!(state_of(&env, *id), "failed", "task {id}");
        failed += 1;
        assert_eq!(made.get(id).map(Vec::len), Some(1), "task {id}: {made:?}");
    }
    assert_eq!(made.len(), failed);
    // Every notification was sent, and each once.
    let deliveries = server.deliveries_by_key();
    for id in &ids {
        let key = format!("on-failure:{id}");
        assert!(
            deliveries.get(&key).copied().unwrap_or(0) >= 1,
            "{key} not sent"
        );
    }
}

#[test]
fn the_named_endpoint_must_exist_and_stays_while_named() {
    let server = Server::start();
    let env = home(&server);
    let stderr = refused_unchanged(
        &env,
        &["register", "release-roll", "--on-failure", "pager"],
        3,
    );
    assert!(
        stderr.contains("\"pager\"") && stderr.contains("not registered"),
        "{stderr}"
    );
    let stderr = refused_unchanged(
        &env,
        &[
            "register",
            "new",
            "--url",
            &server.url("/new"),
            "--on-success",
            "pager",
        ],
        3,
    );
    assert!(stderr.contains("\"pager\""), "{stderr}");

    // A file that drops chat while release-roll still names it is refused, all of it.
    let file = env.path("endpoints.toml");
    std::fs::write(
        &file,
        format!(
            "[endpoints.release-roll]\nurl = \"{}\"\non_failure = \"chat\"\n",
            server.url("/rolls/{roll}/release")
        ),
    )
    .unwrap();
    let file_arg = file.to_str().unwrap();
    // Without chat in the file, --prune would remove it: refused, naming who names it.
    let stderr = refused_unchanged(&env, &["register", "--file", file_arg, "--prune"], 3);
    assert!(
        stderr.contains("\"chat\"") && stderr.contains("release-roll"),
        "{stderr}"
    );
    // A file may name an endpoint it creates itself.
    std::fs::write(
        &file,
        format!(
            "[endpoints.pager]\nurl = \"{}\"\n\n[endpoints.release-roll]\nurl = \"{}\"\n\
             on_failure = \"pager\"\n",
            server.url("/pager"),
            server.url("/rolls/{roll}/release")
        ),
    )
    .unwrap();
    env.ok(&["register", "--file", file_arg, "--prune"]);
    let endpoints = env.json(&["endpoints"]);
    let roll = endpoints
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "release-roll")
        .unwrap();
    assert_eq!(roll["on_failure"], "pager");
    assert_eq!(roll["on_success"], Value::Null);
    assert!(!endpoints
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["name"] == "chat"));
    // `none` stops it; the table names it until then.
    assert!(env.ok(&["endpoints"]).contains("failure → pager"));
    env.ok(&["register", "release-roll", "--on-failure", "none"]);
    assert_eq!(env.json(&["endpoints"])[1]["on_failure"], Value::Null);
    let (_, stderr) = exits(
        &env,
        &["register", "release-roll", "--on-failure", "bad name!"],
        2,
    );
    assert!(stderr.contains("--on-failure"), "{stderr}");
}
