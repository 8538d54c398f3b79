//! Limits across every tick: `--max-in-flight N` and `--rate N/s|m|h` are counted in the claim
//! itself, so overlapping ticks never exceed them together; a task held back stays due (no
//! attempt used, order kept); a tick waits for the next slot while its runtime allows, and
//! keeps sending to other endpoints meanwhile; a killed tick's slots come back with recovery.
//!
//! The test server records, per request, when it arrived, when it was answered and how many
//! requests to its path were in flight; the limits are checked there, where a receiver would
//! count. The ticks here read the real clock (tasks are scheduled at the pinned "now", in the
//! past), as ticks in separate processes must for a window to mean the same to each.

mod common;

use std::collections::HashSet;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use common::{exits, httpat, Env, Recorded, Reply, Server};

/// Registers `name` with these limit options, answering after `delay`.
fn limited(env: &Env, server: &Server, name: &str, options: &[&str], delay: Duration) {
    let path = format!("/{name}");
    server.reply(&path, Reply::status(200).delay(delay));
    let url = server.url(&path);
    let mut args = vec!["register", name, "--url", &url, "--timeout", "5s"];
    args.extend_from_slice(options);
    env.ok(&args);
}

/// Schedules `n` tasks to `endpoint`, due at the pinned "now" (in the past for the ticks).
fn backlog(env: &Env, endpoint: &str, n: usize) -> Vec<i64> {
    let lines: String = (0..n)
        .map(|i| {
            format!("{{\"endpoint\": \"{endpoint}\", \"in\": \"0s\", \"args\": {{\"n\": {i}}}}}\n")
        })
        .collect();
    let path = env.path(&format!("{endpoint}.jsonl"));
    std::fs::write(&path, lines).unwrap();
    env.ok(&["schedule", "--file", path.to_str().unwrap()])
        .lines()
        .map(|line| line.trim().parse().unwrap())
        .collect()
}

/// `httpat tick ARGS` on the real clock.
fn tick(env: &Env, args: &[&str]) -> Command {
    let mut full = vec!["tick"];
    full.extend_from_slice(args);
    let mut cmd = httpat(env, "", &full);
    cmd.env_remove("HTTPAT_NOW");
    cmd
}

fn spawn(env: &Env, args: &[&str]) -> Child {
    tick(env, args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start httpat tick")
}

fn finished(child: Child) -> Output {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", common::describe(&out));
    out
}

/// How many of `env`'s tasks are in `state`.
fn in_state(env: &Env, state: &str) -> usize {
    env.json(&["list", "--state", state, "--limit", "1"])["matched"]
        .as_u64()
        .unwrap() as usize
}

/// The most requests to one path the server had in flight at once.
fn most_in_flight(requests: &[Recorded]) -> usize {
    requests.iter().map(|r| r.in_flight).max().unwrap_or(0)
}

/// The most requests that started in any window of `window`, by arrival at the server.
fn most_started_within(requests: &[Recorded], window: Duration) -> usize {
    let mut starts: Vec<Instant> = requests.iter().map(|r| r.received_at).collect();
    starts.sort();
    (0..starts.len())
        .map(|i| {
            starts[i..]
                .iter()
                .take_while(|t| **t < starts[i] + window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn three_overlapping_ticks_never_have_more_in_flight_than_the_limit() {
    let env = Env::new();
    let server = Server::start();
    let slow = Duration::from_millis(300);
    limited(&env, &server, "ims", &["--max-in-flight", "2"], slow);
    backlog(&env, "ims", 60);
    let ticks: Vec<Child> = (0..3)
        .map(|_| spawn(&env, &["--max-runtime", "50s", "--concurrency", "8"]))
        .collect();
    for child in ticks {
        finished(child);
    }
    let requests = server.requests_to("/ims");
    assert_eq!(requests.len(), 60, "each task sent once");
    let most = most_in_flight(&requests);
    assert!(most <= 2, "{most} requests were in flight at once");
    assert_eq!(most, 2, "the limit was used, not just kept");
    assert_eq!(in_state(&env, "succeeded"), 60);
    assert_eq!(
        common::count(&env, "SELECT count(*) FROM attempts"),
        60,
        "a task held back used no attempt"
    );
}

#[test]
fn a_rate_is_kept_across_two_ticks_and_drains_at_its_pace() {
    let env = Env::new();
    let server = Server::start();
    limited(&env, &server, "ims", &["--rate", "10/s"], Duration::ZERO);
    backlog(&env, "ims", 40);
    let started = Instant::now();
    let ticks: Vec<Child> = (0..2)
        .map(|_| spawn(&env, &["--max-runtime", "30s"]))
        .collect();
    for child in ticks {
        finished(child);
    }
    let requests = server.requests_to("/ims");
    assert_eq!(requests.len(), 40);
    let most = most_started_within(&requests, Duration::from_secs(1));
    assert!(most <= 10, "{most} requests started within one second");
    assert_eq!(most, 10, "the rate was used, not just kept");
    // Four windows' worth: about 3 s from the first request to the last, not a minute a batch.
    let first = requests.iter().map(|r| r.received_at).min().unwrap();
    let last = requests.iter().map(|r| r.received_at).max().unwrap();
    assert!(
        last - first <= Duration::from_secs(6),
        "the backlog took {:?}",
        last - first
    );
    assert!(
        first - started < Duration::from_secs(10),
        "the ticks were slow to start"
    );
    assert_eq!(in_state(&env, "succeeded"), 40);
}

#[test]
fn a_limited_endpoint_does_not_hold_up_the_others() {
    let env = Env::new();
    let server = Server::start();
    limited(
        &env,
        &server,
        "one-at-a-time",
        &["--max-in-flight", "1"],
        Duration::from_millis(500),
    );
    limited(&env, &server, "paced", &["--rate", "4/s"], Duration::ZERO);
    limited(&env, &server, "free", &[], Duration::ZERO);
    backlog(&env, "one-at-a-time", 8);
    backlog(&env, "paced", 16);
    backlog(&env, "free", 200);
    finished(spawn(&env, &["--max-runtime", "40s"]));
    let last_of = |path: &str| {
        server
            .requests_to(path)
            .iter()
            .map(|r| r.received_at)
            .max()
            .unwrap()
    };
    assert_eq!(server.requests_to("/free").len(), 200);
    // The limited endpoints take seconds (8 requests one after another, 16 at 4 a second);
    // the free one's 200 were all sent while they were still going.
    assert!(last_of("/free") < last_of("/one-at-a-time"));
    assert!(last_of("/free") < last_of("/paced"));
    assert_eq!(most_in_flight(&server.requests_to("/one-at-a-time")), 1);
    assert!(most_started_within(&server.requests_to("/paced"), Duration::from_secs(1)) <= 4);
    assert_eq!(in_state(&env, "succeeded"), 224);
}

#[test]
fn held_back_tasks_stay_due_in_their_order_and_status_and_show_say_why() {
    let env = Env::new();
    let server = Server::start();
    limited(
        &env,
        &server,
        "ims",
        &["--max-in-flight", "1"],
        Duration::ZERO,
    );
    server.hold("/ims");
    let low = env.schedule(&["ims", "--in", "0s", "--arg", "order=3", "--priority", "-1"]);
    let first = env.schedule(&["ims", "--in", "0s", "--arg", "order=1", "--priority", "5"]);
    let second = env.schedule(&["ims", "--in", "0s", "--arg", "order=2"]);
    let child = spawn(&env, &["--max-runtime", "30s"]);
    assert!(server.wait_for(1), "the first request arrives");
    // One is in flight, held by the server; the other two wait on the limit, still due.
    let status = env.json(&["status"]);
    let limits = &status["limits"][0];
    assert_eq!(limits["endpoint"], "ims");
    assert_eq!(limits["max_in_flight"], 1);
    assert_eq!(limits["in_flight"], 1);
    assert_eq!(limits["tasks_waiting"], 2, "{status:#}");
    assert_eq!(limits["reason"], "1 of 1 in flight (--max-in-flight 1)");
    let text = env.ok(&["status"]);
    assert!(
        text.contains("Waiting on a limit: 2 due task(s) of ims: 1 of 1 in flight"),
        "{text}"
    );
    let waiting = common::show(&env, second);
    assert_eq!(waiting["state"], "due");
    assert_eq!(waiting["attempts_used"], 0);
    assert_eq!(waiting["limits"], "1 in flight");
    assert!(
        waiting["waiting_on_limit"]
            .as_str()
            .unwrap()
            .starts_with("1 of 1 in flight"),
        "{waiting:#}"
    );
    let listed = env.json(&["endpoints"]);
    assert_eq!(listed[0]["tasks_waiting_on_limit"], 2);
    server.release();
    finished(child);
    let order: Vec<String> = server
        .requests_to("/ims")
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            body["order"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(order, ["1", "2", "3"], "priority, then time");
    for id in [first, second, low] {
        assert_eq!(common::state_of(&env, id), "succeeded");
    }
}

#[test]
fn a_tick_does_not_wait_for_a_slot_beyond_its_runtime() {
    let env = Env::new();
    let server = Server::start();
    limited(&env, &server, "ims", &["--rate", "3/h"], Duration::ZERO);
    let ids = backlog(&env, "ims", 5);
    let out = tick(&env, &["--max-runtime", "50s"]).output().unwrap();
    assert!(out.status.success(), "{}", common::describe(&out));
    assert_eq!(server.requests_to("/ims").len(), 3);
    let status = env.json(&["status"]);
    assert_eq!(status["limits"][0]["tasks_waiting"], 2);
    let reason = status["limits"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("3 of 3 started in the last 1h (--rate 3/h); next slot in "),
        "{reason}"
    );
    let waiting: Vec<String> = ids[3..]
        .iter()
        .map(|id| common::state_of(&env, *id))
        .collect();
    assert_eq!(waiting, ["due", "due"]);
    // The next tick within the hour sends nothing and says nothing: the tasks wait, as asked.
    let again = tick(&env, &["--max-runtime", "50s"]).output().unwrap();
    assert!(
        again.status.success() && again.stderr.is_empty(),
        "{}",
        common::describe(&again)
    );
    assert_eq!(server.requests_to("/ims").len(), 3);
}

#[test]
fn a_killed_tick_gives_its_slots_back_when_it_is_recovered() {
    let env = Env::new();
    let server = Server::start();
    limited(
        &env,
        &server,
        "ims",
        &["--max-in-flight", "2"],
        Duration::ZERO,
    );
    server.hold("/ims");
    backlog(&env, "ims", 6);
    let mut killed = spawn(&env, &["--max-runtime", "50s"]);
    assert!(server.wait_for(2), "two requests in flight");
    killed.kill().unwrap();
    killed.wait().unwrap();
    assert_eq!(env.json(&["status"])["limits"][0]["in_flight"], 2);
    server.release();
    let out = tick(&env, &["--max-runtime", "50s"]).output().unwrap();
    assert!(out.status.success(), "{}", common::describe(&out));
    assert_eq!(in_state(&env, "succeeded"), 6);
    let report = env.json(&["status"]);
    assert_eq!(report["ticks"][0]["recovered"], 2, "{report:#}");
    assert_eq!(report["limits"][0]["in_flight"], 0);
    let after_recovery = &server.requests_to("/ims")[2..];
    assert!(most_in_flight(after_recovery) <= 2);
}

#[test]
fn limits_are_set_lifted_and_filed_like_every_option() {
    let env = Env::new();
    let server = Server::start();
    let url = server.url("/ims");
    env.ok(&[
        "register",
        "ims",
        "--url",
        &url,
        "--max-in-flight",
        "2",
        "--rate",
        "600/m",
    ]);
    let listed = env.json(&["endpoints"]);
    assert_eq!(listed[0]["max_in_flight"], 2);
    assert_eq!(listed[0]["rate"], "600/m");
    let table = env.ok(&["endpoints"]);
    assert!(table.contains("2 in flight, 600/m"), "{table}");
    let lifted = env.json(&["register", "ims", "--rate", "none"]);
    assert_eq!(lifted["fields"], serde_json::json!(["rate"]), "{lifted:#}");
    assert_eq!(env.json(&["endpoints"])[0]["rate"], serde_json::Value::Null);
    assert_eq!(env.json(&["endpoints"])[0]["max_in_flight"], 2);
    for bad in [
        "--rate=10/d",
        "--rate=0/s",
        "--rate=fast",
        "--max-in-flight=0",
        "--max-in-flight=-1",
    ] {
        let args = ["register", "ims", bad];
        let (_, stderr) = exits(&env, &args, 2);
        assert!(stderr.contains("invalid"), "{bad:?}: {stderr}");
    }
    let file = env.path("endpoints.toml");
    std::fs::write(
        &file,
        format!("[endpoints.ims]\nurl = \"{url}\"\nmax_in_flight = 3\nrate = \"10/s\"\n"),
    )
    .unwrap();
    env.ok(&["register", "--file", file.to_str().unwrap()]);
    let filed = &env.json(&["endpoints"])[0];
    assert_eq!(filed["max_in_flight"], 3);
    assert_eq!(filed["rate"], "10/s");
    // Unchanged when filed again; a file without them lifts them (the file is the registry).
    let again = env.json(&["register", "--file", file.to_str().unwrap()]);
    assert_eq!(again[0]["change"], "unchanged", "{again:#}");
    std::fs::write(&file, format!("[endpoints.ims]\nurl = \"{url}\"\n")).unwrap();
    env.ok(&["register", "--file", file.to_str().unwrap()]);
    let bare = &env.json(&["endpoints"])[0];
    assert_eq!(bare["max_in_flight"], serde_json::Value::Null);
    assert_eq!(bare["rate"], serde_json::Value::Null);
    std::fs::write(
        &file,
        format!("[endpoints.ims]\nurl = \"{url}\"\nrate = \"lots\"\n"),
    )
    .unwrap();
    let before = env.dump();
    let (_, stderr) = exits(&env, &["register", "--file", file.to_str().unwrap()], 2);
    assert!(
        stderr.contains("ims") && stderr.contains("rate"),
        "{stderr}"
    );
    assert_eq!(env.dump(), before);
    let names: HashSet<String> = env
        .json(&["endpoints"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, HashSet::from(["ims".to_string()]));
}
