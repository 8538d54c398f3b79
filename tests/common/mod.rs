//! Helpers shared by the integration tests: a throw-away database with a pinned clock, a runner
//! for the real `httpat` binary, a logical dump of the database, and a local HTTP server that
//! records what it receives.
#![allow(dead_code)]

mod http;

#[allow(unused_imports)]
pub use http::{Recorded, Reply, Server};

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use tempfile::TempDir;

/// The instant every command believes is "now" unless a test says otherwise.
pub const DEFAULT_NOW: &str = "2026-11-25T12:00:00Z";

/// The factory's endpoint; nothing listens on port 9 (discard), so nothing is ever sent.
pub const RELEASE_ROLL_URL: &str = "http://127.0.0.1:9/rolls/{roll}/release";

/// A temporary home for one test: database, log file and the pinned clock.
pub struct Env {
    pub dir: TempDir,
    pub db: PathBuf,
    pub log: PathBuf,
    now: String,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("create temp dir");
        let db = dir.path().join("httpat.db");
        let log = dir.path().join("httpat.log");
        Env {
            dir,
            db,
            log,
            now: DEFAULT_NOW.to_string(),
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
        let mut cmd = Command::cargo_bin("httpat").expect("the httpat binary is built");
        cmd.args(args)
            .env("HTTPAT_DB", &self.db)
            .env("HTTPAT_LOG", &self.log)
            .env("HTTPAT_NOW", &self.now)
            .env("TZ", "UTC")
            .env("USER", "tester")
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.dir.path().join("xdg"))
            .env_remove("RUST_LOG")
            .env_remove("IMS_TOKEN");
        cmd
    }

    /// Runs a command that must succeed and returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().expect("run httpat");
        assert!(
            out.status.success(),
            "httpat {args:?} failed with {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("stdout is UTF-8")
    }

    /// Runs a command that must succeed and prints JSON; returns the parsed document.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut with_json = vec!["--json"];
        with_json.extend_from_slice(args);
        let stdout = self.ok(&with_json);
        serde_json::from_str(&stdout).unwrap_or_else(|e| {
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

    /// A logical dump of the database: every table by name, every row by rowid, every value.
    /// Two equal dumps mean nothing a user could see has changed.
    pub fn dump(&self) -> String {
        dump_database(&self.db)
    }
}

impl Default for Env {
    fn default() -> Self {
        Env::new()
    }
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

pub fn dump_database(db: &Path) -> String {
    if !db.exists() {
        return "<no database>".to_string();
    }
    // Read-write without create: a read-only open of a WAL database may fail for want of its
    // shared-memory file, and opening changes no row.
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open the database for a dump");
    let mut out = String::new();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .expect("read user_version");
    out.push_str(&format!("user_version {version}\n"));
    let mut tables = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )
        .expect("list tables");
    let names: Vec<String> = tables
        .query_map([], |row| row.get(0))
        .expect("list tables")
        .collect::<Result<_, _>>()
        .expect("read table names");
    for name in names {
        out.push_str(&format!("table {name}\n"));
        dump_table(&conn, &name, &mut out);
    }
    out
}

fn dump_table(conn: &Connection, table: &str, out: &mut String) {
    let quoted = format!("\"{}\"", table.replace('"', "\"\""));
    // WITHOUT ROWID tables have no rowid; their natural order is their primary key.
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM {quoted} ORDER BY rowid"))
        .or_else(|_| conn.prepare(&format!("SELECT * FROM {quoted}")))
        .expect("select rows");
    let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
    let mut rows = stmt.query([]).expect("query rows");
    while let Some(row) = rows.next().expect("read row") {
        let values: Vec<String> = (0..columns.len())
            .map(|i| {
                format!(
                    "{}={}",
                    columns[i],
                    show_value(row.get_ref(i).expect("value"))
                )
            })
            .collect();
        out.push_str(&format!("  {}\n", values.join(", ")));
    }
}

fn show_value(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "NULL".to_string(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => {
            let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
            format!("x'{hex}'")
        }
    }
}
