//! `transfer --to DB` (SPEC.md): everything in the database (endpoints, tasks in every state with
//! their attempts and history, schedules, tick records) is copied into an empty database of
//! either backend, ids kept, and reads back identically there; the source is left as it was. A
//! target that holds anything, a source with running tasks, and a transfer onto itself are
//! refused.

mod common;

use common::{exits, refused_unchanged, Env, Reply, Server};
use serde_json::Value;

const NOW: &str = "2026-11-25T12:00:00Z";
const LATER: &str = "2026-11-25T12:10:00Z";

/// A database with tasks in every state but running, their attempts and history, a schedule
/// that fired (and ends), a paused one, and tick records.
fn filled(env: &mut Env, server: &Server) {
    server.script("/busy", vec![Reply::status(503)]);
    server.script("/gone", vec![Reply::status(404)]);
    for (name, path) in [("ok", "/ok"), ("busy", "/busy"), ("gone", "/gone")] {
        env.ok(&[
            "register",
            name,
            "--url",
            &server.url(path),
            "--header",
            "X-Line: line-3",
        ]);
    }
    env.ok(&[
        "register",
        "ims",
        "--url",
        &server.url("/ims"),
        "--header",
        "Authorization: Bearer ${IMS_TOKEN}",
    ]);
    env.ok(&[
        "register",
        "ok",
        "--description",
        "the good one",
        "--max-attempts",
        "3",
    ]);
    env.schedule(&[
        "ok",
        "--at",
        "2030-01-01T00:00:00Z",
        "--arg",
        "roll=waits",
        "--key",
        "k1",
    ]);
    env.schedule(&["ok", "--at", NOW, "--arg", "roll=done", "--priority", "5"]);
    env.schedule(&["busy", "--at", NOW, "--arg", "roll=retries"]);
    env.schedule(&["gone", "--at", NOW, "--arg", "roll=fails"]);
    let cancelled = env.schedule(&["ok", "--in", "1h", "--arg", "roll=dropped"]);
    env.ok(&[
        "cancel",
        &cancelled.to_string(),
        "--reason",
        "moved by hand",
    ]);
    env.ok(&[
        "recur",
        "hourly",
        "ok",
        "--cron",
        "@hourly",
        "--tz",
        "Europe/Riga",
        "--arg",
        "scope=x",
        "--until",
        "2030-01-01T00:00:00Z",
    ]);
    env.ok(&[
        "recur",
        "nightly",
        "ok",
        "--cron",
        "0 3 * * *",
        "--tz",
        "UTC",
    ]);
    env.ok(&["recur", "nightly", "--pause"]);
    env.ok(&["tick"]);
    // A task whose secret the next tick lacks: it stays due, and that tick's record says why.
    env.schedule(&["ims", "--at", NOW, "--arg", "roll=secret"]);
    let lacking = common::httpat(env, "2026-11-25T13:00:00Z", &["tick"])
        .output()
        .unwrap();
    assert_eq!(
        lacking.status.code(),
        Some(1),
        "{}",
        common::describe(&lacking)
    );
    env.now("2026-11-25T13:00:00Z");
    let status = env.json(&["status"]);
    let ims = status["endpoints"]
        .as_array()
        .and_then(|all| all.iter().find(|e| e["name"] == "ims"))
        .unwrap_or_else(|| panic!("status names ims: {status:#}"));
    assert_eq!(ims["missing_variables"], serde_json::json!(["IMS_TOKEN"]));
    env.schedule(&["ok", "--at", "now", "--arg", "roll=due"]);
    env.now(LATER);
}

/// What a user sees of a database: every task whole, the endpoints, the schedules, the ticks.
fn seen(env: &Env) -> Vec<Value> {
    let listed = env.json(&["list", "--limit", "1000"]);
    let mut seen = vec![listed.clone()];
    for task in listed["tasks"].as_array().unwrap() {
        seen.push(env.json(&["show", &task["id"].to_string()]));
    }
    seen.push(env.json(&["endpoints"]));
    seen.push(env.json(&["recurring"]));
    seen.push(env.json(&["status"]));
    seen
}

fn assert_same(from: &Env, to: &Env) {
    let (a, b) = (seen(from), seen(to));
    assert_eq!(a.len(), b.len());
    for (a, b) in a.iter().zip(&b) {
        assert_eq!(a, b, "what a user sees differs after the transfer");
    }
}

fn transfer(from: &Env, to: &Env) -> Value {
    let to = to.db_arg().into_string().unwrap();
    from.json(&["transfer", "--to", &to])
}

#[test]
fn sqlite_to_postgres_and_back_reads_the_same() {
    let server = Server::start();
    let mut source = Env::sqlite();
    filled(&mut source, &server);
    let before = source.dump();
    let Some(mut middle) = Env::postgres("sqlite_to_postgres_and_back") else {
        // Still prove the copy, SQLite to SQLite.
        let mut copy = Env::sqlite();
        copy.now(LATER);
        transfer(&source, &copy);
        assert_same(&source, &copy);
        return;
    };
    middle.now(LATER);
    let copied = transfer(&source, &middle);
    assert_eq!(copied["tasks"], 8, "seven scheduled, one fired: {copied:#}");
    assert_eq!(copied["endpoints"], 4);
    assert_eq!(copied["schedules"], 2);
    assert!(copied["attempts"].as_u64().unwrap() >= 3, "{copied:#}");
    assert!(copied["ticks"].as_u64().unwrap() >= 2, "{copied:#}");
    assert_eq!(source.dump(), before, "the source changed");
    assert_same(&source, &middle);

    let mut back = Env::sqlite();
    back.now(LATER);
    transfer(&middle, &back);
    assert_same(&source, &back);

    // Ids go on from the highest ever given, in both copies.
    let highest = common::count(&source, "SELECT max(id) FROM tasks");
    for env in [&middle, &back] {
        let id = env.schedule(&["ok", "--in", "1h", "--arg", "roll=new"]);
        assert!(id > highest, "id {id} was given before");
    }
}

#[test]
fn a_target_that_holds_anything_and_a_source_with_running_tasks_are_refused() {
    let server = Server::start();
    let mut source = Env::new();
    filled(&mut source, &server);
    let mut full = Env::sqlite();
    full.register_release_roll();
    let target = full.db.display().to_string();
    let before = full.dump();
    let stderr = refused_unchanged(&source, &["transfer", "--to", &target], 3);
    assert!(stderr.contains("not empty"), "{stderr}");
    assert_eq!(full.dump(), before);

    let (_, stderr) = exits(
        &source,
        &["transfer", "--to", &source.db_arg().into_string().unwrap()],
        2,
    );
    assert!(stderr.contains("is the database being copied"), "{stderr}");

    // A task held by a tick: its result would be lost.
    server.hold("/held");
    source.ok(&["register", "held", "--url", &server.url("/held")]);
    let id = source.schedule(&["held", "--at", "now"]);
    let tick = common::spawn_tick(&source, LATER, &[]);
    assert!(server.wait_for(server.count() + 1));
    let empty = Env::sqlite();
    let target = empty.db.display().to_string();
    let stderr = refused_unchanged(&source, &["transfer", "--to", &target], 3);
    assert!(
        stderr.contains("running") && stderr.contains(&id.to_string()),
        "{stderr}"
    );
    server.release();
    tick.wait_with_output().unwrap();
    full.now(LATER);
}
