//! `--json` prints one document with stable field names for endpoints, schedule, list, show and
//! register; times are RFC 3339 in UTC, ending in `Z`.

mod common;

use chrono::{DateTime, Utc};
use common::{Env, RELEASE_ROLL_URL};
use serde_json::{json, Value};

fn has_fields(object: &Value, fields: &[&str]) {
    let map = object
        .as_object()
        .unwrap_or_else(|| panic!("expected an object, got {object}"));
    for field in fields {
        assert!(map.contains_key(*field), "no field {field:?} in {object}");
    }
}

/// An RFC 3339 UTC time ending in `Z`, as an instant.
fn utc(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("expected a time string, got {value}"));
    assert!(text.ends_with('Z'), "not UTC with Z: {text}");
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("not RFC 3339 ({e}): {text}"))
        .with_timezone(&Utc)
}

fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

const TASK_FIELDS: &[&str] = &[
    "id",
    "endpoint",
    "state",
    "due_at",
    "next_attempt_at",
    "attempts_used",
    "max_attempts",
    "last_result",
    "agent",
    "key",
    "priority",
    "args",
];

#[test]
fn register_json_says_what_changed() {
    let env = Env::new();
    let created = env.json(&["register", "release-roll", "--url", RELEASE_ROLL_URL]);
    has_fields(&created, &["name", "change", "fields"]);
    assert_eq!(created["name"], "release-roll");
    assert_eq!(created["change"], "created");
    assert!(created["fields"].is_array(), "{created}");

    let unchanged = env.json(&["register", "release-roll", "--url", RELEASE_ROLL_URL]);
    assert_eq!(unchanged["change"], "unchanged");
    assert_eq!(unchanged["fields"], json!([]));

    let updated = env.json(&[
        "register",
        "release-roll",
        "--timeout",
        "10s",
        "--url",
        "http://127.0.0.1:9/v2/{roll}",
    ]);
    assert_eq!(updated["change"], "updated");
    assert_eq!(updated["fields"], json!(["url", "timeout"]));
}

#[test]
fn endpoints_json_is_an_array_of_endpoints() {
    let env = Env::new();
    env.ok(&[
        "register",
        "release-roll",
        "--url",
        RELEASE_ROLL_URL,
        "--header",
        "Authorization: Bearer ${IMS_TOKEN}",
        "--timeout",
        "10s",
        "--max-attempts",
        "3",
        "--success",
        "2xx,409",
        "--description",
        "move a cooled roll to batching",
    ]);
    env.schedule(&["release-roll", "--in", "36h", "--arg", "roll=A"]);
    env.schedule(&["release-roll", "--in", "36h", "--arg", "roll=B"]);

    let endpoints = env.json(&["endpoints"]);
    let list = endpoints.as_array().expect("an array");
    assert_eq!(list.len(), 1, "{endpoints}");
    let endpoint = &list[0];
    has_fields(
        endpoint,
        &[
            "name",
            "method",
            "url",
            "headers",
            "timeout_ms",
            "max_attempts",
            "success",
            "description",
            "deprecated",
            "tasks_waiting",
        ],
    );
    assert_eq!(endpoint["name"], "release-roll");
    assert_eq!(endpoint["method"], "POST");
    assert_eq!(endpoint["url"], RELEASE_ROLL_URL);
    assert_eq!(endpoint["timeout_ms"], 10_000);
    assert_eq!(endpoint["max_attempts"], 3);
    assert_eq!(endpoint["description"], "move a cooled roll to batching");
    assert_eq!(endpoint["deprecated"], false);
    assert_eq!(endpoint["tasks_waiting"], 2);
    assert!(
        endpoint["headers"].to_string().contains("${IMS_TOKEN}"),
        "headers keep the variable's name: {endpoint}"
    );
    assert!(
        endpoint["success"].to_string().contains("409"),
        "{endpoint}"
    );
}

#[test]
fn endpoints_json_defaults() {
    let env = Env::new();
    env.register_release_roll();
    let endpoint = &env.json(&["endpoints"])[0];
    assert_eq!(endpoint["method"], "POST");
    assert_eq!(endpoint["timeout_ms"], 30_000);
    assert_eq!(endpoint["max_attempts"], 5);
    assert_eq!(endpoint["tasks_waiting"], 0);
}

#[test]
fn endpoints_json_with_no_endpoints_is_an_empty_array() {
    let env = Env::new();
    assert_eq!(env.json(&["endpoints"]), json!([]));
}

#[test]
fn schedule_json_gives_id_endpoint_due_at_and_whether_it_existed() {
    let env = Env::new();
    env.register_release_roll();
    let args = [
        "schedule",
        "release-roll",
        "--in",
        "36h",
        "--arg",
        "roll=CCT-0042",
        "--key",
        "k",
    ];

    let first = env.json(&args);
    has_fields(&first, &["id", "endpoint", "due_at", "existing"]);
    assert!(first["id"].is_i64(), "{first}");
    assert_eq!(first["endpoint"], "release-roll");
    assert_eq!(utc(&first["due_at"]), instant("2026-11-27T00:00:00Z"));
    assert_eq!(first["existing"], false);

    let again = env.json(&args);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["existing"], true);
    assert_eq!(again["due_at"], first["due_at"]);
}

#[test]
fn schedule_json_keeps_milliseconds() {
    let env = Env::new();
    env.register_release_roll();
    let out = env.json(&[
        "schedule",
        "release-roll",
        "--at",
        "2026-11-25T14:00:30.250+02:00",
        "--arg",
        "roll=A",
    ]);
    assert_eq!(utc(&out["due_at"]), instant("2026-11-25T12:00:30.250Z"));
}

#[test]
fn list_json_has_tasks_matched_and_more_than() {
    let env = Env::new();
    env.register_release_roll();
    let first = env.schedule(&[
        "release-roll",
        "--in",
        "1h",
        "--arg",
        "roll=CCT-0042",
        "--key",
        "cool:CCT-0042",
        "--priority",
        "5",
    ]);
    let second = env.schedule(&[
        "release-roll",
        "--in",
        "2h",
        "--arg",
        "roll=B",
        "--agent",
        "alice",
    ]);
    env.schedule(&["release-roll", "--in", "3h", "--arg", "roll=C"]);

    let all = env.json(&["list"]);
    has_fields(&all, &["tasks", "matched", "more_than"]);
    assert_eq!(all["matched"], 3);
    assert_eq!(all["more_than"], false);
    let tasks = all["tasks"].as_array().expect("tasks is an array");
    assert_eq!(tasks.len(), 3);
    for task in tasks {
        has_fields(task, TASK_FIELDS);
    }

    let task = &tasks[0];
    assert_eq!(task["id"], first);
    assert_eq!(task["endpoint"], "release-roll");
    assert_eq!(task["state"], "scheduled");
    assert_eq!(utc(&task["due_at"]), instant("2026-11-25T13:00:00Z"));
    assert_eq!(task["attempts_used"], 0);
    assert_eq!(task["max_attempts"], 5);
    assert_eq!(task["last_result"], Value::Null);
    assert_eq!(task["agent"], "tester");
    assert_eq!(task["key"], "cool:CCT-0042");
    assert_eq!(task["priority"], 5);
    assert_eq!(task["args"], json!({"roll": "CCT-0042"}));

    assert_eq!(tasks[1]["id"], second);
    assert_eq!(tasks[1]["agent"], "alice");
    assert_eq!(tasks[1]["key"], Value::Null);
    assert_eq!(tasks[1]["priority"], 0);

    let cut = env.json(&["list", "--limit", "2"]);
    assert_eq!(cut["tasks"].as_array().unwrap().len(), 2);
    assert_eq!(cut["matched"], 3);
    assert_eq!(cut["more_than"], false);
}

#[test]
fn list_json_with_nothing_matching_is_an_empty_list() {
    let env = Env::new();
    env.register_release_roll();
    let none = env.json(&["list", "--state", "failed"]);
    assert_eq!(none["tasks"], json!([]));
    assert_eq!(none["matched"], 0);
}

#[test]
fn list_json_states_follow_the_clock() {
    let env = Env::new();
    env.register_release_roll();
    env.schedule(&[
        "release-roll",
        "--at",
        "2026-11-25T11:59:59Z",
        "--arg",
        "roll=A",
    ]);
    env.schedule(&[
        "release-roll",
        "--at",
        "2026-11-25T12:00:01Z",
        "--arg",
        "roll=B",
    ]);
    let cancelled = env.schedule(&["release-roll", "--in", "1d", "--arg", "roll=C"]);
    env.ok(&["cancel", &cancelled.to_string()]);

    let list = env.json(&["list"]);
    let states: Vec<&str> = list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["due", "scheduled", "cancelled"]);
}

#[test]
fn show_json_has_the_task_request_attempts_and_transitions() {
    let env = Env::new();
    env.ok(&[
        "register",
        "release-roll",
        "--url",
        RELEASE_ROLL_URL,
        "--header",
        "Authorization: Bearer ${IMS_TOKEN}",
    ]);
    let id = env.schedule(&[
        "release-roll",
        "--in",
        "36h",
        "--arg",
        "roll=CCT 0042/b",
        "--key",
        "cool:CCT-0042",
    ]);

    let task = env.json(&["show", &id.to_string()]);
    has_fields(&task, TASK_FIELDS);
    has_fields(&task, &["request", "attempts", "transitions"]);
    assert_eq!(task["id"], id);
    assert_eq!(task["state"], "scheduled");
    assert_eq!(task["key"], "cool:CCT-0042");
    assert_eq!(task["args"], json!({"roll": "CCT 0042/b"}));
    assert_eq!(utc(&task["due_at"]), instant("2026-11-27T00:00:00Z"));

    let request = &task["request"];
    has_fields(request, &["method", "url", "headers", "body"]);
    assert_eq!(request["method"], "POST");
    assert_eq!(
        request["url"], "http://127.0.0.1:9/rolls/CCT%200042%2Fb/release",
        "placeholders are percent-encoded"
    );
    assert!(
        request["headers"].to_string().contains("${IMS_TOKEN}"),
        "{request}"
    );
    let body = match &request["body"] {
        Value::String(text) => serde_json::from_str(text).expect("the body is JSON"),
        other => other.clone(),
    };
    assert_eq!(body, json!({"roll": "CCT 0042/b"}));

    assert_eq!(task["attempts"], json!([]));
    let transitions = task["transitions"]
        .as_array()
        .expect("transitions is an array");
    assert_eq!(transitions.len(), 1, "{task}");
    let created = &transitions[0];
    has_fields(created, &["at", "from", "to", "actor", "detail"]);
    assert_eq!(utc(&created["at"]), instant("2026-11-25T12:00:00Z"));
    assert_eq!(created["to"], "scheduled");
    assert!(
        created["actor"].to_string().contains("tester"),
        "the user acted: {created}"
    );
}

#[test]
fn show_json_records_a_cancellation() {
    let env = Env::new();
    env.register_release_roll();
    let id = env.schedule(&["release-roll", "--in", "36h", "--arg", "roll=A"]);
    env.ok(&["cancel", &id.to_string(), "--reason", "roll moved by hand"]);

    let task = env.json(&["show", &id.to_string()]);
    assert_eq!(task["state"], "cancelled");
    let transitions = task["transitions"].as_array().unwrap();
    assert_eq!(transitions.len(), 2, "{task}");
    let last = &transitions[1];
    assert_eq!(last["from"], "scheduled");
    assert_eq!(last["to"], "cancelled");
    assert!(
        last["actor"].to_string().contains("tester"),
        "the user acted: {last}"
    );
    assert!(
        last["detail"].to_string().contains("roll moved by hand"),
        "{last}"
    );
}

#[test]
fn schedule_json_due_at_for_every_time_form() {
    let env = Env::new();
    env.register_release_roll();
    // Now is 2026-11-25T12:00:00Z and the local zone is UTC.
    let cases: &[(&[&str], &str)] = &[
        (&["--at", "now"], "2026-11-25T12:00:00Z"),
        (&["--at", "+36h"], "2026-11-27T00:00:00Z"),
        (&["--in", "1d 12h"], "2026-11-27T00:00:00Z"),
        (&["--in", "90m"], "2026-11-25T13:30:00Z"),
        (
            &["--at", "2026-11-27T08:00:00+02:00"],
            "2026-11-27T06:00:00Z",
        ),
        (&["--at", "2026-11-27 08:00"], "2026-11-27T08:00:00Z"),
        (&["--at", "2026-11-27 08:00:15"], "2026-11-27T08:00:15Z"),
        (
            &["--at", "2026-11-27 08:00", "--tz", "Europe/Riga"],
            "2026-11-27T06:00:00Z",
        ),
        // Summer time in Riga is UTC+3.
        (
            &["--at", "2026-07-01 08:00", "--tz", "Europe/Riga"],
            "2026-07-01T05:00:00Z",
        ),
        // 03:30 happens twice in Riga on 2026-10-25; the later instant is taken.
        (
            &["--at", "2026-10-25 03:30", "--tz", "Europe/Riga"],
            "2026-10-25T01:30:00Z",
        ),
    ];
    let mut failures = Vec::new();
    for (i, (when, expected)) in cases.iter().enumerate() {
        let roll = format!("roll=R{i}");
        let mut args = vec!["schedule", "release-roll", "--arg", &roll];
        args.extend_from_slice(when);
        let out = env.json(&args);
        if utc(&out["due_at"]) != instant(expected) {
            failures.push(format!(
                "{when:?}: due_at {}, expected {expected}",
                out["due_at"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn show_json_request_of_a_get_puts_unused_arguments_in_the_query() {
    let env = Env::new();
    env.ok(&[
        "register",
        "stock",
        "--url",
        "http://127.0.0.1:9/stock/{roll}",
        "--method",
        "GET",
    ]);
    let id = env.schedule(&[
        "stock",
        "--in",
        "1h",
        "--arg",
        "roll=A",
        "--arg",
        "plant=riga",
    ]);
    let request = &env.json(&["show", &id.to_string()])["request"];
    assert_eq!(request["method"], "GET");
    assert_eq!(
        request["url"], "http://127.0.0.1:9/stock/A?plant=riga",
        "{request}"
    );
    assert!(
        matches!(&request["body"], Value::Null) || request["body"] == "",
        "a GET has no body: {request}"
    );
}

#[test]
fn schedule_json_with_the_same_key_and_the_same_arguments_in_another_form() {
    let env = Env::new();
    env.register_release_roll();
    let first = env.json(&[
        "schedule",
        "release-roll",
        "--in",
        "1h",
        "--key",
        "k",
        "--arg",
        "roll=A",
        "--arg",
        "plant=riga",
    ]);
    let again = env.json(&[
        "schedule",
        "release-roll",
        "--in",
        "1h",
        "--key",
        "k",
        "--args",
        r#"{"plant": "riga", "roll": "A"}"#,
    ]);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["existing"], true);
}

#[test]
fn show_json_names_the_attempts_list_and_the_count_apart() {
    let env = Env::new();
    let server = common::Server::start();
    env.ok(&["register", "hook", "--url", &server.url("/hook")]);
    let id = env.schedule(&["hook", "--at", "now"]);
    env.ok(&["tick"]);
    // Env::json refuses a document with a duplicate key anywhere.
    let task = env.json(&["show", &id.to_string()]);
    assert_eq!(task["attempts_used"], 1, "{task:#}");
    assert_eq!(
        task["attempts"].as_array().map(Vec::len),
        Some(1),
        "{task:#}"
    );
    let raw = env.ok(&["show", "--json", &id.to_string()]);
    assert_eq!(raw.matches("\"attempts\"").count(), 1, "{raw}");
}

#[test]
fn cancel_and_retry_json_say_what_they_did() {
    let env = Env::new();
    env.register_release_roll();
    let first = env.schedule(&["release-roll", "--in", "1h", "--arg", "roll=A"]);
    let second = env.schedule(&["release-roll", "--in", "2h", "--arg", "roll=B"]);
    env.ok(&["cancel", &second.to_string()]);
    let cancelled = env.json(&["cancel", &first.to_string(), &second.to_string()]);
    assert_eq!(
        cancelled,
        json!([
            {"id": first, "was": "scheduled", "state": "cancelled"},
            {"id": second, "was": "cancelled", "state": "cancelled"}
        ])
    );
    let retried = env.json(&["retry", &first.to_string()]);
    assert_eq!(
        retried,
        json!({
            "endpoint": null,
            "retried": [{
                "id": first,
                "was": "cancelled",
                "state": "scheduled",
                "next_attempt_at": "2026-11-25T13:00:00.000Z"
            }]
        })
    );
}

#[test]
fn tick_and_dry_run_json_say_what_was_and_would_be_sent() {
    let env = Env::new();
    let server = common::Server::start();
    server.answer("/gone", 404, "no");
    env.ok(&["register", "hook", "--url", &server.url("/hook")]);
    env.ok(&["register", "gone", "--url", &server.url("/gone")]);
    let ok = env.schedule(&["hook", "--at", "now", "--arg", "roll=A"]);
    let bad = env.schedule(&["gone", "--at", "now"]);

    let plans = env.json(&["tick", "--dry-run"]);
    let plans = plans.as_array().expect("an array of tasks");
    assert_eq!(plans.len(), 2);
    for plan in plans {
        has_fields(
            plan,
            &["id", "endpoint", "due_at", "action", "request", "reason"],
        );
        assert_eq!(plan["action"], "send");
        has_fields(&plan["request"], &["method", "url", "headers", "body"]);
    }
    assert_eq!(server.count(), 0, "a dry run sends nothing");
    assert_eq!(
        env.json(&["tick", "--dry-run"]).as_array().map(Vec::len),
        Some(2)
    );

    let report = env.json(&["tick"]);
    has_fields(
        &report,
        &[
            "tick_id",
            "recovered",
            "fired",
            "sent",
            "succeeded",
            "retrying",
            "failed",
            "cancelled",
            "ended",
            "missing_variables",
        ],
    );
    assert_eq!(report["sent"], 2, "{report:#}");
    assert_eq!(report["succeeded"], 1);
    assert_eq!(report["failed"], 1);
    assert_eq!(report["ended"][0]["id"], bad, "{report:#}");
    assert_eq!(report["ended"][0]["state"], "failed");
    assert!(report["ended"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("404"));
    assert_eq!(report["missing_variables"], json!([]));
    assert_eq!(common::state_of(&env, ok), "succeeded");
    assert_eq!(env.json(&["tick", "--dry-run"]), json!([]));
}

#[test]
fn the_strict_reader_refuses_a_duplicate_key() {
    assert!(common::parse_strict(r#"{"a": 1, "b": [{"c": 2}]}"#).is_ok());
    let error = common::parse_strict(r#"{"a": 1, "b": {"c": 2, "c": 3}}"#).unwrap_err();
    assert!(error.to_string().contains("duplicate key \"c\""), "{error}");
}

#[test]
fn schedule_json_prints_the_time_as_stored_even_between_two_milliseconds() {
    let env = Env::new();
    env.register_release_roll();
    let scheduled = env.json(&[
        "schedule",
        "release-roll",
        "--at",
        "2026-11-25T13:00:00.0005Z",
        "--arg",
        "roll=A",
    ]);
    assert_eq!(
        scheduled["due_at"], "2026-11-25T13:00:00.001Z",
        "{scheduled:#}"
    );
    let shown = env.json(&["show", &scheduled["id"].to_string()]);
    assert_eq!(shown["due_at"], scheduled["due_at"]);
}
