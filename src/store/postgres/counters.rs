//! The counts the schema's triggers keep, in PostgreSQL: each in shards that a reader sums.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::{at, Postgres};
use crate::store::backend::Counters;
use crate::store::records::AttemptCount;

impl Counters for Postgres {
    fn phase_counts(&self) -> Result<Vec<(String, u64)>> {
        self.query(
            "SELECT phase, sum(n)::bigint FROM task_counts GROUP BY phase",
            &[],
        )?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get::<_, i64>(1)?.max(0) as u64)))
        .collect()
    }

    fn due_count(&self, now: DateTime<Utc>) -> Result<u64> {
        let row = self.query_one(
            "SELECT count(*) FROM tasks \
             WHERE outcome IS NULL AND tick_id IS NULL AND next_attempt_at <= $1 \
                 AND attempts = attempts_base",
            &[&at(now)],
        )?;
        Ok(row.try_get::<_, i64>(0)?.max(0) as u64)
    }

    fn attempt_counts(&self) -> Result<Vec<AttemptCount>> {
        self.query(
            "SELECT endpoint, outcome, sum(n)::bigint FROM attempt_counts \
             GROUP BY endpoint, outcome ORDER BY endpoint, outcome",
            &[],
        )?
        .iter()
        .map(|row| {
            Ok(AttemptCount {
                endpoint: row.try_get(0)?,
                outcome: row.try_get(1)?,
                count: row.try_get::<_, i64>(2)?.max(0) as u64,
            })
        })
        .collect()
    }

    fn set_attempt_counts(&self, counts: &[AttemptCount]) -> Result<()> {
        self.execute("DELETE FROM attempt_counts", &[])?;
        for count in counts {
            self.execute(
                "INSERT INTO attempt_counts (endpoint, outcome, shard, n) VALUES ($1, $2, 0, $3)",
                &[&count.endpoint, &count.outcome, &(count.count as i64)],
            )?;
        }
        Ok(())
    }

    fn last_ended_tick(&self) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>> {
        let row = self.query_opt(
            "SELECT started_at, ended_at FROM ticks WHERE ended_at IS NOT NULL \
             ORDER BY ended_at DESC LIMIT 1",
            &[],
        )?;
        row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .transpose()
    }
}
