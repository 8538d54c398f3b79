//! What ticks do to tasks in PostgreSQL, with ticks on several hosts at once: a claim takes rows
//! with `FOR UPDATE SKIP LOCKED` in a CTE (so that the LIMIT bounds what is updated, and a row
//! another tick is claiming is passed over, never waited for); every result is written fenced by
//! the task, its attempt and the holding tick.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::tasks::{tasks_from_rows, TASK_COLUMNS};
use super::{at, count, not_before, Postgres};
use crate::attempt::{AttemptOutcome, AttemptResult};
use crate::store::backend::Claims;
use crate::store::records::{id_range, Candidate, Claim, Pick, Recorded, Recovery};
use crate::task::Task;

/// About how many bytes of response bodies one statement that records attempts carries.
const STATEMENT_BYTES: usize = 1 << 20;

impl Claims for Postgres {
    fn claim_due(&self, claim: &Claim) -> Result<Vec<Task>> {
        let sql = format!(
            "WITH picked AS ( \
                 SELECT id FROM tasks \
                 WHERE outcome IS NULL AND tick_id IS NULL AND next_attempt_at <= $1 \
                   AND endpoint <> ALL ($2) \
                   AND coalesce((SELECT timeout_ms FROM endpoints e \
                                 WHERE e.name = tasks.endpoint), 0) <= $3 \
                 ORDER BY priority DESC, next_attempt_at, id \
                 LIMIT $4 \
                 FOR UPDATE SKIP LOCKED) \
             UPDATE tasks SET tick_id = $5, lease_until = $6, attempts = attempts + 1 \
             FROM picked WHERE tasks.id = picked.id \
             RETURNING {}",
            TASK_COLUMNS
                .split(", ")
                .map(|column| format!("tasks.{column}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let limit = i64::from(claim.limit);
        let rows = self.query(
            &sql,
            &[
                &at(claim.now),
                &claim.skip,
                &claim.remaining_ms,
                &limit,
                &claim.tick_id,
                &at(claim.lease_until),
            ],
        )?;
        self.record_claimed(tasks_from_rows(&rows)?, claim)
    }

    fn claim_candidates(&self, pick: &Pick) -> Result<Vec<Candidate>> {
        let select = |which: &str| {
            format!(
                "SELECT id, priority, next_attempt_at FROM tasks \
                 WHERE outcome IS NULL AND tick_id IS NULL AND next_attempt_at <= $1 AND {which} \
                   AND coalesce((SELECT timeout_ms FROM endpoints e \
                                 WHERE e.name = tasks.endpoint), 0) <= $3 \
                 ORDER BY priority DESC, next_attempt_at, id \
                 LIMIT $4 \
                 FOR UPDATE SKIP LOCKED"
            )
        };
        let (now, limit) = (at(pick.now), i64::from(pick.limit));
        let rows = match pick.only {
            // An endpoint with a limit: a walk of its own index.
            Some(endpoint) => self.query(
                &select("endpoint = $2"),
                &[&now, &endpoint, &pick.remaining_ms, &limit],
            )?,
            None => self.query(
                &select("endpoint <> ALL ($2)"),
                &[&now, &pick.skip, &pick.remaining_ms, &limit],
            )?,
        };
        rows.iter()
            .map(|row| {
                Ok(Candidate {
                    id: row.try_get(0)?,
                    priority: row.try_get(1)?,
                    next_attempt_at: row.try_get(2)?,
                })
            })
            .collect()
    }

    fn take_tasks(&self, ids: &[i64], claim: &Claim) -> Result<Vec<Task>> {
        let sql = format!(
            "UPDATE tasks SET tick_id = $2, lease_until = $3, attempts = attempts + 1 \
             WHERE id = ANY ($1) AND outcome IS NULL AND tick_id IS NULL \
             RETURNING {TASK_COLUMNS}"
        );
        let rows = self.query(&sql, &[&ids, &claim.tick_id, &at(claim.lease_until)])?;
        self.record_claimed(tasks_from_rows(&rows)?, claim)
    }

    fn release_task(&self, task: &Task, tick_id: &str) -> Result<bool> {
        let number = task.attempts as i32;
        let released = self
            .execute(
                "UPDATE tasks SET tick_id = NULL, lease_until = NULL, attempts = attempts - 1 \
                 WHERE id = $1 AND tick_id = $2 AND attempts = $3",
                &[&task.id, &tick_id, &number],
            )
            .with_context(|| format!("cannot release task {}", task.id))?;
        if released == 0 {
            return Ok(false);
        }
        self.execute(
            "DELETE FROM attempts WHERE task_id = $1 AND number = $2",
            &[&task.id, &number],
        )?;
        self.execute(
            "DELETE FROM limit_starts WHERE task_id = $1 AND number = $2",
            &[&task.id, &number],
        )?;
        Ok(true)
    }

    /// A group in two statements (tasks, then their attempts), each over arrays of the
    /// group's values: two round trips for the group, not two per result.
    fn record_results(&self, recorded: &[Recorded]) -> Result<Vec<bool>> {
        if recorded.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = recorded.iter().map(|r| r.result.task_id).collect();
        let ticks: Vec<&str> = recorded.iter().map(|r| r.tick_id).collect();
        let numbers: Vec<i32> = recorded.iter().map(|r| r.result.number as i32).collect();
        let outcomes: Vec<Option<&str>> = recorded
            .iter()
            .map(|r| r.outcome.map(|o| o.as_str()))
            .collect();
        let finished: Vec<DateTime<Utc>> = recorded.iter().map(|r| at(r.finished_at)).collect();
        let next: Vec<Option<DateTime<Utc>>> = recorded
            .iter()
            .map(|r| r.next_attempt_at.map(not_before))
            .collect();
        let reasons: Vec<Option<&str>> = recorded.iter().map(|r| r.reason).collect();
        let summaries: Vec<String> = recorded.iter().map(|r| r.result.summary()).collect();
        let rows = self
            .query(
                "UPDATE tasks t SET tick_id = NULL, lease_until = NULL, outcome = r.outcome, \
                     finished_at = CASE WHEN r.outcome IS NULL THEN NULL ELSE r.finished_at END, \
                     next_attempt_at = COALESCE(r.next_at, t.next_attempt_at), \
                     reason = r.reason, last_result = r.summary \
                 FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::text[], \
                             $5::timestamptz[], $6::timestamptz[], $7::text[], $8::text[]) \
                     AS r(id, tick, number, outcome, finished_at, next_at, reason, summary) \
                 WHERE t.id = r.id AND t.tick_id = r.tick AND t.attempts = r.number \
                 RETURNING t.id",
                &[
                    &ids, &ticks, &numbers, &outcomes, &finished, &next, &reasons, &summaries,
                ],
            )
            .with_context(|| format!("cannot record the results of tasks {}", id_range(&ids)))?;
        let kept: std::collections::HashSet<i64> =
            rows.iter().map(|row| row.get::<_, i64>(0)).collect();
        let done: Vec<bool> = ids.iter().map(|id| kept.contains(id)).collect();
        let results: Vec<&AttemptResult> = recorded
            .iter()
            .zip(&done)
            .filter(|(_, done)| **done)
            .map(|(r, _)| r.result)
            .collect();
        // The bodies go in statements of about STATEMENT_BYTES each: a message holds what it
        // carries twice over (its parameters, then the connection's buffer), so that a group of
        // large answers costs that much memory, not the whole group's twice.
        let mut from = 0;
        while from < results.len() {
            let mut to = from + 1;
            let mut bytes = results[from].body.as_ref().map_or(0, Vec::len);
            while to < results.len() {
                bytes += results[to].body.as_ref().map_or(0, Vec::len);
                if bytes > STATEMENT_BYTES {
                    break;
                }
                to += 1;
            }
            self.write_attempts(&results[from..to])?;
            from = to;
        }
        Ok(done)
    }

    fn recover_task(&self, recovery: &Recovery) -> Result<bool> {
        let task = recovery.task;
        let Some(dead_tick) = &task.tick_id else {
            return Ok(false);
        };
        let number = task.attempts as i32;
        let changed = self
            .execute(
                "UPDATE tasks SET tick_id = NULL, lease_until = NULL, next_attempt_at = $1, \
                     outcome = CASE WHEN $2::boolean THEN 'failed' END, \
                     finished_at = CASE WHEN $2::boolean THEN $3::timestamptz END, \
                     reason = CASE WHEN $2::boolean THEN $4::text END, \
                     last_result = 'interrupted' \
                 WHERE id = $5 AND tick_id = $6 AND attempts = $7",
                &[
                    &at(recovery.due_again_at),
                    &recovery.failed,
                    &at(recovery.now),
                    &recovery.why,
                    &task.id,
                    dead_tick,
                    &number,
                ],
            )
            .with_context(|| format!("cannot recover task {}", task.id))?;
        if changed == 0 {
            return Ok(false);
        }
        self.execute(
            "UPDATE attempts SET outcome = 'interrupted', error = $1 \
             WHERE task_id = $2 AND number = $3 AND outcome IS NULL",
            &[&recovery.why, &task.id, &number],
        )?;
        Ok(true)
    }

    fn due_preview(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Task>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks \
             WHERE outcome IS NULL AND tick_id IS NULL AND next_attempt_at <= $1 \
             ORDER BY priority DESC, next_attempt_at, id LIMIT $2"
        );
        tasks_from_rows(&self.query(&sql, &[&at(now), &i64::from(limit)])?)
    }

    fn has_work(&self, now: DateTime<Utc>) -> Result<bool> {
        Ok(self
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM tasks WHERE tick_id IS NOT NULL) \
                     OR EXISTS (SELECT 1 FROM tasks \
                         WHERE outcome IS NULL AND tick_id IS NULL AND next_attempt_at <= $1) \
                     OR EXISTS (SELECT 1 FROM schedules \
                         WHERE paused_at IS NULL AND next_fire_at <= $1 \
                             AND (until_at IS NULL OR next_fire_at <= until_at))",
                &[&at(now)],
            )?
            .try_get(0)?)
    }

    fn any_due(&self, now: DateTime<Utc>, skip: &[String]) -> Result<bool> {
        Ok(self
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM tasks \
                     WHERE outcome IS NULL AND tick_id IS NULL AND next_attempt_at <= $1 \
                       AND endpoint <> ALL ($2))",
                &[&at(now), &skip],
            )?
            .try_get(0)?)
    }

    fn waiting_count_of(&self, endpoint: &str, now: DateTime<Utc>) -> Result<u64> {
        let row = self.query_one(
            "SELECT count(*) FROM tasks WHERE endpoint = $1 AND outcome IS NULL \
                 AND tick_id IS NULL AND next_attempt_at <= $2",
            &[&endpoint, &at(now)],
        )?;
        Ok(count(row.try_get(0)?))
    }

    fn running_tasks(&self) -> Result<Vec<Task>> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE tick_id IS NOT NULL");
        tasks_from_rows(&self.query(&sql, &[])?)
    }
}

impl Postgres {
    /// Records these attempts' results, over arrays of their values: one statement.
    fn write_attempts(&self, results: &[&AttemptResult]) -> Result<()> {
        // Borrowed, not copied: a group's bodies are in memory once already, and again in the
        // message that carries them.
        let column = |f: fn(&AttemptResult) -> Option<&str>| -> Vec<Option<&str>> {
            results.iter().map(|r| f(r)).collect()
        };
        self.execute(
            "UPDATE attempts a SET started_at = r.started_at, duration_ms = r.duration_ms, \
                 outcome = r.outcome, status = r.status, error = r.error, request = r.request, \
                 content_type = r.content_type, retry_after = r.retry_after, \
                 location = r.location, body = r.body, body_truncated = r.body_truncated \
             FROM unnest($1::bigint[], $2::integer[], $3::timestamptz[], $4::bigint[], \
                         $5::text[], $6::integer[], $7::text[], $8::text[], $9::text[], \
                         $10::text[], $11::text[], $12::bytea[], $13::boolean[]) \
                 AS r(task_id, number, started_at, duration_ms, outcome, status, error, \
                      request, content_type, retry_after, location, body, body_truncated) \
             WHERE a.task_id = r.task_id AND a.number = r.number",
            &[
                &results.iter().map(|r| r.task_id).collect::<Vec<i64>>(),
                &results
                    .iter()
                    .map(|r| r.number as i32)
                    .collect::<Vec<i32>>(),
                &results
                    .iter()
                    .map(|r| at(r.started_at))
                    .collect::<Vec<DateTime<Utc>>>(),
                &results.iter().map(|r| r.duration_ms).collect::<Vec<i64>>(),
                &results
                    .iter()
                    .map(|r| AttemptOutcome::from(r.verdict).as_str())
                    .collect::<Vec<&str>>(),
                &results
                    .iter()
                    .map(|r| r.status.map(i32::from))
                    .collect::<Vec<Option<i32>>>(),
                &column(|r| r.error.as_deref()),
                &column(|r| r.request.as_deref()),
                &column(|r| r.content_type.as_deref()),
                &column(|r| r.retry_after.as_deref()),
                &column(|r| r.location.as_deref()),
                &results
                    .iter()
                    .map(|r| r.body.as_deref())
                    .collect::<Vec<Option<&[u8]>>>(),
                &results
                    .iter()
                    .map(|r| r.body_truncated)
                    .collect::<Vec<bool>>(),
            ],
        )?;
        Ok(())
    }

    /// Puts claimed tasks in the claim's order (RETURNING gives none: the claim's order is the
    /// order of sending) and inserts their in-flight attempt rows.
    fn record_claimed(&self, mut claimed: Vec<Task>, claim: &Claim) -> Result<Vec<Task>> {
        claimed.sort_by(|a, b| {
            (b.priority, a.next_attempt_at, a.id).cmp(&(a.priority, b.next_attempt_at, b.id))
        });
        let ids: Vec<i64> = claimed.iter().map(|t| t.id).collect();
        let numbers: Vec<i32> = claimed.iter().map(|t| t.attempts as i32).collect();
        self.execute(
            "INSERT INTO attempts (task_id, number, tick_id, started_at) \
             SELECT id, number, $3, $4 FROM unnest($1::bigint[], $2::integer[]) AS c(id, number)",
            &[&ids, &numbers, &claim.tick_id, &at(claim.started_at)],
        )
        .context("cannot record the claimed attempts")?;
        Ok(claimed)
    }
}
