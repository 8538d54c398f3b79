//! Database contention (issue 10): `schedule` from eight parallel loops of processes while ticks
//! run over and over against a local server. Every acknowledged id exists afterwards, no user
//! ever sees "database is locked" (busy timeout and retry), and nothing is lost or sent twice.

mod common;
#[path = "support/reliability.rs"]
mod reliability;

use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use common::{describe, httpat, parse_id, spawn_tick, Env, Server};
use reliability::{minute, run, tick_until_done, BASE};

const LOOPS: usize = 8;
const PER_LOOP: usize = 40;
const TICK_LOOPS: usize = 2;

/// What one `schedule` process did.
struct Scheduled {
    key: String,
    out: Output,
}

#[test]
fn schedules_from_eight_loops_while_ticks_run_are_all_kept_and_never_see_a_lock() {
    let env = Env::new();
    let server = Server::start();
    env.ok(&["register", "hook", "--url", &server.url("/hook/{n}")]);

    let scheduling = AtomicBool::new(true);
    let ticks_run = AtomicUsize::new(0);
    let tick_outputs: Mutex<Vec<Output>> = Mutex::new(Vec::new());
    let scheduled: Vec<Scheduled> = std::thread::scope(|scope| {
        for _ in 0..TICK_LOOPS {
            scope.spawn(|| {
                // At least one tick per loop, so that ticks overlap the schedules even if the
                // schedules are quick. All on the same pinned minute: clocks that raced ahead
                // by minutes would expire each other's leases, which is another test.
                loop {
                    ticks_run.fetch_add(1, Ordering::SeqCst);
                    let out = spawn_tick(&env, &minute(0), &[])
                        .wait_with_output()
                        .expect("wait for a tick");
                    tick_outputs.lock().unwrap().push(out);
                    if !scheduling.load(Ordering::SeqCst) {
                        break;
                    }
                }
            });
        }
        let lanes: Vec<_> = (0..LOOPS)
            .map(|lane| {
                let env = &env;
                scope.spawn(move || {
                    (0..PER_LOOP)
                        .map(|i| {
                            let key = format!("lane{lane}-{i}");
                            let n = format!("n={lane}-{i}");
                            let args = ["schedule", "hook", "--at", "now", "--arg", &n];
                            let mut cmd = httpat(env, BASE, &args);
                            cmd.args(["--key", &key]);
                            Scheduled { key, out: run(cmd) }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let all = lanes
            .into_iter()
            .flat_map(|lane| lane.join().expect("a schedule loop"))
            .collect();
        scheduling.store(false, Ordering::SeqCst);
        all
    });
    let tick_outputs = tick_outputs.into_inner().unwrap();
    eprintln!(
        "{} ticks ran during the schedules and sent {} requests",
        tick_outputs.len(),
        server.count()
    );

    // No "database is locked" anywhere, from schedules or ticks.
    for out in scheduled.iter().map(|s| &s.out).chain(tick_outputs.iter()) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("is locked"),
            "a user saw a lock error: {}",
            describe(out)
        );
    }
    for out in &tick_outputs {
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "a tick under contention: {}",
            describe(out)
        );
    }
    for s in &scheduled {
        assert!(
            s.out.status.success(),
            "schedule --key {} under contention: {}",
            s.key,
            describe(&s.out)
        );
    }
    assert_eq!(scheduled.len(), LOOPS * PER_LOOP);

    // Every acknowledged id is there, with the task that was asked for.
    let acknowledged: Vec<(i64, &str)> = scheduled
        .iter()
        .map(|s| (parse_id(&String::from_utf8_lossy(&s.out.stdout)), &*s.key))
        .collect();
    for (id, key) in &acknowledged {
        let task = env.json(&["show", &id.to_string()]);
        assert_eq!(task["key"], *key, "task {id}: {task:#}");
    }
    let mut ids: Vec<i64> = acknowledged.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), LOOPS * PER_LOOP, "distinct ids acknowledged");

    // Zero lost: once ticks have run until nothing is left, each was sent exactly once and
    // succeeded.
    tick_until_done(&env, 1, 5);
    let deliveries = server.deliveries_by_key();
    for (id, key) in &acknowledged {
        let task = env.json(&["show", &id.to_string()]);
        assert_eq!(task["state"], "succeeded", "task {id}: {task:#}");
        assert_eq!(
            deliveries.get(*key).copied(),
            Some(1),
            "deliveries of task {id} (key {key})"
        );
    }
    assert_eq!(server.count(), LOOPS * PER_LOOP, "requests received");
    assert_eq!(
        tick_outputs.len(),
        ticks_run.load(Ordering::SeqCst),
        "ticks that ran during the schedules"
    );
}
