//! Recurring schedules in PostgreSQL. A firing moves a schedule by compare-and-set on its next
//! time, so ticks started by cron on every host need no leader: one wins, the others change
//! nothing.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use postgres::Row;

use super::{at, not_before, Postgres};
use crate::store::backend::Schedules;
use crate::store::records::Schedule;
use crate::store::rows::schedule_args;

pub(super) const SCHEDULE_COLUMNS: &str =
    "name, endpoint, cron, zone, args::text, priority, max_attempts, \
     paused_at, next_fire_at, last_fire_at, last_task_id, until_at";

pub(super) fn schedule_from_row(row: &Row) -> Result<Schedule> {
    Ok(Schedule {
        name: row.try_get(0)?,
        endpoint: row.try_get(1)?,
        cron: row.try_get(2)?,
        zone: row.try_get(3)?,
        args: schedule_args(row.try_get(4)?),
        priority: row.try_get(5)?,
        max_attempts: row.try_get::<_, Option<i32>>(6)?.map(|n| n.max(0) as u32),
        paused_at: row.try_get(7)?,
        next_fire_at: row.try_get(8)?,
        last_fire_at: row.try_get(9)?,
        last_task_id: row.try_get(10)?,
        until_at: row.try_get(11)?,
    })
}

impl Schedules for Postgres {
    fn schedule(&self, name: &str) -> Result<Option<Schedule>> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE name = $1");
        self.query_opt(&sql, &[&name])
            .with_context(|| format!("cannot read schedule \"{name}\""))?
            .map(|row| schedule_from_row(&row))
            .transpose()
    }

    fn schedules(&self) -> Result<Vec<Schedule>> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY name");
        self.query(&sql, &[])?
            .iter()
            .map(schedule_from_row)
            .collect()
    }

    fn schedules_due(&self, now: DateTime<Utc>) -> Result<Vec<Schedule>> {
        let sql = format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules \
             WHERE paused_at IS NULL AND next_fire_at <= $1 \
                 AND (until_at IS NULL OR next_fire_at <= until_at) \
             ORDER BY next_fire_at, name"
        );
        self.query(&sql, &[&at(now)])?
            .iter()
            .map(schedule_from_row)
            .collect()
    }

    fn save_schedule(&self, schedule: &Schedule, now: DateTime<Utc>) -> Result<()> {
        let args = serde_json::to_string(&schedule.args)?;
        let max_attempts = schedule.max_attempts.map(|n| n as i32);
        self.execute(
            "INSERT INTO schedules (name, endpoint, cron, zone, args, priority, max_attempts, \
                 paused_at, next_fire_at, last_fire_at, last_task_id, created_at, updated_at, \
                 until_at) \
             VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $8, $9, $10, $11, $12, $12, $13) \
             ON CONFLICT (name) DO UPDATE SET endpoint = $2, cron = $3, zone = $4, \
                 args = $5::text::jsonb, priority = $6, max_attempts = $7, paused_at = $8, \
                 next_fire_at = $9, last_fire_at = $10, last_task_id = $11, updated_at = $12, \
                 until_at = $13",
            &[
                &schedule.name,
                &schedule.endpoint,
                &schedule.cron,
                &schedule.zone,
                &args,
                &schedule.priority,
                &max_attempts,
                &schedule.paused_at.map(at),
                &not_before(schedule.next_fire_at),
                &schedule.last_fire_at.map(at),
                &schedule.last_task_id,
                &at(now),
                &schedule.until_at.map(at),
            ],
        )
        .with_context(|| format!("cannot save schedule \"{}\"", schedule.name))?;
        Ok(())
    }

    fn delete_schedule(&self, name: &str) -> Result<bool> {
        Ok(self.execute("DELETE FROM schedules WHERE name = $1", &[&name])? == 1)
    }

    fn advance_schedule(
        &self,
        name: &str,
        read: DateTime<Utc>,
        next: DateTime<Utc>,
        fired: DateTime<Utc>,
    ) -> Result<bool> {
        let advanced = self
            .execute(
                "UPDATE schedules SET next_fire_at = $1, last_fire_at = $2 \
                 WHERE name = $3 AND next_fire_at = $4 AND paused_at IS NULL \
                     AND (until_at IS NULL OR until_at >= $2)",
                &[&not_before(next), &at(fired), &name, &read],
            )
            .with_context(|| format!("cannot advance schedule \"{name}\""))?;
        Ok(advanced == 1)
    }

    fn set_last_task(&self, name: &str, task_id: i64) -> Result<()> {
        self.execute(
            "UPDATE schedules SET last_task_id = $1 WHERE name = $2",
            &[&task_id, &name],
        )?;
        Ok(())
    }
}
