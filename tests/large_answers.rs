//! A drain whose answers are large (up to the stored 64 KiB each) holds fewer tasks at once than
//! one of small answers: every answered task waits in memory, with its body, until it is
//! written, so a tick that held as many large answers as small ones held tens of megabytes
//! (bench/run's rows 6b and P6b measure the memory). And an answer whose headers are large is
//! still read. Both backends.

mod common;

use std::time::{Duration, Instant};

use common::{count, describe, spawn_tick, Env, Reply, Server, PATIENCE};

const NOW: &str = "2026-03-01T12:00:00Z";
const TASKS: usize = 600;
const LARGE: usize = 64 * 1024;

/// Drains TASKS tasks whose answers carry `body`, each a few milliseconds late, at concurrency
/// 16; returns the most tasks the tick held at once (claimed and not yet recorded), as seen by
/// another connection every 10 ms.
fn most_held_while_draining(env: &Env, server: &Server, body: Vec<u8>) -> i64 {
    server.reply("/answer", Reply::status(200).body(body));
    server.set_delay(Duration::from_millis(3));
    let lines: String = (0..TASKS)
        .map(|n| {
            format!("{{\"endpoint\": \"answer\", \"at\": \"now\", \"args\": {{\"n\": {n}}}}}\n")
        })
        .collect();
    let file = env.path("tasks.jsonl");
    std::fs::write(&file, lines).unwrap();
    env.ok(&["schedule", "--file", &file.display().to_string()]);

    let mut tick = spawn_tick(env, NOW, &["--concurrency", "16"]);
    let started = Instant::now();
    let mut most = 0;
    while tick.try_wait().expect("poll the tick").is_none() {
        most = most.max(count(
            env,
            "SELECT count(*) FROM tasks WHERE tick_id IS NOT NULL",
        ));
        assert!(started.elapsed() < PATIENCE * 4, "the drain did not end");
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = tick.wait_with_output().expect("wait for the tick");
    assert!(out.status.success(), "{}", describe(&out));
    most
}

#[test]
fn a_drain_of_large_answers_holds_fewer_tasks_at_once_and_stores_every_body_whole() {
    let mut env = Env::new();
    env.now(NOW);
    let server = Server::start();
    env.ok(&["register", "answer", "--url", &server.url("/answer")]);

    let small = most_held_while_draining(&env, &server, b"ok".to_vec());
    let large = most_held_while_draining(&env, &server, vec![b'x'; LARGE]);

    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM tasks WHERE outcome = 'succeeded'"
        ),
        2 * TASKS as i64
    );
    assert_eq!(server.count(), 2 * TASKS, "each task sent once");
    // Every large answer stored whole: the smaller hold costs nothing of what is kept.
    assert_eq!(
        count(
            &env,
            &format!("SELECT count(*) FROM attempts WHERE length(body) = {LARGE}")
        ),
        TASKS as i64
    );
    let id = count(&env, "SELECT max(id) FROM tasks");
    let body = env
        .cmd(&["show", &id.to_string(), "--body"])
        .output()
        .unwrap();
    assert!(body.status.success(), "{}", describe(&body));
    assert_eq!(body.stdout, vec![b'x'; LARGE]);

    // At concurrency 16 a tick claims up to 128 tasks at once; with answers of 64 KiB it keeps
    // about two per worker in its queue, as many on their way to be written, and those in
    // flight: fewer than one claim of small answers.
    assert!(
        small >= 100,
        "the drain of small answers held {small} tasks at most: a tick holds more than that"
    );
    assert!(
        large < 128,
        "the drain of 64 KiB answers held {large} tasks at once (small answers: {small})"
    );
}

#[test]
fn an_answer_whose_headers_take_40_kib_is_read_whole() {
    // A tick reads an answer's status line and headers into a buffer of its own: they may take
    // up to 64 KiB (curl takes 100 KiB), not just what a small answer needs.
    let mut env = Env::new();
    env.now(NOW);
    let server = Server::start();
    server.reply(
        "/cookies",
        Reply::status(200)
            .header("Set-Cookie", &format!("session={}", "c".repeat(40 * 1024)))
            .body("done"),
    );
    env.ok(&["register", "cookies", "--url", &server.url("/cookies")]);
    let id = env.schedule(&["cookies", "--at", NOW]);
    let out = common::httpat(&env, NOW, &["tick"]).output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let task = common::show(&env, id);
    assert_eq!(task["state"], "succeeded", "{task}");
    let body = env
        .cmd(&["show", &id.to_string(), "--body"])
        .output()
        .unwrap();
    assert_eq!(body.stdout, b"done");
}
