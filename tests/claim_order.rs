//! A tick claims due tasks by priority (higher first), then by the time they fell due, then by
//! id, whether few tasks are due (a claim reads them all and orders them) or a backlog is
//! (a claim walks the priority levels); and a claim's cost does not follow how many priority
//! levels the future tasks hold (bench/run measures that; here, only the order).

mod common;
#[path = "support/invariants.rs"]
mod invariants;

use common::{Env, Server};
use invariants::{shift_ms, tick};

const NOW: &str = "2026-12-01T12:00:00.000Z";

/// Schedules `count` due tasks with priorities in -3..=3 and due times spread over the last
/// hour, some sharing a time; plus future tasks at other priorities. Returns the due ones as
/// (id, priority, due offset in ms), in the order a claim must take them.
fn due_tasks(env: &Env, count: usize) -> Vec<(i64, i64, i64)> {
    let mut lines = String::new();
    let mut wanted = Vec::new();
    // A fixed pseudo-random sequence: the same test every run.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for n in 0..count {
        let priority = next(7) as i64 - 3;
        // Multiples of 5 s: many tasks share a due time, so ids decide among them.
        let offset = -((next(720) as i64) * 5_000);
        lines.push_str(&format!(
            "{{\"endpoint\": \"hook\", \"at\": \"{}\", \"priority\": {priority}, \
             \"args\": {{\"n\": {n}}}}}\n",
            shift_ms(NOW, offset)
        ));
        wanted.push((n, priority, offset));
    }
    // Future tasks at many priority levels, above and below: never claimed.
    for level in 0..200 {
        lines.push_str(&format!(
            "{{\"endpoint\": \"hook\", \"in\": \"1h\", \"priority\": {}, \
             \"args\": {{\"future\": {level}}}}}\n",
            level * 50 - 5_000
        ));
    }
    let file = env.path("tasks.jsonl");
    std::fs::write(&file, lines).unwrap();
    let ids: Vec<i64> = env
        .ok(&["schedule", "--file", file.to_str().unwrap()])
        .lines()
        .map(|line| line.trim().parse().unwrap())
        .collect();
    let mut due: Vec<(i64, i64, i64)> = wanted
        .into_iter()
        .map(|(n, priority, offset)| (ids[n], priority, offset))
        .collect();
    due.sort_by_key(|&(id, priority, offset)| (-priority, offset, id));
    due
}

/// The ids the server received, in order of arrival.
fn sent_ids(server: &Server, env: &Env) -> Vec<i64> {
    let by_n: std::collections::HashMap<String, i64> = env.json(&["list", "--limit", "100000"])
        ["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| Some((t["args"]["n"].as_i64()?.to_string(), t["id"].as_i64()?)))
        .collect();
    server
        .requests()
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            by_n[&body["n"].to_string()]
        })
        .collect()
}

fn home(server: &Server) -> Env {
    let mut env = Env::new();
    env.now(NOW);
    env.ok(&["register", "hook", "--url", &server.url("/hook")]);
    env
}

#[test]
fn few_due_tasks_go_by_priority_then_time_then_id() {
    let server = Server::start();
    let env = home(&server);
    let due = due_tasks(&env, 60);
    // One request at a time, one claim at a time: arrivals are the claim order.
    tick(&env, NOW, &["--concurrency", "1"]);
    let expected: Vec<i64> = due.iter().map(|t| t.0).collect();
    assert_eq!(sent_ids(&server, &env), expected);
}

#[test]
fn a_backlog_goes_by_priority_then_time_then_id() {
    let server = Server::start();
    let env = home(&server);
    // More due than a claim reads whole: the claims walk the priority levels.
    let due = due_tasks(&env, 2_500);
    tick(&env, NOW, &["--concurrency", "1", "--limit", "400"]);
    let expected: Vec<i64> = due.iter().take(400).map(|t| t.0).collect();
    assert_eq!(sent_ids(&server, &env), expected);
}
