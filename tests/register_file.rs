//! `register --file endpoints.toml [--prune]`: the registry matches the file in one transaction,
//! all or nothing; each endpoint is reported `created`, `updated: FIELDS`, `unchanged` or
//! `removed`; `--prune` never drops an endpoint that still has unfinished tasks unless it was
//! deprecated first.

mod common;

use std::path::PathBuf;

use common::{exits, refused_unchanged, Env};
use serde_json::Value;

/// The example shipped with the package.
fn example() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/endpoints.toml")
        .display()
        .to_string()
}

/// Writes `text` to a file in the test's directory and returns its path.
fn file(env: &Env, name: &str, text: &str) -> String {
    let path = env.path(name);
    std::fs::write(&path, text).expect("write the endpoints file");
    path.display().to_string()
}

const TWO: &str = r#"
[endpoints.alpha]
url = "http://127.0.0.1:9/alpha/{id}"
timeout = "5s"

[endpoints.beta]
url = "http://127.0.0.1:9/beta"
method = "GET"
"#;

/// The endpoints as `endpoints --json` gives them, by name.
fn endpoints(env: &Env) -> Vec<(String, Value)> {
    env.json(&["endpoints"])
        .as_array()
        .expect("endpoints --json is an array")
        .iter()
        .map(|e| (e["name"].as_str().expect("a name").to_string(), e.clone()))
        .collect()
}

/// The lines of `text`, sorted.
fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// `NAME: CHANGE` for the four endpoints of the shipped example, sorted.
fn example_lines(change: &str) -> Vec<String> {
    sorted_lines(
        &[
            "daily-export",
            "release-roll",
            "release-roll-v0",
            "shift-reminder",
        ]
        .map(|name| format!("{name}: {change}"))
        .join("\n"),
    )
}

fn names(env: &Env) -> Vec<String> {
    endpoints(env).into_iter().map(|(name, _)| name).collect()
}

#[test]
fn the_shipped_example_creates_four_endpoints_and_is_unchanged_the_second_time() {
    let env = Env::new();
    let example = example();
    let first = env.ok(&["register", "--file", &example]);
    assert_eq!(sorted_lines(&first), example_lines("created"));

    let registered = endpoints(&env);
    assert_eq!(registered.len(), 4);
    let release = &registered
        .iter()
        .find(|(name, _)| name == "release-roll")
        .expect("release-roll is registered")
        .1;
    assert_eq!(release["url"], "https://ims.example/rolls/{roll}/release/");
    assert_eq!(release["timeout_ms"], 10_000);
    assert_eq!(release["max_attempts"], 8);
    assert_eq!(release["success"], "2xx,409");
    assert_eq!(
        release["headers"],
        serde_json::json!(["Authorization: Bearer ${IMS_TOKEN}"])
    );
    let old = &registered
        .iter()
        .find(|(name, _)| name == "release-roll-v0")
        .expect("release-roll-v0 is registered")
        .1;
    assert_eq!(old["deprecated"], true);
    assert_eq!(old["deprecated_reason"], "use release-roll");

    let before = env.dump();
    let second = env.ok(&["register", "--file", &example]);
    assert_eq!(sorted_lines(&second), example_lines("unchanged"));
    assert_eq!(before, env.dump(), "an unchanged registry is not rewritten");
}

#[test]
fn a_file_with_one_bad_entry_changes_nothing_and_names_the_endpoint() {
    let cases = [
        ("a bad url", "url = \"ftp://127.0.0.1:9/gamma\""),
        (
            "an unknown field",
            "url = \"http://127.0.0.1:9/gamma\"\ncolour = \"red\"",
        ),
        (
            "a bad timeout",
            "url = \"http://127.0.0.1:9/gamma\"\ntimeout = \"soon\"",
        ),
        (
            "a bad method",
            "url = \"http://127.0.0.1:9/gamma\"\nmethod = \"FETCH ME\"",
        ),
    ];
    let mut unnamed = Vec::new();
    for (what, gamma) in cases {
        let env = Env::new();
        env.ok(&["register", "--file", &file(&env, "two.toml", TWO)]);
        // Good changes to the two and a new good endpoint around the bad one: none may stay.
        let text = format!(
            "[endpoints.alpha]\nurl = \"http://127.0.0.1:9/alpha/v2/{{id}}\"\n\n\
             [endpoints.gamma]\n{gamma}\n\n\
             [endpoints.beta]\nurl = \"http://127.0.0.1:9/beta\"\ntimeout = \"1m\"\n\n\
             [endpoints.delta]\nurl = \"http://127.0.0.1:9/delta\"\n"
        );
        let bad = file(&env, "bad.toml", &text);
        for args in [
            vec!["register", "--file", &bad],
            vec!["register", "--file", &bad, "--prune"],
        ] {
            let stderr = refused_unchanged(&env, &args, 2);
            if !stderr.contains("gamma") {
                unnamed.push(format!("{what} ({args:?}): {stderr}"));
            }
        }
    }
    assert!(
        unnamed.is_empty(),
        "the message names the endpoint \"gamma\" at fault; it did not for:\n{}",
        unnamed.join("\n")
    );
}

#[test]
fn a_file_that_is_not_toml_is_bad_usage() {
    let env = Env::new();
    env.ok(&["register", "--file", &file(&env, "two.toml", TWO)]);
    let broken = file(&env, "broken.toml", "[endpoints.alpha\nurl = ");
    refused_unchanged(&env, &["register", "--file", &broken], 2);
    let missing = env.path("missing.toml").display().to_string();
    let stderr = refused_unchanged(&env, &["register", "--file", &missing], 2);
    assert!(stderr.contains("missing.toml"), "{stderr}");
}

#[test]
fn prune_removes_endpoints_the_file_does_not_name() {
    let env = Env::new();
    env.ok(&["register", "--file", &file(&env, "two.toml", TWO)]);
    env.ok(&["register", "gamma", "--url", "http://127.0.0.1:9/gamma"]);
    // A task that has finished does not keep its endpoint.
    let id = env.schedule(&["gamma", "--in", "1h"]);
    env.ok(&["cancel", &id.to_string()]);

    let two = file(&env, "two.toml", TWO);
    let stdout = env.ok(&["register", "--file", &two]);
    assert!(!stdout.contains("gamma"), "without --prune: {stdout}");
    assert_eq!(names(&env), vec!["alpha", "beta", "gamma"]);

    let stdout = env.ok(&["register", "--file", &two, "--prune"]);
    assert!(stdout.lines().any(|l| l == "gamma: removed"), "{stdout}");
    assert!(stdout.lines().any(|l| l == "alpha: unchanged"), "{stdout}");
    assert_eq!(names(&env), vec!["alpha", "beta"]);
}

#[test]
fn prune_refuses_an_endpoint_with_unfinished_tasks_until_it_is_deprecated() {
    let env = Env::new();
    env.ok(&["register", "--file", &file(&env, "two.toml", TWO)]);
    env.ok(&["register", "gamma", "--url", "http://127.0.0.1:9/gamma"]);
    let waiting = [
        env.schedule(&["gamma", "--in", "1h"]),
        env.schedule(&["gamma", "--at", "now", "--arg", "n=2"]),
    ];
    let finished = env.schedule(&["gamma", "--in", "2h", "--arg", "n=3"]);
    env.ok(&["cancel", &finished.to_string()]);

    // The file also changes alpha: that must not happen either.
    let changed = file(
        &env,
        "changed.toml",
        &TWO.replace("timeout = \"5s\"", "timeout = \"7s\""),
    );
    let stderr = refused_unchanged(&env, &["register", "--file", &changed, "--prune"], 3);
    assert!(stderr.contains("gamma"), "names the endpoint: {stderr}");
    assert!(
        stderr.contains("2 unfinished"),
        "gives its unfinished task count: {stderr}"
    );

    assert_eq!(
        env.ok(&["register", "gamma", "--deprecate"]),
        "updated: deprecated\n"
    );
    let stdout = env.ok(&["register", "--file", &changed, "--prune"]);
    assert_eq!(
        sorted_lines(&stdout),
        vec![
            "alpha: updated: timeout",
            "beta: unchanged",
            "gamma: removed"
        ]
    );
    assert_eq!(names(&env), vec!["alpha", "beta"]);
    for id in waiting {
        let detail = env.json(&["show", &id.to_string()]);
        assert_eq!(
            detail["endpoint"], "gamma",
            "its tasks outlive it: {detail:#}"
        );
    }
}

#[test]
fn json_prints_one_change_per_endpoint_with_its_fields() {
    let env = Env::new();
    env.ok(&["register", "--file", &file(&env, "two.toml", TWO)]);
    env.ok(&["register", "gamma", "--url", "http://127.0.0.1:9/gamma"]);
    let text = format!(
        "{}\n[endpoints.delta]\nurl = \"http://127.0.0.1:9/delta\"\n",
        TWO.replace("method = \"GET\"", "method = \"PUT\"\ntimeout = \"1m\"")
    );
    let changed = file(&env, "changed.toml", &text);
    let printed = env.json(&["register", "--file", &changed, "--prune"]);
    let mut changes: Vec<Value> = printed
        .as_array()
        .expect("register --file --json prints an array")
        .clone();
    changes.sort_by_key(|c| c["name"].as_str().unwrap_or_default().to_string());
    assert_eq!(
        Value::Array(changes),
        serde_json::json!([
            {"name": "alpha", "change": "unchanged", "fields": []},
            {"name": "beta", "change": "updated", "fields": ["method", "timeout"]},
            {"name": "delta", "change": "created", "fields": []},
            {"name": "gamma", "change": "removed", "fields": []},
        ])
    );
    let (_, _) = exits(&env, &["register", "--file", &changed, "--prune"], 0);
}

#[test]
fn stdin_is_read_as_the_file_when_it_is_given_as_a_dash() {
    let env = Env::new();
    env.ok(&["register", "gamma", "--url", "http://127.0.0.1:9/gamma"]);
    let from_stdin = |args: &[&str]| {
        let out = env.cmd(args).write_stdin(TWO).output().expect("run httpat");
        assert!(out.status.success(), "httpat {args:?}: {out:?}");
        sorted_lines(&String::from_utf8_lossy(&out.stdout))
    };
    assert_eq!(
        from_stdin(&["register", "--file", "-"]),
        vec!["alpha: created", "beta: created"]
    );
    let registered = endpoints(&env);
    assert_eq!(registered[0].1["url"], "http://127.0.0.1:9/alpha/{id}");
    assert_eq!(registered[0].1["timeout_ms"], 5_000);
    assert_eq!(registered[1].1["method"], "GET");
    assert_eq!(
        from_stdin(&["register", "--file", "-", "--prune"]),
        vec!["alpha: unchanged", "beta: unchanged", "gamma: removed"]
    );
    assert_eq!(names(&env), vec!["alpha", "beta"]);
}

#[test]
fn a_bad_entry_on_stdin_changes_nothing_and_names_standard_input_and_the_endpoint() {
    let env = Env::new();
    env.ok(&["register", "--file", &file(&env, "two.toml", TWO)]);
    let before = env.dump();
    let text = format!("{TWO}\n[endpoints.gamma]\nurl = \"ftp://127.0.0.1:9/gamma\"\n");
    let out = env
        .cmd(&["register", "--file", "-", "--prune"])
        .write_stdin(text.replace("timeout = \"5s\"", "timeout = \"7s\""))
        .output()
        .expect("run httpat");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("standard input: endpoint \"gamma\""),
        "{stderr}"
    );
    assert_eq!(before, env.dump(), "nothing changed");
}
