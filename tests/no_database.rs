//! A database is created only by a command that stores something (`register`, `schedule`,
//! `recur`). A tick pointed at a path where there is none says so on stderr, naming the path and
//! how to point it elsewhere, and exits 0 (cron mails every minute instead of ticking an empty
//! database in silence); a command that only reads or changes what exists sees an empty one and
//! says there is none. None of them leaves a file behind.

mod common;

use common::{exits, Env};

#[test]
fn a_tick_on_a_missing_database_creates_nothing_and_says_where_it_looked() {
    let env = Env::sqlite();
    let (stdout, stderr) = exits(&env, &["tick"], 0);
    assert_eq!(stdout, "");
    let path = env.db.display().to_string();
    assert!(
        stderr.contains(&path) && stderr.contains("--db") && stderr.contains("HTTPAT_DB"),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line for cron's mail: {stderr}"
    );
    assert!(!env.db.exists(), "the tick created {path}");
    exits(&env, &["tick", "--dry-run"], 0);
    assert!(!env.db.exists(), "the dry run created {path}");
}

#[test]
fn commands_that_do_not_store_create_no_database() {
    let env = Env::sqlite();
    let cases: &[(&[&str], i32)] = &[
        (&["list"], 0),
        (&["list", "--json"], 0),
        (&["endpoints"], 0),
        (&["recurring"], 0),
        (&["status"], 0),
        (&["status", "--check"], 0),
        (&["prune", "--older-than", "90d"], 0),
        (&["show", "1"], 3),
        (&["cancel", "1"], 3),
        (&["retry", "1"], 3),
        (&["recur", "daily", "--pause"], 3),
    ];
    for (args, code) in cases {
        let (_, stderr) = exits(&env, args, *code);
        assert!(
            stderr.contains("no database at"),
            "httpat {args:?} does not say there is no database: {stderr}"
        );
        assert!(!env.db.exists(), "httpat {args:?} created the database");
        assert!(
            !env.db.parent().unwrap().join("httpat.db-wal").exists(),
            "httpat {args:?} left a WAL"
        );
    }
    let listed = env.json(&["list"]);
    assert_eq!(listed["tasks"], serde_json::json!([]));
    assert!(!env.db.exists());
}

#[test]
fn the_first_command_that_stores_creates_it() {
    let env = Env::sqlite();
    env.register_release_roll();
    assert!(env.db.exists());
    let (_, stderr) = exits(&env, &["tick"], 0);
    assert_eq!(stderr, "", "an existing database ticks in silence");
}
