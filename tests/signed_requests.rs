//! Signed requests (Standard Webhooks): the receiving server here verifies each request with its
//! own verifier, written from the specification in this file (it shares no code with httpat's
//! signer): `webhook-signature` holds `v1,BASE64(HMAC-SHA256(key, ID.TIMESTAMP.BODY))` for each
//! secret, `webhook-id` is the task's Idempotency-Key, `webhook-timestamp` the send time in Unix
//! seconds. A signing secret is only ever a `${VAR}`; one the tick lacks, or that holds no
//! base64, leaves the tasks due (the tick's fault, not theirs).

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use common::{httpat, refused_unchanged, show, Env, Recorded, Reply, Server};

const NOW: &str = "2026-11-25T12:00:00Z";
/// NOW in Unix seconds.
const NOW_UNIX: i64 = 1_795_608_000;
const KEY_A: &[u8] = b"the first signing key, 32 bytes!";
const KEY_B: &[u8] = b"the rotated-in key, also 32 byte";

fn secret(key: &[u8]) -> String {
    format!("whsec_{}", STANDARD.encode(key))
}

/// The receiving side: true when one of the request's signatures is the one `key` makes.
fn verifies(request: &Recorded, key: &[u8]) -> bool {
    let (Some(id), Some(timestamp), Some(signatures)) = (
        request.header("webhook-id"),
        request.header("webhook-timestamp"),
        request.header("webhook-signature"),
    ) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{id}.{timestamp}.{}", request.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    signatures.split(' ').any(|signature| signature == expected)
}

fn tick_with(env: &Env, now: &str, secrets: &[(&str, String)]) -> std::process::Output {
    let mut cmd = httpat(env, now, &["tick"]);
    for (name, value) in secrets {
        cmd.env(name, value);
    }
    cmd.output().unwrap()
}

#[test]
fn a_post_and_a_get_are_signed_over_their_exact_bodies() {
    let env = Env::new();
    let server = Server::start();
    env.ok(&[
        "register",
        "post",
        "--url",
        &server.url("/post"),
        "--signing-secret",
        "${SIGN_A}",
    ]);
    env.ok(&[
        "register",
        "get",
        "--method",
        "GET",
        "--url",
        &server.url("/get"),
        "--signing-secret",
        "${SIGN_A}",
    ]);
    env.schedule(&[
        "post",
        "--at",
        NOW,
        "--arg",
        "roll=CCT-0042",
        "--key",
        "cool:CCT-0042",
    ]);
    env.schedule(&["get", "--at", NOW, "--arg", "day=2026-11-25"]);
    let out = tick_with(&env, NOW, &[("SIGN_A", secret(KEY_A))]);
    assert!(out.status.success(), "{out:?}");

    let post = &server.requests_to("/post")[0];
    assert!(verifies(post, KEY_A), "{post:?}");
    assert!(!verifies(post, KEY_B));
    assert_eq!(post.header("webhook-id"), Some("cool:CCT-0042"));
    assert_eq!(post.header("webhook-id"), post.header("Idempotency-Key"));
    let timestamp: i64 = post.header("webhook-timestamp").unwrap().parse().unwrap();
    assert!((NOW_UNIX..NOW_UNIX + 5).contains(&timestamp), "{timestamp}");
    assert!(post.body.contains("CCT-0042"));

    let get = &server.requests_to("/get")[0];
    assert_eq!(get.body, "", "a GET sends no body");
    assert!(verifies(get, KEY_A), "{get:?}");
}

#[test]
fn two_secrets_sign_twice_so_that_either_key_verifies_alone() {
    let env = Env::new();
    let server = Server::start();
    env.ok(&[
        "register",
        "hook",
        "--url",
        &server.url("/hook"),
        "--signing-secret",
        "${SIGN_OLD}",
        "--signing-secret",
        "${SIGN_NEW}",
    ]);
    env.schedule(&["hook", "--at", NOW]);
    let out = tick_with(
        &env,
        NOW,
        &[
            ("SIGN_OLD", secret(KEY_A)),
            ("SIGN_NEW", STANDARD.encode(KEY_B)),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let sent = &server.requests()[0];
    assert_eq!(
        sent.header("webhook-signature").unwrap().split(' ').count(),
        2
    );
    assert!(verifies(sent, KEY_A) && verifies(sent, KEY_B), "{sent:?}");

    // The old key retired: one signature, the new key's.
    env.ok(&["register", "hook", "--signing-secret", "${SIGN_NEW}"]);
    env.schedule(&["hook", "--at", NOW, "--arg", "n=2"]);
    tick_with(&env, NOW, &[("SIGN_NEW", STANDARD.encode(KEY_B))]);
    let sent = &server.requests()[1];
    assert!(verifies(sent, KEY_B) && !verifies(sent, KEY_A), "{sent:?}");

    env.ok(&["register", "hook", "--no-signing"]);
    env.schedule(&["hook", "--at", NOW, "--arg", "n=3"]);
    tick_with(&env, NOW, &[]);
    assert_eq!(server.requests()[2].header("webhook-signature"), None);
}

#[test]
fn a_retry_is_signed_again_with_a_new_timestamp_and_the_same_id() {
    let mut env = Env::new();
    let server = Server::start();
    server.script("/hook", vec![Reply::status(503), Reply::status(200)]);
    env.ok(&[
        "register",
        "hook",
        "--url",
        &server.url("/hook"),
        "--signing-secret",
        "${SIGN_A}",
    ]);
    let id = env.schedule(&["hook", "--at", NOW]);
    tick_with(&env, NOW, &[("SIGN_A", secret(KEY_A))]);
    let next = show(&env, id)["next_attempt_at"]
        .as_str()
        .unwrap()
        .to_string();
    env.now(&next);
    let out = tick_with(&env, &next, &[("SIGN_A", secret(KEY_A))]);
    assert!(out.status.success(), "{out:?}");
    let sent = server.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].header("webhook-id"), sent[1].header("webhook-id"));
    assert_ne!(
        sent[0].header("webhook-timestamp"),
        sent[1].header("webhook-timestamp")
    );
    assert_ne!(
        sent[0].header("webhook-signature"),
        sent[1].header("webhook-signature")
    );
    assert!(verifies(&sent[0], KEY_A) && verifies(&sent[1], KEY_A));
    assert_eq!(show(&env, id)["state"], "succeeded");
}

#[test]
fn a_missing_or_malformed_secret_leaves_the_tasks_due_and_the_tick_says_which() {
    let env = Env::new();
    let server = Server::start();
    env.ok(&[
        "register",
        "hook",
        "--url",
        &server.url("/hook"),
        "--signing-secret",
        "${SIGN_A}",
    ]);
    let id = env.schedule(&["hook", "--at", NOW]);
    for (secrets, says) in [
        (vec![], "SIGN_A is not set"),
        (
            vec![("SIGN_A", "not base64 at all!".to_string())],
            "SIGN_A holds no signing secret",
        ),
    ] {
        let out = tick_with(&env, NOW, &secrets);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(says) && stderr.contains("1 due task"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("not base64 at all"),
            "the value was shown: {stderr}"
        );
        assert_eq!(show(&env, id)["state"], "due");
        assert_eq!(show(&env, id)["attempts_used"], 0);
    }
    assert_eq!(server.count(), 0);
}

#[test]
fn a_signing_secret_is_only_ever_a_variable_and_is_never_stored() {
    let env = Env::new();
    let server = Server::start();
    server.reply("/echo", Reply::status(200).echo("X-Echo"));
    env.ok(&[
        "register",
        "hook",
        "--url",
        &server.url("/echo"),
        "--header",
        "X-Echo: ${SIGN_A}",
        "--signing-secret",
        "${SIGN_A}",
    ]);
    let stderr = refused_unchanged(
        &env,
        &[
            "register",
            "hook",
            "--signing-secret",
            "whsec_c2VjcmV0IHZhbHVl",
        ],
        2,
    );
    assert!(
        stderr.contains("${VAR}") && !stderr.contains("c2VjcmV0"),
        "{stderr}"
    );
    refused_unchanged(
        &env,
        &[
            "register",
            "hook",
            "--signing-secret",
            "${A}",
            "--no-signing",
        ],
        2,
    );
    let listed = env.json(&["endpoints"]);
    assert_eq!(
        listed[0]["signing_secrets"],
        serde_json::json!(["${SIGN_A}"])
    );

    let id = env.schedule(&["hook", "--at", NOW]);
    let value = secret(KEY_A);
    tick_with(&env, NOW, &[("SIGN_A", value.clone())]);
    let shown = show(&env, id);
    assert_eq!(shown["state"], "succeeded", "{shown:#}");
    assert_eq!(shown["signed_with"], serde_json::json!(["${SIGN_A}"]));
    let dump = env.dump();
    assert!(!dump.contains(&value), "the secret reached the database");
    assert!(
        shown["attempts"][0]["body"]
            .as_str()
            .unwrap()
            .contains("${SIGN_A}"),
        "the echoed secret is masked: {shown:#}"
    );

    let file = env.path("endpoints.toml");
    std::fs::write(
        &file,
        format!(
            "[endpoints.filed]\nurl = \"{}\"\nsigning_secrets = [\"${{SIGN_A}}\", \"${{SIGN_B}}\"]\n",
            server.url("/filed")
        ),
    )
    .unwrap();
    env.ok(&["register", "--file", file.to_str().unwrap()]);
    let filed = env.json(&["endpoints"]);
    let filed = filed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "filed")
        .unwrap();
    assert_eq!(
        filed["signing_secrets"],
        serde_json::json!(["${SIGN_A}", "${SIGN_B}"])
    );
}
