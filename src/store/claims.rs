//! What ticks do to tasks: claim the due ones under a lease, record results fenced by that
//! lease, and recover tasks whose tick died.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{named_params, OptionalExtension};

use super::tasks::{task_from_row, TASK_COLUMNS};
use super::{millis, millis_not_before, Store};
use crate::attempt::AttemptResult;
use crate::task::{Decision, State, Task};

impl Store {
    /// Claims up to `limit` due tasks for `tick_id`, highest priority first, then the longest
    /// waiting, then by id; each gets its next attempt number, an in-flight attempt row and a
    /// `running` transition. Only tasks whose endpoint timeout fits in `remaining_ms` are taken,
    /// and none of the endpoints in `skip` (those the tick cannot send to: they stay due).
    /// Call inside a transaction: two ticks never claim the same task.
    #[allow(clippy::too_many_arguments)]
    pub fn claim_due(
        &self,
        tick_id: &str,
        now: DateTime<Utc>,
        started_at: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        remaining_ms: i64,
        limit: u32,
        skip: &[String],
    ) -> Result<Vec<Task>> {
        let skip = serde_json::to_string(skip)?;
        // One priority level at a time, each a short walk of the `tasks_claim` index: no sort of
        // every due task, and no scan of a level's future backlog.
        let mut ids: Vec<i64> = Vec::new();
        let mut below: Option<i64> = None;
        let mut next_level = self.conn.prepare_cached(
            "SELECT max(priority) FROM tasks \
             WHERE outcome IS NULL AND tick_id IS NULL AND priority < ?1",
        )?;
        let mut due_at_level = self.conn.prepare_cached(
            "SELECT id FROM tasks \
             WHERE outcome IS NULL AND tick_id IS NULL AND priority = :level \
               AND next_attempt_at <= :now \
               AND endpoint NOT IN (SELECT value FROM json_each(:skip)) \
               AND coalesce((SELECT timeout_ms FROM endpoints e WHERE e.name = tasks.endpoint), 0) \
                   <= :remaining \
             ORDER BY next_attempt_at, id LIMIT :limit",
        )?;
        while ids.len() < limit as usize {
            let level: Option<i64> =
                next_level.query_row([below.unwrap_or(i64::MAX)], |row| row.get(0))?;
            let Some(level) = level else { break };
            let wanted = limit as usize - ids.len();
            let found = due_at_level
                .query_map(
                    named_params! {
                        ":level": level,
                        ":now": millis(now),
                        ":remaining": remaining_ms,
                        ":limit": wanted as i64,
                        ":skip": skip,
                    },
                    |row| row.get::<_, i64>(0),
                )?
                .collect::<rusqlite::Result<Vec<i64>>>()?;
            ids.extend(found);
            if level == i64::MIN {
                break;
            }
            below = Some(level);
        }
        let sql = format!(
            "UPDATE tasks SET tick_id = :tick, lease_until = :lease, attempts = attempts + 1 \
             WHERE id = :id AND outcome IS NULL AND tick_id IS NULL \
             RETURNING {TASK_COLUMNS}"
        );
        let mut take = self.conn.prepare_cached(&sql)?;
        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            let task = take
                .query_row(
                    named_params! {
                        ":tick": tick_id,
                        ":lease": millis(lease_until),
                        ":id": id,
                    },
                    task_from_row,
                )
                .optional()
                .with_context(|| format!("cannot claim task {id}"))?;
            claimed.extend(task);
        }
        let mut insert_attempt = self.conn.prepare_cached(
            "INSERT INTO attempts (task_id, number, tick_id, started_at) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for task in &claimed {
            insert_attempt.execute(rusqlite::params![
                task.id,
                task.attempts,
                tick_id,
                millis(started_at)
            ])?;
            let detail = format!("attempt {}", task.attempts);
            self.record_transition(
                task.id,
                started_at,
                Some(task.state_before_claim()),
                State::Running,
                tick_id,
                Some(&detail),
            )?;
        }
        Ok(claimed)
    }

    /// Gives back a claimed task whose request was never started (the tick stopped, or its time
    /// budget ran out first): the claim's attempt is undone and the task waits for the next
    /// tick. Fenced like `record_result`.
    pub fn release_task(&self, task: &Task, tick_id: &str, now: DateTime<Utc>) -> Result<bool> {
        let (task_id, number) = (task.id, task.attempts);
        let released = self
            .conn
            .prepare_cached(
                "UPDATE tasks SET tick_id = NULL, lease_until = NULL, attempts = attempts - 1 \
                 WHERE id = ?1 AND tick_id = ?2 AND attempts = ?3",
            )?
            .execute(rusqlite::params![task_id, tick_id, number])
            .with_context(|| format!("cannot release task {task_id}"))?;
        if released == 0 {
            return Ok(false);
        }
        self.conn
            .prepare_cached("DELETE FROM attempts WHERE task_id = ?1 AND number = ?2")?
            .execute(rusqlite::params![task_id, number])?;
        self.record_transition(
            task_id,
            now,
            Some(State::Running),
            task.state_before_claim(),
            tick_id,
            Some(
                "not sent: the tick stopped, or its time ran out, before this request could start",
            ),
        )?;
        Ok(true)
    }

    /// The tasks a claim at `now` would take, without claiming them (`tick --dry-run`).
    pub fn due_preview(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Task>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks \
             WHERE outcome IS NULL AND tick_id IS NULL AND next_attempt_at <= :now \
             ORDER BY priority DESC, next_attempt_at, id LIMIT :limit"
        );
        let tasks = self
            .conn
            .prepare_cached(&sql)?
            .query_map(
                named_params! {":now": millis(now), ":limit": limit},
                task_from_row,
            )?
            .collect::<rusqlite::Result<Vec<Task>>>()?;
        Ok(tasks)
    }

    /// Whether a tick at `now` has anything to do: a task held by a tick (to recover, or to
    /// leave alone), a task due, or a recurring schedule to fire. One statement of three indexed
    /// probes: an idle tick costs little more than opening the database.
    pub fn has_work(&self, now: DateTime<Utc>) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM tasks WHERE tick_id IS NOT NULL) \
                     OR EXISTS (SELECT 1 FROM tasks \
                         WHERE outcome IS NULL AND tick_id IS NULL AND next_attempt_at <= ?1) \
                     OR EXISTS (SELECT 1 FROM schedules \
                         WHERE paused_at IS NULL AND next_fire_at <= ?1)",
            )?
            .query_row([millis(now)], |row| row.get(0))?)
    }

    /// How many tasks of an endpoint wait for a tick at `now` (`due`, or `retrying` whose next
    /// attempt time has come).
    pub fn waiting_count_of(&self, endpoint: &str, now: DateTime<Utc>) -> Result<u64> {
        let count: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM tasks WHERE endpoint = ?1 AND outcome IS NULL \
                     AND tick_id IS NULL AND next_attempt_at <= ?2",
            )?
            .query_row(rusqlite::params![endpoint, millis(now)], |row| row.get(0))?;
        Ok(count as u64)
    }

    /// Tasks held by a tick (this one's or another's), for recovery.
    pub fn running_tasks(&self) -> Result<Vec<Task>> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE tick_id IS NOT NULL");
        let tasks = self
            .conn
            .prepare_cached(&sql)?
            .query_map([], task_from_row)?
            .collect::<rusqlite::Result<Vec<Task>>>()?;
        Ok(tasks)
    }

    /// Records one attempt's result and moves the task on, if `tick_id` still holds the task
    /// for that attempt (fencing: a tick that lost its lease changes nothing). Returns whether
    /// the result was recorded.
    pub fn record_result(
        &self,
        tick_id: &str,
        result: &AttemptResult,
        decision: &Decision,
        finished_at: DateTime<Utc>,
        reason: Option<&str>,
    ) -> Result<bool> {
        let outcome = match decision.state {
            State::Succeeded | State::Failed | State::Cancelled => Some(decision.state.as_str()),
            _ => None,
        };
        let summary = result.summary();
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE tasks SET tick_id = NULL, lease_until = NULL, outcome = :outcome, \
                     finished_at = CASE WHEN :outcome IS NULL THEN NULL ELSE :finished END, \
                     next_attempt_at = COALESCE(:next, next_attempt_at), \
                     reason = :reason, last_result = :summary \
                 WHERE id = :id AND tick_id = :tick AND attempts = :number",
            )?
            .execute(named_params! {
                ":outcome": outcome,
                ":finished": millis(finished_at),
                ":next": decision.next_attempt_at.map(millis_not_before),
                ":reason": reason,
                ":summary": summary,
                ":id": result.task_id,
                ":tick": tick_id,
                ":number": result.number,
            })
            .with_context(|| format!("cannot record the result of task {}", result.task_id))?;
        if changed == 0 {
            return Ok(false);
        }
        self.conn
            .prepare_cached(
                "UPDATE attempts SET started_at = :started, duration_ms = :duration, \
                     outcome = :verdict, status = :status, error = :error, request = :request, \
                     content_type = :content_type, retry_after = :retry_after, \
                     location = :location, body = :body, body_truncated = :truncated \
                 WHERE task_id = :id AND number = :number",
            )?
            .execute(named_params! {
                ":started": millis(result.started_at),
                ":duration": result.duration_ms,
                ":verdict": result.verdict.as_str(),
                ":status": result.status,
                ":error": result.error,
                ":request": result.request,
                ":content_type": result.content_type,
                ":retry_after": result.retry_after,
                ":location": result.location,
                ":body": result.body,
                ":truncated": result.body_truncated,
                ":id": result.task_id,
                ":number": result.number,
            })?;
        let detail = format!("attempt {}: {summary}", result.number);
        self.record_transition(
            result.task_id,
            finished_at,
            Some(State::Running),
            decision.state,
            tick_id,
            Some(&detail),
        )?;
        Ok(true)
    }

    /// Frees a task whose tick died or whose lease expired: its in-flight attempt is recorded
    /// as `interrupted`, and it is due again at `due_again_at` (`retrying`), or `failed` when its
    /// attempts are used up. Fenced like `record_result`; returns whether the task was recovered.
    pub fn recover_task(
        &self,
        task: &Task,
        actor: &str,
        now: DateTime<Utc>,
        due_again_at: DateTime<Utc>,
        to: State,
        why: &str,
    ) -> Result<bool> {
        let Some(dead_tick) = &task.tick_id else {
            return Ok(false);
        };
        let failed = to == State::Failed;
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE tasks SET tick_id = NULL, lease_until = NULL, next_attempt_at = :due, \
                     outcome = CASE WHEN :failed THEN 'failed' END, \
                     finished_at = CASE WHEN :failed THEN :now END, \
                     reason = CASE WHEN :failed THEN :why END, last_result = 'interrupted' \
                 WHERE id = :id AND tick_id = :dead AND attempts = :number",
            )?
            .execute(named_params! {
                ":now": millis(now),
                ":due": millis(due_again_at),
                ":failed": failed,
                ":why": why,
                ":id": task.id,
                ":dead": dead_tick,
                ":number": task.attempts,
            })
            .with_context(|| format!("cannot recover task {}", task.id))?;
        if changed == 0 {
            return Ok(false);
        }
        self.conn
            .prepare_cached(
                "UPDATE attempts SET outcome = 'interrupted', error = :why \
                 WHERE task_id = :id AND number = :number AND outcome IS NULL",
            )?
            .execute(named_params! {":why": why, ":id": task.id, ":number": task.attempts})?;
        let detail = format!("attempt {} interrupted: {why}", task.attempts);
        self.record_transition(task.id, now, Some(State::Running), to, actor, Some(&detail))?;
        Ok(true)
    }
}
