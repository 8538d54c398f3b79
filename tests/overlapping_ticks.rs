//! Invariant 2, one attempt at a time: ticks that run at the same moment on the same database
//! never share a task, so no attempt is sent twice.

mod common;
#[path = "support/invariants.rs"]
mod invariants;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::{rows, spawn_tick, Env, Reply, Server};
use invariants::{schedule_many, states};

const NOW: &str = "2026-11-25T12:00:00Z";
const GOOD: usize = 240;
const BUSY: usize = 60;
const TICKS: usize = 6;

#[test]
fn overlapping_ticks_send_every_task_exactly_once() {
    let env = Env::new();
    // A thread per connection, so the server is never the bottleneck: every tick has requests
    // in flight at the same time as the others.
    let server = Server::start();
    server.set_delay(Duration::from_millis(20));
    server.script("/busy", vec![Reply::status(503)]);
    env.ok(&["register", "good", "--url", &server.url("/good")]);
    env.ok(&["register", "busy", "--url", &server.url("/busy")]);
    let good = schedule_many(&env, "good", NOW, GOOD);
    let busy = schedule_many(&env, "busy", NOW, BUSY);

    // Half start together; the others each start once requests are in flight, so that they
    // find tasks held by live ticks, as a tick that overruns its minute meets the next one.
    let mut ticks = Vec::new();
    for n in 0..TICKS {
        if n >= TICKS / 2 {
            let seen = server.count();
            assert!(server.wait_for(seen + 8), "the ticks stopped sending");
        }
        ticks.push(spawn_tick(&env, NOW, &["-v", "--concurrency", "8"]));
    }
    let mut sent_by_ticks = 0;
    for child in ticks {
        let out = child.wait_with_output().expect("wait for a tick");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "a tick exited with {:?}: {stderr}",
            out.status.code()
        );
        sent_by_ticks += sent_in_summary(&stderr);
    }

    // The endpoint's view: every task arrived, none twice.
    let deliveries = server.deliveries_by_key();
    assert_eq!(server.without_key(), 0, "requests without Idempotency-Key");
    let twice: Vec<_> = deliveries.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert_eq!(
        deliveries.len(),
        GOOD + BUSY,
        "tasks delivered (by Idempotency-Key)"
    );
    assert_eq!(
        sent_by_ticks,
        GOOD + BUSY,
        "requests the ticks say they sent"
    );

    // httpat's view: one attempt each, and the outcome it called for.
    let tasks = states(&env);
    for (ids, state) in [(&good, "succeeded"), (&busy, "retrying")] {
        for id in ids {
            let task = &tasks[id];
            assert_eq!(task["state"], state, "task {id}: {task:#}");
            assert_eq!(task["attempts_used"], 1, "task {id}: {task:#}");
        }
    }
    let number = |value: &Option<String>| -> i64 { value.as_deref().unwrap().parse().unwrap() };
    let attempts: HashMap<i64, i64> = rows(
        &env,
        "SELECT task_id, COUNT(*) FROM attempts GROUP BY task_id",
    )
    .iter()
    .map(|row| (number(&row[0]), number(&row[1])))
    .collect();
    assert_eq!(attempts.len(), GOOD + BUSY, "tasks with an attempt row");
    assert!(
        attempts.values().all(|n| *n == 1),
        "a task has more than one attempt row: {attempts:?}"
    );

    // The test proves nothing unless the ticks really ran side by side.
    let ticks_that_sent: HashSet<String> = rows(&env, "SELECT DISTINCT tick_id FROM attempts")
        .into_iter()
        .filter_map(|row| row[0].clone())
        .collect();
    assert!(
        ticks_that_sent.len() >= 2,
        "only {} tick(s) sent anything: the ticks did not overlap",
        ticks_that_sent.len()
    );
}

/// The `sent N` of a tick's `-v` summary line (0 when an idle tick prints none).
fn sent_in_summary(stderr: &str) -> usize {
    stderr
        .lines()
        .filter_map(|line| line.split("sent ").nth(1))
        .filter_map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .filter_map(|n| n.parse::<usize>().ok())
        .sum()
}
