//! `tick --follow`: the tick stays until its runtime ends and sends each task when its time
//! comes, tasks scheduled while it waits included, never early; it sleeps between (woken by new
//! work: SQLite's data_version, PostgreSQL's notifications), a signal ends a waiting tick at
//! once, and a request at the default 30 s timeout still starts late in the runtime (it may end
//! after it, within its lease).

mod common;
#[path = "support/invariants.rs"]
mod invariants;

use std::process::Child;
use std::time::{Duration, Instant};

use common::{spawn_tick, Env, Server};
use invariants::shift_ms;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The tick's pinned start: its clock runs on from there as real time passes.
const T0: &str = "2026-12-01T12:00:00.000Z";

fn home(server: &Server) -> Env {
    let mut env = Env::new();
    env.now(T0);
    // The default timeout (30 s): --follow must not need a request to end within the runtime.
    env.ok(&["register", "hook", "--url", &server.url("/hook")]);
    env
}

fn schedule_at(env: &Env, at_ms: i64, n: u32) -> i64 {
    env.schedule(&[
        "hook",
        "--at",
        &shift_ms(T0, at_ms),
        "--arg",
        &format!("n={n}"),
    ])
}

/// Waits for the tick to end; its exit must be 0.
fn finish(child: Child) {
    let out = child.wait_with_output().expect("wait for the tick");
    assert!(out.status.success(), "{}", common::describe(&out));
}

/// When (after `spawned`) the request for argument n arrived.
fn arrival(server: &Server, spawned: Instant, n: u32) -> Duration {
    server
        .requests()
        .iter()
        .find(|r| r.body.contains(&format!("\"n\":\"{n}\"")))
        .unwrap_or_else(|| panic!("task n={n} was never sent: {:?}", server.requests()))
        .received_at
        .duration_since(spawned)
}

#[test]
fn a_task_due_during_the_tick_is_sent_at_its_time_never_before() {
    let server = Server::start();
    let env = home(&server);
    schedule_at(&env, 1_500, 1);
    schedule_at(&env, 2_700, 2);
    let spawned = Instant::now();
    let child = spawn_tick(&env, T0, &["--follow", "--max-runtime", "4s"]);
    finish(child);
    let took = spawned.elapsed();
    for (n, due) in [(1, 1_500), (2, 2_700)] {
        let at = arrival(&server, spawned, n);
        // The tick's clock starts after the spawn: an arrival before `due` after the spawn
        // would be early by the tick's own clock.
        assert!(at >= Duration::from_millis(due), "task {n} early: {at:?}");
        assert!(
            at <= Duration::from_millis(due + 1_000),
            "task {n} late: {at:?}"
        );
    }
    assert!(
        took >= Duration::from_secs(4),
        "the tick left before its runtime ended"
    );
}

#[test]
fn a_task_scheduled_while_the_tick_waits_is_sent_at_once() {
    let server = Server::start();
    let env = home(&server);
    let spawned = Instant::now();
    let child = spawn_tick(&env, T0, &["--follow", "--max-runtime", "4s"]);
    std::thread::sleep(Duration::from_millis(1_000));
    // Due already by the tick's clock, scheduled while it sleeps with nothing due.
    let scheduled = Instant::now();
    schedule_at(&env, 0, 1);
    let acknowledged = scheduled.elapsed();
    // And one for later in the runtime.
    schedule_at(&env, 3_000, 2);
    finish(child);
    let first = arrival(&server, scheduled, 1);
    assert!(
        first <= acknowledged + Duration::from_millis(1_000),
        "sent {first:?} after it was scheduled"
    );
    let second = arrival(&server, spawned, 2);
    assert!(second >= Duration::from_millis(3_000), "early: {second:?}");
    assert!(second <= Duration::from_millis(4_000), "late: {second:?}");
}

#[test]
fn sigterm_ends_a_waiting_tick_at_once() {
    let server = Server::start();
    let env = home(&server);
    schedule_at(&env, 3_600_000, 1);
    let child = spawn_tick(&env, T0, &["--follow", "--max-runtime", "30s"]);
    std::thread::sleep(Duration::from_millis(700));
    let signalled = Instant::now();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    finish(child);
    assert!(
        signalled.elapsed() < Duration::from_secs(1),
        "the tick took {:?} to end after SIGTERM",
        signalled.elapsed()
    );
    assert_eq!(server.count(), 0);
}

#[test]
fn a_request_late_in_the_runtime_starts_though_its_timeout_reaches_past_it() {
    let server = Server::start();
    server.set_delay_between(Duration::from_millis(600), Duration::from_millis(600));
    let env = home(&server);
    // Due 0.3 s before the runtime ends, at a 30 s timeout, answered 0.6 s later: it starts,
    // and the tick waits for its answer and records it.
    let id = schedule_at(&env, 2_700, 1);
    let child = spawn_tick(&env, T0, &["--follow", "--max-runtime", "3s"]);
    finish(child);
    assert_eq!(server.count(), 1, "the request did not start");
    assert_eq!(common::state_of(&env, id), "succeeded");
}

#[test]
fn follow_and_dry_run_do_not_go_together() {
    let env = Env::new();
    let (_, stderr) = common::exits(&env, &["tick", "--follow", "--dry-run"], 2);
    assert!(stderr.contains("--dry-run"), "{stderr}");
}
