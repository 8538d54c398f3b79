//! `status` per endpoint: how many of its tasks are due and retrying, how many failed in the last
//! 24 hours, its last success, and what holds its tasks back (a limit, or a `${VAR}` that the
//! latest tick of a host lacked); the same in `status --json`'s `endpoints`.

mod common;
#[path = "support/operators.rs"]
mod operators;

use common::{httpat, show, spawn_tick, Env, Reply, Server};
use serde_json::{json, Value};

const NOW: &str = "2026-11-25T12:00:00Z";
/// 25 hours before NOW: a failure then is not one of the last 24 hours.
const DAY_AND_AN_HOUR_AGO: &str = "2026-11-24T11:00:00Z";

/// `status --json`'s entry for `name`, or Null when it is not listed.
fn entry(status: &Value, name: &str) -> Value {
    status["endpoints"]
        .as_array()
        .expect("status --json has endpoints")
        .iter()
        .find(|endpoint| endpoint["name"] == name)
        .cloned()
        .unwrap_or(Value::Null)
}

/// The line of `status`'s endpoint table that starts with `name`.
fn row(text: &str, name: &str) -> String {
    let after = text
        .split_once("\nEndpoints\n")
        .unwrap_or_else(|| panic!("no endpoint table in\n{text}"))
        .1;
    after
        .lines()
        .find(|line| common::cells(line).first().map(String::as_str) == Some(name))
        .unwrap_or_else(|| panic!("no row for {name} in\n{text}"))
        .to_string()
}

/// A tick at `now` on `host`, in the environment `vars` gives (nothing else secret).
fn tick_on(env: &Env, now: &str, host: &str, vars: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = httpat(env, now, &["tick"]);
    cmd.env("HTTPAT_HOST", host);
    for (name, value) in vars {
        cmd.env(name, value);
    }
    cmd.output().expect("run httpat tick")
}

#[test]
fn counts_per_endpoint_agree_with_what_its_tasks_did() {
    let server = Server::start();
    server.reply("/flaky", Reply::status(503));
    server.reply("/gone", Reply::status(404));
    let mut env = Env::new();
    for name in ["ok", "flaky", "gone", "later", "unused"] {
        env.ok(&["register", name, "--url", &server.url(&format!("/{name}"))]);
    }

    // A day and an hour ago: one failure and one success, both older than 24 hours.
    env.now(DAY_AND_AN_HOUR_AGO);
    let old_failure = env.schedule(&["gone", "--at", "now", "--arg", "n=old"]);
    env.schedule(&["ok", "--at", "now", "--arg", "n=old"]);
    env.ok(&["tick"]);
    assert_eq!(show(&env, old_failure)["state"], "failed");

    env.now(NOW);
    let success = env.schedule(&["ok", "--at", "now"]);
    let retrying = env.schedule(&["flaky", "--at", "now"]);
    let failed: Vec<i64> = (0..2)
        .map(|n| env.schedule(&["gone", "--at", "now", "--arg", &format!("n={n}")]))
        .collect();
    env.ok(&["tick"]);
    assert_eq!(show(&env, success)["state"], "succeeded");
    assert_eq!(show(&env, retrying)["state"], "retrying");
    for id in &failed {
        assert_eq!(show(&env, *id)["state"], "failed");
    }
    // Left for the next tick: two due, one scheduled for later (not due, not shown).
    for n in 0..2 {
        env.schedule(&[
            "ok",
            "--at",
            "2026-11-25T11:50:00Z",
            "--arg",
            &format!("d={n}"),
        ]);
    }
    env.schedule(&["later", "--in", "1h"]);

    let status = env.json(&["status"]);
    assert_eq!(
        entry(&status, "ok"),
        json!({
            "name": "ok",
            "due": 2,
            "retrying": 0,
            "failed_24h": 0,
            "last_success_at": show(&env, success)["finished_at"],
            "waiting_on_limit": null,
            "missing_variables": [],
            "not_signing_secrets": [],
        }),
        "{status:#}"
    );
    let flaky = entry(&status, "flaky");
    assert_eq!(
        (&flaky["due"], &flaky["retrying"], &flaky["failed_24h"]),
        (&json!(0), &json!(1), &json!(0)),
        "{status:#}"
    );
    assert_eq!(flaky["last_success_at"], Value::Null, "{status:#}");
    let gone = entry(&status, "gone");
    assert_eq!(
        gone["failed_24h"], 2,
        "the older failure is not counted: {status:#}"
    );
    assert_eq!(gone["last_success_at"], Value::Null);
    assert_eq!(
        operators::listed_ids(&env, &["--state", "failed", "--endpoint", "gone"]).len(),
        3,
        "all three failures are still there"
    );
    for quiet in ["later", "unused"] {
        assert_eq!(
            entry(&status, quiet),
            Value::Null,
            "{quiet} has nothing to report: {status:#}"
        );
    }

    let text = env.ok(&["status"]);
    let ok = common::cells(&row(&text, "ok"));
    assert_eq!(&ok[..4], ["ok", "2", "0", "0"], "{text}");
    assert!(text.contains("FAILED 24H"), "{text}");
    assert!(text.contains("LAST SUCCESS"), "{text}");
    let finished = common::instant(show(&env, success)["finished_at"].as_str().unwrap());
    let shown = finished.format("%Y-%m-%d %H:%M:%S").to_string();
    assert!(row(&text, "ok").contains(&shown), "{text}");
    let gone = common::cells(&row(&text, "gone"));
    assert_eq!(&gone[..5], ["gone", "0", "0", "2", "never"], "{text}");
    assert_eq!(common::cells(&row(&text, "flaky"))[2], "1", "{text}");
}

#[test]
fn an_endpoint_whose_tasks_wait_on_its_limit_says_which() {
    let server = Server::start();
    let env = Env::new();
    env.ok(&[
        "register",
        "ims",
        "--url",
        &server.url("/ims"),
        "--timeout",
        "5s",
        "--max-in-flight",
        "1",
    ]);
    server.hold("/ims");
    for n in 0..3 {
        env.schedule(&["ims", "--at", "now", "--arg", &format!("n={n}")]);
    }
    let tick = spawn_tick(&env, NOW, &["--max-runtime", "30s"]);
    assert!(server.wait_for(1), "the first request arrives");

    let status = env.json(&["status"]);
    let ims = entry(&status, "ims");
    assert_eq!(ims["due"], 2, "{status:#}");
    assert_eq!(
        ims["waiting_on_limit"], "1 of 1 in flight (--max-in-flight 1)",
        "{status:#}"
    );
    assert_eq!(ims["missing_variables"], json!([]));
    let text = env.ok(&["status"]);
    assert!(
        row(&text, "ims").ends_with("limit: max 1 in flight"),
        "{text}"
    );

    server.release();
    let out = tick.wait_with_output().expect("the tick ends");
    assert!(out.status.success(), "{}", common::describe(&out));
    let ims = entry(&env.json(&["status"]), "ims");
    assert_eq!(ims["due"], 0);
    assert_eq!(
        ims["waiting_on_limit"],
        Value::Null,
        "nothing waits: {ims:#}"
    );
    assert!(ims["last_success_at"].is_string(), "{ims:#}");
}

#[test]
fn a_variable_the_last_tick_lacked_shows_until_a_tick_of_that_host_has_it() {
    let server = Server::start();
    let env = Env::new();
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
        "signed",
        "--url",
        &server.url("/signed"),
        "--signing-secret",
        "${SIGNING_KEY}",
    ]);
    env.ok(&["register", "plain", "--url", &server.url("/plain")]);
    for n in 0..2 {
        env.schedule(&["ims", "--at", "now", "--arg", &format!("n={n}")]);
    }
    env.schedule(&["signed", "--at", "now"]);
    env.schedule(&["plain", "--at", "now"]);

    let lacking = [("SIGNING_KEY", "not base64!")];
    let out = tick_on(&env, NOW, "a", &lacking);
    assert_eq!(out.status.code(), Some(1), "{}", common::describe(&out));
    let status = env.json(&["status"]);
    let ims = entry(&status, "ims");
    assert_eq!(ims["due"], 2, "{status:#}");
    assert_eq!(ims["missing_variables"], json!(["IMS_TOKEN"]), "{status:#}");
    assert_eq!(ims["not_signing_secrets"], json!([]));
    let signed = entry(&status, "signed");
    assert_eq!(signed["missing_variables"], json!([]), "{status:#}");
    assert_eq!(signed["not_signing_secrets"], json!(["SIGNING_KEY"]));
    assert_eq!(entry(&status, "plain")["missing_variables"], json!([]));
    let text = env.ok(&["status"]);
    assert!(
        row(&text, "ims").ends_with("missing ${IMS_TOKEN}"),
        "{text}"
    );
    assert!(
        row(&text, "signed").ends_with("no signing secret in ${SIGNING_KEY}"),
        "{text}"
    );
    assert!(!row(&text, "plain").contains('$'), "{text}");

    // Another host lacking it too: named once.
    let out = tick_on(&env, NOW, "b", &lacking);
    assert_eq!(out.status.code(), Some(1), "{}", common::describe(&out));
    let ims = entry(&env.json(&["status"]), "ims");
    assert_eq!(ims["missing_variables"], json!(["IMS_TOKEN"]), "{ims:#}");

    // A minute later host a, with the secrets, sends the tasks; host b's latest tick still
    // lacked them.
    let out = tick_on(
        &env,
        "2026-11-25T12:01:00Z",
        "a",
        &[("IMS_TOKEN", "t0ken"), ("SIGNING_KEY", "c2VjcmV0")],
    );
    assert!(out.status.success(), "{}", common::describe(&out));
    assert_eq!(server.requests_to("/ims").len(), 2);
    let ims = entry(&env.json(&["status"]), "ims");
    assert_eq!(ims["due"], 0, "{ims:#}");
    assert_eq!(ims["missing_variables"], json!(["IMS_TOKEN"]), "b: {ims:#}");

    // Host b's next tick has nothing waiting for them: nothing holds them back any more.
    let out = tick_on(&env, "2026-11-25T12:02:00Z", "b", &[]);
    assert!(out.status.success(), "{}", common::describe(&out));
    let status = env.json(&["status"]);
    for name in ["ims", "signed"] {
        let endpoint = entry(&status, name);
        assert_eq!(endpoint["missing_variables"], json!([]), "{status:#}");
        assert_eq!(endpoint["not_signing_secrets"], json!([]), "{status:#}");
        assert!(endpoint["last_success_at"].is_string(), "{status:#}");
    }
    let text = env.ok(&["status"]);
    assert!(!text.contains("${"), "{text}");
}

#[test]
fn nothing_to_report_prints_no_endpoint_table_and_an_empty_list() {
    let env = Env::new();
    env.register_release_roll();
    env.schedule(&["release-roll", "--in", "1h", "--arg", "roll=CCT-1"]);
    assert_eq!(env.json(&["status"])["endpoints"], json!([]));
    let text = env.ok(&["status"]);
    assert!(!text.contains("\nEndpoints\n"), "{text}");
}
