//! SIGTERM (as systemd sends it) and SIGINT stop a tick from claiming or starting more; requests
//! already in flight finish and are recorded; what was claimed but not started waits for the
//! next tick, untouched.

mod common;

use std::time::{Duration, Instant};

use common::{spawn_tick, Env, Reply, Server, DEFAULT_NOW};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

fn states(env: &Env) -> Vec<(String, u64)> {
    let listed = env.json(&["list", "--json", "--limit", "100"]);
    listed["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["state"].as_str().unwrap().to_string(),
                t["attempts_used"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn stop_a_tick_with(signal: Signal) {
    let env = Env::new();
    let server = Server::start();
    server.reply(
        "/slow",
        Reply::status(200).delay(Duration::from_millis(1500)),
    );
    env.ok(&["register", "slow", "--url", &server.url("/slow")]);
    for _ in 0..10 {
        env.schedule(&["slow", "--at", "now"]);
    }
    let tick = spawn_tick(&env, DEFAULT_NOW, &["--concurrency", "2"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.requests().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the tick never sent its first requests"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    kill(Pid::from_raw(tick.id() as i32), signal).expect("signal the tick");
    let output = tick.wait_with_output().expect("wait for the tick");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        server.requests().len(),
        2,
        "nothing new started after {signal}"
    );

    let after = states(&env);
    let succeeded = after.iter().filter(|(s, _)| s == "succeeded").count();
    let waiting: Vec<_> = after.iter().filter(|(s, _)| s == "due").collect();
    assert_eq!(
        succeeded, 2,
        "the requests in flight were recorded: {after:?}"
    );
    assert_eq!(
        waiting.len(),
        8,
        "the rest wait for the next tick: {after:?}"
    );
    assert!(
        waiting.iter().all(|(_, attempts)| *attempts == 0),
        "a task that was never sent has used no attempt: {after:?}"
    );
    let first_waiting = env.json(&["list", "--json", "--state", "due", "--limit", "1"]);
    let id = first_waiting["tasks"][0]["id"].as_i64().unwrap();
    let shown = env.json(&["show", &id.to_string(), "--json"]);
    assert_eq!(shown["attempts"], Value::Array(vec![]), "{shown}");

    server.reply("/slow", Reply::status(200));
    env.ok(&["tick"]);
    assert_eq!(server.requests().len(), 10);
    assert!(states(&env).iter().all(|(s, _)| s == "succeeded"));
}

#[test]
fn sigterm_lets_requests_in_flight_finish_and_releases_the_rest() {
    stop_a_tick_with(Signal::SIGTERM);
}

#[test]
fn sigint_does_the_same() {
    stop_a_tick_with(Signal::SIGINT);
}
