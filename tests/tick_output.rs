//! What a tick says and records (SPEC.md, tick step 9): silence when all is well, one stderr line
//! per task that failed for good, a summary with `-v`, `--dry-run` that changes nothing, a
//! record of every tick, exit 1 when the database cannot be opened, exit 2 for bad options.

mod common;
#[path = "support/tick.rs"]
mod tick_support;

use common::{state_of, Env, Reply, Server};
use tick_support::{env_with, schedule_now, tick_rows};

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(env: &Env, args: &[&str]) -> Run {
    let out = env.cmd(args).output().expect("run httpat");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Whether `line` names task `id` as a word (so task 1 is not found in "task 12").
fn names_task(line: &str, id: i64) -> bool {
    let id = id.to_string();
    line.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| word == id)
}

#[test]
fn a_tick_where_all_succeed_is_silent() {
    let server = Server::start();
    let env = env_with(&server.url("/ok"), &[]);
    let ids = [schedule_now(&env, &[]), schedule_now(&env, &[])];

    let tick = run(&env, &["tick"]);

    assert_eq!(tick.code, Some(0), "stderr: {}", tick.stderr);
    assert_eq!(tick.stdout, "", "nothing on stdout");
    assert_eq!(tick.stderr, "", "nothing on stderr");
    assert_eq!(server.requests().len(), 2, "the tick did send");
    for id in ids {
        assert_eq!(state_of(&env, id), "succeeded");
    }
}

#[test]
fn a_retrying_task_is_not_reported() {
    let server = Server::start();
    server.reply("/busy", Reply::status(503));
    let env = env_with(&server.url("/busy"), &[]);
    let id = schedule_now(&env, &[]);

    let tick = run(&env, &["tick"]);

    assert_eq!(tick.code, Some(0));
    assert_eq!(state_of(&env, id), "retrying");
    assert_eq!(tick.stdout, "");
    assert_eq!(
        tick.stderr, "",
        "only tasks that failed for good are reported"
    );
}

#[test]
fn a_failed_task_makes_exactly_one_stderr_line_naming_it() {
    let server = Server::start();
    server.reply("/missing", Reply::status(404));
    let env = Env::new();
    env.ok(&["register", "release-roll", "--url", &server.url("/missing")]);
    env.ok(&["register", "fine", "--url", &server.url("/fine")]);
    let failing = env.schedule(&["release-roll", "--at", "now"]);
    let fine = env.schedule(&["fine", "--at", "now"]);

    let tick = run(&env, &["tick"]);

    assert_eq!(tick.code, Some(0), "a failed task is not a failed tick");
    assert_eq!(state_of(&env, failing), "failed");
    assert_eq!(state_of(&env, fine), "succeeded");
    assert_eq!(tick.stdout, "");
    let lines: Vec<&str> = tick.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line: {:?}", tick.stderr);
    assert!(
        names_task(lines[0], failing),
        "the line names task {failing}: {:?}",
        lines[0]
    );
    assert!(
        lines[0].contains("release-roll"),
        "the line names the endpoint: {:?}",
        lines[0]
    );
}

#[test]
fn a_task_whose_attempts_are_used_up_makes_one_stderr_line() {
    let server = Server::start();
    server.reply("/broken", Reply::status(500));
    let env = env_with(&server.url("/broken"), &["--max-attempts", "1"]);
    let id = schedule_now(&env, &[]);

    let tick = run(&env, &["tick"]);

    assert_eq!(tick.code, Some(0));
    assert_eq!(state_of(&env, id), "failed");
    let lines: Vec<&str> = tick.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line: {:?}", tick.stderr);
    assert!(names_task(lines[0], id), "names task {id}: {:?}", lines[0]);
    assert!(
        lines[0].contains("hook"),
        "names the endpoint: {:?}",
        lines[0]
    );
}

#[test]
fn verbose_prints_one_summary_line() {
    let server = Server::start();
    let env = env_with(&server.url("/ok"), &[]);
    schedule_now(&env, &[]);

    let tick = run(&env, &["-v", "tick"]);

    assert_eq!(tick.code, Some(0), "stderr: {}", tick.stderr);
    assert_eq!(tick.stdout, "");
    let summaries: Vec<&str> = tick
        .stderr
        .lines()
        .filter(|line| line.contains("sent"))
        .collect();
    assert_eq!(
        summaries.len(),
        1,
        "one summary line saying what was sent: {:?}",
        tick.stderr
    );
    assert!(
        summaries[0].contains('1'),
        "the summary counts the one request: {:?}",
        summaries[0]
    );
}

#[test]
fn dry_run_prints_the_request_and_changes_nothing() {
    let server = Server::start();
    let env = env_with(
        &server.url("/rolls/{roll}/release"),
        &["--header", "Authorization: Bearer ${IMS_TOKEN}"],
    );
    let id = env.schedule(&["hook", "--at", "now", "--arg", "roll=CCT-0042"]);
    let before = env.dump();

    let out = env
        .cmd(&["tick", "--dry-run"])
        .env("IMS_TOKEN", "s3cret-token")
        .output()
        .expect("run httpat");

    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(stdout.contains("POST"), "the method: {stdout}");
    let url = server.url("/rolls/CCT-0042/release");
    assert!(stdout.contains(&url), "the URL {url}: {stdout}");
    assert!(
        stdout.contains("Authorization: Bearer ${IMS_TOKEN}"),
        "the header as written: {stdout}"
    );
    assert!(
        stdout.contains(concat!("httpat/", env!("CARGO_PKG_VERSION"))),
        "the User-Agent: {stdout}"
    );
    assert!(
        !stdout.contains("s3cret-token") && !stderr.contains("s3cret-token"),
        "the secret itself is never shown"
    );
    assert!(server.requests().is_empty(), "nothing is sent");
    assert_eq!(env.dump(), before, "the database is unchanged");
    assert_eq!(state_of(&env, id), "due");
}

#[test]
fn a_tick_with_nothing_due_is_silent_and_records_itself() {
    let server = Server::start();
    let env = env_with(&server.url("/later"), &[]);
    env.schedule(&["hook", "--in", "1h"]);
    let before = tick_rows(&env);

    let tick = run(&env, &["tick"]);

    assert_eq!(tick.code, Some(0), "stderr: {}", tick.stderr);
    assert_eq!(tick.stdout, "");
    assert_eq!(tick.stderr, "");
    assert!(server.requests().is_empty(), "nothing was due");
    assert_eq!(tick_rows(&env), before + 1, "the tick recorded itself");

    run(&env, &["tick"]);
    assert_eq!(tick_rows(&env), before + 2, "every tick records itself");
}

#[test]
fn a_tick_that_sends_records_itself() {
    let server = Server::start();
    let env = env_with(&server.url("/ok"), &[]);
    schedule_now(&env, &[]);
    let before = tick_rows(&env);

    let tick = run(&env, &["tick"]);

    assert_eq!(tick.code, Some(0));
    assert_eq!(tick_rows(&env), before + 1);
}

#[test]
fn a_database_that_cannot_be_opened_exits_1_with_a_message() {
    let env = Env::new();
    let directory = env.path("not-a-file");
    std::fs::create_dir(&directory).expect("create a directory");
    let directory = directory.to_str().expect("a UTF-8 path");

    let tick = run(&env, &["--db", directory, "tick"]);

    assert_eq!(tick.code, Some(1), "stderr: {}", tick.stderr);
    assert_eq!(tick.stdout, "");
    assert!(
        !tick.stderr.trim().is_empty(),
        "the tick says why it could not work"
    );
    assert!(
        tick.stderr.contains("not-a-file"),
        "the message names the database: {}",
        tick.stderr
    );
}

#[test]
fn bad_options_exit_2_and_send_nothing() {
    let server = Server::start();
    let env = env_with(&server.url("/ok"), &[]);
    let id = schedule_now(&env, &[]);
    let before = env.dump();
    let cases: [&[&str]; 3] = [
        &["tick", "--concurrency", "0"],
        &["tick", "--max-runtime", "forever"],
        &["tick", "--limit", "0"],
    ];
    for args in cases {
        let tick = run(&env, args);
        assert_eq!(tick.code, Some(2), "{args:?}: stderr {}", tick.stderr);
        assert!(
            !tick.stderr.trim().is_empty(),
            "{args:?} says what is wrong"
        );
        assert!(server.requests().is_empty(), "{args:?} sent a request");
        assert_eq!(env.dump(), before, "{args:?} changed the database");
    }
    assert_eq!(state_of(&env, id), "due");
}
