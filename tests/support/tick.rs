//! Helpers for the tick tests: a scriptable local HTTP server (status, headers, body size, delay
//! per path), an address where nothing listens, and readers for `show --json` and the `ticks`
//! table. Included with `#[path = "support/tick.rs"] mod tick_support;` next to `mod common;`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use crate::common::{Env, Recorded};

/// How the stub answers one path.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// How long to wait before answering.
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: b"ok".to_vec(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = body.into();
        self
    }

    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// A local HTTP server on 127.0.0.1:0 that records every request and answers each path (without
/// query string) with its configured `Reply`, 200 "ok" by default. Each request is answered on
/// its own thread, so a slow answer holds up no other. Stops accepting when dropped.
pub struct Stub {
    http: Arc<tiny_http::Server>,
    addr: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    replies: Arc<Mutex<HashMap<String, Reply>>>,
    thread: Option<JoinHandle<()>>,
}

impl Stub {
    pub fn start() -> Stub {
        let http = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0"));
        let addr = http
            .server_addr()
            .to_ip()
            .expect("the stub listens on an IP address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let replies = Arc::new(Mutex::new(HashMap::new()));
        let thread = {
            let (http, requests, replies) = (http.clone(), requests.clone(), replies.clone());
            std::thread::spawn(move || serve(&http, &requests, &replies))
        };
        Stub {
            http,
            addr,
            requests,
            replies,
            thread: Some(thread),
        }
    }

    /// The full URL of `path` (which starts with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Answers requests to `path` with `reply` from now on.
    pub fn reply(&self, path: &str, reply: Reply) {
        self.replies.lock().unwrap().insert(path.to_string(), reply);
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The requests whose path (without query string) is `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| path_of(&r.url) == path)
            .collect()
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.http.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn path_of(url: &str) -> &str {
    url.split('?').next().unwrap_or("")
}

fn serve(
    http: &tiny_http::Server,
    requests: &Arc<Mutex<Vec<Recorded>>>,
    replies: &Arc<Mutex<HashMap<String, Reply>>>,
) {
    for mut request in http.incoming_requests() {
        let mut body = String::new();
        let _ = request.as_reader().read_to_string(&mut body);
        let recorded = Recorded {
            method: request.method().as_str().to_string(),
            url: request.url().to_string(),
            headers: request
                .headers()
                .iter()
                .map(|h| {
                    (
                        h.field.as_str().as_str().to_string(),
                        h.value.as_str().to_string(),
                    )
                })
                .collect(),
            body,
        };
        let path = path_of(&recorded.url).to_string();
        requests.lock().unwrap().push(recorded);
        let reply = replies
            .lock()
            .unwrap()
            .get(&path)
            .cloned()
            .unwrap_or_else(|| Reply::status(200));
        std::thread::spawn(move || {
            std::thread::sleep(reply.delay);
            let mut response =
                tiny_http::Response::from_data(reply.body).with_status_code(reply.status);
            for (name, value) in &reply.headers {
                let header = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
                    .expect("a valid test header");
                response.add_header(header);
            }
            let _ = request.respond(response);
        });
    }
}

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
