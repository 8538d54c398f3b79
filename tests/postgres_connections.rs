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

#[test]
fn what_waits_to_be_recorded_stays_bounded_however_long_the_drain() {
    // The second connection falls behind the first. Without a bound, the tick went on claiming
    // and sending, and the answered tasks waiting to be written (each kept with its body) grew
    // with the drain, its memory with them, and a long drain could hold a task unwritten past
    // its lease. With one, it claims no more until the writes catch up.
    let Some(mut env) =
        Env::postgres("what_waits_to_be_recorded_stays_bounded_however_long_the_drain")
    else {
        return;
    };
    env.now(NOW);
    let server = Server::start();
    env.ok(&["register", "hook", "--url", &server.url("/hook")]);
    const TASKS: usize = 1_000;
    let lines: String = (0..TASKS)
        .map(|n| format!("{{\"endpoint\": \"hook\", \"at\": \"now\", \"args\": {{\"n\": {n}}}}}\n"))
        .collect();
    let file = env.path("tasks.jsonl");
    std::fs::write(&file, lines).unwrap();
    env.ok(&["schedule", "--file", &file.display().to_string()]);

    // Every result written (an update of its attempt, which claims only insert) takes 8 ms
    // longer: the second connection falls well behind the first.
    let mut client = env.pg.as_ref().unwrap().client();
    client
        .batch_execute(
            "CREATE FUNCTION public.slowly() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN PERFORM pg_sleep(0.008); RETURN NULL; END $$; \
             CREATE TRIGGER slow_results AFTER UPDATE ON httpat.attempts \
                 FOR EACH ROW EXECUTE FUNCTION public.slowly();",
        )
        .expect("slow the results down");
    let held = |client: &mut postgres::Client| -> i64 {
        client
            .query_one(
                "SELECT count(*) FROM httpat.tasks WHERE tick_id IS NOT NULL",
                &[],
            )
            .expect("count the held tasks")
            .get(0)
    };
    let mut tick = common::spawn_tick(&env, NOW, &["--concurrency", "16"]);
    let mut most = 0;
    let started = Instant::now();
    while tick.try_wait().expect("poll the tick").is_none() {
        most = most.max(held(&mut client));
        assert!(started.elapsed() < PATIENCE * 4, "the drain did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = tick.wait_with_output().expect("wait for the tick");
    assert!(out.status.success(), "{}", common::describe(&out));
    let succeeded = common::count(
        &env,
        "SELECT count(*) FROM httpat.tasks WHERE outcome = 'succeeded'",
    );
    assert_eq!(succeeded, TASKS as i64);
    assert_eq!(server.count(), TASKS, "each task sent once");
    // At concurrency 16 a tick holds 128 claimed tasks; with the groups on their way to the
    // second connection, a few hundred at most.
    assert!(
        most <= 512,
        "{most} tasks were held at once (claimed, not yet written)"
    );
}
