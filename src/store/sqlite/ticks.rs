//! Every tick records itself, in SQLite.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{named_params, OptionalExtension};

use super::{from_millis, millis, Sqlite};
use crate::origin::Origin;
use crate::store::backend::Ticks;
use crate::store::records::{MissingReport, TickCounts, TickRecord};

pub(super) const TICK_COLUMNS: &str = "id, started_at, ended_at, recovered, fired, sent, \
     succeeded, retrying, failed, cancelled, error, missing_variables";

/// Missing-variable reports from their column (`index`), a damaged one as a conversion error.
fn missing_from_row(row: &rusqlite::Row, index: usize) -> rusqlite::Result<Vec<MissingReport>> {
    let text: Option<String> = row.get(index)?;
    MissingReport::from_column(text.as_deref()).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, e.into())
    })
}

/// A tick's record from `TICK_COLUMNS`.
pub(super) fn tick_from_row(row: &rusqlite::Row) -> rusqlite::Result<TickRecord> {
    Ok(TickRecord {
        id: row.get(0)?,
        started_at: from_millis(row.get(1)?),
        ended_at: row.get::<_, Option<i64>>(2)?.map(from_millis),
        counts: TickCounts {
            recovered: row.get(3)?,
            fired: row.get(4)?,
            sent: row.get(5)?,
            succeeded: row.get(6)?,
            retrying: row.get(7)?,
            failed: row.get(8)?,
            cancelled: row.get(9)?,
        },
        error: row.get(10)?,
        missing: missing_from_row(row, 11)?,
    })
}

impl Ticks for Sqlite {
    /// The latest ticks, newest first.
    fn recent_ticks(&self, limit: u32) -> Result<Vec<TickRecord>> {
        let sql = format!(
            "SELECT {TICK_COLUMNS} FROM ticks ORDER BY started_at DESC, rowid DESC LIMIT ?1"
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map([limit], tick_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// When the last tick ended, if any has.
    fn last_tick_end(&self) -> Result<Option<DateTime<Utc>>> {
        let last: Option<i64> = self
            .conn
            .prepare_cached("SELECT max(ended_at) FROM ticks")?
            .query_row([], |row| row.get(0))?;
        Ok(last.map(from_millis))
    }

    /// Records a tick's start and where it runs (a tick with work to do; an idle one uses
    /// `record_idle_tick`).
    fn record_tick_start(
        &self,
        tick_id: &str,
        origin: &Origin,
        started_at: DateTime<Utc>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO ticks (id, host, boot_id, pid_ns, started_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(rusqlite::params![
                tick_id,
                origin.host,
                origin.boot_id,
                origin.pid_ns,
                millis(started_at)
            ])?;
        Ok(())
    }

    /// Where a recorded tick ran (its pid is the second field of its id); None when it left
    /// no record of that (a tick of an older httpat, or a record pruned).
    fn tick_origin(&self, tick_id: &str) -> Result<Option<Origin>> {
        let Some(pid) = tick_id.split(':').nth(1).and_then(|p| p.parse().ok()) else {
            return Ok(None);
        };
        let found = self
            .conn
            .prepare_cached("SELECT host, boot_id, pid_ns FROM ticks WHERE id = ?1")?
            .query_row([tick_id], |row| {
                Ok(Origin {
                    host: row.get::<_, Option<String>>(0)?.unwrap_or_default(),
                    boot_id: row.get(1)?,
                    pid_ns: row.get(2)?,
                    pid,
                })
            })
            .optional()?;
        Ok(found)
    }

    /// Records a tick's end, what it did and what it could not send for lack of variables.
    fn record_tick_end(
        &self,
        tick_id: &str,
        ended_at: DateTime<Utc>,
        counts: &TickCounts,
        error: Option<&str>,
        missing: &[MissingReport],
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE ticks SET ended_at = :ended, recovered = :recovered, fired = :fired, \
                     sent = :sent, succeeded = :succeeded, retrying = :retrying, \
                     failed = :failed, cancelled = :cancelled, error = :error, \
                     missing_variables = :missing \
                 WHERE id = :id",
            )?
            .execute(named_params! {
                ":ended": millis(ended_at),
                ":recovered": counts.recovered,
                ":fired": counts.fired,
                ":sent": counts.sent,
                ":succeeded": counts.succeeded,
                ":retrying": counts.retrying,
                ":failed": counts.failed,
                ":cancelled": counts.cancelled,
                ":error": error,
                ":missing": MissingReport::to_column(missing)?,
                ":id": tick_id,
            })?;
        Ok(())
    }

    /// Walks the hosts over `ticks_by_host` (one seek each) and takes each one's latest ended
    /// tick from `ticks_by_host_end`, so that the cost does not grow with the ticks recorded.
    fn latest_missing_reports(&self) -> Result<Vec<MissingReport>> {
        let mut statement = self.conn.prepare_cached(
            "WITH RECURSIVE hosts (host) AS ( \
                 SELECT min(host) FROM ticks \
                 UNION ALL \
                 SELECT (SELECT min(host) FROM ticks WHERE host > hosts.host) FROM hosts \
                 WHERE hosts.host IS NOT NULL) \
             SELECT (SELECT missing_variables FROM ticks \
                     WHERE ticks.host = hosts.host AND ended_at IS NOT NULL \
                     ORDER BY ended_at DESC, rowid DESC LIMIT 1) \
             FROM hosts WHERE hosts.host IS NOT NULL ORDER BY hosts.host",
        )?;
        let rows = statement.query_map([], |row| missing_from_row(row, 0))?;
        let per_host = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .context("cannot read the latest ticks' missing variables")?;
        Ok(per_host.into_iter().flatten().collect())
    }

    /// Records a tick that found nothing to do, start and end in one commit. That commit is not
    /// synced: it acknowledges nothing, and a power cut can cost at most the record of an idle
    /// minute, while a sync would be most of an idle tick's cost.
    fn record_idle_tick(
        &self,
        tick_id: &str,
        origin: &Origin,
        started_at: DateTime<Utc>,
        ended_at: DateTime<Utc>,
    ) -> Result<()> {
        self.conn.execute_batch("PRAGMA synchronous = NORMAL")?;
        let recorded = self
            .conn
            .prepare_cached(
                "INSERT INTO ticks (id, host, boot_id, pid_ns, started_at, ended_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut insert| {
                insert.execute(rusqlite::params![
                    tick_id,
                    origin.host,
                    origin.boot_id,
                    origin.pid_ns,
                    millis(started_at),
                    millis(ended_at)
                ])
            });
        self.conn.execute_batch("PRAGMA synchronous = FULL")?;
        recorded?;
        Ok(())
    }
}
