//! What every command gets: where the database is, how to print, and "now", read once.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};

use crate::cli::Global;
use crate::store::Store;

/// The variable that pins "now" for tests of the binary, as RFC 3339. Not for production use:
/// a tick whose clock is set ahead sends early.
pub const NOW_VARIABLE: &str = "HTTPAT_NOW";

pub struct Context {
    pub db_path: Option<PathBuf>,
    pub log_file: Option<PathBuf>,
    pub json: bool,
    pub utc: bool,
    pub verbose: u8,
    pub quiet: bool,
    now: std::result::Result<DateTime<Utc>, String>,
}

impl Context {
    pub fn new(global: &Global) -> Context {
        Context {
            db_path: global.db.clone().or_else(default_db_path),
            log_file: global.log_file.clone(),
            json: global.json,
            utc: global.utc,
            verbose: global.verbose,
            quiet: global.quiet,
            now: read_now(),
        }
    }

    /// The current time, read once when the command started.
    pub fn now(&self) -> Result<DateTime<Utc>> {
        self.now.clone().map_err(|bad| {
            crate::error::usage(format!("{NOW_VARIABLE}={bad} is not an RFC 3339 time"))
        })
    }

    pub fn db_path(&self) -> Result<PathBuf> {
        self.db_path.clone().ok_or_else(|| {
            crate::error::usage(
                "no database path: set --db or HTTPAT_DB (neither XDG_DATA_HOME nor HOME is set)",
            )
        })
    }

    pub fn open_store(&self) -> Result<Store> {
        let path = self.db_path()?;
        Store::open(&path).with_context(|| format!("database {}", path.display()))
    }

    /// Where errors are written in full: `--log-file`, else `httpat.log` beside the database.
    pub fn log_path(&self) -> Option<PathBuf> {
        self.log_file.clone().or_else(|| {
            let db = self.db_path.as_ref()?;
            Some(db.with_file_name("httpat.log"))
        })
    }

    /// Who is acting, for the history: `user:NAME`.
    pub fn actor(&self) -> String {
        format!("user:{}", user_name())
    }
}

/// `$USER`, else `$LOGNAME`, else "unknown".
pub fn user_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

fn read_now() -> std::result::Result<DateTime<Utc>, String> {
    match std::env::var(NOW_VARIABLE) {
        Ok(text) => DateTime::parse_from_rfc3339(&text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| text),
        Err(_) => Ok(Utc::now()),
    }
}

fn default_db_path() -> Option<PathBuf> {
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share"))
        })?;
    Some(data_home.join("httpat").join("httpat.db"))
}
