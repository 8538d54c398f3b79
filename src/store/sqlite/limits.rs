//! Endpoints' limits in SQLite: what is in flight is what ticks hold, and the starts counted
//! against a rate are rows of `limit_starts`. SQLite has one writer, so a claim that reads them
//! reads what no other claim can change before it commits.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{named_params, params};

use super::{from_millis, millis, Sqlite};
use crate::limits::{Limits, Rate, Usage};
use crate::store::backend::LimitCounts;
use crate::store::records::LimitedEndpoint;

impl LimitCounts for Sqlite {
    fn limited_endpoints(&self, _lock: bool) -> Result<Vec<LimitedEndpoint>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT name, max_in_flight, rate, timeout_ms FROM endpoints \
             WHERE max_in_flight IS NOT NULL OR rate IS NOT NULL ORDER BY name",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<u32>>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, i64>(3)?,
            ))
        })?;
        let mut limited = Vec::new();
        for row in rows {
            let (name, max_in_flight, rate, timeout_ms) = row?;
            // A rate that does not parse marks the endpoint damaged: its tasks are cancelled,
            // never sent, so there is nothing to pace.
            let rate = rate.as_deref().and_then(|text| Rate::parse(text).ok());
            limited.push(LimitedEndpoint {
                name,
                limits: Limits {
                    max_in_flight,
                    rate,
                },
                timeout_ms,
            });
        }
        Ok(limited)
    }

    fn limit_usage(&self, endpoint: &str, window: Option<(DateTime<Utc>, u32)>) -> Result<Usage> {
        let in_flight: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM tasks WHERE tick_id IS NOT NULL AND endpoint = ?1",
            )?
            .query_row([endpoint], |row| row.get(0))?;
        let mut usage = Usage {
            in_flight: in_flight as u64,
            ..Usage::default()
        };
        let Some((since, n)) = window else {
            return Ok(usage);
        };
        let started: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM (SELECT 1 FROM limit_starts \
                 WHERE endpoint = :endpoint AND started_at > :since LIMIT :n)",
            )?
            .query_row(
                named_params! {":endpoint": endpoint, ":since": millis(since), ":n": n},
                |row| row.get(0),
            )?;
        usage.started = started as u64;
        if usage.started >= u64::from(n) {
            let nth: i64 = self
                .conn
                .prepare_cached(
                    "SELECT started_at FROM limit_starts WHERE endpoint = :endpoint \
                     ORDER BY started_at DESC LIMIT 1 OFFSET :offset",
                )?
                .query_row(
                    named_params! {":endpoint": endpoint, ":offset": n - 1},
                    |row| row.get(0),
                )?;
            usage.nth_newest_start = Some(from_millis(nth));
        }
        Ok(usage)
    }

    fn count_starts(&self, starts: &[(i64, u32, &str)], at: DateTime<Utc>) -> Result<()> {
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO limit_starts (task_id, number, endpoint, started_at) \
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (task_id, number, endpoint) in starts {
            insert
                .execute(params![task_id, number, endpoint, millis(at)])
                .with_context(|| format!("cannot count the start of task {task_id}"))?;
        }
        Ok(())
    }

    fn forget_starts(&self, endpoint: &str, before: DateTime<Utc>) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM limit_starts WHERE endpoint = ?1 AND started_at <= ?2")?
            .execute(params![endpoint, millis(before)])?;
        Ok(())
    }
}
