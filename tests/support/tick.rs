//! Helpers for the tick tests: a scriptable local HTTP server (status, headers, body size, delay
//! per path), an address where nothing listens, and readers for `show --json` and the `ticks`
//! table. Included with `#[path = "support/tick.rs"] mod tick_support;` next to `mod common;`.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use crate::common::Env;

/// The local test server, under the name these tests know it by.
pub use crate::common::{Reply, Server as Stub};

/// A URL on 127.0.0.1 where nothing listens: a port bound, then closed.
pub fn refused_url(path: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    drop(listener);
    format!("http://{addr}{path}")
}

/// `show --json ID`.
pub fn show(env: &Env, id: i64) -> Value {
    env.json(&["show", &id.to_string()])
}

/// A task's state as `show --json` gives it.
pub fn state(env: &Env, id: i64) -> String {
    show(env, id)["state"]
        .as_str()
        .expect("show --json has a state")
        .to_string()
}

/// Parses an RFC 3339 instant as the JSON output prints it.
pub fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// A string field of a JSON document, or a panic naming it.
pub fn text<'a>(document: &'a Value, field: &str) -> &'a str {
    document[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string in {document:#}"))
}

/// Runs `httpat tick ARGS` to success and returns how long it took on the wall clock, so that
/// a test can allow for the tick's own running time when it checks a time the tick computed.
pub fn tick(env: &Env, args: &[&str]) -> Duration {
    let mut full = vec!["tick"];
    full.extend_from_slice(args);
    let started = Instant::now();
    env.ok(&full);
    started.elapsed()
}

/// Runs a tick at the task's `next_attempt_at` (the earliest it may be sent again).
pub fn tick_at_next_attempt(env: &mut Env, id: i64) {
    let next = text(&show(env, id), "next_attempt_at").to_string();
    env.now(&next);
    tick(env, &[]);
}

/// How many rows the `ticks` table holds, read through a read-only connection.
pub fn tick_rows(db: &Path) -> i64 {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the database read-only");
    conn.query_row("SELECT count(*) FROM ticks", [], |row| row.get(0))
        .expect("count the ticks")
}
