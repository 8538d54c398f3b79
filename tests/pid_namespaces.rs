//! A tick is proven dead by its pid only where its pid means something: on the same host, in
//! the same boot and the same pid namespace. Two ticks in different pid namespaces with one host
//! name (containers with host networking and a shared volume) never free each other's tasks
//! before the lease expires, so nothing is sent twice at once; a tick of this namespace killed
//! with SIGKILL is still recovered at once.
//!
//! The namespaces are made with `unshare --pid --fork --mount-proc`, which needs root: without
//! it those tests say why and pass without proving anything.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{httpat, run_under, show, Env, Server};

const NOW: &str = "2026-11-25T12:00:00Z";
/// Past any lease a tick at NOW takes (its runtime, the timeout and a margin).
const LEASE_EXPIRED: &str = "2026-11-25T12:10:00Z";

fn can_unshare() -> bool {
    let works = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !works {
        eprintln!("skipped: `unshare --pid --fork --mount-proc` needs root and util-linux");
    }
    works
}

/// How many short processes go first in the namespace of the tick that holds the task, so that
/// its pid there (a shell is 1) is one the other namespace, where the tick starts at once (2),
/// has no process for.
const HOLDER: usize = 3;
const OTHER: usize = 0;

/// `httpat ARGS` in a pid namespace of its own, as a container's tick, after `before` short
/// processes (each takes a pid).
fn in_namespace(env: &Env, now: &str, args: &[&str], before: usize) -> Command {
    let script = format!("{} wait; \"$0\" \"$@\"; true", "sleep 0 & ".repeat(before));
    let launcher = [
        "unshare",
        "--pid",
        "--fork",
        "--mount-proc",
        "--kill-child",
        "sh",
        "-c",
        &script,
    ];
    run_under(&launcher, httpat(env, now, args))
}

fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the tick")
}

/// One task due now to `/held`, which answers only when released.
fn held_task() -> (Env, Server, i64) {
    let env = Env::new();
    let server = Server::start();
    server.hold("/held");
    env.ok(&["register", "hook", "--url", &server.url("/held")]);
    let id = env.schedule(&["hook", "--at", "now"]);
    (env, server, id)
}

fn wait_for_state(env: &Env, id: i64, state: &str) {
    let deadline = Instant::now() + common::PATIENCE;
    while show(env, id)["state"] != state {
        assert!(Instant::now() < deadline, "task {id} never became {state}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid namespace (as `/proc/PID/ns/pid` reads) of the tick that holds task `id`.
fn namespace_of_holder(env: &Env, id: i64) -> String {
    let tick = show(env, id)["attempts"][0]["tick_id"]
        .as_str()
        .expect("the holder's tick id")
        .to_string();
    let sql = format!("SELECT pid_ns FROM ticks WHERE id = '{tick}'");
    common::rows(env, &sql)[0][0]
        .clone()
        .expect("the tick recorded its pid namespace")
}

/// Waits until no process is left in pid namespace `namespace`.
fn wait_until_empty(namespace: &str) {
    let deadline = Instant::now() + common::PATIENCE;
    let lives = || {
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .any(|entry| {
                std::fs::read_link(entry.path().join("ns/pid"))
                    .is_ok_and(|link| link.to_string_lossy() == namespace)
            })
    };
    while lives() {
        assert!(Instant::now() < deadline, "the killed namespace lives on");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_tick_in_another_pid_namespace_does_not_take_a_running_task() {
    if !can_unshare() {
        return;
    }
    let (env, server, id) = held_task();
    let first = spawn(in_namespace(&env, NOW, &["tick"], HOLDER));
    assert!(server.wait_for(1), "the first tick never sent its request");
    wait_for_state(&env, id, "running");

    // A second container, same host name: the first tick's pid means nothing here.
    let second = in_namespace(&env, NOW, &["tick"], OTHER).output().unwrap();
    assert_eq!(second.status.code(), Some(0), "{second:?}");
    assert_eq!(server.count(), 1, "the task was sent a second time");
    assert_eq!(show(&env, id)["state"], "running");

    server.release();
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    assert!(
        !String::from_utf8_lossy(&first.stderr).contains("lost its lease"),
        "{first:?}"
    );
    let task = show(&env, id);
    assert_eq!(task["state"], "succeeded", "{task:#}");
    assert_eq!(server.count(), 1);
}

#[test]
fn a_killed_tick_of_another_pid_namespace_is_freed_only_by_its_lease() {
    if !can_unshare() {
        return;
    }
    let (env, server, id) = held_task();
    let mut first = spawn(in_namespace(&env, NOW, &["tick"], HOLDER));
    assert!(server.wait_for(1), "the first tick never sent its request");
    wait_for_state(&env, id, "running");
    // SIGKILL to unshare: --kill-child takes the whole namespace with it, a moment later.
    let namespace = namespace_of_holder(&env, id);
    first.kill().unwrap();
    first.wait().unwrap();
    wait_until_empty(&namespace);
    server.release();

    for tick in [
        in_namespace(&env, NOW, &["tick"], OTHER),
        httpat(&env, NOW, &["tick"]),
    ] {
        let mut tick = tick;
        let out = tick.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert_eq!(server.count(), 1, "recovered before its lease expired");
        assert_eq!(show(&env, id)["state"], "running");
    }

    let out = httpat(&env, LEASE_EXPIRED, &["tick"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(server.count(), 2, "the expired lease freed it");
    let task = show(&env, id);
    assert_eq!(task["state"], "succeeded", "{task:#}");
    assert_eq!(task["attempts"][0]["outcome"], "interrupted", "{task:#}");
}

#[test]
fn a_killed_tick_is_recovered_at_once_only_under_its_own_host_name() {
    let (env, server, id) = held_task();
    let mut first = common::spawn_tick(&env, NOW, &[]);
    assert!(server.wait_for(1), "the first tick never sent its request");
    wait_for_state(&env, id, "running");
    first.kill().unwrap();
    first.wait().unwrap();
    server.release();

    let out = httpat(&env, NOW, &["tick"])
        .env("HTTPAT_HOST", "another-container")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(server.count(), 1, "a tick of another host freed it");
    assert_eq!(show(&env, id)["state"], "running");

    // This host, this boot, this namespace: the pid is gone, so the task is freed at once.
    let out = httpat(&env, NOW, &["tick"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(server.count(), 2);
    assert_eq!(show(&env, id)["state"], "succeeded");
}
