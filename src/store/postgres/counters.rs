//! The counts the schema's triggers keep, in PostgreSQL: totals, and the changes appended since
//! they were last folded in, which a reader adds.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::{at, Postgres};
use crate::store::backend::{Connection, Counters};
use crate::store::records::AttemptCount;

/// The advisory lock of the folding of counts: "httpat" "fold".
const FOLD_LOCK: i64 = 0x6874_7470_666f;

impl Postgres {
    /// The fold itself, inside the transaction `fold_counts` opens. One folder at a time
    /// (another one folding now does this one's work); the changes it moves are those committed
    /// when it starts, later ones wait for the next fold.
    fn fold_in_transaction(&self) -> Result<()> {
        let folding: bool = self
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&FOLD_LOCK])?
            .try_get(0)?;
        if !folding {
            return Ok(());
        }
        self.execute(
            "WITH moved AS (DELETE FROM task_count_changes RETURNING left_phase, entered_phase), \
             changed AS ( \
                 SELECT entered_phase AS phase, 1 AS n FROM moved WHERE entered_phase IS NOT NULL \
                 UNION ALL SELECT left_phase, -1 FROM moved WHERE left_phase IS NOT NULL) \
             INSERT INTO task_counts (phase, n) \
             SELECT phase, sum(n) FROM changed GROUP BY phase ORDER BY phase \
             ON CONFLICT (phase) DO UPDATE SET n = task_counts.n + excluded.n",
            &[],
        )?;
        self.execute(
            "WITH moved AS (DELETE FROM attempt_count_changes RETURNING endpoint, outcome) \
             INSERT INTO attempt_counts (endpoint, outcome, n) \
             SELECT endpoint, outcome, count(*) FROM moved GROUP BY endpoint, outcome \
             ORDER BY endpoint, outcome \
             ON CONFLICT (endpoint, outcome) DO UPDATE SET n = attempt_counts.n + excluded.n",
            &[],
        )?;
        Ok(())
    }
}

impl Counters for Postgres {
    fn phase_counts(&self) -> Result<Vec<(String, u64)>> {
        // Totals and the changes not yet folded into them, read in one statement (one
        // snapshot): a fold moves changes into totals at once, so none is counted twice.
        self.query(
            "SELECT phase, sum(n)::bigint FROM ( \
                 SELECT phase, n FROM task_counts \
                 UNION ALL SELECT entered_phase, 1 FROM task_count_changes \
                     WHERE entered_phase IS NOT NULL \
                 UNION ALL SELECT left_phase, -1 FROM task_count_changes \
                     WHERE left_phase IS NOT NULL) counted \
             GROUP BY phase",
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
            "SELECT endpoint, outcome, sum(n)::bigint FROM ( \
                 SELECT endpoint, outcome, n FROM attempt_counts \
                 UNION ALL SELECT endpoint, outcome, 1 FROM attempt_count_changes) counted \
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
        self.execute("DELETE FROM attempt_count_changes", &[])?;
        self.execute("DELETE FROM attempt_counts", &[])?;
        for count in counts {
            self.execute(
                "INSERT INTO attempt_counts (endpoint, outcome, n) VALUES ($1, $2, $3)",
                &[&count.endpoint, &count.outcome, &(count.count as i64)],
            )?;
        }
        Ok(())
    }

    fn fold_counts(&self) -> Result<()> {
        self.begin()?;
        let folded = self.fold_in_transaction().and_then(|()| self.commit());
        if folded.is_err() {
            self.rollback();
        }
        folded
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
