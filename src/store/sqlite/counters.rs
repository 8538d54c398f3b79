//! The counts the schema's triggers keep, in SQLite.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::{from_millis, millis, Sqlite};
use crate::store::backend::Counters;
use crate::store::records::AttemptCount;

impl Counters for Sqlite {
    fn phase_counts(&self) -> Result<Vec<(String, u64)>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT phase, n FROM task_counts")?;
        let rows = statement.query_map([], |row| {
            Ok((row.get(0)?, row.get::<_, i64>(1)?.max(0) as u64))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn due_count(&self, now: DateTime<Utc>) -> Result<u64> {
        let count: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM tasks INDEXED BY tasks_waiting \
                 WHERE outcome IS NULL AND tick_id IS NULL AND next_attempt_at <= ?1 \
                     AND attempts = attempts_base",
            )?
            .query_row([millis(now)], |row| row.get(0))?;
        Ok(count as u64)
    }

    fn attempt_counts(&self) -> Result<Vec<AttemptCount>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT endpoint, outcome, n FROM attempt_counts ORDER BY endpoint, outcome",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(AttemptCount {
                endpoint: row.get(0)?,
                outcome: row.get(1)?,
                count: row.get::<_, i64>(2)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn set_attempt_counts(&self, counts: &[AttemptCount]) -> Result<()> {
        self.conn.execute("DELETE FROM attempt_counts", [])?;
        let mut insert = self
            .conn
            .prepare("INSERT INTO attempt_counts (endpoint, outcome, n) VALUES (?1, ?2, ?3)")?;
        for count in counts {
            insert.execute(rusqlite::params![
                count.endpoint,
                count.outcome,
                count.count as i64
            ])?;
        }
        Ok(())
    }

    fn fold_counts(&self) -> Result<()> {
        // One writer at a time: SQLite's triggers update the totals in place.
        Ok(())
    }

    fn last_ended_tick(&self) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>> {
        use rusqlite::OptionalExtension;
        let last: Option<(i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT started_at, ended_at FROM ticks WHERE ended_at IS NOT NULL \
                 ORDER BY ended_at DESC LIMIT 1",
            )?
            .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        Ok(last.map(|(start, end)| (from_millis(start), from_millis(end))))
    }
}
