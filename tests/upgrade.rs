//! An upgrade of the binary loses nothing: a database made by schema version 1 (the first
//! migration alone), filled with tasks in every finished and unfinished state, is opened by the
//! current binary, migrated, and every task reads back the same.

mod common;

use common::released::migrate_sqlite_by_hand;
use common::{ms, Env};
use serde_json::Value;

/// A task row as schema version 1 stored it.
struct Old {
    key: &'static str,
    due: &'static str,
    attempts: u32,
    outcome: Option<&'static str>,
    finished: Option<&'static str>,
    last: Option<&'static str>,
}

impl Old {
    fn waiting(key: &'static str, due: &'static str) -> Old {
        Old {
            key,
            due,
            attempts: 0,
            outcome: None,
            finished: None,
            last: None,
        }
    }
}

fn make_version_1_database(env: &Env) {
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    migrate_sqlite_by_hand(&conn, 1..=1);
    conn.execute(
        "INSERT INTO endpoints (name, method, url, headers, timeout_ms, max_attempts, success, \
         created_at, updated_at) VALUES ('release-roll', 'POST', \
         'http://127.0.0.1:9/rolls/{roll}/release', '[[\"Authorization\",\"Bearer ${IMS_TOKEN}\"]]', \
         10000, 5, '2xx,409', ?1, ?1)",
        [ms("2026-11-01T00:00:00Z")],
    )
    .unwrap();
    let tasks = [
        Old::waiting("waits", "2026-11-27T12:00:00Z"),
        Old::waiting("due", "2026-11-25T11:00:00Z"),
        Old {
            attempts: 1,
            last: Some("503 Service Unavailable 12ms"),
            ..Old::waiting("retries", "2026-11-25T11:50:00Z")
        },
        Old {
            attempts: 1,
            outcome: Some("succeeded"),
            finished: Some("2026-11-24T10:00:01Z"),
            last: Some("200 OK 84ms"),
            ..Old::waiting("done", "2026-11-24T10:00:00Z")
        },
        Old {
            attempts: 5,
            outcome: Some("failed"),
            finished: Some("2026-11-24T15:00:00Z"),
            last: Some("404 Not Found 9ms"),
            ..Old::waiting("broken", "2026-11-24T11:00:00Z")
        },
        Old {
            outcome: Some("cancelled"),
            finished: Some("2026-11-24T12:30:00Z"),
            ..Old::waiting("dropped", "2026-11-24T12:00:00Z")
        },
    ];
    for Old {
        key,
        due,
        attempts,
        outcome,
        finished,
        last,
    } in tasks
    {
        conn.execute(
            "INSERT INTO tasks (endpoint, args, key, priority, agent, created_at, due_at, \
             next_attempt_at, attempts, attempts_base, outcome, finished_at, last_result) \
             VALUES ('release-roll', ?1, ?2, 0, 'line3', ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?9)",
            rusqlite::params![
                format!("{{\"roll\":\"{key}\"}}"),
                key,
                ms("2026-11-20T00:00:00Z"),
                ms(due),
                attempts,
                0,
                outcome,
                finished.map(ms),
                last
            ],
        )
        .unwrap();
        let id = conn.last_insert_rowid();
        conn.execute(
            "INSERT INTO transitions (task_id, at, from_state, to_state, actor, detail) \
             VALUES (?1, ?2, NULL, 'scheduled', 'user:line3', 'created')",
            rusqlite::params![id, ms("2026-11-20T00:00:00Z")],
        )
        .unwrap();
        if attempts > 0 {
            conn.execute(
                "INSERT INTO attempts (task_id, number, tick_id, started_at, duration_ms, \
                 outcome, status, body) VALUES (?1, 1, 'old:1:a', ?2, 12, 'retryable', 503, x'6f6b')",
                rusqlite::params![id, ms("2026-11-24T00:00:00Z")],
            )
            .unwrap();
        }
    }
}

#[test]
fn a_version_1_database_is_migrated_and_nothing_is_lost() {
    let env = Env::sqlite();
    make_version_1_database(&env);
    let listed = env.json(&["list", "--json", "--limit", "100"]);
    let tasks = listed["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 6, "{listed}");
    let state_of = |key: &str| {
        tasks
            .iter()
            .find(|t| t["key"] == key)
            .unwrap_or_else(|| panic!("task {key} lost"))["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let expected = [
        ("waits", "scheduled"),
        ("due", "due"),
        ("retries", "retrying"),
        ("done", "succeeded"),
        ("broken", "failed"),
        ("dropped", "cancelled"),
    ];
    for (key, state) in expected {
        assert_eq!(state_of(key), state, "task {key}");
    }
    let done = tasks.iter().find(|t| t["key"] == "done").unwrap();
    assert_eq!(done["last_result"], "200 OK 84ms");
    assert_eq!(done["args"]["roll"], "done");
    let id = done["id"].as_i64().unwrap();
    let shown = env.json(&["show", &id.to_string(), "--json"]);
    assert_eq!(shown["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(shown["attempts"][0]["body"], "ok");
    assert_eq!(shown["transitions"][0]["detail"], "created");
    assert_eq!(shown["schedule"], Value::Null);
    let endpoints = env.json(&["endpoints", "--json"]);
    assert_eq!(
        endpoints[0]["headers"][0],
        "Authorization: Bearer ${IMS_TOKEN}"
    );
    assert_eq!(endpoints[0]["success"], "2xx,409");
    assert_eq!(endpoints[0]["tasks_waiting"], 3);

    let conn = rusqlite::Connection::open(&env.db).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert!(version >= 2, "the schema was brought up to date");
    // The migrated database works for new work too.
    env.ok(&["recurring"]);
    let new_id = env.schedule(&["release-roll", "--in", "1h", "--arg", "roll=new"]);
    assert!(new_id > id);
}

#[test]
fn a_database_of_the_previous_version_is_migrated_and_nothing_is_lost() {
    let mut env = Env::sqlite();
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let old_tick = format!("{host}:2147483000:0badcafe");
    {
        let conn = rusqlite::Connection::open(&env.db).unwrap();
        // The schema as the previous release left it: versions 1 to 3.
        migrate_sqlite_by_hand(&conn, 1..=3);
        conn.execute(
            "INSERT INTO endpoints (name, method, url, headers, timeout_ms, max_attempts, \
             success, created_at, updated_at) VALUES ('release-roll', 'POST', \
             'http://127.0.0.1:9/rolls/{roll}/release', '[]', 10000, 5, '2xx', 0, 0)",
            [],
        )
        .unwrap();
        let at = ms("2026-11-25T11:00:00Z");
        // 1 scheduled, 2 held by a tick of the previous version (its lease runs to 12:05),
        // 3 succeeded: the highest id, finished long ago.
        for (id, tick, lease, outcome, finished) in [
            (1, None, None, None, None),
            (
                2,
                Some(old_tick.as_str()),
                Some(ms("2026-11-25T12:05:00Z")),
                None,
                None,
            ),
            (
                3,
                None,
                None,
                Some("succeeded"),
                Some(ms("2026-01-01T00:00:00Z")),
            ),
        ] {
            conn.execute(
                "INSERT INTO tasks (id, endpoint, args, created_at, due_at, next_attempt_at, \
                 attempts, tick_id, lease_until, outcome, finished_at) \
                 VALUES (?1, 'release-roll', ?2, ?3, ?3, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![
                    id,
                    format!("{{\"roll\":\"R{id}\"}}"),
                    at + id * 1000,
                    i64::from(tick.is_some()),
                    tick,
                    lease,
                    outcome,
                    finished
                ],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO attempts (task_id, number, tick_id, started_at) VALUES (2, 1, ?1, ?2)",
            rusqlite::params![old_tick, at],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO ticks (id, started_at) VALUES (?1, ?2)",
            rusqlite::params![old_tick, at],
        )
        .unwrap();
    }

    let listed = env.json(&["list"]);
    let states: Vec<(i64, String)> = listed["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["id"].as_i64().unwrap(),
                t["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            (1, "due".to_string()),
            (2, "running".to_string()),
            (3, "succeeded".to_string())
        ]
    );
    let status = env.json(&["status"]);
    assert_eq!(status["ticks"][0]["id"], old_tick.as_str(), "{status:#}");

    // The old tick left no boot or namespace: only its lease can free its task, even here.
    env.ok(&["tick"]);
    assert_eq!(env.json(&["show", "2"])["state"], "running");

    // Pruning the highest id does not give it again.
    let pruned = env.json(&["prune", "--older-than", "90d"]);
    assert_eq!(pruned["tasks"], 1, "{pruned:#}");
    env.now("2026-11-25T12:10:00Z");
    let next = env.schedule(&["release-roll", "--in", "1h", "--arg", "roll=new"]);
    assert_eq!(next, 4);
    env.ok(&["tick"]);
    let recovered = env.json(&["show", "2"]);
    assert_eq!(
        recovered["attempts"][0]["outcome"], "interrupted",
        "{recovered:#}"
    );
}
