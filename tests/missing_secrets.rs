//! A `${VAR}` the tick's environment lacks is the tick's fault, not the task's (SPEC.md tick 8,
//! invariant 7): such tasks are not attempted and stay due (no attempt used, nothing cancelled),
//! the tick says one stderr line per endpoint naming the variable and how many tasks wait on it,
//! sends the others, and exits 1. An operator who runs `httpat tick` in a shell without the
//! secrets cancels nothing; the next tick with them sends everything.

mod common;

use common::{httpat, parse_strict, show, Env, Server};

const NOW: &str = "2026-11-25T12:00:00Z";

/// `ims` needs IMS_TOKEN (3 due tasks), `plain` needs nothing (2 due tasks).
fn setup() -> (Env, Server, Vec<i64>, Vec<i64>) {
    let env = Env::new();
    let server = Server::start();
    env.ok(&[
        "register",
        "ims",
        "--url",
        &server.url("/ims"),
        "--header",
        "Authorization: Bearer ${IMS_TOKEN}",
        "--header",
        "X-Line: ${LINE_ID}",
    ]);
    env.ok(&["register", "plain", "--url", &server.url("/plain")]);
    let ims = (0..3)
        .map(|n| env.schedule(&["ims", "--at", NOW, "--arg", &format!("n={n}")]))
        .collect();
    let plain = (0..2)
        .map(|n| env.schedule(&["plain", "--at", NOW, "--arg", &format!("n={n}")]))
        .collect();
    (env, server, ims, plain)
}

#[test]
fn a_tick_without_a_secret_leaves_its_tasks_due_sends_the_others_and_exits_1() {
    let (env, server, ims, plain) = setup();
    let out = httpat(&env, NOW, &["tick"])
        .env("LINE_ID", "3")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(out.stdout.is_empty());
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line per endpoint:\n{stderr}");
    assert!(
        lines[0].contains("\"ims\"")
            && lines[0].contains("IMS_TOKEN")
            && !lines[0].contains("LINE_ID")
            && lines[0].contains("3 due task"),
        "{stderr}"
    );

    assert_eq!(server.requests_to("/plain").len(), 2);
    assert!(
        server.requests_to("/ims").is_empty(),
        "sent without its token"
    );
    for id in &plain {
        assert_eq!(show(&env, *id)["state"], "succeeded");
    }
    for id in &ims {
        let task = show(&env, *id);
        assert_eq!(task["state"], "due", "{task:#}");
        assert_eq!(task["attempts_used"], 0, "no attempt used: {task:#}");
        assert_eq!(task["attempts"], serde_json::json!([]), "{task:#}");
        assert_eq!(
            task["transitions"].as_array().unwrap().len(),
            1,
            "nothing happened to it: {task:#}"
        );
    }
    let log = std::fs::read_to_string(&env.log).unwrap_or_default();
    assert!(log.contains("IMS_TOKEN"), "the log tells it too: {log}");

    // The same tick with the secret sends them, and is silent.
    let out = httpat(&env, NOW, &["tick"])
        .env("IMS_TOKEN", "s3cret")
        .env("LINE_ID", "3")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    let sent = server.requests_to("/ims");
    assert_eq!(sent.len(), 3);
    assert!(sent
        .iter()
        .all(|r| r.header("Authorization") == Some("Bearer s3cret")));
}

#[test]
fn every_missing_variable_of_an_endpoint_is_named_on_its_one_line() {
    let (env, server, _, _) = setup();
    let out = httpat(&env, NOW, &["tick", "-v"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let about_ims: Vec<&str> = stderr.lines().filter(|l| l.contains("\"ims\"")).collect();
    assert_eq!(about_ims.len(), 1, "{stderr}");
    assert!(
        about_ims[0].contains("IMS_TOKEN, LINE_ID"),
        "{}",
        about_ims[0]
    );
    assert!(
        stderr.contains("left waiting for variables 3"),
        "-v says it too: {stderr}"
    );
    assert_eq!(server.requests_to("/plain").len(), 2);
}

#[test]
fn a_dry_run_without_a_secret_says_the_tasks_would_wait_and_changes_nothing() {
    let (env, _server, ims, plain) = setup();
    let before = env.dump();
    let out = httpat(&env, NOW, &["tick", "--dry-run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for id in &ims {
        assert!(
            stdout.contains(&format!("task {id} (ims")) && stdout.contains("would wait"),
            "{stdout}"
        );
    }
    assert!(!stdout.contains("would be cancelled"), "{stdout}");
    let out = httpat(&env, NOW, &["--json", "tick", "--dry-run"])
        .output()
        .unwrap();
    let plans = parse_strict(&String::from_utf8_lossy(&out.stdout)).unwrap();
    let plans = plans.as_array().unwrap();
    assert_eq!(plans.len(), 5);
    for plan in plans {
        let id = plan["id"].as_i64().unwrap();
        let expected = if ims.contains(&id) { "wait" } else { "send" };
        assert_eq!(plan["action"], expected, "{plan:#}");
        assert!(plain.contains(&id) || plan["reason"].as_str().unwrap().contains("IMS_TOKEN"));
    }
    assert_eq!(env.dump(), before);
}

#[test]
fn tick_json_reports_what_waits_on_the_environment() {
    let (env, _server, _, _) = setup();
    let out = httpat(&env, NOW, &["--json", "tick"])
        .env("LINE_ID", "3")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = parse_strict(&String::from_utf8_lossy(&out.stdout)).unwrap();
    assert_eq!(report["sent"], 2, "{report:#}");
    assert_eq!(report["succeeded"], 2, "{report:#}");
    assert_eq!(
        report["missing_variables"],
        serde_json::json!([{
            "endpoint": "ims",
            "variables": ["IMS_TOKEN"],
            "not_signing_secrets": [],
            "tasks_waiting": 3
        }])
    );
    assert_eq!(report["ended"], serde_json::json!([]));
    assert!(report["tick_id"].as_str().unwrap().contains(':'));
}
