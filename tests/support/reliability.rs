//! Helpers for the reliability suite: bulk scheduling through one `schedule --file -`, ticks
//! as child processes on a clock moving a minute at a time, and a tally of what a crash round
//! left behind (lost, stuck and duplicated tasks).
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::common::{count, describe, httpat, rows, spawn_tick, Env};

/// The instant the suites start from; ticks move on a minute at a time from here, as cron would.
pub const BASE: &str = "2026-11-25T12:00:00.000Z";

/// An instant `minutes` after BASE, as RFC 3339.
pub fn minute(minutes: i64) -> String {
    let at = chrono::DateTime::parse_from_rfc3339(BASE).expect("BASE is RFC 3339");
    (at + chrono::Duration::minutes(minutes))
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Runs a command to the end and returns its output.
pub fn run(mut cmd: Command) -> Output {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run httpat")
}

/// JSON Lines for `schedule --file -`: `count` tasks to `endpoint` at `at`, keys
/// `{prefix}{n}`, each with its own argument.
pub fn task_lines(endpoint: &str, at: &str, prefix: &str, count: usize) -> String {
    let mut lines = String::with_capacity(count * 96);
    for n in 0..count {
        let line = serde_json::json!({
            "endpoint": endpoint,
            "at": at,
            "args": {"n": n},
            "key": format!("{prefix}{n}"),
        });
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    lines
}

/// Runs `cmd` with `input` on its stdin; returns the output.
pub fn with_stdin(mut cmd: Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start httpat");
    let mut stdin = child.stdin.take().expect("piped stdin");
    // A writer thread: the child may answer before it has read everything.
    let input = input.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().expect("wait for httpat");
    writer.join().expect("the stdin writer");
    out
}

/// `httpat schedule --file -` with `lines` on stdin, at `now`; returns the output.
pub fn schedule_file(env: &Env, now: &str, lines: &str) -> Output {
    with_stdin(httpat(env, now, &["schedule", "--file", "-"]), lines)
}

/// Schedules `count` tasks with one `schedule --file -` call that must succeed; returns the
/// ids it printed, one per line in input order.
pub fn schedule_all(env: &Env, endpoint: &str, prefix: &str, count: usize) -> Vec<i64> {
    let out = schedule_file(env, BASE, &task_lines(endpoint, BASE, prefix, count));
    assert!(
        out.status.success(),
        "schedule --file -: {}",
        describe(&out)
    );
    let ids: Vec<i64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| line.trim().parse().expect("an id per line"))
        .collect();
    assert_eq!(ids.len(), count, "ids printed by schedule --file -");
    ids
}

/// Runs `httpat tick ARGS` at `now` to the end; panics unless it exits 0 with nothing on
/// stderr (cron's convention: silence when all is well).
pub fn tick(env: &Env, now: &str, args: &[&str]) -> Output {
    let out = spawn_tick(env, now, args)
        .wait_with_output()
        .expect("wait for httpat tick");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "httpat tick {args:?} at {now}: {}",
        describe(&out)
    );
    out
}

/// Tasks not finished (scheduled, due, running or retrying).
pub fn unfinished(env: &Env) -> i64 {
    count(env, "SELECT count(*) FROM tasks WHERE outcome IS NULL")
}

/// Runs ticks a minute apart from `first_minute` until no task is unfinished, at most
/// `max_ticks`; returns the minute after the last tick.
pub fn tick_until_done(env: &Env, first_minute: i64, max_ticks: i64) -> i64 {
    let mut at = first_minute;
    while unfinished(env) > 0 && at < first_minute + max_ticks {
        tick(env, &minute(at), &[]);
        at += 1;
    }
    at
}

/// Per task key: the outcomes of its attempts in attempt order ("<in flight>" while none).
pub fn attempts_by_key(env: &Env) -> HashMap<String, Vec<String>> {
    let mut by_key: HashMap<String, Vec<String>> = HashMap::new();
    let sql = "SELECT t.key, a.outcome FROM attempts a JOIN tasks t ON t.id = a.task_id \
               ORDER BY a.task_id, a.number";
    for row in rows(env, sql) {
        by_key
            .entry(row[0].clone().unwrap_or_default())
            .or_default()
            .push(row[1].clone().unwrap_or_else(|| "<in flight>".to_string()));
    }
    by_key
}

/// What one crash round left behind.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub tasks: usize,
    /// Acknowledged tasks missing, or not succeeded once ticks ran until nothing was due.
    pub lost: Vec<String>,
    /// Tasks still held by a tick.
    pub stuck: usize,
    /// Tasks that reached the endpoint more than once.
    pub duplicates: usize,
    /// Of those, the ones whose story does not explain it: not every attempt before the
    /// success `interrupted`, or more deliveries than attempts.
    pub unexplained: Vec<String>,
}

/// Checks the database and the deliveries against the keys `schedule` acknowledged.
pub fn tally(env: &Env, acknowledged: &[String], deliveries: &HashMap<String, usize>) -> Tally {
    let outcome_of: HashMap<String, Option<String>> =
        rows(env, "SELECT key, outcome FROM tasks WHERE key IS NOT NULL")
            .into_iter()
            .map(|row| (row[0].clone().unwrap_or_default(), row[1].clone()))
            .collect();
    let stuck = count(env, "SELECT count(*) FROM tasks WHERE tick_id IS NOT NULL") as usize;
    let attempts = attempts_by_key(env);
    let mut tally = Tally {
        tasks: acknowledged.len(),
        stuck,
        ..Tally::default()
    };
    for key in acknowledged {
        match outcome_of.get(key) {
            Some(Some(outcome)) if outcome == "succeeded" => {}
            other => tally.lost.push(format!("{key}: outcome {other:?}")),
        }
        let delivered = deliveries.get(key).copied().unwrap_or(0);
        if delivered == 0 {
            tally
                .lost
                .push(format!("{key}: never reached the endpoint"));
        }
        if delivered <= 1 {
            continue;
        }
        tally.duplicates += 1;
        let story = attempts.get(key).cloned().unwrap_or_default();
        let explained = story.split_last().is_some_and(|(last, before)| {
            last == "success" && !before.is_empty() && before.iter().all(|o| o == "interrupted")
        }) && delivered <= story.len();
        if !explained {
            let sql = format!(
                "SELECT a.error FROM attempts a JOIN tasks t ON t.id = a.task_id \
                 WHERE t.key = '{}' ORDER BY a.number",
                key.replace('\'', "''")
            );
            let errors: Vec<Option<String>> = rows(env, &sql)
                .into_iter()
                .map(|row| row[0].clone())
                .collect();
            tally.unexplained.push(format!(
                "{key}: delivered {delivered} times, attempts {story:?}, errors {errors:?}"
            ));
        }
    }
    tally
}
