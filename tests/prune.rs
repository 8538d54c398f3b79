//! `prune --older-than 90d [--dry-run]`: finished tasks that finished before the cutoff go, with
//! their attempts and transitions, and so do tick records older than it; unfinished tasks stay
//! however old they are; a dry run only counts.

mod common;
#[path = "support/operators.rs"]
mod operators;

use common::{count, exits, refused_unchanged, show, state_of, Env, Server};
use operators::listed_ids;
use serde_json::Value;

/// Long before the cutoff of a 90-day prune run at `PRUNE_AT`.
const LONG_AGO: &str = "2026-01-10T12:00:00Z";
/// A few days before `PRUNE_AT`.
const RECENTLY: &str = "2026-11-20T12:00:00Z";
const PRUNE_AT: &str = "2026-11-25T12:00:00Z";
/// `PRUNE_AT` less 90 days.
const CUTOFF: &str = "2026-08-27T12:00:00.000Z";

/// Tasks in every situation prune must tell apart.
struct History {
    env: Env,
    _server: Server,
    /// Finished long ago: these go.
    old_finished: Vec<i64>,
    /// Created long ago but unfinished, or finished recently, or new: these stay.
    kept: Vec<i64>,
    /// Unfinished, whatever their age.
    unfinished: Vec<i64>,
    /// `show --json` transitions of the old finished tasks, before any prune.
    old_transitions: usize,
}

fn history() -> History {
    let mut env = Env::new();
    let server = Server::start();
    server.answer("/gone", 404, "x");
    server.answer("/flaky", 503, "x");
    server.answer("/later", 503, "x");
    for (name, path) in [
        ("ok", "/ok"),
        ("gone", "/gone"),
        ("flaky", "/flaky"),
        ("later", "/later"),
    ] {
        env.ok(&["register", name, "--url", &server.url(path)]);
    }

    env.now(LONG_AGO);
    let old_succeeded = env.schedule(&["ok", "--at", "now"]);
    let old_failed = env.schedule(&["gone", "--at", "now"]);
    let old_cancelled = env.schedule(&["ok", "--in", "1d"]);
    env.ok(&["cancel", &old_cancelled.to_string()]);
    let old_retrying = env.schedule(&["flaky", "--at", "now"]);
    let old_then_recently_succeeded = env.schedule(&["later", "--at", "now"]);
    let old_retried = env.schedule(&["gone", "--at", "now", "--arg", "n=2"]);
    let old_scheduled = env.schedule(&["ok", "--at", "2027-01-01T00:00:00Z"]);
    // Due at prune time, and no tick has come since.
    let old_due = env.schedule(&["ok", "--at", "2026-11-24T00:00:00Z"]);
    env.ok(&["tick"]);
    assert_eq!(state_of(&env, old_succeeded), "succeeded");
    assert_eq!(state_of(&env, old_failed), "failed");
    assert_eq!(state_of(&env, old_retried), "failed");
    assert_eq!(state_of(&env, old_retrying), "retrying");

    env.now(RECENTLY);
    server.answer("/later", 200, "x");
    let new_succeeded = env.schedule(&["ok", "--at", "now"]);
    let new_cancelled = env.schedule(&["ok", "--in", "1h"]);
    env.ok(&["cancel", &new_cancelled.to_string()]);
    env.ok(&[
        "retry",
        &old_retried.to_string(),
        "--at",
        "2026-12-01T00:00:00Z",
    ]);
    env.ok(&["tick"]);
    assert_eq!(state_of(&env, new_succeeded), "succeeded");
    assert_eq!(state_of(&env, old_then_recently_succeeded), "succeeded");
    assert_eq!(state_of(&env, old_retrying), "retrying");

    env.now(PRUNE_AT);
    assert_eq!(state_of(&env, old_due), "due");
    assert_eq!(state_of(&env, old_retried), "scheduled");
    assert_eq!(state_of(&env, old_scheduled), "scheduled");

    let old_finished = vec![old_succeeded, old_failed, old_cancelled];
    let old_transitions = old_finished
        .iter()
        .map(|id| {
            show(&env, *id)["transitions"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .sum();
    let unfinished = vec![old_retrying, old_retried, old_scheduled, old_due];
    let mut kept = unfinished.clone();
    kept.extend([old_then_recently_succeeded, new_succeeded, new_cancelled]);
    kept.sort();
    History {
        env,
        _server: server,
        old_finished,
        kept,
        unfinished,
        old_transitions,
    }
}

fn rows_of(env: &Env, table: &str, ids: &[i64]) -> i64 {
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    count(
        env,
        &format!(
            "SELECT count(*) FROM {table} WHERE task_id IN ({})",
            ids.join(",")
        ),
    )
}

fn expected_counts(h: &History, dry_run: bool) -> Value {
    serde_json::json!({
        "cutoff": CUTOFF,
        "dry_run": dry_run,
        "tasks": 3,
        // The succeeded and the failed task had one attempt each; the cancelled one none.
        "attempts": 2,
        "transitions": h.old_transitions,
        // The tick run long ago; the recent one stays.
        "ticks": 1,
    })
}

#[test]
fn a_dry_run_deletes_nothing_and_reports_what_would_go() {
    let h = history();
    let before = h.env.dump();
    let counted = h.env.json(&["prune", "--older-than", "90d", "--dry-run"]);
    assert_eq!(counted, expected_counts(&h, true));
    assert_eq!(before, h.env.dump(), "a dry run changed the database");

    let text = h.env.ok(&["prune", "--older-than", "90d", "--dry-run"]);
    for figure in [
        "3 finished tasks".to_string(),
        "2 attempts".to_string(),
        format!("{} transitions", h.old_transitions),
        "1 tick".to_string(),
    ] {
        assert!(text.contains(&figure), "{figure:?} missing from: {text}");
    }
    assert_eq!(before, h.env.dump(), "a dry run changed the database");
}

#[test]
fn prune_deletes_exactly_the_tasks_finished_before_the_cutoff_with_their_rows() {
    let h = history();
    assert!(rows_of(&h.env, "attempts", &h.old_finished) > 0);
    assert!(h.old_transitions > 0);
    let kept_rows = (
        rows_of(&h.env, "attempts", &h.kept),
        rows_of(&h.env, "transitions", &h.kept),
    );

    let pruned = h.env.json(&["prune", "--older-than", "90d"]);
    assert_eq!(pruned, expected_counts(&h, false));

    for id in &h.old_finished {
        let (_, stderr) = exits(&h.env, &["show", &id.to_string()], 3);
        assert!(stderr.contains(&id.to_string()), "{stderr}");
    }
    for id in &h.kept {
        h.env.ok(&["show", &id.to_string()]);
    }
    let mut listed = listed_ids(&h.env, &[]);
    listed.sort();
    assert_eq!(listed, h.kept);
    assert_eq!(rows_of(&h.env, "attempts", &h.old_finished), 0);
    assert_eq!(rows_of(&h.env, "transitions", &h.old_finished), 0);
    assert_eq!(
        (
            rows_of(&h.env, "attempts", &h.kept),
            rows_of(&h.env, "transitions", &h.kept)
        ),
        kept_rows,
        "the kept tasks keep their attempts and history"
    );

    let status = h.env.json(&["status"]);
    let ticks = status["ticks"].as_array().expect("status --json has ticks");
    assert_eq!(ticks.len(), 1, "only the recent tick is left: {status:#}");
    assert!(ticks[0]["started_at"]
        .as_str()
        .is_some_and(|t| t.starts_with("2026-11-20")));

    let again = h.env.json(&["prune", "--older-than", "90d"]);
    for field in ["tasks", "attempts", "transitions", "ticks"] {
        assert_eq!(again[field], 0, "a second prune finds nothing: {again:#}");
    }
}

#[test]
fn unfinished_tasks_are_never_pruned_however_old() {
    let h = history();
    h.env.ok(&["prune", "--older-than", "1m"]);
    let mut listed = listed_ids(&h.env, &[]);
    listed.sort();
    let mut unfinished = h.unfinished.clone();
    unfinished.sort();
    assert_eq!(
        listed, unfinished,
        "a prune of everything finished leaves exactly the unfinished tasks"
    );
    for id in &h.unfinished {
        let detail = show(&h.env, *id);
        assert!(
            detail["transitions"]
                .as_array()
                .is_some_and(|t| !t.is_empty()),
            "task {id} keeps its history: {detail:#}"
        );
    }
}

#[test]
fn a_bad_age_is_bad_usage_and_changes_nothing() {
    let h = history();
    for bad in ["forever", "-5d", ""] {
        let stderr = refused_unchanged(&h.env, &["prune", "--older-than", bad], 2);
        assert!(!stderr.is_empty(), "says what is wrong with {bad:?}");
    }
    refused_unchanged(&h.env, &["prune"], 2);
}

#[test]
fn prune_keeps_each_hosts_latest_tick_so_status_still_sees_the_executor() {
    let mut env = Env::new();
    env.register_release_roll();
    for (at, host) in [
        ("2026-11-25T11:57:00Z", "line-a"),
        ("2026-11-25T11:58:00Z", "line-b"),
        ("2026-11-25T11:59:00Z", "line-a"),
    ] {
        env.now(at);
        let out = common::httpat(&env, at, &["tick"])
            .env("HTTPAT_HOST", host)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    env.now("2026-11-25T12:00:00Z");
    // Due, and the last tick ended a minute ago: the executor is alive.
    env.schedule(&["release-roll", "--at", "now", "--arg", "roll=CCT-0042"]);
    let pruned = env.json(&["prune", "--older-than", "0s"]);
    assert_eq!(pruned["ticks"], 1, "{pruned:#}");
    let hosts: Vec<String> = env.json(&["status"])["ticks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            t["id"]
                .as_str()
                .unwrap()
                .split(':')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(hosts, vec!["line-a", "line-b"]);
    exits(&env, &["status", "--check"], 0);
}

#[test]
fn task_ids_are_never_given_again_after_a_prune() {
    let mut env = Env::new();
    env.register_release_roll();
    let ids: Vec<i64> = (0..3)
        .map(|n| env.schedule(&["release-roll", "--in", "1h", "--arg", &format!("roll={n}")]))
        .collect();
    for id in &ids {
        env.ok(&["cancel", &id.to_string()]);
    }
    env.now("2026-11-25T12:01:00Z");
    let pruned = env.json(&["prune", "--older-than", "0s"]);
    assert_eq!(pruned["tasks"], 3, "{pruned:#}");
    assert_eq!(count(&env, "SELECT count(*) FROM tasks"), 0);
    let next = env.schedule(&["release-roll", "--in", "1h", "--arg", "roll=new"]);
    assert_eq!(next, ids[2] + 1, "an id of a pruned task was given again");
    let (_, stderr) = exits(&env, &["show", &ids[0].to_string()], 3);
    assert!(stderr.contains("does not exist"), "{stderr}");
}
