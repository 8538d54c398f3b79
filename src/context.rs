//! What every command gets: where the database is, how to print, and "now", read once.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};

use crate::cli::Global;
use crate::error::usage;
use crate::store::{Location, Store};

/// The variable that pins "now" for tests of the binary, as RFC 3339. Not for production use:
/// a tick whose clock is set ahead sends early.
pub const NOW_VARIABLE: &str = "HTTPAT_NOW";

pub struct Context {
    /// Where the database is; an error message when `--db` names nothing httpat can use.
    db: std::result::Result<Location, String>,
    pub log_file: Option<PathBuf>,
    pub json: bool,
    pub utc: bool,
    pub verbose: u8,
    pub quiet: bool,
    now: std::result::Result<DateTime<Utc>, String>,
    /// When `now` was read.
    now_read_at: Instant,
}

impl Context {
    pub fn new(global: &Global) -> Context {
        let db = match &global.db {
            Some(text) => Location::parse(text).map_err(|e| format!("{e:#}")),
            None => Location::default_path().ok_or_else(|| {
                "no database path: set --db or HTTPAT_DB (neither XDG_DATA_HOME nor HOME is set)"
                    .to_string()
            }),
        };
        Context {
            db,
            log_file: global.log_file.clone(),
            json: global.json,
            utc: global.utc,
            verbose: global.verbose,
            quiet: global.quiet,
            now: read_now(),
            now_read_at: Instant::now(),
        }
    }

    /// The command's "now" on `store`: the database server's clock when the database is a
    /// server's (so that hosts whose clocks disagree agree on what is due), read once when it
    /// was opened; else this machine's, read once when the command started. `HTTPAT_NOW` pins
    /// it for tests.
    pub fn now_for(&self, store: &Store) -> Result<DateTime<Utc>> {
        Ok(self.clock_for(store)?.0)
    }

    /// `now_for`, with the instant it was read: a clock that runs on from it (the tick's) is
    /// then the same clock in every process.
    pub fn clock_for(&self, store: &Store) -> Result<(DateTime<Utc>, Instant)> {
        if std::env::var_os(NOW_VARIABLE).is_some() {
            return Ok((self.now()?, self.now_read_at));
        }
        match store.clock()? {
            Some(server) => Ok(server),
            None => Ok((self.now()?, self.now_read_at)),
        }
    }

    /// This machine's time (or the pinned one), read once when the command started: for
    /// checking input before the database is opened, and the "now" of an SQLite database.
    pub fn now(&self) -> Result<DateTime<Utc>> {
        self.now.clone().map_err(|bad| {
            crate::error::usage(format!("{NOW_VARIABLE}={bad} is not an RFC 3339 time"))
        })
    }

    /// Where the database is, or the usage error that `--db` is.
    pub fn location(&self) -> Result<&Location> {
        self.db.as_ref().map_err(|message| usage(message.clone()))
    }

    /// Opens the database for a command that stores something (`register`, `schedule`,
    /// `recur`): a database that does not exist yet is created.
    pub fn open_store(&self) -> Result<Store> {
        let location = self.location()?;
        Store::open(location).with_context(|| format!("database {location}"))
    }

    /// Opens the database for a command that only reads, ticks, or changes what exists: one that
    /// does not exist is not created (`None`).
    pub fn open_existing_store(&self) -> Result<Option<Store>> {
        let location = self.location()?;
        Store::open_existing(location).with_context(|| format!("database {location}"))
    }

    /// Opens the database for a command that reads (or changes what exists): when there is no
    /// database yet, a note says so on stderr and the command sees an empty one, made in memory
    /// and never written anywhere.
    pub fn read_store(&self) -> Result<Store> {
        if let Some(store) = self.open_existing_store()? {
            return Ok(store);
        }
        log::warn!(
            "there is no database at {} yet (nothing was ever registered or scheduled there); \
             set --db or HTTPAT_DB if yours is elsewhere",
            self.db_name()
        );
        Store::empty().context("cannot make an empty database in memory")
    }

    /// The database as messages name it (a URL without its password).
    pub fn db_name(&self) -> String {
        match &self.db {
            Ok(location) => location.to_string(),
            Err(_) => "(no database)".to_string(),
        }
    }

    /// Where errors are written in full: `--log-file`, else `httpat.log` beside an SQLite
    /// database, else `$XDG_STATE_HOME/httpat/httpat.log` (`~/.local/state/...`).
    pub fn log_path(&self) -> Option<PathBuf> {
        self.log_file
            .clone()
            .or_else(|| match self.db.as_ref().ok()? {
                Location::Sqlite(path) => Some(path.with_file_name("httpat.log")),
                Location::Postgres(_) => {
                    state_home().map(|dir| dir.join("httpat").join("httpat.log"))
                }
            })
    }

    /// Who is acting, for the history: `user:NAME`.
    pub fn actor(&self) -> String {
        format!("user:{}", user_name())
    }
}

/// `$XDG_STATE_HOME`, else `~/.local/state`.
fn state_home() -> Option<PathBuf> {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state")))
}

/// `$USER`, else `$LOGNAME`, else "unknown".
pub fn user_name() -> String {
    // Read once: a bulk `schedule --file` asks for every task.
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "unknown".to_string())
    })
    .clone()
}

fn read_now() -> std::result::Result<DateTime<Utc>, String> {
    match std::env::var(NOW_VARIABLE) {
        Ok(text) => DateTime::parse_from_rfc3339(&text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| text),
        Err(_) => Ok(Utc::now()),
    }
}
