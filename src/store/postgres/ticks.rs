//! Every tick records itself, in PostgreSQL.

use anyhow::Result;
use chrono::{DateTime, Utc};
use postgres::Row;

use super::{at, Postgres};
use crate::origin::Origin;
use crate::store::backend::{Connection, Ticks};
use crate::store::records::{MissingReport, TickCounts, TickRecord};

fn counter(row: &Row, index: usize) -> Result<u32> {
    Ok(row.try_get::<_, i32>(index)?.max(0) as u32)
}

pub(super) const TICK_COLUMNS: &str = "id, started_at, ended_at, recovered, fired, sent, \
     succeeded, retrying, failed, cancelled, error, missing_variables::text";

/// A tick's record from `TICK_COLUMNS`.
pub(super) fn tick_from_row(row: &Row) -> Result<TickRecord> {
    Ok(TickRecord {
        id: row.try_get(0)?,
        started_at: row.try_get(1)?,
        ended_at: row.try_get(2)?,
        counts: TickCounts {
            recovered: counter(row, 3)?,
            fired: counter(row, 4)?,
            sent: counter(row, 5)?,
            succeeded: counter(row, 6)?,
            retrying: counter(row, 7)?,
            failed: counter(row, 8)?,
            cancelled: counter(row, 9)?,
        },
        error: row.try_get(10)?,
        missing: MissingReport::from_column(row.try_get::<_, Option<&str>>(11)?)?,
    })
}

impl Ticks for Postgres {
    fn recent_ticks(&self, limit: u32) -> Result<Vec<TickRecord>> {
        let sql =
            format!("SELECT {TICK_COLUMNS} FROM ticks ORDER BY started_at DESC, seq DESC LIMIT $1");
        self.query(&sql, &[&i64::from(limit)])?
            .iter()
            .map(tick_from_row)
            .collect()
    }

    fn last_tick_end(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .query_one("SELECT max(ended_at) FROM ticks", &[])?
            .try_get(0)?)
    }

    fn record_tick_start(&self, tick_id: &str, origin: &Origin, at_: DateTime<Utc>) -> Result<()> {
        self.execute(
            "INSERT INTO ticks (id, host, boot_id, pid_ns, started_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                &tick_id,
                &origin.host,
                &origin.boot_id,
                &origin.pid_ns,
                &at(at_),
            ],
        )?;
        Ok(())
    }

    fn record_tick_end(
        &self,
        tick_id: &str,
        ended_at: DateTime<Utc>,
        counts: &TickCounts,
        error: Option<&str>,
        missing: &[MissingReport],
    ) -> Result<()> {
        let n = |value: u32| value as i32;
        self.execute(
            "UPDATE ticks SET ended_at = $1, recovered = $2, fired = $3, sent = $4, \
                 succeeded = $5, retrying = $6, failed = $7, cancelled = $8, error = $9, \
                 missing_variables = $11::text::jsonb \
             WHERE id = $10",
            &[
                &at(ended_at),
                &n(counts.recovered),
                &n(counts.fired),
                &n(counts.sent),
                &n(counts.succeeded),
                &n(counts.retrying),
                &n(counts.failed),
                &n(counts.cancelled),
                &error,
                &tick_id,
                &MissingReport::to_column(missing)?,
            ],
        )?;
        Ok(())
    }

    /// Walks the hosts over `ticks_by_host` (one seek each) and takes each one's latest ended
    /// tick from `ticks_by_host_end`, so that the cost does not grow with the ticks recorded.
    fn latest_missing_reports(&self) -> Result<Vec<MissingReport>> {
        let rows = self.query(
            "WITH RECURSIVE hosts (host) AS ( \
                 SELECT min(host) FROM ticks \
                 UNION ALL \
                 SELECT (SELECT min(t.host) FROM ticks t WHERE t.host > hosts.host) FROM hosts \
                 WHERE hosts.host IS NOT NULL) \
             SELECT (SELECT t.missing_variables::text FROM ticks t \
                     WHERE t.host = hosts.host AND t.ended_at IS NOT NULL \
                     ORDER BY t.ended_at DESC, t.seq DESC LIMIT 1) \
             FROM hosts WHERE hosts.host IS NOT NULL ORDER BY hosts.host",
            &[],
        )?;
        let mut reports = Vec::new();
        for row in rows {
            reports.extend(MissingReport::from_column(
                row.try_get::<_, Option<&str>>(0)?,
            )?);
        }
        Ok(reports)
    }

    fn record_idle_tick(
        &self,
        tick_id: &str,
        origin: &Origin,
        started_at: DateTime<Utc>,
        ended_at: DateTime<Utc>,
    ) -> Result<()> {
        // It acknowledges nothing: the server need not wait for the disk.
        self.begin()?;
        let recorded = self
            .batch("SET LOCAL synchronous_commit TO OFF")
            .and_then(|()| {
                self.execute(
                    "INSERT INTO ticks (id, host, boot_id, pid_ns, started_at, ended_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &tick_id,
                        &origin.host,
                        &origin.boot_id,
                        &origin.pid_ns,
                        &at(started_at),
                        &at(ended_at),
                    ],
                )
            })
            .and_then(|_| self.commit());
        if recorded.is_err() {
            self.rollback();
        }
        recorded
    }

    fn tick_origin(&self, tick_id: &str) -> Result<Option<Origin>> {
        let Some(pid) = tick_id.split(':').nth(1).and_then(|p| p.parse().ok()) else {
            return Ok(None);
        };
        let row = self.query_opt(
            "SELECT host, boot_id, pid_ns FROM ticks WHERE id = $1",
            &[&tick_id],
        )?;
        row.map(|row| {
            Ok(Origin {
                host: row.try_get::<_, Option<String>>(0)?.unwrap_or_default(),
                boot_id: row.try_get(1)?,
                pid_ns: row.try_get(2)?,
                pid,
            })
        })
        .transpose()
    }
}
