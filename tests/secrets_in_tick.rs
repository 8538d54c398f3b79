//! Invariant 6, secrets given as `${VAR}` never reach the database, the log or the screen: the
//! tick sends the value, but stores and shows the variable's name, even when the endpoint echoes
//! the value back in its body or in a `Location`.

mod common;
#[path = "support/invariants.rs"]
mod invariants;

use std::process::Output;

use common::{httpat, Env, Reply, Server};
use invariants::{contains_bytes, files_under};
use serde_json::Value;

const NOW: &str = "2026-11-25T12:00:00Z";
const LATER: &str = "2026-11-25T12:10:00Z";
const SECRET: &str = "s3cr3t-TOKEN-value";
/// Distinctive pieces of the secret: half-masked output is still a leak, and a hex dump cuts
/// the value across lines (any cut leaves one of these whole).
const SECRET_PIECES: [&str; 5] = [SECRET, "s3cr3t", "3t-TOK", "-TOKEN-", "EN-value"];
const AUTHORIZATION: &str = "Authorization: Bearer ${IMS_TOKEN}";

/// Runs httpat at `now` with the secret in its environment; panics unless it exits 0.
fn run_with_secret(env: &Env, now: &str, args: &[&str]) -> Output {
    let out = httpat(env, now, args)
        .env("IMS_TOKEN", SECRET)
        .output()
        .expect("run httpat");
    assert!(
        out.status.success(),
        "httpat {args:?} exited with {:?}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn assert_no_secret(what: &str, bytes: &[u8]) {
    for needle in SECRET_PIECES {
        assert!(
            !contains_bytes(bytes, needle.as_bytes()),
            "{what} holds the secret ({needle:?}):\n{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

fn show_json(env: &Env, id: i64) -> Value {
    let out = run_with_secret(env, NOW, &["show", "--json", &id.to_string()]);
    serde_json::from_slice(&out.stdout).expect("show --json prints JSON")
}

#[test]
fn a_secret_is_sent_but_never_stored_logged_or_shown() {
    let env = Env::new();
    let server = Server::start();
    server.script("/echo", vec![Reply::status(200).echo("Authorization")]);
    server.script("/busy", vec![Reply::status(500).echo("Authorization")]);
    server.script(
        "/moved",
        vec![Reply::status(302)
            .header("Location", "/elsewhere?auth={echo}")
            .echo("Authorization")],
    );
    for (name, path) in [
        ("ims", "/echo"),
        ("ims-busy", "/busy"),
        ("ims-moved", "/moved"),
    ] {
        env.ok(&[
            "register",
            name,
            "--url",
            &server.url(path),
            "--header",
            AUTHORIZATION,
        ]);
    }
    let echoed = env.schedule(&["ims", "--at", NOW, "--arg", "roll=CCT-0042"]);
    let busy = env.schedule(&["ims-busy", "--at", NOW]);
    let moved = env.schedule(&["ims-moved", "--at", NOW]);
    let waiting = env.schedule(&["ims", "--at", LATER, "--arg", "roll=CCT-0043"]);
    let ids = [echoed, busy, moved, waiting];

    // With every log level on, as an operator chasing a problem would run it.
    let tick = run_with_secret(&env, NOW, &["tick", "-vv"]);

    // The endpoint got the real value.
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "requests sent");
    for request in &requests {
        assert_eq!(
            request.header("Authorization"),
            Some(format!("Bearer {SECRET}").as_str()),
            "{request:?}"
        );
    }

    // What was stored names the variable instead, including what the endpoint echoed.
    let task = show_json(&env, echoed);
    let attempt = &task["attempts"][0];
    assert_eq!(attempt["outcome"], "success", "{task:#}");
    let body = attempt["body"].as_str().unwrap_or_default();
    assert!(
        body.contains("Bearer ${IMS_TOKEN}"),
        "the echoed body is stored masked: {body:?}"
    );
    let headers = attempt["request"]["headers"].to_string();
    assert!(
        headers.contains("Bearer ${IMS_TOKEN}"),
        "the stored request names the variable: {headers}"
    );
    let task = show_json(&env, moved);
    let location = task["attempts"][0]["location"].as_str().unwrap_or_default();
    assert!(
        location.contains("${IMS_TOKEN}"),
        "the echoed Location is stored masked: {location:?}"
    );

    // Nothing on the screen, whatever command shows the tasks.
    let mut outputs = vec![("tick -vv".to_string(), tick)];
    for id in ids {
        let id = id.to_string();
        for args in [vec!["show", &id], vec!["show", "--json", &id]] {
            outputs.push((args.join(" "), run_with_secret(&env, NOW, &args)));
        }
    }
    for args in [
        vec!["list"],
        vec!["list", "--json"],
        vec!["endpoints"],
        vec!["endpoints", "--json"],
        vec!["status"],
    ] {
        outputs.push((args.join(" "), run_with_secret(&env, NOW, &args)));
    }
    // Ten minutes on, the busy task and the waiting one are due: a dry run prints their
    // requests, secrets masked.
    let dry_run = run_with_secret(&env, LATER, &["tick", "--dry-run"]);
    let printed = String::from_utf8_lossy(&dry_run.stdout).into_owned();
    for id in [busy, waiting] {
        assert!(
            printed.contains(&format!("task {id} ")),
            "the dry run shows task {id}:\n{printed}"
        );
    }
    assert!(printed.contains("${IMS_TOKEN}"), "{printed}");
    outputs.push(("tick --dry-run".to_string(), dry_run));
    for (command, out) in &outputs {
        assert_no_secret(&format!("stdout of {command}"), &out.stdout);
        assert_no_secret(&format!("stderr of {command}"), &out.stderr);
    }

    // Nothing in the rows (read first: closing that connection may fold and remove the WAL),
    // nothing on disk: the database, its WAL and shared memory, the log file, anything else.
    assert_no_secret("the database's rows", env.dump().as_bytes());
    let files = files_under(env.dir.path());
    let names: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    if env.pg.is_none() {
        assert!(
            names.iter().any(|n| n == "httpat.db"),
            "no database among {names:?}"
        );
    }
    for file in files {
        let bytes = std::fs::read(&file).expect("read a file");
        assert_no_secret(&file.display().to_string(), &bytes);
    }
}

#[test]
fn trace_logging_does_not_print_the_secret() {
    // RUST_LOG is the documented way to get more on stderr; the secret stays off the screen
    // even at trace level, where the HTTP client dumps what it writes to the wire.
    let env = Env::new();
    let server = Server::start();
    env.ok(&[
        "register",
        "ims",
        "--url",
        &server.url("/echo"),
        "--header",
        AUTHORIZATION,
    ]);
    env.schedule(&["ims", "--at", NOW, "--arg", "roll=CCT-0042"]);

    let out = httpat(&env, NOW, &["tick"])
        .env("IMS_TOKEN", SECRET)
        .env("RUST_LOG", "trace")
        .output()
        .expect("run httpat tick");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(server.count(), 1, "the task was sent");
    assert_no_secret("stdout of RUST_LOG=trace tick", &out.stdout);
    assert_no_secret("stderr of RUST_LOG=trace tick", &out.stderr);
}
