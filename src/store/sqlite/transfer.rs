//! A whole SQLite database read and written, for `transfer`.

use anyhow::{Context, Result};
use rusqlite::params;

use super::endpoints::{endpoint_from_row, ENDPOINT_COLUMNS, ENDPOINT_COLUMN_COUNT};
use super::schedules::{schedule_from_row, SCHEDULE_COLUMNS};
use super::tasks::{attempt_from_row, task_from_row, ATTEMPT_COLUMNS, TASK_COLUMNS};
use super::ticks::{tick_from_row, TICK_COLUMNS};
use super::{from_millis, millis, Sqlite};
use crate::attempt::AttemptOutcome;
use crate::store::backend::Counters as _;
use crate::store::backend::{Tasks, Transfers};
use crate::store::records::{Dated, MissingReport, Snapshot, TickRow};

impl Transfers for Sqlite {
    fn holds_anything(&self) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM endpoints) OR EXISTS (SELECT 1 FROM tasks) \
                 OR EXISTS (SELECT 1 FROM schedules) OR EXISTS (SELECT 1 FROM ticks)",
            [],
            |row| row.get(0),
        )?)
    }

    fn export(&self) -> Result<Snapshot> {
        let mut snapshot = Snapshot::default();
        let sql =
            format!("SELECT {ENDPOINT_COLUMNS}, created_at, updated_at FROM endpoints ORDER BY id");
        let mut statement = self.conn.prepare(&sql)?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            snapshot.endpoints.push(Dated {
                row: endpoint_from_row(row)?,
                created_at: from_millis(row.get(ENDPOINT_COLUMN_COUNT)?),
                updated_at: from_millis(row.get(ENDPOINT_COLUMN_COUNT + 1)?),
            });
        }
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks ORDER BY id");
        snapshot.tasks = self
            .conn
            .prepare(&sql)?
            .query_map([], task_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        let sql = format!("SELECT task_id, {ATTEMPT_COLUMNS} FROM attempts ORDER BY id");
        let mut statement = self.conn.prepare(&sql)?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            snapshot
                .attempts
                .push((row.get(0)?, attempt_from_row(row, 1)?));
        }
        let task_ids: Vec<i64> = snapshot.tasks.iter().map(|t| t.id).collect();
        for id in task_ids {
            snapshot.transitions.extend(self.transitions_of(id)?);
        }
        let sql =
            format!("SELECT {SCHEDULE_COLUMNS}, created_at, updated_at FROM schedules ORDER BY id");
        let mut statement = self.conn.prepare(&sql)?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            snapshot.schedules.push(Dated {
                row: schedule_from_row(row)?,
                created_at: from_millis(row.get(12)?),
                updated_at: from_millis(row.get(13)?),
            });
        }
        let sql = format!("SELECT {TICK_COLUMNS}, host, boot_id, pid_ns FROM ticks ORDER BY rowid");
        let mut statement = self.conn.prepare(&sql)?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            snapshot.ticks.push(TickRow {
                record: tick_from_row(row)?,
                host: row.get(12)?,
                boot_id: row.get(13)?,
                pid_ns: row.get(14)?,
            });
        }
        snapshot.attempt_counts = self.attempt_counts()?;
        snapshot.highest_task_id = self.conn.query_row(
            "SELECT max(coalesce((SELECT max(id) FROM tasks), 0), \
                 coalesce((SELECT high FROM id_marks WHERE name = 'tasks'), 0))",
            [],
            |row| row.get(0),
        )?;
        Ok(snapshot)
    }

    fn import(&self, snapshot: &Snapshot) -> Result<()> {
        let mut insert = self.conn.prepare(
            "INSERT INTO endpoints (name, method, url, headers, timeout_ms, max_attempts, \
                 success, description, deprecated_at, deprecated_reason, ca_file, client_cert, \
                 client_key, created_at, updated_at, signing_secrets, max_in_flight, rate, \
                 on_failure, on_success) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
                 ?18, ?19, ?20)",
        )?;
        for Dated {
            row: endpoint,
            created_at,
            updated_at,
        } in &snapshot.endpoints
        {
            insert
                .execute(params![
                    endpoint.name,
                    endpoint.method,
                    endpoint.url,
                    serde_json::to_string(&endpoint.headers)?,
                    endpoint.timeout.as_millis() as i64,
                    endpoint.max_attempts,
                    endpoint.success.as_str(),
                    endpoint.description,
                    endpoint.deprecated_at.map(millis),
                    endpoint.deprecated_reason,
                    endpoint.tls.ca_file,
                    endpoint.tls.client_cert,
                    endpoint.tls.client_key,
                    millis(*created_at),
                    millis(*updated_at),
                    serde_json::to_string(&endpoint.signing_secrets)?,
                    endpoint.limits.max_in_flight,
                    endpoint.limits.rate.map(|rate| rate.to_string()),
                    endpoint.notify.on_failure,
                    endpoint.notify.on_success,
                ])
                .with_context(|| format!("cannot copy endpoint \"{}\"", endpoint.name))?;
        }
        let mut insert = self.conn.prepare(
            "INSERT INTO tasks (id, endpoint, args, key, priority, max_attempts, agent, \
                 created_at, due_at, next_attempt_at, attempts, attempts_base, tick_id, \
                 lease_until, outcome, finished_at, reason, last_result, schedule, notifies) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
                 ?17, ?18, ?19, ?20)",
        )?;
        for task in &snapshot.tasks {
            insert
                .execute(params![
                    task.id,
                    task.endpoint,
                    serde_json::to_string(&task.args)?,
                    task.key,
                    task.priority,
                    task.max_attempts,
                    task.agent,
                    millis(task.created_at),
                    millis(task.due_at),
                    millis(task.next_attempt_at),
                    task.attempts,
                    task.attempts_base,
                    task.tick_id,
                    task.lease_until.map(millis),
                    task.outcome.map(|o| o.as_str()),
                    task.finished_at.map(millis),
                    task.reason,
                    task.last_result,
                    task.schedule,
                    task.notifies,
                ])
                .with_context(|| format!("cannot copy task {}", task.id))?;
        }
        let mut insert = self.conn.prepare(
            "INSERT INTO attempts (task_id, number, tick_id, started_at, duration_ms, outcome, \
                 status, error, request, content_type, retry_after, location, body, \
                 body_truncated) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?;
        for (task_id, attempt) in &snapshot.attempts {
            insert.execute(params![
                task_id,
                attempt.number,
                attempt.tick_id,
                millis(attempt.started_at),
                attempt.duration_ms,
                attempt.outcome.map(AttemptOutcome::as_str),
                attempt.status,
                attempt.error,
                attempt.request,
                attempt.content_type,
                attempt.retry_after,
                attempt.location,
                attempt.body,
                attempt.body_truncated,
            ])?;
        }
        for transition in &snapshot.transitions {
            self.insert_transition(transition)?;
        }
        let mut insert = self.conn.prepare(
            "INSERT INTO schedules (name, endpoint, cron, zone, args, priority, max_attempts, \
                 paused_at, next_fire_at, last_fire_at, last_task_id, created_at, updated_at, \
                 until_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?;
        for Dated {
            row: schedule,
            created_at,
            updated_at,
        } in &snapshot.schedules
        {
            insert.execute(params![
                schedule.name,
                schedule.endpoint,
                schedule.cron,
                schedule.zone,
                serde_json::to_string(&schedule.args)?,
                schedule.priority,
                schedule.max_attempts,
                schedule.paused_at.map(millis),
                millis(schedule.next_fire_at),
                schedule.last_fire_at.map(millis),
                schedule.last_task_id,
                millis(*created_at),
                millis(*updated_at),
                schedule.until_at.map(millis),
            ])?;
        }
        let mut insert = self.conn.prepare(
            "INSERT INTO ticks (id, started_at, ended_at, recovered, fired, sent, succeeded, \
                 retrying, failed, cancelled, error, host, boot_id, pid_ns, missing_variables) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?;
        for tick in &snapshot.ticks {
            let (record, counts) = (&tick.record, &tick.record.counts);
            insert.execute(params![
                record.id,
                millis(record.started_at),
                record.ended_at.map(millis),
                counts.recovered,
                counts.fired,
                counts.sent,
                counts.succeeded,
                counts.retrying,
                counts.failed,
                counts.cancelled,
                record.error,
                tick.host,
                tick.boot_id,
                tick.pid_ns,
                MissingReport::to_column(&record.missing)?,
            ])?;
        }
        // Copying the attempts counted them again; the counters are the source's. The tasks
        // copied are counted afresh, each in its phase.
        self.set_attempt_counts(&snapshot.attempt_counts)?;
        self.conn.execute_batch(
            "UPDATE task_counts SET n = (SELECT count(*) FROM tasks WHERE \
                 CASE WHEN outcome IS NOT NULL THEN outcome \
                      WHEN tick_id IS NOT NULL THEN 'running' \
                      WHEN attempts > attempts_base THEN 'retrying' \
                      ELSE 'waiting' END = task_counts.phase)",
        )?;
        self.conn.execute(
            "UPDATE id_marks SET high = max(high, ?1) WHERE name = 'tasks'",
            [snapshot.highest_task_id],
        )?;
        Ok(())
    }
}
