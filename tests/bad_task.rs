//! Invariant 4, one bad task never stops the tick: a task httpat cannot build (a URL that no
//! longer renders, a damaged row of the task or of its endpoint) is cancelled with the error as
//! its reason and the error in the log file; one whose endpoint is down waits to be retried; one
//! the endpoint rejects fails; the tick sends all the others, exits 0, and says one stderr line
//! per task that failed for good or was cancelled. (A variable the tick's environment lacks is
//! the tick's fault, not the task's: see tests/missing_secrets.rs.) Rows are damaged on SQLite
//! alone: PostgreSQL's jsonb columns hold only valid JSON.

mod common;

use common::{closed_port, httpat, open_db, Backend, Env, Reply, Server};
use serde_json::Value;

const NOW: &str = "2026-11-25T12:00:00Z";
const GOOD: usize = 5;

struct Tasks {
    /// A task whose arguments, and one whose endpoint's headers, were damaged (SQLite).
    damaged: Option<(i64, i64)>,
    unrenderable: i64,
    refused: i64,
    not_found: i64,
    good: Vec<i64>,
}

/// Registers the endpoints and schedules the bad tasks first (higher priority), so that with
/// one request at a time they are all handled before any good one.
fn bad_and_good_tasks(env: &Env, server: &Server) -> Tasks {
    server.script("/missing", vec![Reply::status(404)]);
    let closed = format!("http://127.0.0.1:{}/closed", closed_port());
    let register = |name: &str, url: &str, extra: &[&str]| {
        let mut args = vec!["register", name, "--url", url];
        args.extend_from_slice(extra);
        env.ok(&args);
    };
    register(
        "damaged",
        &server.url("/damaged"),
        &["--header", "X-Token: ${IMS_TOKEN}"],
    );
    register("moved", &server.url("/rolls/{roll}"), &[]);
    register("down", &closed, &[]);
    register("missing", &server.url("/missing"), &[]);
    register("good", &server.url("/good"), &[]);

    let bad = |endpoint: &str, extra: &[&str]| {
        let mut args = vec![endpoint, "--at", NOW, "--priority", "10"];
        args.extend_from_slice(extra);
        env.schedule(&args)
    };
    let damaged = (env.backend() == Backend::Sqlite)
        .then(|| (bad("good", &["--arg", "n=damaged"]), bad("damaged", &[])));
    let tasks = Tasks {
        damaged,
        unrenderable: bad("moved", &["--arg", "roll=CCT-0042"]),
        refused: bad("down", &[]),
        not_found: bad("missing", &[]),
        good: (0..GOOD)
            .map(|n| env.schedule(&["good", "--at", NOW, "--arg", &format!("n={n}")]))
            .collect(),
    };
    // The endpoint changes after the task was scheduled (forced past the refusal that would
    // strand it): its URL no longer renders.
    register("moved", &server.url("/batches/{batch}"), &["--force"]);
    // Rows damaged behind httpat's back: sent as they read, the requests would lack their
    // arguments and the endpoint's token.
    if let Some((damaged_args, _)) = tasks.damaged {
        let conn = open_db(&env.db);
        conn.execute(
            "UPDATE tasks SET args = '{\"n\": ' WHERE id = ?1",
            [damaged_args],
        )
        .unwrap();
        conn.execute(
            "UPDATE endpoints SET headers = '[[\"X-Token\"' WHERE name = 'damaged'",
            [],
        )
        .unwrap();
    }
    tasks
}

fn show(env: &Env, id: i64) -> Value {
    env.json(&["show", &id.to_string()])
}

fn bad_tasks_do_not_stop_the_tick(concurrency: &str) {
    let env = Env::new();
    let server = Server::start();
    let tasks = bad_and_good_tasks(&env, &server);

    let out = httpat(&env, NOW, &["tick", "--concurrency", concurrency])
        .env("IMS_TOKEN", "s3cret")
        .output()
        .expect("run httpat tick");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the tick did its work, whatever the tasks' outcomes\nstderr: {stderr}"
    );
    assert_eq!(stdout, "", "a tick prints nothing on stdout");

    // The good ones were all delivered and succeeded.
    let good_paths = server
        .requests()
        .iter()
        .filter(|r| r.path() == "/good")
        .count();
    assert_eq!(good_paths, GOOD, "good tasks delivered");
    for id in &tasks.good {
        assert_eq!(show(&env, *id)["state"], "succeeded", "good task {id}");
    }

    // The damaged rows: cancelled, the reason names the task or endpoint and the column, the
    // log holds the task, and nothing was sent without its arguments or headers.
    let log = std::fs::read_to_string(&env.log).unwrap_or_default();
    let damaged: Vec<(i64, String)> = tasks
        .damaged
        .iter()
        .flat_map(|(args, endpoint)| {
            [
                (*args, format!("task {args}:")),
                (*endpoint, "endpoint \"damaged\"".to_string()),
            ]
        })
        .collect();
    for (id, names) in damaged.clone() {
        let task = show(&env, id);
        assert_eq!(task["state"], "cancelled", "{task:#}");
        let reason = task["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains(&names) && reason.contains("column") && reason.contains("damaged"),
            "reason: {reason:?}"
        );
        assert!(
            log.contains(&format!("task {id}")) && log.contains("damaged"),
            "the log file does not tell about task {id}:\n{log}"
        );
    }
    assert!(
        server.requests().iter().all(|r| r.path() != "/damaged"),
        "a request of a damaged endpoint was sent"
    );

    // The URL that no longer renders: cancelled, the reason names the missing argument.
    let task = show(&env, tasks.unrenderable);
    assert_eq!(task["state"], "cancelled", "{task:#}");
    let reason = task["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("batch"), "reason: {reason:?}");
    assert!(
        log.contains(&format!("task {}", tasks.unrenderable)),
        "the log file does not tell about task {}:\n{log}",
        tasks.unrenderable
    );

    // The closed port: worth retrying, and the result says why.
    let task = show(&env, tasks.refused);
    assert_eq!(task["state"], "retrying", "{task:#}");
    let error = task["attempts"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("connection refused"), "{task:#}");

    // The 404: failed for good, sent once.
    let task = show(&env, tasks.not_found);
    assert_eq!(task["state"], "failed", "{task:#}");
    assert_eq!(task["attempts"][0]["status"], 404, "{task:#}");

    // cron's mail: one line per task that failed for good or was cancelled, nothing else.
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 2 + damaged.len(), "stderr:\n{stderr}");
    let reported = damaged
        .iter()
        .map(|(id, _)| *id)
        .chain([tasks.unrenderable, tasks.not_found]);
    for id in reported {
        let about = format!("task {id} ");
        assert_eq!(
            lines.iter().filter(|l| l.contains(&about)).count(),
            1,
            "one stderr line about task {id}:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains(&format!("task {} ", tasks.refused)),
        "a task that will be retried is not worth a mail:\n{stderr}"
    );
}

#[test]
fn bad_tasks_sent_one_at_a_time_do_not_stop_the_tick() {
    bad_tasks_do_not_stop_the_tick("1");
}

#[test]
fn bad_tasks_among_many_in_flight_do_not_stop_the_tick() {
    bad_tasks_do_not_stop_the_tick("16");
}

#[test]
fn a_request_too_large_to_write_is_cancelled_unsent_not_retried() {
    // A GET whose arguments make a query of 40,000 bytes: its line does not fit in what a
    // request may carry, so nothing is sent. No retry would send it either.
    let env = Env::new();
    let server = Server::start();
    env.ok(&[
        "register",
        "lookup",
        "--method",
        "GET",
        "--url",
        &server.url("/lookup"),
    ]);
    let huge = format!("q={}", "a".repeat(40_000));
    let too_large = env.schedule(&["lookup", "--at", NOW, "--arg", &huge]);
    let fine = env.schedule(&["lookup", "--at", NOW, "--arg", "q=a"]);

    let out = httpat(&env, NOW, &["tick"])
        .output()
        .expect("run httpat tick");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(
        stderr.contains(&format!("task {too_large} (lookup) cancelled")),
        "one line for the cancelled task: {stderr}"
    );

    assert_eq!(show(&env, fine)["state"], "succeeded");
    let task = show(&env, too_large);
    assert_eq!(task["state"], "cancelled", "{task}");
    let reason = task["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("32 KiB") && reason.contains("not sent"),
        "the reason says why and that nothing went out: {reason}"
    );
    assert_eq!(task["attempts"].as_array().map(Vec::len), Some(1), "{task}");
    assert_eq!(
        server.requests_to("/lookup").len(),
        1,
        "only the task that fits was sent"
    );
}
