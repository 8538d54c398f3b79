//! A local HTTP/1.1 server for the tests, on 127.0.0.1:0: one thread per connection (so any
//! number of requests can be in flight, and a slow answer holds up no other), keep-alive, each
//! request recorded when it arrives, each path answered with its scripted `Reply`s.
//!
//! Plain std rather than a server library, so that what the tests measure is httpat (tiny_http's
//! connection pool can leave a new connection queued behind idle keep-alive ones until a client
//! times out, which would show up as a spurious timeout). A request is recorded before any delay
//! or hold, so a test can tell "the request reached the endpoint" from "the tick got the answer".
//! `https.rs` puts the same server behind TLS (`Server::start_with`).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a test waits for something that should take well under it before it gives up and
/// fails: a guard against hangs, never a timing assertion.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// One request as the test server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// When its head and body had arrived.
    pub received_at: Instant,
    /// When its answer was sent (None while it has none).
    pub answered_at: Option<Instant>,
    /// How many requests to its path were in flight (arrived, not yet answered) when it
    /// arrived, itself included.
    pub in_flight: usize,
}

impl Recorded {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The URL without its query string.
    pub fn path(&self) -> &str {
        self.url.split('?').next().unwrap_or("")
    }
}

/// How the server answers one request to a path.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// How long to wait before answering, on top of the server's own delay.
    pub delay: Duration,
    /// When set, the value of this request header is appended to the body (and put in place of
    /// `{echo}` in every header value), as a careless endpoint would echo a token back.
    pub echo: Option<String>,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: b"ok".to_vec(),
            delay: Duration::ZERO,
            echo: None,
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

    pub fn echo(mut self, request_header: &str) -> Reply {
        self.echo = Some(request_header.to_string());
        self
    }
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    /// Per path: the replies still to give, in order; the last one is repeated.
    scripts: HashMap<String, Vec<Reply>>,
    /// Paths whose requests get no answer until `release`.
    held: HashSet<String>,
    /// Every answer waits a random time in this range (both ends included).
    delay: (Duration, Duration),
    /// Connections accepted (a TLS handshake each, behind `https.rs`).
    connections: usize,
    /// Per path: requests arrived and not yet answered.
    in_flight: HashMap<String, usize>,
    stopped: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Signalled when a request arrives or the held paths change.
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("test server lock")
    }
}

/// The server. Stops accepting (and lets held requests go) when dropped; a connection thread
/// ends when its client hangs up, and one still sleeping on a slow answer is not waited for.
pub struct Server {
    addr: SocketAddr,
    scheme: &'static str,
    shared: Arc<Shared>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with("http", Some)
    }

    /// A server whose URLs have `scheme` and whose connections are first passed through `wrap`
    /// (a TLS layer); a connection `wrap` gives nothing for is dropped.
    pub fn start_with<S, W>(scheme: &'static str, wrap: W) -> Server
    where
        S: Read + Write,
        W: Fn(TcpStream) -> Option<S> + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("the test server's address");
        let shared = Arc::new(Shared::default());
        let wrap = Arc::new(wrap);
        {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if shared.lock().stopped {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    shared.lock().connections += 1;
                    let shared = Arc::clone(&shared);
                    let wrap = Arc::clone(&wrap);
                    std::thread::spawn(move || {
                        if let Some(stream) = wrap(stream) {
                            serve_connection(stream, &shared);
                        }
                    });
                }
            });
        }
        Server {
            addr,
            scheme,
            shared,
        }
    }

    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The full URL of `path` (which starts with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme, self.addr, path)
    }

    /// Answers requests to `path` (without query string) with this status and body.
    pub fn answer(&self, path: &str, status: u16, body: &str) {
        self.reply(path, Reply::status(status).body(body));
    }

    /// Answers requests to `path` (without query string) with `reply` from now on.
    pub fn reply(&self, path: &str, reply: Reply) {
        self.script(path, vec![reply]);
    }

    /// Requests to `path` get these replies in order, the last one repeated (200 by default).
    pub fn script(&self, path: &str, replies: Vec<Reply>) {
        self.shared.lock().scripts.insert(path.to_string(), replies);
    }

    /// Every answer waits this long before it is written (on top of its reply's own delay).
    pub fn set_delay(&self, delay: Duration) {
        self.set_delay_between(delay, delay);
    }

    /// Every answer waits a random time in `min..=max` before it is written.
    pub fn set_delay_between(&self, min: Duration, max: Duration) {
        self.shared.lock().delay = (min, max.max(min));
    }

    /// Requests to `path` get no answer until `release`: a tick then stays `running`.
    pub fn hold(&self, path: &str) {
        self.shared.lock().held.insert(path.to_string());
    }

    /// Answers every held request.
    pub fn release(&self) {
        self.shared.lock().held.clear();
        self.shared.changed.notify_all();
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// The requests whose path (without query string) is `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path() == path)
            .collect()
    }

    /// How many connections clients have opened.
    pub fn connections(&self) -> usize {
        self.shared.lock().connections
    }

    /// How many requests have arrived.
    pub fn count(&self) -> usize {
        self.shared.lock().requests.len()
    }

    /// Waits until at least `n` requests have arrived; false if they did not within PATIENCE.
    pub fn wait_for(&self, n: usize) -> bool {
        let deadline = Instant::now() + PATIENCE;
        let mut state = self.shared.lock();
        while state.requests.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .expect("test server lock")
                .0;
        }
        true
    }

    /// How many requests arrived per `Idempotency-Key` (requests without one are not counted
    /// here; see `without_key`).
    pub fn deliveries_by_key(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for request in self.shared.lock().requests.iter() {
            if let Some(key) = request.header("Idempotency-Key") {
                *counts.entry(key.to_string()).or_insert(0) += 1;
            }
        }
        counts
    }

    /// How many requests arrived without an `Idempotency-Key`.
    pub fn without_key(&self) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.header("Idempotency-Key").is_none())
            .count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.lock().stopped = true;
        self.release();
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Serves the requests of one connection in order until the client hangs up.
fn serve_connection(stream: impl Read + Write, shared: &Shared) {
    let mut reader = BufReader::new(stream);
    while let Some((recorded, keep_alive)) = read_request(&mut reader) {
        let path = recorded.path().to_string();
        let (index, reply, echoed, delay) = receive(shared, recorded);
        std::thread::sleep(delay);
        {
            // Answered from here on: the count drops before the client can hear the answer.
            let mut state = shared.lock();
            if let Some(n) = state.in_flight.get_mut(&path) {
                *n -= 1;
            }
            state.requests[index].answered_at = Some(Instant::now());
        }
        let mut body = reply.body;
        body.extend_from_slice(echoed.as_bytes());
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Length: {}\r\n",
            reply.status,
            reason(reply.status),
            body.len()
        );
        if !reply
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            head.push_str("Content-Type: text/plain; charset=UTF-8\r\n");
        }
        for (name, value) in &reply.headers {
            head.push_str(&format!("{name}: {}\r\n", value.replace("{echo}", &echoed)));
        }
        if !keep_alive {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        let writer = reader.get_mut();
        let written = writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.write_all(&body))
            .and_then(|()| writer.flush());
        if written.is_err() || !keep_alive {
            return;
        }
    }
}

/// Records a request, waits while its path is held, and picks its reply; returns where it is
/// recorded, the reply, the echoed header value ("" when none) and how long to wait before answering.
fn receive(shared: &Shared, mut recorded: Recorded) -> (usize, Reply, String, Duration) {
    let mut state = shared.lock();
    let in_flight = state
        .in_flight
        .entry(recorded.path().to_string())
        .or_default();
    *in_flight += 1;
    recorded.in_flight = *in_flight;
    let path = recorded.path().to_string();
    let reply = match state.scripts.get_mut(&path) {
        Some(replies) if replies.len() > 1 => replies.remove(0),
        Some(replies) if replies.len() == 1 => replies[0].clone(),
        _ => Reply::status(200),
    };
    let echoed = reply
        .echo
        .as_deref()
        .and_then(|name| recorded.header(name))
        .unwrap_or("")
        .to_string();
    let index = state.requests.len();
    state.requests.push(recorded);
    shared.changed.notify_all();
    while state.held.contains(&path) {
        state = shared.changed.wait(state).expect("test server lock");
    }
    let (min, max) = state.delay;
    let delay = if max > min {
        Duration::from_millis(rand::random_range(
            min.as_millis() as u64..=max.as_millis() as u64,
        ))
    } else {
        min
    };
    let delay = delay + reply.delay;
    (index, reply, echoed, delay)
}

/// Reads one request (request line, headers, a Content-Length or chunked body); None when the
/// client hung up or sent what this server does not know.
fn read_request(reader: &mut impl BufRead) -> Option<(Recorded, bool)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, url) = (parts.next()?.to_string(), parts.next()?.to_string());
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
    let mut recorded = Recorded {
        method,
        url,
        headers,
        body: String::new(),
        received_at: Instant::now(),
        answered_at: None,
        in_flight: 0,
    };
    let mut body = Vec::new();
    if let Some(length) = recorded.header("Content-Length") {
        body.resize(length.parse().ok()?, 0);
        reader.read_exact(&mut body).ok()?;
    } else if recorded
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
    recorded.body = String::from_utf8_lossy(&body).into_owned();
    recorded.received_at = Instant::now();
    let keep_alive = !recorded
        .header("Connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("close"));
    Some((recorded, keep_alive))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
