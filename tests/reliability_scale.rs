//! Invariants 2 and 3 at the scale of issue 10: eight ticks started together on 5,000 due tasks
//! deliver each exactly once; a tick killed with SIGKILL at a random moment while 1,000 slow
//! requests drain loses nothing, leaves nothing running, and every task delivered twice shows an
//! `interrupted` attempt before its success. `bench/chaos` runs the crash round 50 times.

mod common;
#[path = "support/reliability.rs"]
mod reliability;

use std::process::Child;
use std::time::Duration;

use common::{count, describe, spawn_tick, Env, Server};
use reliability::{minute, schedule_all, tally, tick_until_done};

const OVERLAP_TASKS: usize = 5_000;
const OVERLAP_TICKS: usize = 8;
const CRASH_TASKS: usize = 1_000;

/// How many crash rounds to run: `HTTPAT_CHAOS_ROUNDS`, else 5 (CI's figure).
fn crash_rounds() -> usize {
    std::env::var("HTTPAT_CHAOS_ROUNDS")
        .ok()
        .map(|v| v.parse().expect("HTTPAT_CHAOS_ROUNDS is a number"))
        .unwrap_or(5)
}

#[test]
fn eight_ticks_started_together_deliver_5000_tasks_exactly_once() {
    let env = Env::new();
    let server = Server::start();
    env.ok(&["register", "fast", "--url", &server.url("/fast")]);
    schedule_all(&env, "fast", "overlap-", OVERLAP_TASKS);

    let ticks: Vec<Child> = (0..OVERLAP_TICKS)
        .map(|_| spawn_tick(&env, &minute(0), &[]))
        .collect();
    for child in ticks {
        let out = child.wait_with_output().expect("wait for a tick");
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "an overlapping tick: {}",
            describe(&out)
        );
    }

    let deliveries = server.deliveries_by_key();
    assert_eq!(server.without_key(), 0, "requests without Idempotency-Key");
    let twice: Vec<_> = deliveries.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "keys not delivered exactly once: {twice:?}"
    );
    assert_eq!(deliveries.len(), OVERLAP_TASKS, "distinct keys delivered");
    for n in 0..OVERLAP_TASKS {
        assert!(
            deliveries.contains_key(&format!("overlap-{n}")),
            "task overlap-{n} never reached the endpoint"
        );
    }
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM tasks WHERE outcome = 'succeeded'"
        ),
        OVERLAP_TASKS as i64,
        "succeeded tasks"
    );
    assert_eq!(
        count(&env, "SELECT count(*) FROM attempts"),
        OVERLAP_TASKS as i64,
        "attempts recorded (one each)"
    );
    assert_eq!(
        count(&env, "SELECT sum(sent) FROM ticks"),
        OVERLAP_TASKS as i64,
        "requests the ticks say they sent"
    );
    // The test proves nothing unless the ticks really shared the work.
    let sharing = count(&env, "SELECT count(*) FROM ticks WHERE sent > 0");
    assert!(
        sharing >= 2,
        "only {sharing} tick sent anything: the ticks did not overlap"
    );
}

#[test]
fn ticks_killed_at_random_moments_lose_nothing_and_explain_every_duplicate() {
    let rounds = crash_rounds();
    let mut duplicates = 0;
    for round in 1..=rounds {
        duplicates += crash_round(round);
    }
    assert!(
        rounds == 0 || duplicates > 0,
        "no kill in {rounds} rounds caught a request in flight: the test proved nothing"
    );
}

/// One round: 1,000 slow tasks, a tick at `--concurrency 8` killed after 0.2–1.5 s, then ticks
/// a minute apart until nothing is left. Returns how many tasks were delivered more than once.
fn crash_round(round: usize) -> usize {
    let env = Env::new();
    let server = Server::start();
    server.set_delay_between(Duration::from_millis(50), Duration::from_millis(100));
    env.ok(&["register", "slow", "--url", &server.url("/slow")]);
    let ids = schedule_all(&env, "slow", "crash-", CRASH_TASKS);
    let keys: Vec<String> = (0..CRASH_TASKS).map(|n| format!("crash-{n}")).collect();

    let mut child = spawn_tick(&env, &minute(0), &["--concurrency", "8"]);
    let kill_after = Duration::from_millis(rand::random_range(200..=1500));
    std::thread::sleep(kill_after);
    assert!(
        child.try_wait().expect("poll the tick").is_none(),
        "round {round}: the tick ended before the kill after {kill_after:?}"
    );
    child.kill().expect("SIGKILL the tick");
    child.wait().expect("reap the killed tick");
    let reached_before_kill = server.count();

    // The recovery need not be slow: the delay only kept requests in flight for the kill.
    server.set_delay(Duration::ZERO);
    tick_until_done(&env, 1, 10);

    let result = tally(&env, &keys, &server.deliveries_by_key());
    let context = format!(
        "round {round}: killed after {kill_after:?}, {reached_before_kill} requests had reached \
         the endpoint"
    );
    assert!(
        result.lost.is_empty(),
        "{context}: {} tasks lost: {:?}",
        result.lost.len(),
        &result.lost[..result.lost.len().min(10)]
    );
    assert_eq!(result.stuck, 0, "{context}: tasks stuck running");
    assert!(
        result.unexplained.is_empty(),
        "{context}: duplicate deliveries without an interrupted attempt before the success: {:?}",
        &result.unexplained[..result.unexplained.len().min(10)]
    );
    // What the database says is what the product shows.
    let running = env.json(&["list", "--state", "running"]);
    assert_eq!(running["tasks"], serde_json::json!([]), "{context}");
    let delivered = server.deliveries_by_key();
    if let Some(n) = (0..CRASH_TASKS).find(|n| delivered.get(&keys[*n]).copied() > Some(1)) {
        let shown = env.json(&["show", &ids[n].to_string()]);
        let outcomes: Vec<&str> = shown["attempts"]
            .as_array()
            .expect("show --json has attempts")
            .iter()
            .map(|a| a["outcome"].as_str().unwrap_or("<in flight>"))
            .collect();
        assert_eq!(shown["state"], "succeeded", "{context}: {shown:#}");
        assert_eq!(
            outcomes.first(),
            Some(&"interrupted"),
            "{context}: task {}: {shown:#}",
            ids[n]
        );
    }
    eprintln!(
        "{context}; {} tasks, lost {}, stuck {}, delivered more than once {}",
        result.tasks,
        result.lost.len(),
        result.stuck,
        result.duplicates
    );
    result.duplicates
}
