//! A whole PostgreSQL database read and written, for `transfer`.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::endpoints::{endpoint_from_row, ENDPOINT_COLUMNS, ENDPOINT_COLUMN_COUNT};
use super::schedules::{schedule_from_row, SCHEDULE_COLUMNS};
use super::tasks::{attempt_from_row, tasks_from_rows, ATTEMPT_COLUMNS, TASK_COLUMNS};
use super::ticks::{tick_from_row, TICK_COLUMNS};
use super::{at, Postgres};
use crate::attempt::AttemptOutcome;
use crate::store::backend::Counters as _;
use crate::store::backend::{Tasks, Transfers};
use crate::store::records::{Dated, MissingReport, Snapshot, TickRow};

impl Transfers for Postgres {
    fn holds_anything(&self) -> Result<bool> {
        Ok(self
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM endpoints) OR EXISTS (SELECT 1 FROM tasks) \
                     OR EXISTS (SELECT 1 FROM schedules) OR EXISTS (SELECT 1 FROM ticks)",
                &[],
            )?
            .try_get(0)?)
    }

    fn export(&self) -> Result<Snapshot> {
        let mut snapshot = Snapshot::default();
        let sql =
            format!("SELECT {ENDPOINT_COLUMNS}, created_at, updated_at FROM endpoints ORDER BY id");
        for row in self.query(&sql, &[])? {
            snapshot.endpoints.push(Dated {
                row: endpoint_from_row(&row)?,
                created_at: row.try_get(ENDPOINT_COLUMN_COUNT)?,
                updated_at: row.try_get(ENDPOINT_COLUMN_COUNT + 1)?,
            });
        }
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks ORDER BY id");
        snapshot.tasks = tasks_from_rows(&self.query(&sql, &[])?)?;
        let sql = format!("SELECT task_id, {ATTEMPT_COLUMNS} FROM attempts ORDER BY id");
        for row in self.query(&sql, &[])? {
            snapshot
                .attempts
                .push((row.try_get(0)?, attempt_from_row(&row, 1)?));
        }
        let task_ids: Vec<i64> = snapshot.tasks.iter().map(|t| t.id).collect();
        for id in task_ids {
            snapshot.transitions.extend(self.transitions_of(id)?);
        }
        let sql =
            format!("SELECT {SCHEDULE_COLUMNS}, created_at, updated_at FROM schedules ORDER BY id");
        for row in self.query(&sql, &[])? {
            snapshot.schedules.push(Dated {
                row: schedule_from_row(&row)?,
                created_at: row.try_get(12)?,
                updated_at: row.try_get(13)?,
            });
        }
        let sql = format!("SELECT {TICK_COLUMNS}, host, boot_id, pid_ns FROM ticks ORDER BY seq");
        for row in self.query(&sql, &[])? {
            snapshot.ticks.push(TickRow {
                record: tick_from_row(&row)?,
                host: row.try_get(12)?,
                boot_id: row.try_get(13)?,
                pid_ns: row.try_get(14)?,
            });
        }
        // The identity sequence remembers the highest id ever given, pruned ones included.
        snapshot.attempt_counts = self.attempt_counts()?;
        snapshot.highest_task_id = self
            .query_one(
                "SELECT greatest(coalesce((SELECT max(id) FROM tasks), 0), \
                     (SELECT CASE WHEN is_called THEN last_value ELSE 0 END \
                      FROM httpat.tasks_id_seq))",
                &[],
            )?
            .try_get(0)?;
        Ok(snapshot)
    }

    fn import(&self, snapshot: &Snapshot) -> Result<()> {
        for Dated {
            row: endpoint,
            created_at,
            updated_at,
        } in &snapshot.endpoints
        {
            self.execute(
                "INSERT INTO endpoints (name, method, url, headers, timeout_ms, max_attempts, \
                     success, description, deprecated_at, deprecated_reason, ca_file, \
                     client_cert, client_key, created_at, updated_at, signing_secrets, \
                     max_in_flight, rate, on_failure, on_success) \
                 VALUES ($1, $2, $3, $4::text::jsonb, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                     $14, $15, $16::text::jsonb, $17, $18, $19, $20)",
                &[
                    &endpoint.name,
                    &endpoint.method,
                    &endpoint.url,
                    &serde_json::to_string(&endpoint.headers)?,
                    &(endpoint.timeout.as_millis() as i64),
                    &(endpoint.max_attempts as i32),
                    &endpoint.success.as_str(),
                    &endpoint.description,
                    &endpoint.deprecated_at.map(at),
                    &endpoint.deprecated_reason,
                    &endpoint.tls.ca_file,
                    &endpoint.tls.client_cert,
                    &endpoint.tls.client_key,
                    &at(*created_at),
                    &at(*updated_at),
                    &serde_json::to_string(&endpoint.signing_secrets)?,
                    &endpoint.limits.max_in_flight.map(|n| n as i32),
                    &endpoint.limits.rate.map(|rate| rate.to_string()),
                    &endpoint.notify.on_failure,
                    &endpoint.notify.on_success,
                ],
            )
            .with_context(|| format!("cannot copy endpoint \"{}\"", endpoint.name))?;
        }
        for task in &snapshot.tasks {
            self.execute(
                "INSERT INTO tasks (id, endpoint, args, key, priority, max_attempts, agent, \
                     created_at, due_at, next_attempt_at, attempts, attempts_base, tick_id, \
                     lease_until, outcome, finished_at, reason, last_result, schedule, \
                     notifies) \
                 VALUES ($1, $2, $3::text::jsonb, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                     $14, $15, $16, $17, $18, $19, $20)",
                &[
                    &task.id,
                    &task.endpoint,
                    &serde_json::to_string(&task.args)?,
                    &task.key,
                    &task.priority,
                    &task.max_attempts.map(|n| n as i32),
                    &task.agent,
                    &task.created_at,
                    &task.due_at,
                    &task.next_attempt_at,
                    &(task.attempts as i32),
                    &(task.attempts_base as i32),
                    &task.tick_id,
                    &task.lease_until,
                    &task.outcome.map(|o| o.as_str()),
                    &task.finished_at,
                    &task.reason,
                    &task.last_result,
                    &task.schedule,
                    &task.notifies,
                ],
            )
            .with_context(|| format!("cannot copy task {}", task.id))?;
        }
        for (task_id, attempt) in &snapshot.attempts {
            self.execute(
                "INSERT INTO attempts (task_id, number, tick_id, started_at, duration_ms, \
                     outcome, status, error, request, content_type, retry_after, location, \
                     body, body_truncated) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                &[
                    task_id,
                    &(attempt.number as i32),
                    &attempt.tick_id,
                    &attempt.started_at,
                    &attempt.duration_ms,
                    &attempt.outcome.map(AttemptOutcome::as_str),
                    &attempt.status.map(i32::from),
                    &attempt.error,
                    &attempt.request,
                    &attempt.content_type,
                    &attempt.retry_after,
                    &attempt.location,
                    &attempt.body,
                    &attempt.body_truncated,
                ],
            )?;
        }
        for transition in &snapshot.transitions {
            self.insert_transition(transition)?;
        }
        for Dated {
            row: schedule,
            created_at,
            updated_at,
        } in &snapshot.schedules
        {
            self.execute(
                "INSERT INTO schedules (name, endpoint, cron, zone, args, priority, \
                     max_attempts, paused_at, next_fire_at, last_fire_at, last_task_id, \
                     created_at, updated_at, until_at) \
                 VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $8, $9, $10, $11, $12, $13, \
                     $14)",
                &[
                    &schedule.name,
                    &schedule.endpoint,
                    &schedule.cron,
                    &schedule.zone,
                    &serde_json::to_string(&schedule.args)?,
                    &schedule.priority,
                    &schedule.max_attempts.map(|n| n as i32),
                    &schedule.paused_at,
                    &schedule.next_fire_at,
                    &schedule.last_fire_at,
                    &schedule.last_task_id,
                    &at(*created_at),
                    &at(*updated_at),
                    &schedule.until_at.map(at),
                ],
            )?;
        }
        for tick in &snapshot.ticks {
            let (record, counts) = (&tick.record, &tick.record.counts);
            let n = |value: u32| value as i32;
            let ended: Option<DateTime<Utc>> = record.ended_at;
            self.execute(
                "INSERT INTO ticks (id, started_at, ended_at, recovered, fired, sent, \
                     succeeded, retrying, failed, cancelled, error, host, boot_id, pid_ns, \
                     missing_variables) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
                     $15::text::jsonb)",
                &[
                    &record.id,
                    &record.started_at,
                    &ended,
                    &n(counts.recovered),
                    &n(counts.fired),
                    &n(counts.sent),
                    &n(counts.succeeded),
                    &n(counts.retrying),
                    &n(counts.failed),
                    &n(counts.cancelled),
                    &record.error,
                    &tick.host,
                    &tick.boot_id,
                    &tick.pid_ns,
                    &MissingReport::to_column(&record.missing)?,
                ],
            )?;
        }
        // Copying the attempts counted them again; the counters are the source's.
        self.set_attempt_counts(&snapshot.attempt_counts)?;
        if snapshot.highest_task_id > 0 {
            self.query_one(
                "SELECT setval('httpat.tasks_id_seq', $1)",
                &[&snapshot.highest_task_id],
            )?;
        }
        Ok(())
    }
}
