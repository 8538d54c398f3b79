//! Helpers for the reliability suite: a threaded local server that counts deliveries by
//! `Idempotency-Key` (optionally slow), bulk scheduling through one `schedule --file -`, ticks
//! as child processes on a moving pinned clock, and read-only questions to the database.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use crate::common::Env;

/// The instant the suites start from; ticks move on a minute at a time from here, as cron would.
pub const BASE: &str = "2026-11-25T12:00:00.000Z";

/// A bound on how long a test waits for something that should take well under it: a guard
/// against hangs, never a timing assertion.
pub const PATIENCE: Duration = Duration::from_secs(60);

struct Shared {
    by_key: Mutex<HashMap<String, usize>>,
    total: AtomicUsize,
    without_key: AtomicUsize,
    delay_min_ms: AtomicU64,
    delay_max_ms: AtomicU64,
    stopping: AtomicBool,
}

/// A local HTTP/1.1 server on 127.0.0.1:0, one thread per connection (keep-alive honoured), so
/// that any number of requests can be in flight. Answers 200 to everything, after a random
/// delay in a configured range, and counts every request by its `Idempotency-Key` when it
/// arrives (before the delay: "it reached the endpoint"). Plain std, so that what it measures
/// is httpat, not a server library.
pub struct KeyServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl KeyServer {
    /// `_workers` is accepted for symmetry with other test servers: every connection gets its
    /// own thread.
    pub fn start(_workers: usize) -> KeyServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("the server's address");
        let shared = Arc::new(Shared {
            by_key: Mutex::new(HashMap::new()),
            total: AtomicUsize::new(0),
            without_key: AtomicUsize::new(0),
            delay_min_ms: AtomicU64::new(0),
            delay_max_ms: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
        });
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&accepting);
                std::thread::spawn(move || {
                    let _ = serve(stream, &shared);
                });
            }
        });
        KeyServer { addr, shared }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Every answer waits a random time in `min..=max` before it is written.
    pub fn set_delay(&self, min: Duration, max: Duration) {
        self.shared
            .delay_min_ms
            .store(min.as_millis() as u64, Ordering::SeqCst);
        self.shared.delay_max_ms.store(
            max.as_millis().max(min.as_millis()) as u64,
            Ordering::SeqCst,
        );
    }

    pub fn total(&self) -> usize {
        self.shared.total.load(Ordering::SeqCst)
    }

    pub fn without_key(&self) -> usize {
        self.shared.without_key.load(Ordering::SeqCst)
    }

    /// How many requests arrived per `Idempotency-Key`.
    pub fn deliveries(&self) -> HashMap<String, usize> {
        self.shared.by_key.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests have arrived; false if they did not within PATIENCE.
    pub fn wait_for(&self, n: usize) -> bool {
        let deadline = Instant::now() + PATIENCE;
        while self.total() < n {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

impl Drop for KeyServer {
    /// Stops accepting (a last connection wakes the accept loop); connection threads end when
    /// their client goes.
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

/// Serves one connection: requests one after another until the client closes it.
fn serve(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut content_length = 0usize;
        let mut chunked = false;
        let mut close = false;
        let mut key = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => content_length = value.parse().unwrap_or(0),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                "idempotency-key" => key = Some(value.to_string()),
                _ => {}
            }
        }
        if chunked {
            skip_chunked(&mut reader)?;
        } else {
            let mut body = vec![0u8; content_length];
            reader.read_exact(&mut body)?;
        }
        match key {
            Some(key) => *shared.by_key.lock().unwrap().entry(key).or_insert(0) += 1,
            None => {
                shared.without_key.fetch_add(1, Ordering::SeqCst);
            }
        }
        shared.total.fetch_add(1, Ordering::SeqCst);
        let min = shared.delay_min_ms.load(Ordering::SeqCst);
        let max = shared.delay_max_ms.load(Ordering::SeqCst);
        if max > 0 {
            std::thread::sleep(Duration::from_millis(rand::random_range(min..=max)));
        }
        writer.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
        )?;
        writer.flush()?;
        if close {
            return Ok(());
        }
    }
}

/// Reads past a chunked body.
fn skip_chunked(reader: &mut BufReader<TcpStream>) -> std::io::Result<()> {
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
            .unwrap_or(0);
        let mut chunk = vec![0u8; size + 2];
        reader.read_exact(&mut chunk)?;
        if size == 0 {
            return Ok(());
        }
    }
}

/// An instant `minutes` after BASE, as RFC 3339.
pub fn minute(minutes: i64) -> String {
    let at = chrono::DateTime::parse_from_rfc3339(BASE).expect("BASE is RFC 3339");
    (at + chrono::Duration::minutes(minutes))
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The real binary as a std `Command` (spawnable, killable), with `Env::cmd`'s environment and
/// the clock pinned at `now`.
pub fn httpat(env: &Env, now: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_httpat"));
    cmd.args(args)
        .env("HTTPAT_DB", &env.db)
        .env("HTTPAT_LOG", &env.log)
        .env("HTTPAT_NOW", now)
        .env("TZ", "UTC")
        .env("USER", "tester")
        .env("HOME", env.dir.path())
        .env("XDG_DATA_HOME", env.dir.path().join("xdg"))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}

/// Runs a command to the end and returns its output.
pub fn run(mut cmd: Command) -> Output {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run httpat")
}

pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// JSON Lines for `schedule --file -`: `count` tasks to `endpoint` at `at`, keys
/// `{prefix}{n}`, each with its own argument.
pub fn task_lines(endpoint: &str, at: &str, prefix: &str, count: usize) -> String {
    let mut lines = String::with_capacity(count * 96);
    for n in 0..count {
        let line = serde_json::json!({
            "endpoint": endpoint,
            "at": at,
            "args": {"n": n},
            "key": format!("{prefix}{n}"),
        });
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    lines
}

/// `httpat schedule --file -` with `lines` on stdin, at `now`; returns the output.
pub fn schedule_file(env: &Env, now: &str, lines: &str) -> Output {
    let mut child = httpat(env, now, &["schedule", "--file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start httpat schedule --file -");
    let mut stdin = child.stdin.take().expect("piped stdin");
    // A writer thread: the child may answer before it has read everything.
    let lines = lines.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(lines.as_bytes());
    });
    let out = child.wait_with_output().expect("wait for httpat schedule");
    writer.join().expect("the stdin writer");
    out
}

/// Schedules `count` tasks with one `schedule --file -` call that must succeed; returns the
/// ids it printed, one per line in input order.
pub fn schedule_all(env: &Env, endpoint: &str, prefix: &str, count: usize) -> Vec<i64> {
    let out = schedule_file(env, BASE, &task_lines(endpoint, BASE, prefix, count));
    assert!(
        out.status.success(),
        "schedule --file -: {}",
        describe(&out)
    );
    let ids: Vec<i64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| line.trim().parse().expect("an id per line"))
        .collect();
    assert_eq!(ids.len(), count, "ids printed by schedule --file -");
    ids
}

/// Starts `httpat tick ARGS` at `now` without waiting.
pub fn spawn_tick(env: &Env, now: &str, args: &[&str]) -> Child {
    let mut full = vec!["tick"];
    full.extend_from_slice(args);
    httpat(env, now, &full)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start httpat tick")
}

/// Runs `httpat tick ARGS` at `now` to the end; panics unless it exits 0 with nothing on
/// stderr (cron's convention: silence when all is well).
pub fn tick(env: &Env, now: &str, args: &[&str]) -> Output {
    let out = spawn_tick(env, now, args)
        .wait_with_output()
        .expect("wait for httpat tick");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "httpat tick {args:?} at {now}: {}",
        describe(&out)
    );
    out
}

/// A connection for reading what the commands cannot show in bulk. Read-write without
/// create: a read-only open of a WAL database may fail for want of its shared-memory file.
pub fn connect(db: &Path) -> Connection {
    Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open the database to read it")
}

pub fn count(db: &Path, sql: &str) -> i64 {
    connect(db)
        .query_row(sql, [], |row| row.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Tasks not finished (scheduled, due, running or retrying).
pub fn unfinished(db: &Path) -> i64 {
    count(db, "SELECT count(*) FROM tasks WHERE outcome IS NULL")
}

/// Runs ticks a minute apart from `first_minute` until no task is unfinished, at most
/// `max_ticks`; returns the minute after the last tick.
pub fn tick_until_done(env: &Env, first_minute: i64, max_ticks: i64) -> i64 {
    let mut at = first_minute;
    while unfinished(&env.db) > 0 && at < first_minute + max_ticks {
        tick(env, &minute(at), &[]);
        at += 1;
    }
    at
}

/// Per task key: the outcomes of its attempts in attempt order ("<in flight>" while none).
pub fn attempts_by_key(db: &Path) -> HashMap<String, Vec<String>> {
    let conn = connect(db);
    let mut stmt = conn
        .prepare(
            "SELECT t.key, a.outcome FROM attempts a JOIN tasks t ON t.id = a.task_id \
             ORDER BY a.task_id, a.number",
        )
        .expect("query attempts");
    let rows = stmt
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?))
        })
        .expect("query attempts");
    let mut by_key: HashMap<String, Vec<String>> = HashMap::new();
    for row in rows {
        let (key, outcome) = row.expect("an attempt row");
        by_key
            .entry(key)
            .or_default()
            .push(outcome.unwrap_or_else(|| "<in flight>".to_string()));
    }
    by_key
}

/// What one crash round left behind.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub tasks: usize,
    /// Acknowledged tasks missing, or not succeeded once ticks ran until nothing was due.
    pub lost: Vec<String>,
    /// Tasks still held by a tick.
    pub stuck: usize,
    /// Tasks that reached the endpoint more than once.
    pub duplicates: usize,
    /// Of those, the ones whose story does not explain it: not every attempt before the
    /// success `interrupted`, or more deliveries than attempts.
    pub unexplained: Vec<String>,
}

/// Checks the database and the deliveries against the keys `schedule` acknowledged.
pub fn tally(db: &Path, acknowledged: &[String], deliveries: &HashMap<String, usize>) -> Tally {
    let conn = connect(db);
    let outcome_of: HashMap<String, Option<String>> = {
        let mut stmt = conn
            .prepare("SELECT key, outcome FROM tasks WHERE key IS NOT NULL")
            .expect("query tasks");
        let rows = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("query tasks");
        rows.map(|row| row.expect("a task row")).collect()
    };
    let stuck = conn
        .query_row(
            "SELECT count(*) FROM tasks WHERE tick_id IS NOT NULL",
            [],
            |row| row.get::<_, i64>(0),
        )
        .expect("count running tasks") as usize;
    let attempts = attempts_by_key(db);
    let mut tally = Tally {
        tasks: acknowledged.len(),
        stuck,
        ..Tally::default()
    };
    for key in acknowledged {
        match outcome_of.get(key) {
            Some(Some(outcome)) if outcome == "succeeded" => {}
            other => tally.lost.push(format!("{key}: outcome {other:?}")),
        }
        let delivered = deliveries.get(key).copied().unwrap_or(0);
        if delivered == 0 {
            tally
                .lost
                .push(format!("{key}: never reached the endpoint"));
        }
        if delivered <= 1 {
            continue;
        }
        tally.duplicates += 1;
        let story = attempts.get(key).cloned().unwrap_or_default();
        let explained = story.split_last().is_some_and(|(last, before)| {
            last == "success" && !before.is_empty() && before.iter().all(|o| o == "interrupted")
        }) && delivered <= story.len();
        if !explained {
            let errors: Vec<Option<String>> = conn
                .prepare(
                    "SELECT a.error FROM attempts a JOIN tasks t ON t.id = a.task_id \
                     WHERE t.key = ?1 ORDER BY a.number",
                )
                .and_then(|mut stmt| {
                    stmt.query_map([key], |row| row.get(0))?
                        .collect::<rusqlite::Result<_>>()
                })
                .expect("query attempt errors");
            tally.unexplained.push(format!(
                "{key}: delivered {delivered} times, attempts {story:?}, errors {errors:?}"
            ));
        }
    }
    tally
}
