//! Endpoints' limits in PostgreSQL, where ticks on several hosts claim at once: a claim locks
//! the rows of the endpoints with a limit before it counts, so that claims for them take turns
//! and each counts what the one before it committed (each statement of a READ COMMITTED
//! transaction sees what was committed before it began).

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::{at, count, Postgres};
use crate::limits::{Limits, Rate, Usage};
use crate::store::backend::LimitCounts;
use crate::store::records::LimitedEndpoint;

impl LimitCounts for Postgres {
    fn limited_endpoints(&self, lock: bool) -> Result<Vec<LimitedEndpoint>> {
        // NO KEY UPDATE: claims take turns, while `schedule` (whose foreign-key-free insert
        // takes no lock on the endpoint) and readers go on.
        let sql = format!(
            "SELECT name, max_in_flight, rate, timeout_ms FROM endpoints \
             WHERE max_in_flight IS NOT NULL OR rate IS NOT NULL ORDER BY name{}",
            if lock { " FOR NO KEY UPDATE" } else { "" }
        );
        self.query(&sql, &[])?
            .iter()
            .map(|row| {
                let rate: Option<String> = row.try_get(2)?;
                Ok(LimitedEndpoint {
                    name: row.try_get(0)?,
                    limits: Limits {
                        max_in_flight: row
                            .try_get::<_, Option<i32>>(1)?
                            .and_then(|n| u32::try_from(n).ok()),
                        // One that does not parse marks the endpoint damaged: its tasks are
                        // cancelled, never sent, so there is nothing to pace.
                        rate: rate.as_deref().and_then(|text| Rate::parse(text).ok()),
                    },
                    timeout_ms: row.try_get(3)?,
                })
            })
            .collect()
    }

    fn limit_usage(&self, endpoint: &str, window: Option<(DateTime<Utc>, u32)>) -> Result<Usage> {
        let Some((since, n)) = window else {
            let row = self.query_one(
                "SELECT count(*) FROM tasks WHERE tick_id IS NOT NULL AND endpoint = $1",
                &[&endpoint],
            )?;
            return Ok(Usage {
                in_flight: count(row.try_get(0)?),
                ..Usage::default()
            });
        };
        let row = self.query_one(
            "SELECT (SELECT count(*) FROM tasks WHERE tick_id IS NOT NULL AND endpoint = $1), \
                 (SELECT count(*) FROM (SELECT 1 FROM limit_starts \
                     WHERE endpoint = $1 AND started_at > $2 LIMIT $3) AS counted), \
                 (SELECT started_at FROM limit_starts WHERE endpoint = $1 AND started_at > $2 \
                     ORDER BY started_at DESC LIMIT 1 OFFSET $3 - 1)",
            &[&endpoint, &at(since), &i64::from(n)],
        )?;
        Ok(Usage {
            in_flight: count(row.try_get(0)?),
            started: count(row.try_get(1)?),
            nth_newest_start: row.try_get(2)?,
        })
    }

    fn count_starts(&self, starts: &[(i64, u32, &str)], at_time: DateTime<Utc>) -> Result<()> {
        let ids: Vec<i64> = starts.iter().map(|s| s.0).collect();
        let numbers: Vec<i32> = starts.iter().map(|s| s.1 as i32).collect();
        let endpoints: Vec<&str> = starts.iter().map(|s| s.2).collect();
        self.execute(
            "INSERT INTO limit_starts (task_id, number, endpoint, started_at) \
             SELECT id, number, endpoint, $4 \
             FROM unnest($1::bigint[], $2::integer[], $3::text[]) AS s(id, number, endpoint)",
            &[&ids, &numbers, &endpoints, &at(at_time)],
        )
        .context("cannot count the claimed requests' starts")?;
        Ok(())
    }

    fn forget_starts(&self, endpoint: &str, before: DateTime<Utc>) -> Result<()> {
        self.execute(
            "DELETE FROM limit_starts WHERE endpoint = $1 AND started_at <= $2",
            &[&endpoint, &at(before)],
        )?;
        Ok(())
    }
}
