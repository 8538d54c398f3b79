//! The PostgreSQL backend, for ticks on several hosts: the tables in the schema `httpat` of the
//! database the URL names, the schema from `migrations/postgres/` applied under an advisory lock,
//! the server's clock as every command's "now", claims with `FOR UPDATE SKIP LOCKED`, every
//! result fenced by task, attempt and holding tick. The synchronous `postgres` client, one
//! connection per command; the password is never shown.

mod claims;
mod connect;
mod counters;
mod endpoints;
mod limits;
mod migrate;
mod schedules;
mod tasks;
mod ticks;
mod transfer;
mod watch;

use std::cell::RefCell;
use std::collections::HashMap;

use anyhow::{Context, Result};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use postgres::types::ToSql;
use postgres::{Client, Row, Statement};

use super::backend;
use super::location::PostgresUrl;

/// The oldest server this backend runs on (`FOR UPDATE SKIP LOCKED`, identity columns, and the
/// `DROP DATABASE ... WITH (FORCE)` the tests use all exist there).
const OLDEST_SERVER: i32 = 130_000;

/// An open PostgreSQL database.
pub struct Postgres {
    client: RefCell<Client>,
    /// Statements prepared on this connection, by their SQL.
    prepared: RefCell<HashMap<String, Statement>>,
    /// The server's clock when the connection was opened, and the instant it was read.
    opened_at: (DateTime<Utc>, std::time::Instant),
}

/// Statement parameters.
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl Postgres {
    /// Connects, checks the server's version, and brings the schema up to date (creating the
    /// schema `httpat` on first use). A schema newer than this httpat is refused untouched.
    pub fn open(url: &PostgresUrl) -> Result<Postgres> {
        let mut client = connect::connect(url)?;
        let rows = client
            .simple_query("SHOW server_version_num")
            .context("cannot read the server's version")?;
        let version = connect::first_value(&rows)
            .and_then(|v| v.parse::<i32>().ok())
            .unwrap_or(0);
        if version < OLDEST_SERVER {
            anyhow::bail!(
                "PostgreSQL {} is too old: httpat needs PostgreSQL 13 or newer",
                connect::version_text(version)
            );
        }
        migrate::bring_up_to_date(&mut client)?;
        client
            .batch_execute("SET search_path TO httpat")
            .context("cannot use the schema httpat")?;
        let opened_at: DateTime<Utc> = client
            .query_one("SELECT clock_timestamp()", &[])
            .context("cannot read the server's clock")?
            .get(0);
        let opened_at = (opened_at, std::time::Instant::now());
        Ok(Postgres {
            client: RefCell::new(client),
            prepared: RefCell::new(HashMap::new()),
            opened_at,
        })
    }

    /// The statement for `sql`, prepared once per connection.
    fn statement(&self, sql: &str) -> Result<Statement> {
        if let Some(statement) = self.prepared.borrow().get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.borrow_mut().prepare(sql)?;
        self.prepared
            .borrow_mut()
            .insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    fn query(&self, sql: &str, params: Params) -> Result<Vec<Row>> {
        let statement = self.statement(sql)?;
        Ok(self.client.borrow_mut().query(&statement, params)?)
    }

    fn query_opt(&self, sql: &str, params: Params) -> Result<Option<Row>> {
        let statement = self.statement(sql)?;
        Ok(self.client.borrow_mut().query_opt(&statement, params)?)
    }

    fn query_one(&self, sql: &str, params: Params) -> Result<Row> {
        let statement = self.statement(sql)?;
        Ok(self.client.borrow_mut().query_one(&statement, params)?)
    }

    fn execute(&self, sql: &str, params: Params) -> Result<u64> {
        let statement = self.statement(sql)?;
        Ok(self.client.borrow_mut().execute(&statement, params)?)
    }

    fn batch(&self, sql: &str) -> Result<()> {
        Ok(self.client.borrow_mut().batch_execute(sql)?)
    }
}

impl backend::Connection for Postgres {
    fn begin(&self) -> Result<()> {
        self.batch("BEGIN")
    }

    fn commit(&self) -> Result<()> {
        self.batch("COMMIT").context("cannot commit")
    }

    fn rollback(&self) {
        // After a failed statement or COMMIT the server waits for a ROLLBACK; a connection that
        // is gone has nothing open, and its error is the one that matters.
        let _ = self.batch("ROLLBACK");
    }

    fn clock(&self) -> Result<Option<(DateTime<Utc>, std::time::Instant)>> {
        Ok(Some(self.opened_at))
    }
}

/// A time as stored: to the millisecond, rounded down (for "now" and for what has happened).
fn at(time: DateTime<Utc>) -> DateTime<Utc> {
    time.duration_trunc(TimeDelta::milliseconds(1))
        .unwrap_or(time)
}

/// A time something must not happen before, as stored: to the millisecond, rounded up, so that
/// storing it never brings it forward.
fn not_before(time: DateTime<Utc>) -> DateTime<Utc> {
    let floor = at(time);
    if floor == time {
        floor
    } else {
        floor + TimeDelta::milliseconds(1)
    }
}

/// A count or number from the database as the domain's type.
fn count(value: i64) -> u64 {
    value.max(0) as u64
}

/// What a person needs from an error that came from PostgreSQL, in plain words with the fix
/// where there is one; None for an error of another kind.
pub fn explain(error: &anyhow::Error) -> Option<String> {
    let failure = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<postgres::Error>())?;
    let words = connect::words(failure);
    if let Some(tls) = connect::tls_failure(failure) {
        return Some(format!("{tls}; nothing was changed ({words})"));
    }
    if failure.is_closed() {
        return Some(format!(
            "the connection was lost; run the command again when the server is back ({words})"
        ));
    }
    let what = match failure.code().map(|code| code.code()) {
        Some("28P01") | Some("28000") => {
            "the server refused the credentials: check the user, PGPASSWORD or the URL's password"
        }
        Some("3D000") => "the database does not exist: create it, or fix the URL",
        Some("57P01") | Some("57P02") | Some("57P03") => {
            "the server is shutting down or starting: run the command again when it is up"
        }
        Some("53300") => "the server has no free connection: run the command again",
        Some("42501") => "permission denied: grant the user the rights on the schema httpat",
        Some(_) => return Some(format!("{words}; nothing was changed")),
        None if connect::is_unreachable(failure) => {
            "the server cannot be reached: check the host, the port and that it runs"
        }
        None => return Some(format!("{words}; nothing was changed")),
    };
    Some(format!("{what}; nothing was changed ({words})"))
}
