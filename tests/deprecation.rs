//! `register NAME --deprecate [--reason TEXT]` / `--undeprecate`: new schedules to a deprecated
//! endpoint are refused with the reason; what was scheduled before still runs; `endpoints`
//! shows it.

mod common;

use common::{cells, refused_unchanged, state_of, Env, Server};
use serde_json::Value;

/// The line of the `endpoints` table whose first cell is `name`.
fn row_named(table: &str, name: &str) -> Option<String> {
    table
        .lines()
        .find(|line| cells(line).first().map(String::as_str) == Some(name))
        .map(str::to_string)
}

fn endpoint_json(env: &Env, name: &str) -> Value {
    env.json(&["endpoints"])
        .as_array()
        .expect("endpoints --json is an array")
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("endpoint {name} is listed"))
        .clone()
}

#[test]
fn a_deprecated_endpoint_refuses_new_schedules_with_the_reason_and_changes_nothing() {
    let env = Env::new();
    let server = Server::start();
    env.ok(&["register", "hook", "--url", &server.url("/hook/{n}")]);
    assert_eq!(
        env.ok(&["register", "hook", "--deprecate", "--reason", "use v2"]),
        "updated: deprecated\n"
    );
    for args in [
        vec!["schedule", "hook", "--at", "now", "--arg", "n=1"],
        vec![
            "schedule", "hook", "--in", "1h", "--arg", "n=1", "--key", "k",
        ],
    ] {
        let stderr = refused_unchanged(&env, &args, 3);
        assert!(stderr.contains("use v2"), "gives the reason: {stderr}");
        assert!(stderr.contains("hook"), "names the endpoint: {stderr}");
    }
    let line = "{\"endpoint\": \"hook\", \"at\": \"now\", \"args\": {\"n\": \"1\"}}\n";
    let path = env.path("one.jsonl");
    std::fs::write(&path, line).expect("write the task file");
    let stderr = refused_unchanged(
        &env,
        &["schedule", "--file", &path.display().to_string()],
        3,
    );
    assert!(stderr.contains("use v2"), "{stderr}");
    assert!(server.requests().is_empty());
}

#[test]
fn a_task_scheduled_before_the_deprecation_is_still_sent() {
    let env = Env::new();
    let server = Server::start();
    env.ok(&["register", "hook", "--url", &server.url("/hook/{n}")]);
    let id = env.schedule(&["hook", "--at", "now", "--arg", "n=7"]);
    env.ok(&["register", "hook", "--deprecate", "--reason", "use v2"]);
    env.ok(&["tick"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].url, "/hook/7");
    assert_eq!(state_of(&env, id), "succeeded");
}

#[test]
fn endpoints_show_the_deprecation_and_its_reason() {
    let env = Env::new();
    env.ok(&["register", "hook", "--url", "http://127.0.0.1:9/hook"]);
    env.ok(&["register", "other", "--url", "http://127.0.0.1:9/other"]);
    let before = endpoint_json(&env, "hook");
    assert_eq!(before["deprecated"], false, "{before:#}");
    assert_eq!(before["deprecated_reason"], Value::Null, "{before:#}");

    env.ok(&["register", "hook", "--deprecate", "--reason", "use v2"]);
    let after = endpoint_json(&env, "hook");
    assert_eq!(after["deprecated"], true, "{after:#}");
    assert_eq!(after["deprecated_reason"], "use v2", "{after:#}");
    assert_eq!(endpoint_json(&env, "other")["deprecated"], false);

    let table = env.ok(&["endpoints"]);
    let row = row_named(&table, "hook").unwrap_or_else(|| panic!("hook in {table}"));
    assert!(row.contains("use v2"), "{table}");
    let other = row_named(&table, "other").unwrap_or_else(|| panic!("other in {table}"));
    assert!(!other.contains("yes"), "{table}");
}

#[test]
fn undeprecate_allows_schedules_again() {
    let env = Env::new();
    env.ok(&["register", "hook", "--url", "http://127.0.0.1:9/hook"]);
    env.ok(&["register", "hook", "--deprecate", "--reason", "use v2"]);
    refused_unchanged(&env, &["schedule", "hook", "--in", "1h"], 3);

    assert_eq!(
        env.ok(&["register", "hook", "--undeprecate"]),
        "updated: deprecated\n"
    );
    let after = endpoint_json(&env, "hook");
    assert_eq!(after["deprecated"], false, "{after:#}");
    assert_eq!(after["deprecated_reason"], Value::Null, "{after:#}");
    env.schedule(&["hook", "--in", "1h"]);
    assert_eq!(
        env.ok(&["register", "hook", "--undeprecate"]),
        "unchanged\n"
    );
}

#[test]
fn deprecating_twice_is_unchanged_and_a_new_reason_is_an_update() {
    let env = Env::new();
    env.ok(&["register", "hook", "--url", "http://127.0.0.1:9/hook"]);
    env.ok(&["register", "hook", "--deprecate", "--reason", "use v2"]);
    assert_eq!(
        env.ok(&["register", "hook", "--deprecate", "--reason", "use v2"]),
        "unchanged\n"
    );
    assert_eq!(
        env.ok(&["register", "hook", "--deprecate", "--reason", "use v3"]),
        "updated: deprecated\n"
    );
    assert_eq!(endpoint_json(&env, "hook")["deprecated_reason"], "use v3");
}

#[test]
fn deprecating_an_unknown_endpoint_is_refused() {
    let env = Env::new();
    env.ok(&["register", "hook", "--url", "http://127.0.0.1:9/hook"]);
    for args in [
        vec!["register", "nosuch", "--deprecate"],
        vec!["register", "nosuch", "--deprecate", "--reason", "use v2"],
        vec!["register", "nosuch", "--undeprecate"],
    ] {
        let stderr = refused_unchanged(&env, &args, 3);
        assert!(stderr.contains("nosuch"), "{stderr}");
    }
}
