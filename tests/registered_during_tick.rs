//! An endpoint registered while a tick drains a backlog: the tick reads it when it first claims
//! one of its tasks, so that the task is sent (not cancelled as if its endpoint were gone), and
//! one whose variables the tick lacks waits, as it would have had it been there from the start.

mod common;

use std::time::Duration;

use common::{spawn_tick, Env, Reply, Server, DEFAULT_NOW};

#[test]
fn an_endpoint_registered_during_a_tick_is_sent_to_or_waits_but_is_never_cancelled() {
    let env = Env::new();
    let server = Server::start();
    server.reply("/slow", Reply::status(200).delay(Duration::from_millis(20)));
    env.ok(&["register", "slow", "--url", &server.url("/slow")]);
    let lines: String = (0..200)
        .map(|i| format!("{{\"endpoint\": \"slow\", \"in\": \"0s\", \"args\": {{\"n\": {i}}}}}\n"))
        .collect();
    let backlog = env.path("backlog.jsonl");
    std::fs::write(&backlog, lines).unwrap();
    env.ok(&["schedule", "--file", backlog.to_str().unwrap()]);
    let tick = spawn_tick(
        &env,
        DEFAULT_NOW,
        &["--concurrency", "1", "--max-runtime", "50s"],
    );
    assert!(server.wait_for(1), "the tick has begun sending");
    env.ok(&["register", "newcomer", "--url", &server.url("/newcomer")]);
    env.ok(&[
        "register",
        "secretive",
        "--url",
        &server.url("/secretive"),
        "--header",
        "Authorization: Bearer ${NEWCOMER_TOKEN}",
    ]);
    let sent = env.schedule(&["newcomer", "--in", "0s"]);
    let waits = env.schedule(&["secretive", "--in", "0s"]);
    let out = tick.wait_with_output().unwrap();
    assert_eq!(
        server.requests_to("/slow").len(),
        200,
        "{}",
        common::describe(&out)
    );
    assert_eq!(common::state_of(&env, sent), "succeeded");
    assert_eq!(server.requests_to("/newcomer").len(), 1);
    let waiting = common::show(&env, waits);
    assert_eq!(waiting["state"], "due", "{waiting:#}");
    assert_eq!(waiting["attempts"], serde_json::json!([]));
    assert!(server.requests_to("/secretive").is_empty());
}
