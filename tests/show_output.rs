//! What `show` and `list` print of what a task went through: a body that is not text is
//! summarised, never dumped into the terminal; control characters of a text body are escaped;
//! `list` shows WHEN a finished task ended and when an unfinished one will be sent, as `show`
//! does.

mod common;

use common::{row_of, show, Env, Reply, Server};

#[test]
fn a_binary_body_is_summarised_and_a_text_body_is_shown_safely() {
    let env = Env::new();
    let server = Server::start();
    let binary: Vec<u8> = vec![0x89, b'P', b'N', b'G', 0x00, 0xff, 0x1b, b'[', b'2', b'J'];
    server.reply(
        "/image",
        Reply::status(200)
            .header("Content-Type", "image/png")
            .body(binary.clone()),
    );
    server.reply(
        "/text",
        Reply::status(200).body(&b"ok \x1b[2J done\nline 2"[..]),
    );
    env.ok(&["register", "image", "--url", &server.url("/image")]);
    env.ok(&["register", "text", "--url", &server.url("/text")]);
    let image = env.schedule(&["image", "--at", "now"]);
    let text = env.schedule(&["text", "--at", "now"]);
    env.ok(&["tick"]);

    let out = env.cmd(&["show", &image.to_string()]).output().unwrap();
    assert!(out.status.success());
    assert!(
        !out.stdout.contains(&0x1b) && !out.stdout.contains(&0x00),
        "raw bytes reached the terminal"
    );
    let printed = String::from_utf8(out.stdout).expect("show prints text");
    assert!(
        printed.contains("image/png: 10 bytes of binary data"),
        "{printed}"
    );
    let shown = show(&env, image);
    let attempt = &shown["attempts"][0];
    assert_eq!(attempt["body"], serde_json::Value::Null, "{attempt:#}");
    assert_eq!(attempt["body_binary"], true);
    assert_eq!(attempt["body_bytes"], 10);

    let printed = env.ok(&["show", &text.to_string()]);
    assert!(!printed.contains('\x1b'), "{printed:?}");
    assert!(printed.contains("ok \\u{1b}[2J done"), "{printed}");
    let attempt = &show(&env, text)["attempts"][0];
    assert_eq!(attempt["body"], "ok \u{1b}[2J done\nline 2");
    assert_eq!(attempt["body_binary"], false);
}

#[test]
fn list_shows_when_a_finished_task_ended_and_when_a_waiting_one_goes() {
    let mut env = Env::new();
    let server = Server::start();
    server.answer("/busy", 503, "busy");
    env.ok(&[
        "register",
        "busy",
        "--url",
        &server.url("/busy"),
        "--max-attempts",
        "2",
    ]);
    let failed = env.schedule(&["busy", "--at", "now"]);
    env.ok(&["tick"]);
    let next = show(&env, failed)["next_attempt_at"]
        .as_str()
        .unwrap()
        .to_string();
    let waiting = env.schedule(&["busy", "--at", "2026-11-26T08:00:00Z"]);
    // The last attempt, five minutes after the retry time.
    env.now("2026-11-25T12:10:00Z");
    env.ok(&["tick"]);
    let shown = show(&env, failed);
    assert_eq!(shown["state"], "failed", "{shown:#}");
    assert_ne!(shown["finished_at"].as_str().unwrap(), next);

    let table = env.ok(&["list", "--utc"]);
    let row = row_of(&table, failed).unwrap();
    assert!(
        row.contains("2026-11-25 12:10:00 UTC"),
        "WHEN is when it failed: {row}"
    );
    let row = row_of(&table, waiting).unwrap();
    assert!(
        row.contains("2026-11-26 08:00:00 UTC"),
        "WHEN is when it goes: {row}"
    );
}
