//! Recurring schedules in the database, and the firing that turns one into a task.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{named_params, OptionalExtension, Row};
use serde_json::{Map, Value};

use super::{from_millis, millis, millis_not_before, NewTask, Store};
use crate::task::State;

/// A recurring schedule as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub name: String,
    pub endpoint: String,
    pub cron: String,
    pub zone: String,
    pub args: Map<String, Value>,
    pub priority: i64,
    pub max_attempts: Option<u32>,
    pub paused_at: Option<DateTime<Utc>>,
    pub next_fire_at: DateTime<Utc>,
    pub last_fire_at: Option<DateTime<Utc>>,
    pub last_task_id: Option<i64>,
}

/// One firing a tick is about to make: the schedule as read, the firing's time, and the next.
#[derive(Debug, Clone)]
pub struct Firing {
    pub schedule: Schedule,
    pub fire_at: DateTime<Utc>,
    pub next_fire_at: DateTime<Utc>,
    pub skipped: u64,
}

const SCHEDULE_COLUMNS: &str = "name, endpoint, cron, zone, args, priority, max_attempts, \
     paused_at, next_fire_at, last_fire_at, last_task_id";

fn schedule_from_row(row: &Row) -> rusqlite::Result<Schedule> {
    let args: String = row.get(4)?;
    Ok(Schedule {
        name: row.get(0)?,
        endpoint: row.get(1)?,
        cron: row.get(2)?,
        zone: row.get(3)?,
        args: serde_json::from_str(&args).unwrap_or_default(),
        priority: row.get(5)?,
        max_attempts: row.get(6)?,
        paused_at: row.get::<_, Option<i64>>(7)?.map(from_millis),
        next_fire_at: from_millis(row.get(8)?),
        last_fire_at: row.get::<_, Option<i64>>(9)?.map(from_millis),
        last_task_id: row.get(10)?,
    })
}

impl Store {
    pub fn schedule(&self, name: &str) -> Result<Option<Schedule>> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE name = ?1");
        self.conn
            .prepare_cached(&sql)?
            .query_row([name], schedule_from_row)
            .optional()
            .with_context(|| format!("cannot read schedule \"{name}\""))
    }

    /// Every schedule, by name.
    pub fn schedules(&self) -> Result<Vec<Schedule>> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY name");
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map([], schedule_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Active schedules whose next firing is at or before `now`.
    pub fn schedules_due(&self, now: DateTime<Utc>) -> Result<Vec<Schedule>> {
        let sql = format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules \
             WHERE paused_at IS NULL AND next_fire_at <= ?1 ORDER BY next_fire_at, name"
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map([millis(now)], schedule_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Inserts the schedule, or replaces the stored one of the same name.
    pub fn save_schedule(&self, schedule: &Schedule, now: DateTime<Utc>) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO schedules (name, endpoint, cron, zone, args, priority, max_attempts, \
                     paused_at, next_fire_at, last_fire_at, last_task_id, created_at, updated_at) \
                 VALUES (:name, :endpoint, :cron, :zone, :args, :priority, :max_attempts, \
                     :paused, :next, :last, :last_task, :now, :now) \
                 ON CONFLICT (name) DO UPDATE SET endpoint = :endpoint, cron = :cron, \
                     zone = :zone, args = :args, priority = :priority, \
                     max_attempts = :max_attempts, paused_at = :paused, next_fire_at = :next, \
                     last_fire_at = :last, last_task_id = :last_task, updated_at = :now",
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
                ":now": millis(now),
            })
            .with_context(|| format!("cannot save schedule \"{}\"", schedule.name))?;
        Ok(())
    }

    pub fn delete_schedule(&self, name: &str) -> Result<bool> {
        let deleted = self
            .conn
            .prepare_cached("DELETE FROM schedules WHERE name = ?1")?
            .execute([name])?;
        Ok(deleted == 1)
    }

    /// Makes the task of one firing and moves the schedule to its next firing, fenced on the
    /// next firing read: when another tick fired it first, nothing happens and None is returned.
    /// The task's key, `recur:NAME:FIRE_TIME`, makes a second task for one firing impossible.
    pub fn fire(&self, firing: &Firing, actor: &str, now: DateTime<Utc>) -> Result<Option<i64>> {
        let schedule = &firing.schedule;
        let advanced = self
            .conn
            .prepare_cached(
                "UPDATE schedules SET next_fire_at = :next, last_fire_at = :fired \
                 WHERE name = :name AND next_fire_at = :read AND paused_at IS NULL",
            )?
            .execute(named_params! {
                ":next": millis_not_before(firing.next_fire_at),
                ":fired": millis(firing.fire_at),
                ":name": schedule.name,
                ":read": millis(schedule.next_fire_at),
            })?;
        if advanced == 0 {
            return Ok(None);
        }
        let fired = firing
            .fire_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let key = format!("recur:{}:{fired}", schedule.name);
        if self.task_by_key(&key)?.is_some() {
            return Ok(None);
        }
        let mut detail = format!("fired by schedule \"{}\" for {fired}", schedule.name);
        if firing.skipped > 0 {
            detail.push_str(&format!(
                "; {} earlier missed firing{} skipped",
                firing.skipped,
                if firing.skipped == 1 { "" } else { "s" }
            ));
        }
        let task = NewTask {
            endpoint: schedule.endpoint.clone(),
            args: schedule.args.clone(),
            key: Some(key),
            priority: schedule.priority,
            max_attempts: schedule.max_attempts,
            agent: Some(format!("recur:{}", schedule.name)),
            due_at: firing.fire_at,
            schedule: Some(schedule.name.clone()),
            creation: Some(detail),
        };
        let id = self.insert_task(&task, actor, now)?;
        self.conn
            .prepare_cached("UPDATE schedules SET last_task_id = ?1 WHERE name = ?2")?
            .execute(rusqlite::params![id, schedule.name])?;
        Ok(Some(id))
    }

    /// The state of a schedule's last task, if it still exists.
    pub fn task_state(&self, id: i64, now: DateTime<Utc>) -> Result<Option<State>> {
        Ok(self.task(id)?.map(|task| task.state(now)))
    }
}
