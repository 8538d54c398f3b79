//! Upgrading an endpoint without breaking what waits (SPEC.md, `register`): a new URL whose
//! placeholder the waiting tasks (scheduled, due, retrying) lack is refused with exit 3 and
//! nothing changed, naming how many and the first ids and the two ways on; `--force` applies it
//! and the tick cancels those tasks when their time comes; a change they can fill is applied;
//! `register --file` follows the same rule, all or nothing.

mod common;

use common::{exits, refused_unchanged, show, Env, Server};
use serde_json::Value;

/// When the waiting tasks below are due.
const LATER: &str = "2026-11-26T08:00:00Z";

/// The URL the endpoint `release` starts with, and the new shape that needs a `line`.
fn old_url(server: &Server) -> String {
    server.url("/rolls/{roll}/release")
}

fn new_url(server: &Server) -> String {
    server.url("/lines/{line}/rolls/{roll}/release")
}

/// `release` with a task in each state: one succeeded (roll D), then three waiting (one
/// retrying, one scheduled, one due), none with a `line`. Returns the waiting ones' ids.
fn with_waiting_tasks() -> (Env, Server, [i64; 3]) {
    let env = Env::new();
    let server = Server::start();
    server.answer("/rolls/R/release", 503, "busy");
    env.ok(&["register", "release", "--url", &old_url(&server)]);
    env.schedule(&["release", "--at", "now", "--arg", "roll=D"]);
    let retrying = env.schedule(&["release", "--at", "now", "--arg", "roll=R"]);
    env.ok(&["tick"]);
    let scheduled = env.schedule(&["release", "--at", LATER, "--arg", "roll=S"]);
    let due = env.schedule(&["release", "--at", "now", "--arg", "roll=U"]);
    for (id, state) in [
        (retrying, "retrying"),
        (scheduled, "scheduled"),
        (due, "due"),
    ] {
        assert_eq!(common::state_of(&env, id), state, "task {id}");
    }
    (env, server, [retrying, scheduled, due])
}

/// Says the change is refused for these tasks, and how to go on.
fn assert_names_the_way_on(stderr: &str, count: usize, ids: &[i64]) {
    assert!(
        stderr.contains("\"line\""),
        "names the placeholder: {stderr}"
    );
    assert!(
        stderr.contains(&format!("{count} waiting tasks")),
        "says how many: {stderr}"
    );
    let listed: Vec<String> = ids.iter().map(i64::to_string).collect();
    assert!(
        stderr.contains(&listed.join(", ")),
        "names the ids {listed:?}: {stderr}"
    );
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert!(
        stderr.contains("new name") || stderr.contains("new endpoint"),
        "first way on: {stderr}"
    );
    assert!(stderr.contains("deprecate"), "first way on: {stderr}");
    assert!(
        stderr.contains("--force") && stderr.contains("cancel"),
        "second way on: {stderr}"
    );
}

/// Ticks at `LATER` and says the stranded tasks were cancelled by the executor, each with the
/// error of its URL as its reason, and that a task that has a `line` was sent to the new URL.
fn assert_cancelled_by_the_tick(env: &mut Env, server: &Server, stranded: &[i64], fitting: i64) {
    env.now(LATER);
    let (_, stderr) = exits(env, &["tick"], 0);
    for id in stranded {
        let shown = show(env, *id);
        assert_eq!(shown["state"], "cancelled", "{shown:#}");
        let reason = shown["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("line"),
            "task {id}: the URL's error is the reason: {reason}"
        );
        let last = shown["transitions"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(last["to"], "cancelled");
        assert!(
            !last["actor"].as_str().unwrap().starts_with("user:"),
            "cancelled by the tick, not a user: {last:#}"
        );
        assert!(
            stderr.contains(&id.to_string()),
            "the tick names task {id}: {stderr}"
        );
    }
    assert_eq!(show(env, fitting)["state"], "succeeded");
    assert_eq!(server.requests_to("/lines/3/rolls/N/release").len(), 1);
}

#[test]
fn a_placeholder_the_waiting_tasks_lack_is_refused_naming_them_and_changes_nothing() {
    let (env, server, waiting) = with_waiting_tasks();
    let before = env.json(&["endpoints"]);
    let stderr = refused_unchanged(
        &env,
        &["register", "release", "--url", &new_url(&server)],
        3,
    );
    assert_names_the_way_on(&stderr, 3, &waiting);
    assert_eq!(
        env.json(&["endpoints"]),
        before,
        "the endpoint is unchanged"
    );

    // The other fields asked for with it are not applied either.
    refused_unchanged(
        &env,
        &[
            "register",
            "release",
            "--url",
            &new_url(&server),
            "--timeout",
            "5s",
        ],
        3,
    );
    assert_eq!(env.json(&["endpoints"]), before);
}

#[test]
fn only_the_first_ids_are_named_and_finished_tasks_do_not_count() {
    let env = Env::new();
    let server = Server::start();
    env.ok(&["register", "release", "--url", &old_url(&server)]);
    let done = env.schedule(&["release", "--at", "now", "--arg", "roll=D"]);
    env.ok(&["tick"]);
    assert_eq!(common::state_of(&env, done), "succeeded");
    let ids: Vec<i64> = (0..7)
        .map(|n| env.schedule(&["release", "--at", LATER, "--arg", &format!("roll={n}")]))
        .collect();
    let stderr = refused_unchanged(
        &env,
        &["register", "release", "--url", &new_url(&server)],
        3,
    );
    assert_names_the_way_on(&stderr, 7, &ids[..5]);
    // The first five by id: not the finished one, not the last two.
    let first: Vec<String> = ids[..5].iter().map(i64::to_string).collect();
    assert!(
        stderr.contains(&format!("(the first: {})", first.join(", "))),
        "{stderr}"
    );
}

#[test]
fn force_applies_it_and_the_tick_cancels_those_tasks_at_their_time() {
    let (mut env, server, waiting) = with_waiting_tasks();
    let out = env
        .cmd(&["register", "release", "--url", &new_url(&server), "--force"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::describe(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "updated: url\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("3 waiting tasks") && stderr.contains("cancel"),
        "--force says what it leaves: {stderr}"
    );
    let endpoints = env.json(&["endpoints"]);
    assert_eq!(endpoints[0]["url"], new_url(&server));

    // Nothing is cancelled before its time.
    for id in waiting {
        assert_ne!(common::state_of(&env, id), "cancelled", "task {id}");
    }
    let fitting = env.schedule(&[
        "release", "--at", LATER, "--arg", "roll=N", "--arg", "line=3",
    ]);
    assert_cancelled_by_the_tick(&mut env, &server, &waiting, fitting);
}

#[test]
fn a_change_the_waiting_tasks_can_fill_is_applied() {
    let mut env = Env::new();
    let server = Server::start();
    env.ok(&["register", "release", "--url", &server.url("/rolls/{roll}")]);
    let ids: Vec<i64> = ["A", "B", "C"]
        .iter()
        .map(|roll| {
            env.schedule(&[
                "release",
                "--at",
                LATER,
                "--arg",
                &format!("roll={roll}"),
                "--arg",
                "shift=2",
            ])
        })
        .collect();
    // A new header; a new query parameter from an argument they all have; a new placeholder
    // they all have.
    let header = ["register", "release", "--header", "X-Line: line-3"];
    assert_eq!(env.ok(&header), "updated: headers\n");
    let query = server.url("/rolls/{roll}?shift={shift}");
    assert_eq!(
        env.ok(&["register", "release", "--url", &query]),
        "updated: url\n"
    );
    let path = server.url("/shifts/{shift}/rolls/{roll}");
    assert_eq!(
        env.ok(&["register", "release", "--url", &path]),
        "updated: url\n"
    );

    env.now(LATER);
    env.ok(&["tick"]);
    for id in &ids {
        assert_eq!(common::state_of(&env, *id), "succeeded", "task {id}");
    }
    let sent = server.requests_to("/shifts/2/rolls/B");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("X-Line"), Some("line-3"));
}

#[test]
fn an_argument_that_is_not_a_plain_value_counts_as_lacking() {
    let mut env = Env::new();
    let server = Server::start();
    env.ok(&["register", "release", "--url", &old_url(&server)]);
    let plain = env.schedule(&[
        "release",
        "--at",
        LATER,
        "--args",
        r#"{"roll": "A", "line": 3}"#,
    ]);
    let listed = env.schedule(&[
        "release",
        "--at",
        LATER,
        "--args",
        r#"{"roll": "B", "line": [3]}"#,
    ]);
    let null = env.schedule(&[
        "release",
        "--at",
        LATER,
        "--args",
        r#"{"roll": "C", "line": null}"#,
    ]);
    let stderr = refused_unchanged(
        &env,
        &["register", "release", "--url", &new_url(&server)],
        3,
    );
    assert!(
        stderr.contains(&format!("2 waiting tasks lack ({listed}, {null})")),
        "{stderr}"
    );
    // The one with a plain value is sent to the new URL once it is forced.
    env.ok(&["register", "release", "--url", &new_url(&server), "--force"]);
    env.now(LATER);
    env.ok(&["tick"]);
    assert_eq!(common::state_of(&env, plain), "succeeded");
    for id in [listed, null] {
        assert_eq!(common::state_of(&env, id), "cancelled", "task {id}");
    }
}

// ---------------------------------------------------------------------------------------------
// register --file
// ---------------------------------------------------------------------------------------------

/// An endpoints file holding `release` at `url` (and `other` at the server's `/other`, with
/// `other_timeout`).
fn endpoints_file(
    env: &Env,
    server: &Server,
    url: &str,
    header: &str,
    other_timeout: &str,
) -> String {
    let path = env.path("endpoints.toml");
    let text = format!(
        "[endpoints.release]\nurl = \"{url}\"\nheaders = [{header}]\n\n\
         [endpoints.other]\nurl = \"{}\"\ntimeout = \"{other_timeout}\"\n",
        server.url("/other")
    );
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn register_file_refuses_it_all_or_nothing() {
    let (env, server, waiting) = with_waiting_tasks();
    let file = endpoints_file(&env, &server, &old_url(&server), "", "30s");
    env.ok(&["register", "--file", &file]);
    let before = env.json(&["endpoints"]);

    // The file changes `other` too: that is not applied either.
    let file = endpoints_file(&env, &server, &new_url(&server), "", "5s");
    let stderr = refused_unchanged(&env, &["register", "--file", &file], 3);
    assert_names_the_way_on(&stderr, 3, &waiting);
    assert!(stderr.contains("\"release\""), "{stderr}");
    assert_eq!(env.json(&["endpoints"]), before);
}

#[test]
fn register_file_with_force_applies_it_and_the_tick_cancels_those_tasks() {
    let (mut env, server, waiting) = with_waiting_tasks();
    let file = endpoints_file(&env, &server, &new_url(&server), "", "30s");
    let out = env
        .cmd(&["register", "--file", &file, "--force"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("release: updated: url"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 waiting tasks"));
    let fitting = env.schedule(&[
        "release", "--at", LATER, "--arg", "roll=N", "--arg", "line=3",
    ]);
    assert_cancelled_by_the_tick(&mut env, &server, &waiting, fitting);
}

#[test]
fn register_file_applies_a_change_the_waiting_tasks_can_fill() {
    let (env, server, waiting) = with_waiting_tasks();
    let file = endpoints_file(
        &env,
        &server,
        &server.url("/rolls/{roll}/release?again={roll}"),
        "\"X-Line: line-3\"",
        "30s",
    );
    let stdout = env.ok(&["register", "--file", &file]);
    assert!(
        stdout.contains("release: updated: url, headers"),
        "{stdout}"
    );
    let endpoints: Value = env.json(&["endpoints"]);
    let release = endpoints
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "release")
        .unwrap()
        .clone();
    assert_eq!(
        release["url"],
        server.url("/rolls/{roll}/release?again={roll}")
    );
    for id in waiting {
        assert_ne!(common::state_of(&env, id), "cancelled");
    }
}

// ---------------------------------------------------------------------------------------------
// Concurrent admissions (PostgreSQL; on SQLite one writer at a time already orders them)
// ---------------------------------------------------------------------------------------------

/// Polls until a backend of this database waits on a lock, or `child` ends first (then fails:
/// it did not wait).
fn wait_until_blocked(client: &mut postgres::Client, child: &mut std::process::Child, what: &str) {
    let deadline = std::time::Instant::now() + common::PATIENCE;
    loop {
        let waiting: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .unwrap()
            .get(0);
        if waiting > 0 {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what} did not wait for the open transaction: it ended ({status})");
        }
        assert!(std::time::Instant::now() < deadline, "{what} never blocked");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_task_admitted_while_the_url_changes_is_counted_or_refused() {
    let env = Env::new();
    let Some(pg) = &env.pg else {
        return;
    };
    let server = Server::start();
    env.ok(&["register", "release", "--url", &old_url(&server)]);
    let mut watcher = pg.client();

    // An admission in progress (what `schedule` holds until it commits): the endpoint read to
    // admit, and a task without `line` inserted. The change must wait for it, then count it.
    let mut admitting = pg.client();
    let mut admission = admitting.transaction().unwrap();
    admission
        .query(
            "SELECT name FROM endpoints WHERE name = 'release' FOR KEY SHARE",
            &[],
        )
        .unwrap();
    admission
        .execute(
            "INSERT INTO tasks (endpoint, args, created_at, due_at, next_attempt_at) \
             VALUES ('release', '{\"roll\": \"A\"}', now(), now() + interval '1 day', \
                 now() + interval '1 day')",
            &[],
        )
        .unwrap();
    let mut register = common::spawn(
        &env,
        common::DEFAULT_NOW,
        &["register", "release", "--url", &new_url(&server)],
    );
    wait_until_blocked(&mut watcher, &mut register, "register");
    admission.commit().unwrap();
    let out = register.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", common::describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 waiting task lacks"));

    // A change in progress (what `register` holds until it commits): the endpoint read to
    // change, and its new URL written. A schedule must wait for it, then meet the new URL.
    let mut changing = pg.client();
    let mut change = changing.transaction().unwrap();
    change
        .query(
            "SELECT name FROM endpoints WHERE name = 'release' FOR UPDATE",
            &[],
        )
        .unwrap();
    change
        .execute(
            "UPDATE endpoints SET url = $1 WHERE name = 'release'",
            &[&new_url(&server)],
        )
        .unwrap();
    let mut schedule = common::spawn(
        &env,
        common::DEFAULT_NOW,
        &["schedule", "release", "--at", LATER, "--arg", "roll=B"],
    );
    wait_until_blocked(&mut watcher, &mut schedule, "schedule");
    change.commit().unwrap();
    let out = schedule.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", common::describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line"),
        "{}",
        common::describe(&out)
    );
}
