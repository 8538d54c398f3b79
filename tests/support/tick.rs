//! Helpers for the tick tests: ticks timed on the wall clock or run when a retry is due, and
//! readers for JSON fields and the `ticks` table.
//! Included with `#[path = "support/tick.rs"] mod tick_support;` next to `mod common;`.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{count, show, Env};

/// An environment with endpoint `hook` registered at `url` with `extra` options.
pub fn env_with(url: &str, extra: &[&str]) -> Env {
    let env = Env::new();
    let mut args = vec!["register", "hook", "--url", url];
    args.extend_from_slice(extra);
    env.ok(&args);
    env
}

/// Schedules a task on `hook` due now, with `extra` options; returns its id.
pub fn schedule_now(env: &Env, extra: &[&str]) -> i64 {
    let mut args = vec!["hook", "--at", "now"];
    args.extend_from_slice(extra);
    env.schedule(&args)
}

/// A string field of a JSON document, or a panic naming it.
pub fn text<'a>(document: &'a Value, field: &str) -> &'a str {
    document[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string in {document:#}"))
}

/// Runs `httpat tick ARGS` to success and returns how long it took on the wall clock, so that
/// a test can allow for the tick's own running time when it checks a time the tick computed.
pub fn tick(env: &Env, args: &[&str]) -> Duration {
    let mut full = vec!["tick"];
    full.extend_from_slice(args);
    let started = Instant::now();
    env.ok(&full);
    started.elapsed()
}

/// Runs a tick at the task's `next_attempt_at` (the earliest it may be sent again).
pub fn tick_at_next_attempt(env: &mut Env, id: i64) {
    let next = text(&show(env, id), "next_attempt_at").to_string();
    env.now(&next);
    tick(env, &[]);
}

/// How many rows the `ticks` table holds.
pub fn tick_rows(env: &Env) -> i64 {
    count(env, "SELECT count(*) FROM ticks")
}
