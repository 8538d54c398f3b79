//! Helpers for the recurring-schedule tests: commands run at a given pinned instant, and readers
//! for `recurring --json` and `list --schedule NAME --json`.
//! Included with `#[path = "support/recurring.rs"] mod recurring_support;` next to `mod common;`.
#![allow(dead_code)]

use std::process::Output;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::common::{describe, instant, Env};

/// Runs `httpat ARGS` with the clock pinned at `now`, whatever the environment's clock says.
pub fn run_at(env: &Env, now: &str, args: &[&str]) -> Output {
    env.cmd(args)
        .env("HTTPAT_NOW", now)
        .output()
        .expect("run httpat")
}

/// Runs a command at `now` that must succeed; returns its stdout.
pub fn ok_at(env: &Env, now: &str, args: &[&str]) -> String {
    let out = run_at(env, now, args);
    assert!(
        out.status.success(),
        "httpat {args:?} at {now}: {}",
        describe(&out)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// `httpat --json ARGS` at `now`, parsed.
pub fn json_at(env: &Env, now: &str, args: &[&str]) -> Value {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let stdout = ok_at(env, now, &full);
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("httpat {full:?} printed invalid JSON ({e}):\n{stdout}"))
}

/// Runs `httpat tick` at `now`; it must exit 0.
pub fn tick_at(env: &Env, now: &str) {
    ok_at(env, now, &["tick"]);
}

/// `recur ARGS` at `now`: must succeed; returns stdout without its newline.
pub fn recur_at(env: &Env, now: &str, args: &[&str]) -> String {
    let mut full = vec!["recur"];
    full.extend_from_slice(args);
    ok_at(env, now, &full).trim_end().to_string()
}

/// Every schedule as `recurring --json` shows it at `now`.
pub fn schedules(env: &Env, now: &str) -> Vec<Value> {
    match json_at(env, now, &["recurring"]) {
        Value::Array(items) => items,
        other => panic!("recurring --json is not an array: {other:#}"),
    }
}

/// One schedule from `recurring --json`, by name.
pub fn schedule(env: &Env, now: &str, name: &str) -> Value {
    schedules(env, now)
        .into_iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("schedule {name:?} is not in recurring --json"))
}

/// The schedule's next firing as `recurring --json` says; None when it shows none.
pub fn next_fire(env: &Env, now: &str, name: &str) -> Option<DateTime<Utc>> {
    let view = schedule(env, now, name);
    view["next_fire_at"].as_str().map(instant)
}

/// The tasks `list --schedule NAME --json` shows, by id.
pub fn tasks_of(env: &Env, now: &str, name: &str) -> Vec<Value> {
    let listed = json_at(env, now, &["list", "--schedule", name, "--limit", "1000"]);
    let mut tasks = listed["tasks"]
        .as_array()
        .unwrap_or_else(|| panic!("list --json has no tasks array: {listed:#}"))
        .clone();
    tasks.sort_by_key(|t| t["id"].as_i64());
    tasks
}

/// The keys of the schedule's tasks, sorted.
pub fn keys_of(env: &Env, now: &str, name: &str) -> Vec<String> {
    let mut keys: Vec<String> = tasks_of(env, now, name)
        .iter()
        .map(|t| t["key"].as_str().unwrap_or("<no key>").to_string())
        .collect();
    keys.sort();
    keys
}

/// Every task in the database (`list --json`), by id.
pub fn all_task_ids(env: &Env, now: &str) -> Vec<i64> {
    let listed = json_at(env, now, &["list", "--limit", "1000"]);
    let mut ids: Vec<i64> = listed["tasks"]
        .as_array()
        .expect("list --json has a tasks array")
        .iter()
        .filter_map(|t| t["id"].as_i64())
        .collect();
    ids.sort();
    ids
}

/// The key a firing of schedule `name` at `fire_time` (UTC, seconds) must carry.
pub fn key(name: &str, fire_time: &str) -> String {
    format!("recur:{name}:{fire_time}")
}

/// The standalone integers of a text (tokens made of digits only), e.g. `[2]` in
/// `fired for 2026-11-25T12:00:00Z; 2 earlier missed firings skipped`.
pub fn standalone_numbers(text: &str) -> Vec<u64> {
    text.split_whitespace()
        .map(|token| token.trim_matches(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|token| !token.is_empty() && token.chars().all(|c| c.is_ascii_digit()))
        .filter_map(|token| token.parse().ok())
        .collect()
}
