//! Helpers shared by the integration tests: a throw-away database with a pinned clock, runners
//! for the real `httpat` binary (to completion or as a child a test can kill), readers for its
//! JSON output, a logical dump of the database, and local HTTP and HTTPS servers that record
//! what they receive, and a CONNECT proxy.
#![allow(dead_code)]

mod database;
mod http;
pub mod https;
pub mod postgres;
pub mod proxy;
pub mod released;
mod strict_json;

#[allow(unused_imports)]
pub use database::{count, dump_database, open_db, rows};
#[allow(unused_imports)]
pub use http::{Recorded, Reply, Server, PATIENCE};
#[allow(unused_imports)]
pub use strict_json::parse_strict;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Output, Stdio};

use assert_cmd::Command;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tempfile::TempDir;

/// The instant every command believes is "now" unless a test says otherwise.
pub const DEFAULT_NOW: &str = "2026-11-25T12:00:00Z";

/// The factory's endpoint; nothing listens on port 9 (discard), so nothing is ever sent.
pub const RELEASE_ROLL_URL: &str = "http://127.0.0.1:9/rolls/{roll}/release";

/// Which database the tests run on: SQLite, or PostgreSQL with `HTTPAT_TEST_BACKEND=postgres`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backend of this test run: the one switch between the suite's two runs.
pub fn backend() -> Backend {
    match std::env::var("HTTPAT_TEST_BACKEND").as_deref() {
        Ok("postgres") | Ok("postgresql") => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

/// A temporary home for one test: database, log file and the pinned clock.
pub struct Env {
    pub dir: TempDir,
    /// The SQLite file (on PostgreSQL, a path where nothing is ever made).
    pub db: PathBuf,
    pub log: PathBuf,
    now: String,
    /// The test's own PostgreSQL database, on that backend.
    pub pg: Option<postgres::Database>,
}

impl Env {
    /// A home on this run's backend.
    pub fn new() -> Env {
        Env::on(backend())
    }

    /// A home on SQLite whatever the run: for what is about SQLite files (permissions, WAL,
    /// full disks, migrations of a file).
    pub fn sqlite() -> Env {
        Env::on(Backend::Sqlite)
    }

    /// A home on PostgreSQL, or None (after saying why) when no server can be had.
    pub fn postgres(test: &str) -> Option<Env> {
        postgres::server_or_skip(test)?;
        Some(Env::on(Backend::Postgres))
    }

    /// A home with a database of its own on `server`.
    pub fn on_server(server: &'static postgres::Server) -> Env {
        let mut env = Env::on(Backend::Sqlite);
        env.pg = Some(server.database());
        env
    }

    fn on(backend: Backend) -> Env {
        let dir = tempfile::tempdir().expect("create temp dir");
        let db = dir.path().join("httpat.db");
        let log = dir.path().join("httpat.log");
        let pg = (backend == Backend::Postgres).then(|| {
            postgres::server()
                .unwrap_or_else(|why| panic!("HTTPAT_TEST_BACKEND=postgres, but {why}"))
                .database()
        });
        Env {
            dir,
            db,
            log,
            now: DEFAULT_NOW.to_string(),
            pg,
        }
    }

    pub fn backend(&self) -> Backend {
        if self.pg.is_some() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// What `--db` / `HTTPAT_DB` names: the file, or the database's URL.
    pub fn db_arg(&self) -> std::ffi::OsString {
        match &self.pg {
            Some(pg) => pg.url().into(),
            None => self.db.clone().into_os_string(),
        }
    }

    /// Moves the pinned clock (an RFC 3339 instant) for the commands run from now on.
    pub fn now(&mut self, instant: &str) -> &mut Env {
        self.now = instant.to_string();
        self
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The real binary with this environment's database, log, clock and a neutral environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        Command::from_std(httpat(self, &self.now, args))
    }

    /// Runs a command that must succeed and returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().expect("run httpat");
        assert!(out.status.success(), "httpat {args:?}: {}", describe(&out));
        String::from_utf8(out.stdout).expect("stdout is UTF-8")
    }

    /// Runs a command that must succeed and prints JSON; returns the parsed document. A
    /// duplicate key in any object is a failure: a script would read only one of the two.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut with_json = vec!["--json"];
        with_json.extend_from_slice(args);
        let stdout = self.ok(&with_json);
        parse_strict(&stdout).unwrap_or_else(|e| {
            panic!("httpat {args:?} --json printed invalid JSON ({e}):\n{stdout}")
        })
    }

    /// Registers the factory's `release-roll` endpoint.
    pub fn register_release_roll(&self) {
        self.ok(&["register", "release-roll", "--url", RELEASE_ROLL_URL]);
    }

    /// Schedules a task and returns the id printed on stdout.
    pub fn schedule(&self, args: &[&str]) -> i64 {
        let mut full = vec!["schedule"];
        full.extend_from_slice(args);
        let stdout = self.ok(&full);
        parse_id(&stdout)
    }

    /// A logical dump of this environment's database: equal dumps mean nothing a user could
    /// see has changed.
    pub fn dump(&self) -> String {
        database::dump(self)
    }
}

impl Default for Env {
    fn default() -> Self {
        Env::new()
    }
}

/// What the machine's environment may hold that changes where requests go or which
/// certificates are trusted: removed from every command, so that a test sets what it needs.
pub const NETWORK_VARIABLES: [&str; 10] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// The real binary as a std `Command` (which, unlike assert_cmd's, can be spawned and killed),
/// with `env`'s database and log, the clock pinned at `now`, and a neutral environment.
pub fn httpat(env: &Env, now: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_httpat"));
    for name in NETWORK_VARIABLES {
        cmd.env_remove(name);
    }
    cmd.args(args)
        .env("HTTPAT_DB", env.db_arg())
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

/// `inner` (program, arguments and environment) run by `launcher`, a program with its own
/// arguments that ends by executing the command line it is given; stdin is empty.
pub fn run_under(launcher: &[&str], inner: std::process::Command) -> std::process::Command {
    let mut cmd = std::process::Command::new(launcher[0]);
    cmd.args(&launcher[1..])
        .arg(inner.get_program())
        .args(inner.get_args())
        .stdin(Stdio::null());
    for (name, value) in inner.get_envs() {
        match value {
            Some(value) => cmd.env(name, value),
            None => cmd.env_remove(name),
        };
    }
    cmd
}

/// Starts `httpat ARGS` at `now` without waiting for it; stdout and stderr are piped.
pub fn spawn(env: &Env, now: &str, args: &[&str]) -> Child {
    httpat(env, now, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start httpat")
}

/// Starts `httpat tick ARGS` at `now` without waiting for it.
pub fn spawn_tick(env: &Env, now: &str, args: &[&str]) -> Child {
    let mut full = vec!["tick"];
    full.extend_from_slice(args);
    spawn(env, now, &full)
}

/// A finished command's exit code, stdout and stderr, for a failure message.
pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs a command that must exit with `code`; returns (stdout, stderr).
pub fn exits(env: &Env, args: &[&str], code: i32) -> (String, String) {
    let out = env.cmd(args).output().expect("run httpat");
    assert_eq!(
        out.status.code(),
        Some(code),
        "httpat {args:?} should exit {code}: {}",
        describe(&out)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command that must exit with `code` and leave the database exactly as it was (nothing
/// a user could see changed); returns its stderr.
pub fn refused_unchanged(env: &Env, args: &[&str], code: i32) -> String {
    let before = env.dump();
    let (_, stderr) = exits(env, args, code);
    assert_eq!(
        env.dump(),
        before,
        "httpat {args:?} (exit {code}) changed the database\nstderr: {stderr}"
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

/// An RFC 3339 instant, whatever its precision (`...:00Z` or `...:00.000Z`).
pub fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is not an RFC 3339 time: {e}"))
        .with_timezone(&Utc)
}

/// Milliseconds since the epoch of an RFC 3339 instant, as the SQLite store keeps times.
pub fn ms(text: &str) -> i64 {
    instant(text).timestamp_millis()
}

/// A port on 127.0.0.1 that nothing listens on: bound, then released.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A URL on 127.0.0.1 where nothing listens.
pub fn refused_url(path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", closed_port())
}

/// The id `schedule` prints: an integer alone on its line.
pub fn parse_id(stdout: &str) -> i64 {
    assert!(
        stdout.ends_with('\n') && stdout.lines().count() == 1,
        "expected one line holding an id, got {stdout:?}"
    );
    stdout
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("expected an integer id, got {stdout:?}"))
}

/// The table row whose first cell is `id`, if any. Cells may be separated by spaces or by
/// comfy-table's box-drawing characters.
pub fn row_of(table: &str, id: i64) -> Option<String> {
    let id = id.to_string();
    table
        .lines()
        .find(|line| cells(line).first().map(String::as_str) == Some(id.as_str()))
        .map(str::to_string)
}

/// The cells of one table line, trimmed, without the separators.
pub fn cells(line: &str) -> Vec<String> {
    const SEPARATORS: [char; 5] = ['|', '│', '┆', '┃', '║'];
    let parts: Vec<&str> = if line.contains(SEPARATORS) {
        line.split(SEPARATORS).collect()
    } else {
        line.split_whitespace().collect()
    };
    parts
        .into_iter()
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .map(str::to_string)
        .collect()
}
