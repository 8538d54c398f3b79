//! On PostgreSQL a draining tick records its results on a second connection while its first
//! claims; when the second cannot be opened it does both on one, says so in its log, and loses
//! nothing. Each test needs a PostgreSQL server (tests/common/postgres.rs); without one it says
//! why and proves nothing, unless `HTTPAT_REQUIRE_POSTGRES=1`.

mod common;

use std::time::{Duration, Instant};

use common::{httpat, Env, Server, PATIENCE};

const NOW: &str = "2026-12-01T12:00:00Z";

/// `url` with `role` as its user (and no password).
fn as_role(url: &str, role: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let from_host = match rest[..authority_end].rfind('@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    format!("{scheme}://{role}@{from_host}")
}

/// Sessions other than `client`'s own connected to the test's database.
fn sessions(env: &Env, client: &mut postgres::Client) -> i64 {
    let name = &env.pg.as_ref().expect("a PostgreSQL home").name;
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[name],
        )
        .expect("count the sessions")
        .get(0)
}

#[test]
fn a_draining_tick_records_on_a_second_connection() {
    let Some(mut env) = Env::postgres("a_draining_tick_records_on_a_second_connection") else {
        return;
    };
    env.now(NOW);
    let server = Server::start();
    env.ok(&["register", "hook", "--url", &server.url("/hook")]);
    for n in 0..3 {
        env.schedule(&["hook", "--at", "now", "--arg", &format!("n={n}")]);
    }
    server.hold("/hook");
    let mut client = env.pg.as_ref().unwrap().client();
    let tick = common::spawn_tick(&env, NOW, &[]);
    assert!(server.wait_for(3), "the tick did not send its requests");
    assert_eq!(sessions(&env, &mut client), 2, "the tick's connections");
    server.release();
    let out = tick.wait_with_output().expect("wait for the tick");
    assert!(out.status.success(), "{}", common::describe(&out));
    let listed = env.json(&["list", "--state", "succeeded"]);
    assert_eq!(listed["tasks"].as_array().unwrap().len(), 3);
}

#[test]
fn a_tick_refused_a_second_connection_does_everything_on_one() {
    let Some(mut env) = Env::postgres("a_tick_refused_a_second_connection") else {
        return;
    };
    env.now(NOW);
    let server = Server::start();
    server.set_delay(Duration::from_millis(2));
    env.ok(&["register", "hook", "--url", &server.url("/hook")]);
    for n in 0..40 {
        env.schedule(&["hook", "--at", "now", "--arg", &format!("n={n}")]);
    }
    // A role that may hold one connection at a time (superusers are not limited).
    let role = format!("httpat_one_{}", std::process::id());
    let mut client = env.pg.as_ref().unwrap().client();
    client
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN CONNECTION LIMIT 1; \
             GRANT USAGE ON SCHEMA httpat TO {role}; \
             GRANT ALL ON ALL TABLES IN SCHEMA httpat TO {role}; \
             GRANT ALL ON ALL SEQUENCES IN SCHEMA httpat TO {role};"
        ))
        .expect("create a role limited to one connection");
    let url = as_role(&env.pg.as_ref().unwrap().url(), &role);
    let started = Instant::now();
    let out = httpat(&env, NOW, &["tick"])
        .env("HTTPAT_DB", &url)
        .output()
        .expect("run the tick");
    let ran = started.elapsed();
    client
        .batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role};"))
        .expect("drop the role");
    assert!(out.status.success(), "{}", common::describe(&out));
    assert!(ran < PATIENCE, "the tick took {ran:?}");
    let listed = env.json(&["list", "--state", "succeeded"]);
    assert_eq!(listed["tasks"].as_array().unwrap().len(), 40);
    assert_eq!(server.count(), 40, "each task was sent once");
    let log = std::fs::read_to_string(&env.log).unwrap_or_default();
    assert!(
        log.contains("cannot open a second connection to record results on"),
        "the log says why the tick used one connection: {log}"
    );
}

#[test]
fn as_role_replaces_the_user_of_a_url() {
    assert_eq!(
        as_role("postgres://postgres@/db?host=/tmp/s", "r"),
        "postgres://r@/db?host=/tmp/s"
    );
    assert_eq!(
        as_role("postgres://u:pw@h:5432/db", "r"),
        "postgres://r@h:5432/db"
    );
    assert_eq!(
        as_role("postgres:///db?host=/tmp/s", "r"),
        "postgres://r@/db?host=/tmp/s"
    );
}
