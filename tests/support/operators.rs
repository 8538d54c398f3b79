//! Helpers for the operator-command tests (retry, prune, status, register --file, deprecation,
//! schedule --file): runners that expect a given exit code, readers for `show --json` and
//! `list --json`, a read-only row count, and a local HTTP server that can hold a request
//! unanswered so that a tick stays `running` for as long as a test needs.
//! Included with `#[path = "support/operators.rs"] mod operators;` next to `mod common;`.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use crate::common::Env;

/// Runs a command that must exit with `code`; returns (stdout, stderr).
pub fn exits(env: &Env, args: &[&str], code: i32) -> (String, String) {
    let out = env.cmd(args).output().expect("run httpat");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "httpat {args:?} should exit {code}\nstdout: {stdout}\nstderr: {stderr}"
    );
    (stdout, stderr)
}

/// Runs a command that must exit with `code` and change nothing a user could see; returns its
/// stderr.
pub fn refused_unchanged(env: &Env, args: &[&str], code: i32) -> String {
    let before = env.dump();
    let (_, stderr) = exits(env, args, code);
    assert_eq!(
        before,
        env.dump(),
        "httpat {args:?} exited {code} but changed the database"
    );
    stderr
}

/// `show --json ID`.
pub fn show(env: &Env, id: i64) -> Value {
    env.json(&["show", &id.to_string()])
}

/// A task's state as `show --json` gives it.
pub fn state_of(env: &Env, id: i64) -> String {
    show(env, id)["state"]
        .as_str()
        .expect("show --json has a state")
        .to_string()
}

/// The ids `list --json` returns for these extra arguments (limit raised to see them all).
pub fn listed_ids(env: &Env, extra: &[&str]) -> Vec<i64> {
    let mut args = vec!["list", "--limit", "100000"];
    args.extend_from_slice(extra);
    env.json(&args)["tasks"]
        .as_array()
        .expect("list --json has tasks")
        .iter()
        .map(|task| task["id"].as_i64().expect("a task id"))
        .collect()
}

/// `list --json --state STATE`'s `matched` count.
pub fn matched(env: &Env, state: &str) -> u64 {
    env.json(&["list", "--state", state, "--limit", "1"])["matched"]
        .as_u64()
        .expect("list --json has matched")
}

/// One number from the database, read without changing it (for what no command reports).
pub fn count(db: &Path, sql: &str) -> i64 {
    // Read-write without create, as `dump_database` does: a read-only open of a WAL database
    // may fail for want of its shared-memory file. Only SELECTs are run.
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open the database to count");
    conn.query_row(sql, [], |row| row.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Starts the real binary without waiting for it, with the same environment as `Env::cmd`
/// and the clock pinned at `now`.
pub fn spawn(env: &Env, now: &str, args: &[&str]) -> Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_httpat"))
        .args(args)
        .env("HTTPAT_DB", &env.db)
        .env("HTTPAT_LOG", &env.log)
        .env("HTTPAT_NOW", now)
        .env("TZ", "UTC")
        .env("USER", "tester")
        .env("HOME", env.dir.path())
        .env("XDG_DATA_HOME", env.dir.path().join("xdg"))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start httpat")
}

/// A local HTTP server on 127.0.0.1:0 that answers each path with its configured status (200
/// by default), one request per connection, each on its own thread, and can hold requests to
/// chosen paths unanswered until `release` is called: a tick then stays `running`.
pub struct HoldingServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<ServerState>,
    changed: Condvar,
}

#[derive(Default)]
struct ServerState {
    statuses: HashMap<String, u16>,
    held: HashSet<String>,
    received: Vec<String>,
    stopped: bool,
}

impl HoldingServer {
    pub fn start() -> HoldingServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("the test server's address");
        let shared = Arc::new(Shared::default());
        {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if shared.state.lock().expect("server lock").stopped {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let shared = Arc::clone(&shared);
                    std::thread::spawn(move || answer(stream, &shared));
                }
            });
        }
        HoldingServer { addr, shared }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn answer(&self, path: &str, status: u16) {
        self.lock().statuses.insert(path.to_string(), status);
    }

    /// Requests to `path` get no answer until `release`.
    pub fn hold(&self, path: &str) {
        self.lock().held.insert(path.to_string());
    }

    pub fn release(&self) {
        self.lock().held.clear();
        self.shared.changed.notify_all();
    }

    /// Paths of every request received so far, in order of arrival.
    pub fn received(&self) -> Vec<String> {
        self.lock().received.clone()
    }

    /// Waits until `n` requests have arrived (a synchronisation, not a timing assertion: the
    /// generous limit only keeps a broken build from hanging).
    pub fn wait_for(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut state = self.lock();
        while state.received.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "expected {n} requests, got {:?}",
                state.received
            );
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .expect("server lock")
                .0;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ServerState> {
        self.shared.state.lock().expect("server lock")
    }
}

/// Reads one request (line, headers, a Content-Length body), waits while its path is held, and
/// answers with `Connection: close`.
fn answer(stream: TcpStream, shared: &Shared) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let url = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 {
            return;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let path = url.split('?').next().unwrap_or("").to_string();
    let mut state = shared.state.lock().expect("server lock");
    state.received.push(path.clone());
    shared.changed.notify_all();
    while state.held.contains(&path) {
        state = shared.changed.wait(state).expect("server lock");
    }
    let status = state.statuses.get(&path).copied().unwrap_or(200);
    drop(state);
    let response =
        format!("HTTP/1.1 {status} Status\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    let _ = writer.write_all(response.as_bytes());
    let _ = writer.flush();
}

impl Drop for HoldingServer {
    fn drop(&mut self) {
        self.lock().stopped = true;
        self.release();
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}
