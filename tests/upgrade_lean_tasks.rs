//! SQLite's version 7 makes the tasks table again (the check on an outcome names its values one
//! by one; a key is unique by a partial index). A version-6 database keeps every row of every
//! table, its foreign keys, its unique keys and its counts, and goes on working. PostgreSQL's
//! schema is not changed by it, so this runs on SQLite alone.

mod common;

use common::released::migrate_sqlite_by_hand;
use common::{ms, Env, Server};

const NOW: &str = "2026-12-01T12:00:00Z";

/// A task row of version 6.
struct Old {
    id: i64,
    endpoint: &'static str,
    key: Option<&'static str>,
    /// Hours from `NOW`.
    due: i64,
    attempts: i64,
    tick: Option<&'static str>,
    outcome: Option<&'static str>,
    last: Option<&'static str>,
}

const fn old(id: i64, endpoint: &'static str, due: i64, attempts: i64) -> Old {
    Old {
        id,
        endpoint,
        key: None,
        due,
        attempts,
        tick: None,
        outcome: None,
        last: None,
    }
}

/// Waiting (one keyed), retrying, in flight for a tick long gone, succeeded, failed, cancelled.
const OLD_TASKS: [Old; 7] = [
    old(1, "release-roll", 36, 0),
    Old {
        key: Some("roll-2"),
        ..old(2, "release-roll", -1, 0)
    },
    Old {
        last: Some("503 Service Unavailable 4ms"),
        ..old(3, "other", -1, 1)
    },
    Old {
        tick: Some("old:1:t"),
        ..old(4, "release-roll", -2, 1)
    },
    Old {
        key: Some("roll-5"),
        outcome: Some("succeeded"),
        last: Some("200 OK 3ms"),
        ..old(5, "release-roll", -3, 1)
    },
    Old {
        outcome: Some("failed"),
        last: Some("404 Not Found 2ms"),
        ..old(6, "other", -3, 1)
    },
    Old {
        outcome: Some("cancelled"),
        ..old(7, "release-roll", -3, 0)
    },
];

/// A version-6 database: two endpoints, `OLD_TASKS` with their attempts and histories, and the
/// mark of a pruned task above them all.
fn make_version_6(env: &Env, url: &str) {
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    // Versions 1 to 4 store the rows; version 5 counts what they stored, and 6 follows.
    migrate_sqlite_by_hand(&conn, 1..=4);
    let now = ms(NOW);
    let hour = 3_600_000;
    conn.execute(
        "INSERT INTO endpoints (name, method, url, timeout_ms, max_attempts, created_at, \
         updated_at) VALUES ('release-roll', 'POST', ?1, 10000, 5, ?2, ?2), \
         ('other', 'POST', ?1, 10000, 5, ?2, ?2)",
        rusqlite::params![format!("{url}/{{roll}}"), now - 10 * hour],
    )
    .unwrap();
    for old in OLD_TASKS {
        let Old {
            id,
            endpoint,
            key,
            due,
            attempts,
            tick,
            outcome,
            last,
        } = old;
        let due = now + due * hour;
        conn.execute(
            "INSERT INTO tasks (id, endpoint, args, key, priority, agent, created_at, due_at, \
             next_attempt_at, attempts, tick_id, lease_until, outcome, finished_at, reason, \
             last_result) \
             VALUES (?1, ?2, ?3, ?4, ?5, 'line-3', ?6, ?7, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            rusqlite::params![
                id,
                endpoint,
                format!("{{\"roll\":\"R{id}\"}}"),
                key,
                id % 3,
                now - 10 * hour,
                due,
                attempts,
                tick,
                tick.map(|_| now - hour),
                outcome,
                outcome.map(|_| due + 1000),
                (outcome == Some("cancelled")).then_some("moved by hand"),
                last,
            ],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO transitions (task_id, at, from_state, to_state, actor, detail) \
             VALUES (?1, ?2, NULL, 'scheduled', 'user:line-3', 'created')",
            rusqlite::params![id, now - 10 * hour],
        )
        .unwrap();
        for number in 1..=attempts {
            conn.execute(
                "INSERT INTO attempts (task_id, number, tick_id, started_at, duration_ms, \
                 outcome, status) VALUES (?1, ?2, 'old:1:t', ?3, ?4, ?5, ?6)",
                rusqlite::params![
                    id,
                    number,
                    due,
                    tick.map_or(Some(3), |_| None),
                    match (tick, outcome) {
                        (Some(_), _) => None,
                        (None, Some("succeeded")) => Some("success"),
                        (None, Some(_)) => Some("permanent"),
                        (None, None) => Some("retryable"),
                    },
                    match (tick, outcome) {
                        (Some(_), _) => None,
                        (None, Some("succeeded")) => Some(200),
                        (None, Some(_)) => Some(404),
                        (None, None) => Some(503),
                    },
                ],
            )
            .unwrap();
        }
    }
    conn.execute(
        "INSERT INTO ticks (id, started_at, ended_at) VALUES ('old:1:t', ?1, NULL)",
        [now - hour],
    )
    .unwrap();
    migrate_sqlite_by_hand(&conn, 5..=6);
    // Task 9 was the highest ever given, and was pruned.
    conn.execute("UPDATE id_marks SET high = 9 WHERE name = 'tasks'", [])
        .unwrap();
}

/// The dump without its first line (the schema version, which the upgrade moves on).
fn rows(env: &Env) -> String {
    let dump = env.dump();
    let (version, rest) = dump.split_once('\n').unwrap();
    assert!(version.starts_with("user_version"), "{dump}");
    rest.to_string()
}

#[test]
fn a_version_6_database_keeps_every_row_its_keys_and_its_counts() {
    let mut env = Env::sqlite();
    let server = Server::start();
    env.now(NOW);
    make_version_6(&env, &server.url("/rolls"));
    let before = rows(&env);
    let counted_before = env.json(&["metrics"]);

    // Any command brings the schema up to date; a read changes no row.
    env.ok(&["list"]);
    let conn = common::open_db(&env.db);
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 7);
    drop(conn);
    assert_eq!(rows(&env), before, "the upgrade changed a row");
    assert_eq!(env.json(&["metrics"]), counted_before);

    let conn = common::open_db(&env.db);
    let dangling: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(dangling, 0);
    // The schema still refuses what it refused: an unknown outcome, a task's rows left behind.
    let bad_outcome = conn.execute("UPDATE tasks SET outcome = 'lost' WHERE id = 1", []);
    assert!(bad_outcome.is_err(), "an unknown outcome was stored");
    conn.pragma_update(None, "foreign_keys", "ON").unwrap();
    let orphan = conn.execute(
        "INSERT INTO attempts (task_id, number, tick_id, started_at) VALUES (42, 1, 't', 0)",
        [],
    );
    assert!(orphan.is_err(), "an attempt of no task was stored");
    let unique_keys: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE tbl_name = 'tasks' AND type = 'index' \
             AND sql LIKE 'CREATE UNIQUE INDEX%(key)%'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(unique_keys, 1, "the keys' unique index is missing");
    drop(conn);

    // A key still names its task: the same request prints it, another is refused.
    let again = env.schedule(&[
        "release-roll",
        "--in",
        "1h",
        "--arg",
        "roll=R2",
        "--key",
        "roll-2",
    ]);
    assert_eq!(again, 2);
    common::refused_unchanged(
        &env,
        &[
            "schedule",
            "release-roll",
            "--in",
            "1h",
            "--arg",
            "roll=X",
            "--key",
            "roll-5",
        ],
        3,
    );
    // A new task gets an id above the pruned one, and a key of its own.
    let new = env.schedule(&[
        "release-roll",
        "--in",
        "1h",
        "--arg",
        "roll=N",
        "--key",
        "roll-n",
    ]);
    assert_eq!(new, 10);
    let keyless = env.schedule(&["release-roll", "--in", "1h", "--arg", "roll=M"]);
    assert_eq!(keyless, 11);

    // The tick recovers task 4 (its lease ran out), and sends it with the due ones.
    env.now("2026-12-01T12:10:00Z");
    env.ok(&["tick"]);
    for id in [2, 3, 4] {
        assert_eq!(common::state_of(&env, id), "succeeded", "task {id}");
    }
    assert_eq!(common::state_of(&env, 1), "scheduled");
    let shown = common::show(&env, 4);
    assert_eq!(shown["attempts"][0]["outcome"], "interrupted", "{shown:#}");
    let metrics = env.json(&["metrics"]);
    assert_eq!(metrics["tasks"]["succeeded"], 4, "{metrics:#}");
    assert_eq!(metrics["tasks"]["scheduled"], 3, "{metrics:#}");
    assert_eq!(metrics["tasks"]["running"], 0, "{metrics:#}");
    assert_eq!(server.count(), 3);
}
