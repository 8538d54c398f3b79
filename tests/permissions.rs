//! The database is private to its owner (folder 0700, file 0600), and a secret given as
//! `${VAR}` never reaches the database, the log or the screen (invariant 6).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{Env, Server, RELEASE_ROLL_URL};

const SECRET: &str = "s3cr3t-value";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Every byte httpat may have written beside the database: the file, its journal and WAL, and
/// the log.
fn stored_bytes(env: &Env) -> Vec<u8> {
    // On PostgreSQL, every row as the server gives it back.
    let mut bytes = if env.pg.is_some() {
        env.dump().into_bytes()
    } else {
        Vec::new()
    };
    for suffix in ["", "-wal", "-journal", "-shm"] {
        let path = format!("{}{suffix}", env.db.display());
        if let Ok(content) = std::fs::read(path) {
            bytes.extend(content);
        }
    }
    if let Ok(log) = std::fs::read(&env.log) {
        bytes.extend(log);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[test]
fn a_new_database_is_private_to_its_owner() {
    let env = Env::sqlite();
    let db = env.path("new/sub/httpat.db");
    env.cmd(&[
        "--db",
        db.to_str().unwrap(),
        "register",
        "release-roll",
        "--url",
        RELEASE_ROLL_URL,
    ])
    .assert()
    .success();

    assert!(db.is_file(), "the database was created at {}", db.display());
    assert_eq!(mode(db.parent().unwrap()), 0o700, "the folder is 0700");
    assert_eq!(mode(&db), 0o600, "the file is 0600");
}

#[test]
fn a_new_database_is_private_whatever_the_umask_of_the_caller() {
    let env = Env::sqlite();
    let db = env.path("other/httpat.db");
    let httpat = assert_cmd::cargo::cargo_bin("httpat");
    assert_cmd::Command::new("sh")
        .args(["-c", "umask 000; exec \"$0\" \"$@\""])
        .arg(httpat)
        .args([
            "--db",
            db.to_str().unwrap(),
            "register",
            "release-roll",
            "--url",
            RELEASE_ROLL_URL,
        ])
        .env("HTTPAT_LOG", &env.log)
        .env("HTTPAT_NOW", common::DEFAULT_NOW)
        .env("TZ", "UTC")
        .env("USER", "tester")
        .assert()
        .success();
    assert_eq!(mode(db.parent().unwrap()), 0o700);
    assert_eq!(mode(&db), 0o600);
}

#[test]
fn a_header_secret_is_stored_by_name_only() {
    let env = Env::new();
    env.cmd(&[
        "register",
        "release-roll",
        "--url",
        RELEASE_ROLL_URL,
        "--header",
        "Authorization: Bearer ${IMS_TOKEN}",
    ])
    .env("IMS_TOKEN", SECRET)
    .assert()
    .success();
    let id = env.schedule(&["release-roll", "--in", "36h", "--arg", "roll=CCT-0042"]);

    let bytes = stored_bytes(&env);
    assert!(!contains(&bytes, SECRET), "the secret reached the database");
    assert!(
        contains(&bytes, "${IMS_TOKEN}"),
        "the variable's name is kept"
    );
    let dump = env.dump();
    assert!(!dump.contains(SECRET), "{dump}");
    assert!(dump.contains("${IMS_TOKEN}"), "{dump}");

    for args in [
        vec!["endpoints"],
        vec!["--json", "endpoints"],
        vec!["show", &id.to_string()],
        vec!["--json", "show", &id.to_string()],
    ] {
        let out = env.cmd(&args).env("IMS_TOKEN", SECRET).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let screen = [out.stdout, out.stderr].concat();
        assert!(!contains(&screen, SECRET), "{args:?} showed the secret");
    }
}

#[test]
fn a_sent_secret_is_never_stored_even_when_echoed_back() {
    let env = Env::new();
    let server = Server::start();
    let url = server.url("/rolls/{roll}/release");
    env.ok(&[
        "register",
        "release-roll",
        "--url",
        &url,
        "--header",
        "Authorization: Bearer ${IMS_TOKEN}",
    ]);
    server.answer(
        "/rolls/CCT-0042/release",
        200,
        &format!("released; you sent Bearer {SECRET}"),
    );
    let id = env.schedule(&["release-roll", "--at", "now", "--arg", "roll=CCT-0042"]);

    env.cmd(&["tick"])
        .env("IMS_TOKEN", SECRET)
        .assert()
        .success();

    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        requests[0].header("Authorization"),
        Some(format!("Bearer {SECRET}").as_str()),
        "the secret is expanded when sent"
    );
    let bytes = stored_bytes(&env);
    assert!(
        !contains(&bytes, SECRET),
        "the echoed secret reached the database"
    );
    assert!(!env.dump().contains(SECRET));

    let out = env
        .cmd(&["show", &id.to_string()])
        .env("IMS_TOKEN", SECRET)
        .output()
        .unwrap();
    assert!(out.status.success());
    let screen = [out.stdout, out.stderr].concat();
    assert!(!contains(&screen, SECRET), "show printed the secret");
    assert!(contains(&screen, "succeeded"), "the task succeeded");
}
