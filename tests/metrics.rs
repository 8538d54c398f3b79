//! `httpat metrics` and `tick --metrics-file`: the Prometheus text format, checked by
//! Prometheus' own `promtool check metrics` and parsed by the Python `prometheus_client` parser
//! (Debian's prometheus and python3-prometheus-client), with values held to what the database
//! holds. `httpat_attempts_total` is a counter kept in the database: `prune` never lowers it,
//! `transfer` carries it. The file is replaced atomically, never seen half-written.

mod common;
#[path = "support/invariants.rs"]
mod invariants;

use std::collections::HashMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{exits, spawn_tick, Env, Server};
use invariants::{shift_ms, tick};
use serde_json::Value;

const NOW: &str = "2026-12-01T12:00:00.000Z";

/// Every state, as `httpat_tasks{state}` names them.
const STATES: [&str; 7] = [
    "scheduled",
    "due",
    "running",
    "retrying",
    "succeeded",
    "failed",
    "cancelled",
];

/// Runs `program ARGS` with `text` on its stdin.
fn run_on(program: &str, args: &[&str], text: &str) -> std::process::Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {program} (see .ci/run for what it installs): {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `promtool check metrics` (Debian's prometheus) on `text`: it must find nothing to say.
fn promtool_check(text: &str) {
    let out = run_on("promtool", &["check", "metrics"], text);
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}\n{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One sample as prometheus_client's parser reads it.
#[derive(Debug)]
struct Sample {
    family: String,
    kind: String,
    name: String,
    labels: HashMap<String, String>,
    value: f64,
}

const PARSER: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        print(json.dumps({"family": family.name, "type": family.type, "name": s.name,
                          "labels": s.labels, "value": s.value}))
"#;

/// `text` parsed by prometheus_client (Debian's python3-prometheus-client, for /usr/bin/python3).
fn parse(text: &str) -> Vec<Sample> {
    let out = run_on("/usr/bin/python3", &["-c", PARSER], text);
    assert!(
        out.status.success(),
        "prometheus_client could not parse:\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            Sample {
                family: v["family"].as_str().unwrap().into(),
                kind: v["type"].as_str().unwrap().into(),
                name: v["name"].as_str().unwrap().into(),
                labels: serde_json::from_value(v["labels"].clone()).unwrap(),
                value: v["value"].as_f64().unwrap(),
            }
        })
        .collect()
}

/// The value of the sample `name` whose labels include `labels`; None when there is none.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

/// `httpat metrics` at `now`, checked by promtool and parsed.
fn metrics(env: &Env, now: &str) -> Vec<Sample> {
    let out = common::httpat(env, now, &["metrics"]).output().unwrap();
    assert!(out.status.success(), "{}", common::describe(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    promtool_check(&text);
    parse(&text)
}

/// How many tasks `list --state STATE` finds at `now` (the tables' own count, by SQL over the
/// tasks, not the counts metrics keeps).
fn listed(env: &Env, now: &str, state: &str) -> f64 {
    let out = common::httpat(
        env,
        now,
        &["--json", "list", "--state", state, "--limit", "100000"],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", common::describe(&out));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    list["tasks"].as_array().unwrap().len() as f64
}

/// Attempts per (endpoint, outcome), counted from every task's `show`.
fn attempts_by_show(env: &Env) -> HashMap<(String, String), f64> {
    let mut counts = HashMap::new();
    let list = env.json(&["list", "--limit", "100000"]);
    for task in list["tasks"].as_array().unwrap() {
        let shown = common::show(env, task["id"].as_i64().unwrap());
        for attempt in shown["attempts"].as_array().unwrap() {
            if let Some(outcome) = attempt["outcome"].as_str() {
                let key = (
                    task["endpoint"].as_str().unwrap().to_string(),
                    outcome.into(),
                );
                *counts.entry(key).or_insert(0.0) += 1.0;
            }
        }
    }
    counts
}

/// A home with tasks in every state: `ok` answers 200, `missing` 404, `busy` 503, `slow` holds
/// its requests and allows one in flight.
fn home(server: &Server) -> Env {
    server.answer("/missing", 404, "no");
    server.answer("/busy", 503, "busy");
    let mut env = Env::new();
    env.now(NOW);
    for (name, path) in [("ok", "/ok"), ("missing", "/missing"), ("busy", "/busy")] {
        env.ok(&["register", name, "--url", &server.url(path)]);
    }
    env.ok(&[
        "register",
        "slow",
        "--url",
        &server.url("/slow"),
        "--max-in-flight",
        "1",
    ]);
    for n in 0..3 {
        env.schedule(&["ok", "--at", NOW, "--arg", &format!("n={n}")]);
    }
    env.schedule(&["missing", "--at", NOW]);
    env.schedule(&["busy", "--at", NOW]);
    let cancelled = env.schedule(&["ok", "--in", "2h"]);
    env.ok(&["cancel", &cancelled.to_string()]);
    env.schedule(&["ok", "--in", "1h"]);
    tick(&env, NOW, &[]);
    env
}

#[test]
fn every_series_follows_prometheus_conventions_and_agrees_with_the_database() {
    let server = Server::start();
    let env = home(&server);
    // Now due: 3 tasks to `slow`; one goes in flight and is held there, its limit holds the
    // other two back. (busy's retry is a minute away at least.)
    let later = shift_ms(NOW, 30_000);
    for n in 0..3 {
        env.schedule(&[
            "slow",
            "--at",
            &shift_ms(NOW, 1_000),
            "--arg",
            &format!("n={n}"),
        ]);
    }
    server.hold("/slow");
    let child = spawn_tick(&env, &later, &["--concurrency", "4"]);
    assert!(server.wait_for(6), "the tick did not send to slow");

    let at = shift_ms(NOW, 30_500);
    assert_counts_agree(&env, &at, "with a request in flight");
    let samples = metrics(&env, &at);
    assert_eq!(
        value(&samples, "httpat_tasks", &[("state", "running")]),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "httpat_tasks", &[("state", "due")]),
        Some(2.0)
    );
    assert_eq!(
        value(&samples, "httpat_tasks", &[("state", "retrying")]),
        Some(1.0)
    );
    // The oldest due task: due at 12:00:01 (slow's), seen at 12:00:30.5.
    assert_eq!(
        value(&samples, "httpat_due_oldest_seconds", &[]),
        Some(29.5)
    );
    assert_eq!(
        value(
            &samples,
            "httpat_tasks_waiting_on_limit",
            &[("endpoint", "slow")]
        ),
        Some(2.0)
    );
    let kinds: HashMap<&str, &str> = samples
        .iter()
        .map(|s| (s.family.as_str(), s.kind.as_str()))
        .collect();
    assert_eq!(kinds["httpat_attempts"], "counter");
    assert_eq!(kinds["httpat_tasks"], "gauge");
    // No label names a task.
    assert!(samples
        .iter()
        .all(|s| s.labels.keys().all(|k| k != "task" && k != "id")));
    // The last tick that ended (the first, at 12:00) and how long it ran.
    let ticks = env.json(&["status"])["ticks"].clone();
    let ended = ticks
        .as_array()
        .unwrap()
        .iter()
        .find(|t| !t["ended_at"].is_null())
        .unwrap()
        .clone();
    let end = common::instant(ended["ended_at"].as_str().unwrap());
    let start = common::instant(ended["started_at"].as_str().unwrap());
    assert_eq!(
        value(&samples, "httpat_tick_last_end_timestamp_seconds", &[]),
        Some(end.timestamp_millis() as f64 / 1000.0)
    );
    assert_eq!(
        value(&samples, "httpat_tick_last_duration_seconds", &[]),
        Some((end - start).num_milliseconds() as f64 / 1000.0)
    );

    server.release();
    let out = child.wait_with_output().expect("wait for the tick");
    assert!(out.status.success(), "{}", common::describe(&out));
}

#[test]
fn an_empty_database_gives_zeros_for_every_state() {
    let server = Server::start();
    let env = Env::new();
    env.ok(&["register", "ok", "--url", &server.url("/ok")]);
    let samples = metrics(&env, NOW);
    for state in STATES {
        assert_eq!(
            value(&samples, "httpat_tasks", &[("state", state)]),
            Some(0.0)
        );
    }
    assert_eq!(value(&samples, "httpat_due_oldest_seconds", &[]), Some(0.0));
    assert_eq!(
        value(&samples, "httpat_tick_last_end_timestamp_seconds", &[]),
        Some(0.0)
    );
    assert!(value(&samples, "httpat_attempts_total", &[]).is_none());
}

#[test]
fn prune_never_lowers_the_attempts_counter_and_transfer_carries_it() {
    let server = Server::start();
    let env = home(&server);
    let before = metrics(&env, NOW);
    let success = value(
        &before,
        "httpat_attempts_total",
        &[("endpoint", "ok"), ("outcome", "success")],
    );
    assert_eq!(success, Some(3.0));
    let permanent = value(
        &before,
        "httpat_attempts_total",
        &[("endpoint", "missing"), ("outcome", "permanent")],
    );
    assert_eq!(permanent, Some(1.0));

    // A year on, everything finished is pruned: the tasks go, the counter stays.
    let year = "2027-12-01T12:00:00.000Z";
    let out = common::httpat(&env, year, &["prune", "--older-than", "90d"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::describe(&out));
    let after = metrics(&env, year);
    assert_eq!(
        value(&after, "httpat_tasks", &[("state", "succeeded")]),
        Some(0.0)
    );
    assert_eq!(listed(&env, year, "succeeded"), 0.0, "prune kept the tasks");
    assert_eq!(
        value(
            &after,
            "httpat_attempts_total",
            &[("endpoint", "ok"), ("outcome", "success")]
        ),
        success
    );
    assert_eq!(
        value(
            &after,
            "httpat_attempts_total",
            &[("endpoint", "missing"), ("outcome", "permanent")]
        ),
        permanent
    );

    // Moved to another database, the counters are the same, not recounted from what is left.
    let target = env.path("moved.db");
    let target_arg = target.to_str().unwrap();
    env.ok(&["transfer", "--to", target_arg]);
    let out = common::httpat(&env, year, &["--db", target_arg, "metrics"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::describe(&out));
    let moved = parse(&String::from_utf8(out.stdout).unwrap());
    for sample in after.iter().filter(|s| s.name == "httpat_attempts_total") {
        let labels: Vec<(&str, &str)> = sample
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            value(&moved, "httpat_attempts_total", &labels),
            Some(sample.value),
            "{sample:?}"
        );
    }
}

#[test]
fn tick_writes_the_metrics_file_atomically_after_every_tick() {
    let server = Server::start();
    let env = home(&server);
    let folder = env.path("textfile");
    std::fs::create_dir(&folder).unwrap();
    let file = folder.join("httpat.prom");
    let file_arg = file.to_str().unwrap().to_string();

    // A reader that keeps reading the file while ticks replace it: every read is whole.
    let stop = AtomicBool::new(false);
    let reads = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut reads = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if let Ok(text) = std::fs::read_to_string(&file) {
                    reads.push(text);
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            reads
        });
        for minute in 1..=20 {
            env.schedule(&["ok", "--at", &shift_ms(NOW, minute * 60_000)]);
            let now = shift_ms(NOW, minute * 60_000);
            tick(&env, &now, &["--metrics-file", &file_arg]);
        }
        stop.store(true, Ordering::Relaxed);
        reader.join().unwrap()
    });
    assert!(!reads.is_empty(), "the reader never saw the file");
    for text in &reads {
        assert!(
            text.ends_with('\n') && text.contains("# TYPE httpat_attempts_total counter"),
            "a read saw part of the file:\n{text}"
        );
    }
    let text = std::fs::read_to_string(&file).unwrap();
    promtool_check(&text);
    let samples = parse(&text);
    // 3 + 20 successes to `ok`: the file tells what the last tick left.
    assert_eq!(
        value(
            &samples,
            "httpat_attempts_total",
            &[("endpoint", "ok"), ("outcome", "success")]
        ),
        Some(23.0)
    );
    // Nothing but the file is left in the folder (no temporary file).
    let names: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("httpat.prom")]);

    // A folder that does not exist: the tick did its work, says which file it could not write
    // and exits 1, so that cron mails it.
    let nowhere = env.path("nowhere/httpat.prom");
    let (_, stderr) = exits(
        &env,
        &["tick", "--metrics-file", nowhere.to_str().unwrap()],
        1,
    );
    assert!(stderr.contains("nowhere/httpat.prom"), "{stderr}");
}

#[test]
fn on_postgresql_the_changes_of_the_counts_are_folded_and_the_counts_stay_the_same() {
    // SQLite updates its totals in place: there is nothing to fold.
    if common::backend() != common::Backend::Postgres {
        return;
    }
    let server = Server::start();
    let env = home(&server);
    for n in 0..12 {
        env.schedule(&["ok", "--in", "1h", "--arg", &format!("later={n}")]);
    }
    let changes = |env: &Env| -> i64 {
        let mut client = env.pg.as_ref().unwrap().client();
        client
            .query_one("SELECT count(*) FROM task_count_changes", &[])
            .unwrap()
            .get(0)
    };
    assert!(changes(&env) >= 12, "each schedule appended its change");
    let before = metrics(&env, NOW);
    // A tick folds the changes into the totals.
    tick(&env, NOW, &[]);
    assert_eq!(changes(&env), 0, "the changes were folded");
    let after = metrics(&env, NOW);
    for state in [
        "scheduled",
        "due",
        "retrying",
        "succeeded",
        "failed",
        "cancelled",
    ] {
        assert_eq!(
            value(&after, "httpat_tasks", &[("state", state)]),
            value(&before, "httpat_tasks", &[("state", state)]),
            "{state}"
        );
    }
}

/// The kept counts (`httpat_tasks`, `httpat_attempts_total`) at `at` against the tables' own.
fn assert_counts_agree(env: &Env, at: &str, when: &str) {
    let samples = metrics(env, at);
    for state in STATES {
        assert_eq!(
            value(&samples, "httpat_tasks", &[("state", state)]),
            Some(listed(env, at, state)),
            "httpat_tasks{{state=\"{state}\"}} {when}"
        );
    }
    for ((endpoint, outcome), count) in attempts_by_show(env) {
        assert_eq!(
            value(
                &samples,
                "httpat_attempts_total",
                &[("endpoint", &endpoint), ("outcome", &outcome)]
            ),
            Some(count),
            "httpat_attempts_total{{endpoint=\"{endpoint}\",outcome=\"{outcome}\"}} {when}"
        );
    }
}

#[test]
fn the_counts_follow_claims_results_releases_and_recoveries() {
    let server = Server::start();
    let mut env = Env::new();
    env.now(NOW);
    env.ok(&["register", "held", "--url", &server.url("/held")]);
    env.ok(&[
        "register",
        "slow",
        "--url",
        &server.url("/slow"),
        "--timeout",
        "1s",
    ]);
    for n in 0..4 {
        env.schedule(&["held", "--at", NOW, "--arg", &format!("n={n}")]);
    }
    // A tick killed while its requests are in flight: its tasks stay running until the next
    // tick recovers them (an interrupted attempt each) and sends them again.
    server.hold("/held");
    let mut killed = spawn_tick(&env, NOW, &["--concurrency", "4"]);
    assert!(server.wait_for(4), "the tick did not send its requests");
    killed.kill().expect("kill the tick");
    killed.wait().expect("reap the tick");
    let later = shift_ms(NOW, 1_000);
    assert_counts_agree(&env, &later, "while a killed tick holds its tasks");
    server.release();
    tick(&env, &later, &[]);
    assert_counts_agree(&env, &later, "after the recovery");
    assert_eq!(listed(&env, &later, "succeeded"), 4.0);

    // A tick whose time runs out with requests still queued gives them back, due again.
    server.set_delay(Duration::from_millis(200));
    for n in 0..12 {
        env.schedule(&["slow", "--at", &later, "--arg", &format!("n={n}")]);
    }
    let last = shift_ms(NOW, 2_000);
    tick(
        &env,
        &last,
        &["--concurrency", "1", "--max-runtime", "1500ms"],
    );
    let due = listed(&env, &last, "due");
    assert!(
        due > 0.0 && due < 12.0,
        "the tick was to send some and give the rest back: {due} due"
    );
    assert_counts_agree(&env, &last, "after a tick gave tasks back");
}
