//! Helpers for the invariant tests: a local HTTP server that answers many requests at once,
//! slowly when asked, with scripted statuses and headers; running `tick` as a child process
//! that a test can kill; and read-only questions to the database.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use crate::common::Env;

/// How long a test waits for something that should happen within milliseconds before it gives
/// up and fails (a bound on hangs, never a timing assertion).
pub const PATIENCE: Duration = Duration::from_secs(20);

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
    /// When set, the value of this request header is appended to the body (and to every
    /// header value holding `{echo}`), as a careless endpoint would echo a token back.
    pub echo: Option<String>,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            body: format!("status {status}"),
            headers: Vec::new(),
            echo: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn echo(mut self, request_header: &str) -> Answer {
        self.echo = Some(request_header.to_string());
        self
    }
}

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The client's address: which connection carried the request.
    pub remote: Option<SocketAddr>,
    pub arrived: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.url.split('?').next().unwrap_or("")
    }
}

struct Shared {
    received: Mutex<Vec<Received>>,
    arrived: Condvar,
    /// Per path: the answers still to give, in order; the last one is repeated.
    scripts: Mutex<HashMap<String, Vec<Answer>>>,
    delay_ms: AtomicU64,
}

/// A local HTTP/1.1 server on 127.0.0.1:0 with one thread per connection, so that any number
/// of requests are in flight at once. (tiny_http's connection pool can leave a new connection
/// queued behind idle keep-alive ones until a client times out, which would show up here as a
/// spurious 30 s timeout.) Each request is recorded when it arrives, before the (optional)
/// delay, so a test can tell "the request reached the endpoint" from "the tick got the answer".
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("the test server's address");
        let shared = Arc::new(Shared {
            received: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
            scripts: Mutex::new(HashMap::new()),
            delay_ms: AtomicU64::new(0),
        });
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (shared, stop) = (Arc::clone(&shared), Arc::clone(&stop));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let shared = Arc::clone(&shared);
                    std::thread::spawn(move || serve_connection(stream, &shared));
                }
            });
        }
        Server { addr, shared, stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Every answer waits this long before it is written.
    pub fn set_delay(&self, delay: Duration) {
        self.shared
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Requests to `path` get these answers in order, the last one repeated (200 by default).
    pub fn script(&self, path: &str, answers: Vec<Answer>) {
        self.shared
            .scripts
            .lock()
            .unwrap()
            .insert(path.to_string(), answers);
    }

    pub fn requests(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.shared.received.lock().unwrap().len()
    }

    /// Waits until at least `n` requests have arrived; false if they did not within PATIENCE.
    pub fn wait_for(&self, n: usize) -> bool {
        let deadline = Instant::now() + PATIENCE;
        let mut received = self.shared.received.lock().unwrap();
        while received.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            received = self.shared.arrived.wait_timeout(received, left).unwrap().0;
        }
        true
    }

    /// How many requests arrived per `Idempotency-Key`.
    pub fn deliveries_by_key(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for request in self.requests() {
            let key = request
                .header("Idempotency-Key")
                .expect("every request carries an Idempotency-Key")
                .to_string();
            *counts.entry(key).or_insert(0) += 1;
        }
        counts
    }
}

impl Drop for Server {
    /// Stops accepting; connection threads end when their clients hang up, and one still
    /// sleeping on a slow answer for a killed tick is not waited for.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Serves the requests of one connection in order until the client hangs up.
fn serve_connection(stream: TcpStream, shared: &Shared) {
    let remote = stream.peer_addr().ok();
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some((received, keep_alive)) = read_request(&mut reader, remote) {
        let answer = {
            let mut scripts = shared.scripts.lock().unwrap();
            match scripts.get_mut(received.path()) {
                Some(answers) if answers.len() > 1 => answers.remove(0),
                Some(answers) if answers.len() == 1 => answers[0].clone(),
                _ => Answer::status(200),
            }
        };
        let echoed = answer
            .echo
            .as_deref()
            .and_then(|name| received.header(name))
            .unwrap_or("")
            .to_string();
        {
            let mut all = shared.received.lock().unwrap();
            all.push(received);
            shared.arrived.notify_all();
        }
        let delay = shared.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        let body = format!("{}{echoed}", answer.body);
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: {}\r\n",
            answer.status,
            reason_phrase(answer.status),
            body.len()
        );
        for (name, value) in &answer.headers {
            head.push_str(&format!("{name}: {}\r\n", value.replace("{echo}", &echoed)));
        }
        if !keep_alive {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        let written = writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.write_all(body.as_bytes()))
            .and_then(|()| writer.flush());
        if written.is_err() || !keep_alive {
            return;
        }
    }
}

/// Reads one request (request line, headers, a Content-Length or chunked body); None when the
/// client hung up or sent something this server does not understand.
fn read_request(
    reader: &mut BufReader<TcpStream>,
    remote: Option<SocketAddr>,
) -> Option<(Received, bool)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, url) = (parts.next()?.to_string(), parts.next()?.to_string());
    let arrived = Instant::now();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut received = Received {
        method,
        url,
        headers,
        body: String::new(),
        remote,
        arrived,
    };
    let mut body = Vec::new();
    if let Some(length) = received.header("Content-Length") {
        let length: usize = length.parse().ok()?;
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    } else if received
        .header("Transfer-Encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    received.body = String::from_utf8_lossy(&body).into_owned();
    let keep_alive = !received
        .header("Connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("close"));
    Some((received, keep_alive))
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        302 => "Found",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// A port on 127.0.0.1 that nothing listens on: bound, then released.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// The real binary as a std `Command` (which, unlike assert_cmd's, can be spawned and killed),
/// with the same environment as `Env::cmd` and the clock pinned at `now`.
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
        .env_remove("IMS_TOKEN")
        .stdin(Stdio::null());
    cmd
}

/// Starts `httpat tick ARGS` at `now` without waiting for it.
pub fn spawn_tick(env: &Env, now: &str, args: &[&str]) -> Child {
    let mut full = vec!["tick"];
    full.extend_from_slice(args);
    httpat(env, now, &full)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start httpat tick")
}

/// Runs `httpat tick ARGS` at `now` to the end; panics unless it exits 0.
pub fn tick(env: &Env, now: &str, args: &[&str]) -> Output {
    let child = spawn_tick(env, now, args);
    let out = child.wait_with_output().expect("wait for httpat tick");
    assert!(
        out.status.success(),
        "httpat tick {args:?} at {now} exited with {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Schedules `count` tasks to `endpoint` at `at`, each with a distinct `n` argument, using a few
/// `schedule` processes at once; returns their ids.
pub fn schedule_many(env: &Env, endpoint: &str, at: &str, count: usize) -> Vec<i64> {
    const PARALLEL: usize = 4;
    let mut ids: Vec<i64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..PARALLEL)
            .map(|lane| {
                scope.spawn(move || {
                    (lane..count)
                        .step_by(PARALLEL)
                        .map(|n| {
                            let n = format!("n={n}");
                            env.schedule(&[endpoint, "--at", at, "--arg", &n])
                        })
                        .collect::<Vec<i64>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a schedule lane"))
            .collect()
    });
    ids.sort_unstable();
    assert_eq!(ids.len(), count);
    ids
}

/// Every task of `list --json` (states as the product decides them), by id.
pub fn states(env: &Env) -> HashMap<i64, serde_json::Value> {
    let list = env.json(&["list", "--limit", "100000"]);
    list["tasks"]
        .as_array()
        .expect("list --json has a tasks array")
        .iter()
        .map(|task| (task["id"].as_i64().expect("a task id"), task.clone()))
        .collect()
}

/// A connection to the database, used only to read and count what the commands cannot show in
/// bulk. Opened read-write without create: a read-only open of a WAL database may fail for want
/// of its shared-memory file, and no test writes through it.
pub fn read_only(db: &Path) -> Connection {
    Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open the database to read it")
}

/// Per task: the outcomes of its attempts, in attempt order (None while in flight).
pub fn attempt_outcomes(db: &Path) -> HashMap<i64, Vec<Option<String>>> {
    let conn = read_only(db);
    let mut stmt = conn
        .prepare("SELECT task_id, outcome FROM attempts ORDER BY task_id, number")
        .expect("query attempts");
    let rows = stmt
        .query_map([], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, Option<String>>(1)?))
        })
        .expect("query attempts");
    let mut outcomes: HashMap<i64, Vec<Option<String>>> = HashMap::new();
    for row in rows {
        let (task, outcome) = row.expect("an attempt row");
        outcomes.entry(task).or_default().push(outcome);
    }
    outcomes
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("read a folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// Whether `haystack` holds `needle` anywhere, as raw bytes.
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// An instant `ms` milliseconds from an RFC 3339 one, as RFC 3339 with milliseconds.
pub fn shift_ms(instant: &str, ms: i64) -> String {
    let at = chrono::DateTime::parse_from_rfc3339(instant).expect("an RFC 3339 instant");
    (at + chrono::Duration::milliseconds(ms))
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Milliseconds from `a` to `b`, both RFC 3339.
pub fn ms_between(a: &str, b: &str) -> i64 {
    let a = chrono::DateTime::parse_from_rfc3339(a).expect("an RFC 3339 instant");
    let b = chrono::DateTime::parse_from_rfc3339(b).expect("an RFC 3339 instant");
    (b - a).num_milliseconds()
}
