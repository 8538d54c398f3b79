//! The schema on open: a database already at the current version is reopened unchanged; one from
//! a newer httpat is refused (exit 1) and left byte for byte as it was.

mod common;

use common::Env;

#[test]
fn reopening_a_current_database_changes_nothing() {
    let env = Env::sqlite();
    env.register_release_roll();
    env.schedule(&["release-roll", "--in", "36h", "--arg", "roll=CCT-0042"]);
    let before = env.dump();
    env.ok(&["list"]);
    env.ok(&["endpoints"]);
    assert_eq!(env.dump(), before);
}

#[test]
fn a_database_from_a_newer_httpat_is_refused_and_untouched() {
    let env = Env::sqlite();
    env.register_release_roll();
    {
        let conn = rusqlite::Connection::open(&env.db).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        // Fold the WAL into the file so the bytes below are the whole database.
        conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    }
    let bytes = std::fs::read(&env.db).unwrap();
    let output = env.cmd(&["list"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("newer httpat"), "{stderr}");
    assert!(stderr.contains("99"), "{stderr}");
    assert_eq!(
        std::fs::read(&env.db).unwrap(),
        bytes,
        "the file was modified"
    );
    assert!(
        !env.path("httpat.db-wal").exists()
            || std::fs::metadata(env.path("httpat.db-wal")).unwrap().len() == 0
    );
}

#[test]
fn a_new_database_is_at_the_latest_version() {
    let env = Env::sqlite();
    env.register_release_roll();
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sql")
        })
        .count();
    assert_eq!(
        version as usize, files,
        "one schema version per file in migrations/sqlite/"
    );
}
