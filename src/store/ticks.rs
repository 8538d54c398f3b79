//! Every tick records itself, so that `status` can tell whether the executor is alive.

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::named_params;

use super::{millis, Store};

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickCounts {
    pub recovered: u32,
    pub fired: u32,
    pub sent: u32,
    pub succeeded: u32,
    pub retrying: u32,
    pub failed: u32,
    pub cancelled: u32,
}

impl Store {
    /// Records a tick's start (a tick with work to do; an idle one uses `record_idle_tick`).
    pub fn record_tick_start(&self, tick_id: &str, started_at: DateTime<Utc>) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO ticks (id, started_at) VALUES (?1, ?2)")?
            .execute(rusqlite::params![tick_id, millis(started_at)])?;
        Ok(())
    }

    /// Records a tick's end and what it did.
    pub fn record_tick_end(
        &self,
        tick_id: &str,
        ended_at: DateTime<Utc>,
        counts: &TickCounts,
        error: Option<&str>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE ticks SET ended_at = :ended, recovered = :recovered, fired = :fired, \
                     sent = :sent, succeeded = :succeeded, retrying = :retrying, \
                     failed = :failed, cancelled = :cancelled, error = :error \
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
                ":id": tick_id,
            })?;
        Ok(())
    }

    /// Records a tick that found nothing to do, start and end in one commit.
    pub fn record_idle_tick(
        &self,
        tick_id: &str,
        started_at: DateTime<Utc>,
        ended_at: DateTime<Utc>,
    ) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO ticks (id, started_at, ended_at) VALUES (?1, ?2, ?3)")?
            .execute(rusqlite::params![
                tick_id,
                millis(started_at),
                millis(ended_at)
            ])?;
        Ok(())
    }
}
