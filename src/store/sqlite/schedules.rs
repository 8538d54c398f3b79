//! Recurring schedules in SQLite.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{named_params, OptionalExtension, Row};

use super::{from_millis, millis, millis_not_before, Sqlite};
use crate::store::backend::Schedules;
use crate::store::records::Schedule;
use crate::store::rows::schedule_args;

pub(super) const SCHEDULE_COLUMNS: &str =
    "name, endpoint, cron, zone, args, priority, max_attempts, \
     paused_at, next_fire_at, last_fire_at, last_task_id, until_at";

pub(super) fn schedule_from_row(row: &Row) -> rusqlite::Result<Schedule> {
    Ok(Schedule {
        name: row.get(0)?,
        endpoint: row.get(1)?,
        cron: row.get(2)?,
        zone: row.get(3)?,
        args: schedule_args(&row.get::<_, String>(4)?),
        priority: row.get(5)?,
        max_attempts: row.get(6)?,
        paused_at: row.get::<_, Option<i64>>(7)?.map(from_millis),
        next_fire_at: from_millis(row.get(8)?),
        last_fire_at: row.get::<_, Option<i64>>(9)?.map(from_millis),
        last_task_id: row.get(10)?,
        until_at: row.get::<_, Option<i64>>(11)?.map(from_millis),
    })
}

impl Schedules for Sqlite {
    fn schedule(&self, name: &str) -> Result<Option<Schedule>> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE name = ?1");
        self.conn
            .prepare_cached(&sql)?
            .query_row([name], schedule_from_row)
            .optional()
            .with_context(|| format!("cannot read schedule \"{name}\""))
    }

    /// Every schedule, by name.
    fn schedules(&self) -> Result<Vec<Schedule>> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY name");
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map([], schedule_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Active schedules whose next firing is at or before `now`; an ended one never is.
    fn schedules_due(&self, now: DateTime<Utc>) -> Result<Vec<Schedule>> {
        let sql = format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules \
             WHERE paused_at IS NULL AND next_fire_at <= ?1 \
                 AND (until_at IS NULL OR next_fire_at <= until_at) \
             ORDER BY next_fire_at, name"
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map([millis(now)], schedule_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Inserts the schedule, or replaces the stored one of the same name.
    fn save_schedule(&self, schedule: &Schedule, now: DateTime<Utc>) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO schedules (name, endpoint, cron, zone, args, priority, max_attempts, \
                     paused_at, next_fire_at, last_fire_at, last_task_id, until_at, created_at, \
                     updated_at) \
                 VALUES (:name, :endpoint, :cron, :zone, :args, :priority, :max_attempts, \
                     :paused, :next, :last, :last_task, :until, :now, :now) \
                 ON CONFLICT (name) DO UPDATE SET endpoint = :endpoint, cron = :cron, \
                     zone = :zone, args = :args, priority = :priority, \
                     max_attempts = :max_attempts, paused_at = :paused, next_fire_at = :next, \
                     last_fire_at = :last, last_task_id = :last_task, until_at = :until, \
                     updated_at = :now",
            )?
            .execute(named_params! {
                ":name": schedule.name,
                ":endpoint": schedule.endpoint,
                ":cron": schedule.cron,
                ":zone": schedule.zone,
                ":args": serde_json::to_string(&schedule.args)?,
                ":priority": schedule.priority,
                ":max_attempts": schedule.max_attempts,
                ":paused": schedule.paused_at.map(millis),
                ":next": millis_not_before(schedule.next_fire_at),
                ":last": schedule.last_fire_at.map(millis),
                ":last_task": schedule.last_task_id,
                ":until": schedule.until_at.map(millis),
                ":now": millis(now),
            })
            .with_context(|| format!("cannot save schedule \"{}\"", schedule.name))?;
        Ok(())
    }

    fn delete_schedule(&self, name: &str) -> Result<bool> {
        let deleted = self
            .conn
            .prepare_cached("DELETE FROM schedules WHERE name = ?1")?
            .execute([name])?;
        Ok(deleted == 1)
    }

    fn advance_schedule(
        &self,
        name: &str,
        read: DateTime<Utc>,
        next: DateTime<Utc>,
        fired: DateTime<Utc>,
    ) -> Result<bool> {
        let advanced = self
            .conn
            .prepare_cached(
                "UPDATE schedules SET next_fire_at = :next, last_fire_at = :fired \
                 WHERE name = :name AND next_fire_at = :read AND paused_at IS NULL \
                     AND (until_at IS NULL OR until_at >= :fired)",
            )?
            .execute(named_params! {
                ":next": millis_not_before(next),
                ":fired": millis(fired),
                ":name": name,
                ":read": millis(read),
            })
            .with_context(|| format!("cannot advance schedule \"{name}\""))?;
        Ok(advanced == 1)
    }

    fn set_last_task(&self, name: &str, task_id: i64) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE schedules SET last_task_id = ?1 WHERE name = ?2")?
            .execute(rusqlite::params![task_id, name])?;
        Ok(())
    }
}
