//! Invariant 3, nothing lost: a tick killed with SIGKILL at any moment leaves no task behind.
//! The next tick on the same host sees the dead holder at once (no waiting for the lease),
//! records the attempt in flight as `interrupted`, and the task is sent again with the same
//! Idempotency-Key. A tick that is alive but stuck keeps its tasks until its lease expires.

mod common;
#[path = "support/invariants.rs"]
mod invariants;

use std::collections::HashMap;
use std::process::Child;
use std::time::Duration;

use common::{spawn_tick, Env, Server};
use invariants::{schedule_many, shift_ms, states, tick};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

const NOW: &str = "2026-11-25T12:00:00.000Z";
const TASKS: usize = 200;

fn minutes_after_now(minutes: i64) -> String {
    shift_ms(NOW, minutes * 60_000)
}

/// SIGKILL, as a power cut or the OOM killer would.
fn kill_9(mut child: Child) {
    child.kill().expect("send SIGKILL to the tick");
    child.wait().expect("reap the killed tick");
}

fn signal(child: &Child, signal: Signal) {
    kill(Pid::from_raw(child.id() as i32), signal).expect("signal the tick");
}

fn show(env: &Env, id: i64) -> Value {
    env.json(&["show", &id.to_string()])
}

fn outcomes(task: &Value) -> Vec<String> {
    task["attempts"]
        .as_array()
        .expect("show --json has attempts")
        .iter()
        .map(|a| a["outcome"].as_str().unwrap_or("<in flight>").to_string())
        .collect()
}

/// Whether every task is finished (nothing scheduled, due, running or retrying).
fn all_finished(tasks: &HashMap<i64, Value>) -> bool {
    tasks.values().all(|task| {
        matches!(
            task["state"].as_str(),
            Some("succeeded" | "failed" | "cancelled")
        )
    })
}

#[test]
fn ticks_killed_while_requests_are_in_flight_lose_no_task() {
    let env = Env::new();
    let server = Server::start();
    // Slow answers keep requests in flight when the kill comes.
    server.set_delay(Duration::from_millis(300));
    env.ok(&["register", "slow", "--url", &server.url("/slow")]);
    let ids = schedule_many(&env, "slow", NOW, TASKS);

    // Three ticks, each killed at a different moment: as soon as it starts, then after some
    // requests have reached the endpoint (some answered and recorded, some in flight). The
    // later ones also recover what the earlier ones left.
    for (minute, arrivals_before_kill) in [(0, 0), (1, 6), (2, 10)] {
        let seen = server.count();
        let child = spawn_tick(&env, &minutes_after_now(minute), &["--concurrency", "4"]);
        assert!(
            server.wait_for(seen + arrivals_before_kill),
            "the tick of minute {minute} sent nothing"
        );
        kill_9(child);
    }
    assert!(
        server.count() < TASKS,
        "the killed ticks sent every task before the kill: the test proves nothing"
    );

    server.set_delay(Duration::ZERO);
    let mut tasks = states(&env);
    for minute in 3..10 {
        if all_finished(&tasks) {
            break;
        }
        tick(&env, &minutes_after_now(minute), &[]);
        tasks = states(&env);
    }

    // Nothing lost: every acknowledged task is there and succeeded; none is stuck running.
    assert_eq!(tasks.len(), TASKS, "tasks in the database");
    let unfinished: Vec<_> = ids
        .iter()
        .filter(|id| tasks[id]["state"] != "succeeded")
        .map(|id| (id, tasks[id]["state"].clone()))
        .collect();
    assert!(unfinished.is_empty(), "tasks not succeeded: {unfinished:?}");
    let deliveries = server.deliveries_by_key();
    assert_eq!(server.without_key(), 0, "requests without Idempotency-Key");
    assert_eq!(deliveries.len(), TASKS, "tasks that reached the endpoint");

    // A task that reached the endpoint twice did so because its first tick died: the story
    // says so, with an `interrupted` attempt before the successful one.
    let twice: Vec<&String> = deliveries
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(key, _)| key)
        .collect();
    assert!(
        !twice.is_empty(),
        "no task was delivered twice: no kill caught a request in flight"
    );
    for key in twice {
        let id: i64 = key
            .rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("Idempotency-Key {key:?} names no task id"));
        let task = show(&env, id);
        let outcomes = outcomes(&task);
        let (last, before) = outcomes.split_last().expect("attempts");
        assert_eq!(last, "success", "task {id}: {outcomes:?}");
        assert!(
            !before.is_empty() && before.iter().all(|o| o == "interrupted"),
            "task {id} was delivered {} times; attempts {outcomes:?}",
            deliveries[key]
        );
        assert!(
            deliveries[key] <= outcomes.len(),
            "task {id} was delivered more often than it has attempts: {outcomes:?}"
        );
    }
}

#[test]
fn a_dead_ticks_task_is_recovered_at_once_and_the_interruption_counts_against_its_budget() {
    let env = Env::new();
    let server = Server::start();
    server.set_delay(Duration::from_secs(5));
    env.ok(&["register", "slow", "--url", &server.url("/slow")]);
    let last_chance = env.schedule(&["slow", "--at", NOW, "--max-attempts", "1", "--key", "a"]);
    let patient = env.schedule(&["slow", "--at", NOW, "--max-attempts", "5", "--key", "b"]);

    let child = spawn_tick(&env, NOW, &["--concurrency", "2"]);
    assert!(server.wait_for(2), "the tick did not send both tasks");
    kill_9(child);
    for id in [last_chance, patient] {
        assert_eq!(
            show(&env, id)["state"],
            "running",
            "task {id} before recovery"
        );
    }

    // Same host, same instant: the lease is far from expired, but its holder is dead.
    server.set_delay(Duration::ZERO);
    let recovering = tick(&env, NOW, &[]);
    let stderr = String::from_utf8_lossy(&recovering.stderr);

    let task = show(&env, last_chance);
    assert_eq!(task["state"], "failed", "{task:#}");
    assert_eq!(outcomes(&task), ["interrupted"], "{task:#}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(&format!("task {last_chance} ")))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "one stderr line for the task that failed for good:\n{stderr}"
    );

    let task = show(&env, patient);
    assert_ne!(task["state"], "running", "{task:#}");
    assert_eq!(
        outcomes(&task).first().map(String::as_str),
        Some("interrupted"),
        "{task:#}"
    );
    assert_eq!(task["attempts"][0]["number"], 1, "{task:#}");

    for minute in 1..4 {
        if show(&env, patient)["state"] == "succeeded" {
            break;
        }
        tick(&env, &minutes_after_now(minute), &[]);
    }
    let task = show(&env, patient);
    assert_eq!(task["state"], "succeeded", "{task:#}");
    assert_eq!(outcomes(&task), ["interrupted", "success"], "{task:#}");

    let keys: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.header("Idempotency-Key").unwrap_or("").to_string())
        .collect();
    let count = |key: &str| keys.iter().filter(|k| *k == key).count();
    assert_eq!(
        count("a"),
        1,
        "the task without attempts left was sent again"
    );
    assert_eq!(
        count("b"),
        2,
        "the interrupted task was sent again, same key"
    );
}

#[test]
fn a_stuck_tick_keeps_its_task_until_its_lease_expires_and_its_late_result_is_dropped() {
    let env = Env::new();
    let server = Server::start();
    server.set_delay(Duration::from_millis(200));
    env.ok(&["register", "slow", "--url", &server.url("/slow")]);
    let id = env.schedule(&["slow", "--at", NOW, "--key", "stuck"]);

    let stuck = spawn_tick(&env, NOW, &[]);
    assert!(server.wait_for(1), "the tick did not send the task");
    signal(&stuck, Signal::SIGSTOP);

    // Alive and within its lease: another tick must not take the task.
    tick(&env, &shift_ms(NOW, 1_000), &[]);
    assert_eq!(server.count(), 1, "a live tick's task was sent again");
    assert_eq!(show(&env, id)["state"], "running");

    // Ten minutes on, the lease has long expired: the task is recovered and sent again.
    for minute in 10..13 {
        if show(&env, id)["state"] == "succeeded" {
            break;
        }
        tick(&env, &minutes_after_now(minute), &[]);
    }
    let task = show(&env, id);
    assert_eq!(task["state"], "succeeded", "{task:#}");
    assert_eq!(outcomes(&task), ["interrupted", "success"], "{task:#}");

    // The stuck tick wakes up holding an answer for an attempt it no longer owns.
    signal(&stuck, Signal::SIGCONT);
    let out = stuck.wait_with_output().expect("wait for the resumed tick");
    assert!(
        out.status.success(),
        "the resumed tick exited with {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let after = show(&env, id);
    assert_eq!(after["state"], "succeeded", "{after:#}");
    assert_eq!(
        after["attempts"], task["attempts"],
        "the late result changed the attempts"
    );
    assert_eq!(server.count(), 2);
}

#[test]
fn the_tick_that_recovers_a_task_sends_it_again_itself() {
    // SPEC, tick 2 and 4: a recovered task is "due at once", and a tick claims due tasks
    // "until nothing is due"; it need not wait for the next minute's tick.
    let env = Env::new();
    let server = Server::start();
    server.set_delay(Duration::from_secs(5));
    env.ok(&["register", "slow", "--url", &server.url("/slow")]);
    let id = env.schedule(&["slow", "--at", NOW, "--key", "again"]);

    let child = spawn_tick(&env, NOW, &[]);
    assert!(server.wait_for(1), "the tick did not send the task");
    kill_9(child);

    server.set_delay(Duration::ZERO);
    // A clock with sub-millisecond precision, as a real one has: the recovery comes a few
    // microseconds after the tick started, in the next stored millisecond.
    let later = "2026-11-25T12:01:00.000999999Z";
    tick(&env, later, &[]);
    let task = show(&env, id);
    assert_eq!(
        outcomes(&task),
        ["interrupted", "success"],
        "the tick at {later} recovered the task but did not send it: {task:#}"
    );
    assert_eq!(server.count(), 2);
}
