//! What a tick puts on the wire (SPEC.md, tick steps 6 and 7): method, URL with its placeholders
//! filled and percent-encoded, query or JSON body by method, `User-Agent`, a stable
//! `Idempotency-Key`, the endpoint's own headers, and redirects recorded, never followed.

mod common;
#[path = "support/tick.rs"]
mod tick_support;

use common::{show, state_of, Env, Recorded, Reply, Server};
use serde_json::{json, Value};
use tick_support::{env_with, schedule_now, tick, tick_at_next_attempt};

/// The only request the server received.
fn only_request(server: &Server) -> Recorded {
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "expected one request, got {requests:#?}");
    requests.into_iter().next().unwrap()
}

/// The media type of a Content-Type value, without parameters.
fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The query string's pairs, sorted, still percent-encoded.
fn query_pairs(url: &str) -> Vec<(String, String)> {
    let Some((_, query)) = url.split_once('?') else {
        return Vec::new();
    };
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (name.to_string(), value.to_string())
        })
        .collect();
    pairs.sort();
    pairs
}

#[test]
fn post_sends_the_arguments_as_a_json_body() {
    let server = Server::start();
    let env = env_with(&server.url("/rolls/release"), &[]);
    let args = json!({"roll": "CCT-0042", "line": 3, "hot": true, "note": "café & co"});
    schedule_now(&env, &["--args", &args.to_string()]);

    tick(&env, &[]);

    let request = only_request(&server);
    assert_eq!(request.method, "POST");
    assert_eq!(request.url, "/rolls/release", "POST puts no query string");
    let content_type = request
        .header("Content-Type")
        .expect("a Content-Type header");
    assert_eq!(media_type(content_type), "application/json");
    let body: Value = serde_json::from_str(&request.body)
        .unwrap_or_else(|e| panic!("the body {:?} is not JSON: {e}", request.body));
    assert_eq!(body, args);
}

#[test]
fn url_placeholders_are_filled_and_percent_encoded() {
    let server = Server::start();
    let env = env_with(&server.url("/rolls/{roll}/release"), &[]);
    schedule_now(&env, &["--arg", "roll=CCT/42 x"]);

    tick(&env, &[]);

    let request = only_request(&server);
    assert_eq!(request.url, "/rolls/CCT%2F42%20x/release");
    // The placeholder's argument still travels in the body: POST sends the whole object.
    let body: Value = serde_json::from_str(&request.body).expect("a JSON body");
    assert_eq!(body, json!({"roll": "CCT/42 x"}));
}

#[test]
fn get_head_and_delete_put_unused_arguments_in_the_query_and_send_no_body() {
    for method in ["GET", "HEAD", "DELETE"] {
        let server = Server::start();
        let env = env_with(&server.url("/rolls/{roll}"), &["--method", method]);
        schedule_now(
            &env,
            &["--arg", "roll=A/1", "--arg", "note=a&b c", "--arg", "by=op"],
        );

        tick(&env, &[]);

        let request = only_request(&server);
        assert_eq!(request.method, method);
        let path = request.url.split('?').next().unwrap();
        assert_eq!(path, "/rolls/A%2F1", "{method}");
        assert_eq!(
            query_pairs(&request.url),
            vec![
                ("by".to_string(), "op".to_string()),
                ("note".to_string(), "a%26b%20c".to_string()),
            ],
            "{method}: the unused arguments, encoded, and only those: {}",
            request.url
        );
        assert_eq!(request.body, "", "{method} sends no body");
        if let Some(content_type) = request.header("Content-Type") {
            assert_ne!(
                media_type(content_type),
                "application/json",
                "{method} sends no JSON"
            );
        }
    }
}

#[test]
fn put_and_patch_send_a_json_body() {
    for method in ["PUT", "PATCH"] {
        let server = Server::start();
        let env = env_with(&server.url("/rolls/{roll}"), &["--method", method]);
        schedule_now(&env, &["--arg", "roll=CCT-7", "--arg", "status=sealed"]);

        tick(&env, &[]);

        let request = only_request(&server);
        assert_eq!(request.method, method);
        assert_eq!(request.url, "/rolls/CCT-7", "{method} puts no query string");
        let content_type = request.header("Content-Type").expect("a Content-Type");
        assert_eq!(media_type(content_type), "application/json", "{method}");
        let body: Value = serde_json::from_str(&request.body).expect("a JSON body");
        assert_eq!(
            body,
            json!({"roll": "CCT-7", "status": "sealed"}),
            "{method}"
        );
    }
}

#[test]
fn requests_carry_the_httpat_user_agent() {
    let server = Server::start();
    let env = env_with(&server.url("/ua"), &[]);
    schedule_now(&env, &[]);

    tick(&env, &[]);

    let request = only_request(&server);
    assert_eq!(
        request.header("User-Agent"),
        Some(concat!("httpat/", env!("CARGO_PKG_VERSION")))
    );
}

#[test]
fn idempotency_key_is_the_tasks_key_when_given() {
    let server = Server::start();
    let env = env_with(&server.url("/keyed"), &[]);
    schedule_now(&env, &["--key", "cool:CCT-0042"]);

    tick(&env, &[]);

    let request = only_request(&server);
    assert_eq!(request.header("Idempotency-Key"), Some("cool:CCT-0042"));
}

#[test]
fn idempotency_key_is_stable_across_attempts_and_differs_between_tasks() {
    let server = Server::start();
    let mut env = Env::new();
    env.ok(&["register", "flaky", "--url", &server.url("/flaky")]);
    env.ok(&["register", "steady", "--url", &server.url("/steady")]);
    server.reply("/flaky", Reply::status(503));
    let flaky = env.schedule(&["flaky", "--at", "now"]);
    env.schedule(&["steady", "--at", "now"]);

    tick(&env, &[]);
    assert_eq!(state_of(&env, flaky), "retrying");
    server.reply("/flaky", Reply::status(200));
    tick_at_next_attempt(&mut env, flaky);
    assert_eq!(state_of(&env, flaky), "succeeded");

    let keys = |path: &str| -> Vec<String> {
        server
            .requests_to(path)
            .iter()
            .map(|r| {
                r.header("Idempotency-Key")
                    .unwrap_or_else(|| panic!("no Idempotency-Key in {r:#?}"))
                    .to_string()
            })
            .collect()
    };
    let flaky_keys = keys("/flaky");
    let steady_keys = keys("/steady");
    assert_eq!(flaky_keys.len(), 2, "two attempts of the flaky task");
    assert_eq!(steady_keys.len(), 1, "one attempt of the steady task");
    assert!(!flaky_keys[0].trim().is_empty(), "the key is not empty");
    assert_eq!(
        flaky_keys[0], flaky_keys[1],
        "the same key on every attempt"
    );
    assert_ne!(flaky_keys[0], steady_keys[0], "another task, another key");
}

#[test]
fn the_endpoints_own_headers_are_sent() {
    let server = Server::start();
    let env = env_with(
        &server.url("/headers"),
        &[
            "--header",
            "X-Factory: CCT",
            "--header",
            "X-Line: 3",
            "--header",
            "Authorization: Bearer ${IMS_TOKEN}",
        ],
    );
    schedule_now(&env, &[]);

    env.cmd(&["tick"])
        .env("IMS_TOKEN", "s3cret-token")
        .assert()
        .success();

    let request = only_request(&server);
    assert_eq!(request.header("X-Factory"), Some("CCT"));
    assert_eq!(request.header("X-Line"), Some("3"));
    assert_eq!(
        request.header("Authorization"),
        Some("Bearer s3cret-token"),
        "${{VAR}} is expanded when the request is sent"
    );
}

#[test]
fn a_redirect_is_not_followed_and_fails_at_once() {
    let server = Server::start();
    let elsewhere = server.url("/elsewhere");
    server.reply(
        "/moved",
        Reply::status(302).header("Location", elsewhere.as_str()),
    );
    let env = env_with(&server.url("/moved"), &[]);
    let id = schedule_now(&env, &[]);

    tick(&env, &[]);

    assert_eq!(server.requests().len(), 1, "the Location is not followed");
    assert!(server.requests_to("/elsewhere").is_empty());
    let task = show(&env, id);
    assert_eq!(task["state"], "failed", "{task:#}");
    let attempts = task["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "no retry of a redirect: {task:#}");
    assert_eq!(attempts[0]["status"], 302);
    assert_eq!(attempts[0]["location"], elsewhere.as_str());
}

#[test]
fn a_redirect_named_in_success_succeeds_without_being_followed() {
    let server = Server::start();
    let elsewhere = server.url("/elsewhere");
    server.reply(
        "/moved",
        Reply::status(302).header("Location", elsewhere.as_str()),
    );
    let env = env_with(&server.url("/moved"), &["--success", "2xx,3xx"]);
    let id = schedule_now(&env, &[]);

    tick(&env, &[]);

    assert_eq!(server.requests().len(), 1, "the Location is not followed");
    let task = show(&env, id);
    assert_eq!(task["state"], "succeeded", "{task:#}");
    let attempts = task["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["status"], 302);
    assert_eq!(attempts[0]["location"], elsewhere.as_str());
}
