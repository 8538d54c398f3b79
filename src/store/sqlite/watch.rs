//! What `tick --follow` waits on, in SQLite: the waiting index for the next due time, and
//! `PRAGMA data_version`, which changes when another connection commits (never a scan).

use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;

use super::{from_millis, Sqlite};
use crate::store::backend::Watch;

/// How often `data_version` is read while waiting.
const POLL: Duration = Duration::from_millis(25);

impl Sqlite {
    fn data_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |row| row.get(0))?)
    }
}

impl Watch for Sqlite {
    fn next_due_at(&self, skip: &[String]) -> Result<Option<DateTime<Utc>>> {
        let next: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT next_attempt_at FROM tasks INDEXED BY tasks_waiting \
                 WHERE outcome IS NULL AND tick_id IS NULL \
                   AND endpoint NOT IN (SELECT value FROM json_each(?1)) \
                 ORDER BY next_attempt_at LIMIT 1",
            )?
            .query_row([serde_json::to_string(skip)?], |row| row.get(0))
            .optional()?;
        Ok(next.map(from_millis))
    }

    fn watch_changes(&self) -> Result<()> {
        self.seen_version.set(Some(self.data_version()?));
        Ok(())
    }

    fn wait_for_change(&self, timeout: Duration) -> Result<bool> {
        let until = Instant::now() + timeout;
        loop {
            let version = self.data_version()?;
            if self.seen_version.replace(Some(version)) != Some(version) {
                return Ok(true);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            std::thread::sleep(left.min(POLL));
        }
    }
}
