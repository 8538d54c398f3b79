//! `show ID --body`: a task's output. The last stored response body (of the latest attempt that
//! got a response) on stdout byte for byte, binary included and nothing added; exit 3 when no
//! attempt has one or the task does not exist; with `--json`, the body in base64.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{exits, refused_url, show, Env, Reply, Server};

/// Runs `show ID --body ARGS`; it must exit 0. Returns (stdout bytes, stderr).
fn body_of(env: &Env, id: i64) -> (Vec<u8>, String) {
    let out = env
        .cmd(&["show", &id.to_string(), "--body"])
        .output()
        .expect("run httpat");
    assert!(
        out.status.success(),
        "show {id} --body: {}",
        common::describe(&out)
    );
    (
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A PNG's signature and header chunk start, then every byte value once.
fn binary_body() -> Vec<u8> {
    let mut body = vec![
        0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n', 0, 0, 0, 13, b'I', b'H', b'D', b'R',
    ];
    body.extend(0..=255u8);
    body
}

#[test]
fn binary_and_text_bodies_come_out_byte_for_byte() {
    let env = Env::new();
    let server = Server::start();
    let binary = binary_body();
    let text = "Zählerstand: 42 m³\nline 2 — ok".as_bytes().to_vec();
    server.reply(
        "/image",
        Reply::status(200)
            .header("Content-Type", "image/png")
            .body(binary.clone()),
    );
    server.reply(
        "/text",
        Reply::status(200)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(text.clone()),
    );
    env.ok(&["register", "image", "--url", &server.url("/image")]);
    env.ok(&["register", "text", "--url", &server.url("/text")]);
    let image = env.schedule(&["image", "--at", "now"]);
    let text_task = env.schedule(&["text", "--at", "now"]);
    env.ok(&["tick"]);

    let (stdout, stderr) = body_of(&env, image);
    assert_eq!(stdout, binary, "the binary body, exactly");
    assert_eq!(stderr, "", "nothing else is said");
    let (stdout, _) = body_of(&env, text_task);
    assert_eq!(stdout, text, "the text body, exactly, no newline added");

    // `show` itself still summarises the binary one.
    let printed = env.ok(&["show", &image.to_string()]);
    assert!(
        printed.contains(&format!("image/png: {} bytes of binary data", binary.len())),
        "{printed}"
    );
    assert_eq!(show(&env, image)["attempts"][0]["body_binary"], true);
}

#[test]
fn the_latest_attempt_that_got_a_response_gives_the_body() {
    let mut env = Env::new();
    let server = Server::start();
    server.script(
        "/busy",
        vec![
            Reply::status(503).body(&b"first: busy"[..]),
            Reply::status(503).body(&b"second: still busy"[..]),
        ],
    );
    env.ok(&["register", "busy", "--url", &server.url("/busy")]);
    let id = env.schedule(&["busy", "--at", "now"]);
    env.ok(&["tick"]);
    assert_eq!(body_of(&env, id).0, b"first: busy");
    env.now("2026-11-25T12:10:00Z");
    env.ok(&["tick"]);
    assert_eq!(body_of(&env, id).0, b"second: still busy");

    // The third attempt gets no response at all: the second's body is still the last one.
    env.ok(&["register", "busy", "--url", &refused_url("/busy")]);
    env.now("2026-11-25T12:30:00Z");
    env.ok(&["tick"]);
    let shown = show(&env, id);
    assert_eq!(shown["attempts"].as_array().unwrap().len(), 3, "{shown:#}");
    assert_eq!(
        shown["attempts"][2]["body"],
        serde_json::Value::Null,
        "{shown:#}"
    );
    assert_eq!(body_of(&env, id).0, b"second: still busy");
}

#[test]
fn an_empty_body_is_an_empty_output() {
    let env = Env::new();
    let server = Server::start();
    server.reply("/done", Reply::status(204).body(Vec::new()));
    env.ok(&["register", "done", "--url", &server.url("/done")]);
    let id = env.schedule(&["done", "--at", "now"]);
    env.ok(&["tick"]);
    assert_eq!(body_of(&env, id).0, b"");
}

#[test]
fn no_body_or_no_task_exits_3() {
    let env = Env::new();
    env.ok(&["register", "nowhere", "--url", &refused_url("/x")]);
    let waiting = env.schedule(&["nowhere", "--at", "2026-11-26T08:00:00Z"]);
    let (stdout, stderr) = exits(&env, &["show", &waiting.to_string(), "--body"], 3);
    assert_eq!(stdout, "");
    assert!(
        stderr.contains(&format!("task {waiting}")) && stderr.contains("no stored response body"),
        "{stderr}"
    );

    // Attempted, but no response: still no body.
    let refused = env.schedule(&["nowhere", "--at", "now"]);
    env.ok(&["tick"]);
    assert_eq!(show(&env, refused)["attempts"].as_array().unwrap().len(), 1);
    let (stdout, stderr) = exits(&env, &["show", &refused.to_string(), "--body"], 3);
    assert_eq!(stdout, "");
    assert!(stderr.contains("no stored response body"), "{stderr}");

    let (stdout, stderr) = exits(&env, &["show", "9999", "--body"], 3);
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("9999") && stderr.contains("does not exist"),
        "{stderr}"
    );
}

#[test]
fn json_gives_the_body_in_base64() {
    let env = Env::new();
    let server = Server::start();
    let binary = binary_body();
    server.reply(
        "/image",
        Reply::status(201)
            .header("Content-Type", "image/png")
            .body(binary.clone()),
    );
    env.ok(&["register", "image", "--url", &server.url("/image")]);
    let id = env.schedule(&["image", "--at", "now"]);
    env.ok(&["tick"]);
    let json = env.json(&["show", &id.to_string(), "--body"]);
    assert_eq!(json["id"], id);
    assert_eq!(json["attempt"], 1);
    assert_eq!(json["status"], 201);
    assert_eq!(json["content_type"], "image/png");
    assert_eq!(json["body_bytes"], binary.len());
    assert_eq!(json["body_truncated"], false);
    let decoded = STANDARD
        .decode(
            json["body_base64"]
                .as_str()
                .expect("body_base64 is a string"),
        )
        .expect("body_base64 is base64");
    assert_eq!(decoded, binary);
}

#[test]
fn a_body_cut_at_the_stored_limit_is_written_as_stored_with_a_note() {
    let env = Env::new();
    let server = Server::start();
    let big: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    server.reply("/big", Reply::status(200).body(big.clone()));
    env.ok(&["register", "big", "--url", &server.url("/big")]);
    let id = env.schedule(&["big", "--at", "now"]);
    env.ok(&["tick"]);
    let (stdout, stderr) = body_of(&env, id);
    assert_eq!(stdout, big[..64 * 1024], "the first 64 KiB, as stored");
    assert!(stderr.contains("cut at the stored limit"), "{stderr}");
}
