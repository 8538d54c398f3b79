//! An upgrade from the previous release's schema (SQLite version 4, PostgreSQL version 1) to the
//! one that keeps counts for `metrics` and `status`: the tasks and attempts already stored are
//! counted when the schema is migrated, nothing is lost, and the counts go on from there.

mod common;

use common::released::migrate_sqlite_by_hand;
use common::{ms, Backend, Env, Server};
use serde_json::Value;

const NOW: &str = "2026-12-01T12:00:00Z";

/// The previous release's PostgreSQL schema: version 1.
const POSTGRES_PREVIOUS: &str = include_str!("../migrations/postgres/0001_initial.sql");

/// (id, state as the old rows make it, attempt outcomes)
const TASKS: [(i64, &str, &[&str]); 8] = [
    (1, "scheduled", &[]),
    (2, "due", &[]),
    (3, "due", &[]),
    (4, "retrying", &["retryable"]),
    (5, "succeeded", &["retryable", "success"]),
    (6, "succeeded", &["success"]),
    (7, "failed", &["permanent"]),
    (8, "cancelled", &[]),
];

/// Columns of one old task row: (due_at offset in minutes, attempts, outcome).
fn row(state: &str, attempts: usize) -> (i64, i64, Option<&'static str>) {
    match state {
        "scheduled" => (60, 0, None),
        "due" | "retrying" => (-30, attempts as i64, None),
        "succeeded" => (-90, attempts as i64, Some("succeeded")),
        "failed" => (-90, attempts as i64, Some("failed")),
        _ => (-90, 0, Some("cancelled")),
    }
}

fn make_sqlite_previous(env: &Env, url: &str) {
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    // The previous release's schema: versions 1 to 4.
    migrate_sqlite_by_hand(&conn, 1..=4);
    let now = ms(NOW);
    conn.execute(
        "INSERT INTO endpoints (name, method, url, timeout_ms, max_attempts, created_at, \
         updated_at) VALUES ('ok', 'POST', ?1, 10000, 5, ?2, ?2)",
        rusqlite::params![url, now],
    )
    .unwrap();
    for (id, state, outcomes) in TASKS {
        let (offset, attempts, outcome) = row(state, outcomes.len());
        let due = now + offset * 60_000;
        conn.execute(
            "INSERT INTO tasks (id, endpoint, args, created_at, due_at, next_attempt_at, \
             attempts, outcome, finished_at) VALUES (?1, 'ok', '{}', ?2, ?3, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                id,
                now - 7_200_000,
                due,
                attempts,
                outcome,
                outcome.map(|_| due)
            ],
        )
        .unwrap();
        for (number, attempt) in outcomes.iter().enumerate() {
            conn.execute(
                "INSERT INTO attempts (task_id, number, tick_id, started_at, duration_ms, \
                 outcome) VALUES (?1, ?2, 'old:1:t', ?3, 5, ?4)",
                rusqlite::params![id, number as i64 + 1, due, attempt],
            )
            .unwrap();
        }
    }
}

fn make_postgres_previous(env: &Env, url: &str) {
    let mut client = env.pg.as_ref().unwrap().client();
    client
        .batch_execute(
            "CREATE SCHEMA httpat; \
             CREATE TABLE httpat.schema_migrations (version integer PRIMARY KEY, \
                 applied_at timestamptz NOT NULL DEFAULT clock_timestamp()); \
             SET search_path TO httpat",
        )
        .unwrap();
    client.batch_execute(POSTGRES_PREVIOUS).unwrap();
    client
        .batch_execute("INSERT INTO schema_migrations (version) VALUES (1)")
        .unwrap();
    let now = common::instant(NOW);
    client
        .execute(
            "INSERT INTO endpoints (name, method, url, timeout_ms, max_attempts, created_at, \
             updated_at) VALUES ('ok', 'POST', $1, 10000, 5, $2, $2)",
            &[&url, &now],
        )
        .unwrap();
    for (id, state, outcomes) in TASKS {
        let (offset, attempts, outcome) = row(state, outcomes.len());
        let due = now + chrono::Duration::minutes(offset);
        let finished = outcome.map(|_| due);
        client
            .execute(
                "INSERT INTO tasks (id, endpoint, args, created_at, due_at, next_attempt_at, \
                 attempts, outcome, finished_at) \
                 VALUES ($1, 'ok', '{}', $2, $3, $3, $4, $5, $6)",
                &[
                    &id,
                    &(now - chrono::Duration::hours(2)),
                    &due,
                    &(attempts as i32),
                    &outcome,
                    &finished,
                ],
            )
            .unwrap();
        for (number, attempt) in outcomes.iter().enumerate() {
            client
                .execute(
                    "INSERT INTO attempts (task_id, number, tick_id, started_at, duration_ms, \
                     outcome) VALUES ($1, $2, 'old:1:t', $3, 5, $4)",
                    &[&id, &(number as i32 + 1), &due, attempt],
                )
                .unwrap();
        }
    }
    client
        .batch_execute("SELECT setval('tasks_id_seq', 8)")
        .unwrap();
}

/// `metrics --json`.
fn metrics(env: &Env) -> Value {
    env.json(&["metrics"])
}

fn attempts_total(metrics: &Value, outcome: &str) -> u64 {
    metrics["attempts_total"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["endpoint"] == "ok" && c["outcome"] == outcome)
        .map(|c| c["count"].as_u64().unwrap())
        .unwrap_or(0)
}

#[test]
fn the_previous_schema_is_migrated_with_its_tasks_and_attempts_counted() {
    let server = Server::start();
    let mut env = Env::new();
    env.now(NOW);
    let url = server.url("/ok");
    match env.backend() {
        Backend::Sqlite => make_sqlite_previous(&env, &url),
        Backend::Postgres => make_postgres_previous(&env, &url),
    }

    let counted = metrics(&env);
    let mut expected: std::collections::HashMap<&str, u64> = Default::default();
    for (_, state, _) in TASKS {
        *expected.entry(state).or_default() += 1;
    }
    for state in [
        "scheduled",
        "due",
        "running",
        "retrying",
        "succeeded",
        "failed",
        "cancelled",
    ] {
        let want = expected.get(state).copied().unwrap_or(0);
        assert_eq!(counted["tasks"][state], want, "{state}: {counted:#}");
        let listed = env.json(&["list", "--state", state]);
        assert_eq!(
            listed["tasks"].as_array().unwrap().len() as u64,
            want,
            "{state}"
        );
    }
    assert_eq!(attempts_total(&counted, "success"), 2);
    assert_eq!(attempts_total(&counted, "retryable"), 2);
    assert_eq!(attempts_total(&counted, "permanent"), 1);
    // Nothing lost: every task reads back with its attempts.
    for (id, state, outcomes) in TASKS {
        let shown = env.json(&["show", &id.to_string()]);
        assert_eq!(shown["state"], state, "task {id}");
        assert_eq!(shown["attempts"].as_array().unwrap().len(), outcomes.len());
    }

    // The counts go on from there: a tick sends the 2 due tasks and the retry.
    env.now("2026-12-01T12:10:00Z");
    env.ok(&["tick"]);
    let after = metrics(&env);
    assert_eq!(after["tasks"]["due"], 0);
    assert_eq!(after["tasks"]["retrying"], 0);
    assert_eq!(after["tasks"]["succeeded"], 5);
    assert_eq!(attempts_total(&after, "success"), 5);
    assert_eq!(server.count(), 3);
}

#[test]
fn on_sqlite_a_version_5_database_with_a_task_in_flight_keeps_its_counts() {
    // Version 6 changes SQLite's triggers alone (a tick's claims, results, releases and
    // recoveries are counted by the store instead); PostgreSQL's schema is not changed by it.
    let mut env = Env::new();
    if env.backend() != Backend::Sqlite {
        return;
    }
    let server = Server::start();
    env.now(NOW);
    make_sqlite_previous(&env, &server.url("/ok"));
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    // Task 3 is in flight for a tick long gone (its lease ran out an hour ago).
    conn.execute_batch(&format!(
        "UPDATE tasks SET tick_id = 'old:1:t', lease_until = {lease}, attempts = 1 WHERE id = 3; \
         INSERT INTO attempts (task_id, number, tick_id, started_at) \
             VALUES (3, 1, 'old:1:t', {lease});",
        lease = ms(NOW) - 3_600_000
    ))
    .unwrap();
    // Version 5, which counted every change of a task by trigger.
    migrate_sqlite_by_hand(&conn, 5..=5);
    drop(conn);

    let counted = metrics(&env);
    assert_eq!(counted["tasks"]["running"], 1, "{counted:#}");
    assert_eq!(counted["tasks"]["due"], 1, "{counted:#}");
    // The tick recovers task 3 (an interrupted attempt) and sends it with the others.
    env.now("2026-12-01T12:10:00Z");
    env.ok(&["tick"]);
    let after = metrics(&env);
    assert_eq!(after["tasks"]["running"], 0, "{after:#}");
    assert_eq!(after["tasks"]["due"], 0, "{after:#}");
    assert_eq!(after["tasks"]["retrying"], 0, "{after:#}");
    assert_eq!(after["tasks"]["succeeded"], 5, "{after:#}");
    assert_eq!(attempts_total(&after, "interrupted"), 1, "{after:#}");
    assert_eq!(attempts_total(&after, "success"), 5, "{after:#}");
    let shown = env.json(&["show", "3"]);
    assert_eq!(shown["state"], "succeeded");
    assert_eq!(shown["attempts"].as_array().unwrap().len(), 2);
}
