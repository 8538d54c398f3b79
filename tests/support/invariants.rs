//! Helpers for the invariant tests: ticks run to the end, many tasks scheduled at once, the
//! states and attempt outcomes of every task, a search for bytes in files, and millisecond
//! arithmetic on RFC 3339 instants.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{describe, rows, spawn_tick, Env};

/// Runs `httpat tick ARGS` at `now` to the end; panics unless it exits 0.
pub fn tick(env: &Env, now: &str, args: &[&str]) -> Output {
    let out = spawn_tick(env, now, args)
        .wait_with_output()
        .expect("wait for httpat tick");
    assert!(
        out.status.success(),
        "httpat tick {args:?} at {now}: {}",
        describe(&out)
    );
    out
}

/// Schedules `count` tasks to `endpoint` at `at`, each with a distinct `n` argument, using a few
/// `schedule` processes at once; returns their ids.
pub fn schedule_many(env: &Env, endpoint: &str, at: &str, count: usize) -> Vec<i64> {
    const PARALLEL: usize = 4;
    let mut ids: Vec<i64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..PARALLEL)
            .map(|lane| {
                scope.spawn(move || {
                    (lane..count)
                        .step_by(PARALLEL)
                        .map(|n| {
                            let n = format!("n={n}");
                            env.schedule(&[endpoint, "--at", at, "--arg", &n])
                        })
                        .collect::<Vec<i64>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a schedule lane"))
            .collect()
    });
    ids.sort_unstable();
    assert_eq!(ids.len(), count);
    ids
}

/// Every task of `list --json` (states as the product decides them), by id.
pub fn states(env: &Env) -> HashMap<i64, serde_json::Value> {
    let list = env.json(&["list", "--limit", "100000"]);
    list["tasks"]
        .as_array()
        .expect("list --json has a tasks array")
        .iter()
        .map(|task| (task["id"].as_i64().expect("a task id"), task.clone()))
        .collect()
}

/// Per task: the outcomes of its attempts, in attempt order (None while in flight).
pub fn attempt_outcomes(env: &Env) -> HashMap<i64, Vec<Option<String>>> {
    let mut outcomes: HashMap<i64, Vec<Option<String>>> = HashMap::new();
    let sql = "SELECT task_id, outcome FROM attempts ORDER BY task_id, number";
    for row in rows(env, sql) {
        let task = row[0]
            .as_deref()
            .and_then(|id| id.parse().ok())
            .expect("a task id");
        outcomes.entry(task).or_default().push(row[1].clone());
    }
    outcomes
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("read a folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// Whether `haystack` holds `needle` anywhere, as raw bytes.
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// An instant `ms` milliseconds from an RFC 3339 one, as RFC 3339 with milliseconds.
pub fn shift_ms(instant: &str, ms: i64) -> String {
    let at = chrono::DateTime::parse_from_rfc3339(instant).expect("an RFC 3339 instant");
    (at + chrono::Duration::milliseconds(ms))
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Milliseconds from `a` to `b`, both RFC 3339.
pub fn ms_between(a: &str, b: &str) -> i64 {
    let a = chrono::DateTime::parse_from_rfc3339(a).expect("an RFC 3339 instant");
    let b = chrono::DateTime::parse_from_rfc3339(b).expect("an RFC 3339 instant");
    (b - a).num_milliseconds()
}
