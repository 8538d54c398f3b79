//! What ticks do to tasks in SQLite: claim the due ones under a lease, record results fenced by
//! that lease, and recover tasks whose tick died. SQLite has one writer at a time, and a claim
//! runs in a `BEGIN IMMEDIATE` transaction: what it reads as unclaimed stays unclaimed.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::named_params;

use super::tasks::{task_from_row, TASK_COLUMNS};
use super::{from_millis, millis, millis_not_before, Phase, Sqlite};
use crate::attempt::AttemptOutcome;
use crate::store::backend::Claims;
use crate::store::records::{id_range, Candidate, Claim, Pick, Recorded, Recovery};
use crate::task::Task;

/// Up to this many due tasks, a claim reads them all and orders them itself; above, it walks the
/// priority levels.
const FEW_DUE: usize = 2048;

impl Sqlite {
    /// Records the attempt of a result that counts, and counts the task's move.
    fn finish_attempt(&self, recorded: &Recorded) -> Result<()> {
        let result = recorded.result;
        let verdict = AttemptOutcome::from(result.verdict).as_str();
        let mut tally = self.tally.borrow_mut();
        tally.moved(
            Some(Phase::Running),
            Phase::unheld(
                recorded.outcome.map(|o| o.as_str()),
                result.number,
                recorded.task.attempts_base,
            ),
        );
        tally.finished(&recorded.task.endpoint, verdict);
        drop(tally);
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
                ":verdict": verdict,
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
            })
            .with_context(|| format!("cannot record the attempt of task {}", result.task_id))?;
        Ok(())
    }
}

impl Claims for Sqlite {
    fn claim_due(&self, claim: &Claim) -> Result<Vec<Task>> {
        let candidates = self.claim_candidates(&Pick {
            now: claim.now,
            remaining_ms: claim.remaining_ms,
            limit: claim.limit,
            skip: claim.skip,
            only: None,
        })?;
        let ids: Vec<i64> = candidates.iter().map(|c| c.id).collect();
        self.take_tasks(&ids, claim)
    }

    fn claim_candidates(&self, pick: &Pick) -> Result<Vec<Candidate>> {
        let candidate = |row: &rusqlite::Row| {
            Ok(Candidate {
                id: row.get(0)?,
                priority: row.get(1)?,
                next_attempt_at: from_millis(row.get(2)?),
            })
        };
        if let Some(endpoint) = pick.only {
            // An endpoint with a limit: a walk of its own index, in claim order.
            return Ok(self
                .conn
                .prepare_cached(
                    "SELECT id, priority, next_attempt_at FROM tasks \
                     WHERE endpoint = :endpoint AND outcome IS NULL AND tick_id IS NULL \
                       AND next_attempt_at <= :now \
                       AND coalesce((SELECT timeout_ms FROM endpoints e \
                                     WHERE e.name = tasks.endpoint), 0) <= :remaining \
                     ORDER BY priority DESC, next_attempt_at, id LIMIT :limit",
                )?
                .query_map(
                    named_params! {
                        ":endpoint": endpoint,
                        ":now": millis(pick.now),
                        ":remaining": pick.remaining_ms,
                        ":limit": pick.limit,
                    },
                    candidate,
                )?
                .collect::<rusqlite::Result<Vec<Candidate>>>()?);
        }
        let skip = serde_json::to_string(pick.skip)?;
        // When few tasks are due (counted over the index alone), all of them, in time order,
        // sorted here by priority: the cost is that of the due tasks, however many priority
        // levels the future tasks hold.
        let now = millis(pick.now);
        let backlog = self.backlog_at.get() == Some(now);
        let due_count: i64 = if backlog {
            i64::MAX
        } else {
            self.conn
                .prepare_cached(
                    "SELECT count(*) FROM (SELECT 1 FROM tasks INDEXED BY tasks_waiting \
                 WHERE outcome IS NULL AND tick_id IS NULL AND next_attempt_at <= ?1 LIMIT ?2)",
                )?
                .query_row(rusqlite::params![now, FEW_DUE as i64 + 1], |row| row.get(0))?
        };
        if due_count as usize <= FEW_DUE {
            let mut due = self
                .conn
                .prepare_cached(
                    "SELECT id, priority, next_attempt_at FROM tasks INDEXED BY tasks_waiting \
                     WHERE outcome IS NULL AND tick_id IS NULL AND next_attempt_at <= :now \
                       AND endpoint NOT IN (SELECT value FROM json_each(:skip)) \
                       AND coalesce((SELECT timeout_ms FROM endpoints e \
                                     WHERE e.name = tasks.endpoint), 0) <= :remaining",
                )?
                .query_map(
                    named_params! {
                        ":now": millis(pick.now),
                        ":remaining": pick.remaining_ms,
                        ":skip": skip,
                    },
                    candidate,
                )?
                .collect::<rusqlite::Result<Vec<Candidate>>>()?;
            due.sort_by(|a, b| {
                (b.priority, a.next_attempt_at, a.id).cmp(&(a.priority, b.next_attempt_at, b.id))
            });
            due.truncate(pick.limit as usize);
            return Ok(due);
        }
        // A backlog: one priority level at a time, each a short walk of the `tasks_claim` index,
        // so that no claim sorts every due task.
        self.backlog_at.set(Some(now));
        let mut found: Vec<Candidate> = Vec::new();
        let mut below: Option<i64> = None;
        let mut next_level = self.conn.prepare_cached(
            "SELECT max(priority) FROM tasks \
             WHERE outcome IS NULL AND tick_id IS NULL AND priority < ?1",
        )?;
        let mut due_at_level = self.conn.prepare_cached(
            "SELECT id, priority, next_attempt_at FROM tasks \
             WHERE outcome IS NULL AND tick_id IS NULL AND priority = :level \
               AND next_attempt_at <= :now \
               AND endpoint NOT IN (SELECT value FROM json_each(:skip)) \
               AND coalesce((SELECT timeout_ms FROM endpoints e WHERE e.name = tasks.endpoint), 0) \
                   <= :remaining \
             ORDER BY next_attempt_at, id LIMIT :limit",
        )?;
        while found.len() < pick.limit as usize {
            let level: Option<i64> =
                next_level.query_row([below.unwrap_or(i64::MAX)], |row| row.get(0))?;
            let Some(level) = level else { break };
            let wanted = pick.limit as usize - found.len();
            let at_level = due_at_level
                .query_map(
                    named_params! {
                        ":level": level,
                        ":now": millis(pick.now),
                        ":remaining": pick.remaining_ms,
                        ":limit": wanted as i64,
                        ":skip": skip,
                    },
                    candidate,
                )?
                .collect::<rusqlite::Result<Vec<Candidate>>>()?;
            found.extend(at_level);
            if level == i64::MIN {
                break;
            }
            below = Some(level);
        }
        Ok(found)
    }

    fn take_tasks(&self, ids: &[i64], claim: &Claim) -> Result<Vec<Task>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // One statement for the whole claim, and one for its attempts: a statement per task
        // cost more than the rows it changed.
        let sql = format!(
            "UPDATE tasks SET tick_id = :tick, lease_until = :lease, attempts = attempts + 1 \
             WHERE id IN (SELECT value FROM json_each(:ids)) \
               AND outcome IS NULL AND tick_id IS NULL \
             RETURNING {TASK_COLUMNS}"
        );
        let listed = serde_json::to_string(ids)?;
        let mut claimed = self
            .conn
            .prepare_cached(&sql)?
            .query_map(
                named_params! {
                    ":tick": claim.tick_id,
                    ":lease": millis(claim.lease_until),
                    ":ids": listed,
                },
                task_from_row,
            )?
            .collect::<rusqlite::Result<Vec<Task>>>()
            .with_context(|| format!("cannot claim tasks {}", id_range(ids)))?;
        // RETURNING promises no order: the claim's is the candidates'.
        let place: std::collections::HashMap<i64, usize> =
            ids.iter().enumerate().map(|(at, &id)| (id, at)).collect();
        claimed.sort_by_key(|task| place.get(&task.id).copied());
        let mut tally = self.tally.borrow_mut();
        for task in &claimed {
            let before = Phase::unheld(None, task.attempts - 1, task.attempts_base);
            tally.moved(Some(before), Phase::Running);
        }
        let taken: Vec<i64> = claimed.iter().map(|task| task.id).collect();
        self.conn
            .prepare_cached(
                "INSERT INTO attempts (task_id, number, tick_id, started_at) \
                 SELECT id, attempts, tick_id, ?2 FROM tasks \
                 WHERE id IN (SELECT value FROM json_each(?1))",
            )?
            .execute(rusqlite::params![
                serde_json::to_string(&taken)?,
                millis(claim.started_at)
            ])
            .with_context(|| format!("cannot record the attempts of tasks {}", id_range(ids)))?;
        Ok(claimed)
    }

    fn release_task(&self, task: &Task, tick_id: &str) -> Result<bool> {
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
        self.tally.borrow_mut().moved(
            Some(Phase::Running),
            Phase::unheld(None, number - 1, task.attempts_base),
        );
        self.conn
            .prepare_cached("DELETE FROM attempts WHERE task_id = ?1 AND number = ?2")?
            .execute(rusqlite::params![task_id, number])?;
        self.conn
            .prepare_cached("DELETE FROM limit_starts WHERE task_id = ?1 AND number = ?2")?
            .execute(rusqlite::params![task_id, number])?;
        Ok(true)
    }

    fn record_results(&self, recorded: &[Recorded]) -> Result<Vec<bool>> {
        if recorded.is_empty() {
            return Ok(Vec::new());
        }
        // The tasks of the whole group in one statement, each fenced by its tick and attempt;
        // then each attempt recorded, for the tasks whose result counts.
        let rows: Vec<serde_json::Value> = recorded
            .iter()
            .map(|r| {
                serde_json::json!([
                    r.result.task_id,
                    r.result.number,
                    r.tick_id,
                    r.outcome.map(|o| o.as_str()),
                    millis(r.finished_at),
                    r.next_attempt_at.map(millis_not_before),
                    r.reason,
                    r.result.summary()
                ])
            })
            .collect();
        let done: std::collections::HashSet<i64> = self
            .conn
            .prepare_cached(
                "UPDATE tasks SET tick_id = NULL, lease_until = NULL, outcome = r.value ->> 3, \
                     finished_at = CASE WHEN r.value ->> 3 IS NULL THEN NULL \
                                        ELSE r.value ->> 4 END, \
                     next_attempt_at = coalesce(r.value ->> 5, tasks.next_attempt_at), \
                     reason = r.value ->> 6, last_result = r.value ->> 7 \
                 FROM json_each(?1) AS r \
                 WHERE tasks.id = r.value ->> 0 AND tasks.attempts = r.value ->> 1 \
                   AND tasks.tick_id = r.value ->> 2 \
                 RETURNING id",
            )?
            .query_map([serde_json::to_string(&rows)?], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()
            .with_context(|| {
                let ids: Vec<i64> = recorded.iter().map(|r| r.result.task_id).collect();
                format!("cannot record the results of tasks {}", id_range(&ids))
            })?;
        recorded
            .iter()
            .map(|r| {
                let kept = done.contains(&r.result.task_id);
                if kept {
                    self.finish_attempt(r)?;
                }
                Ok(kept)
            })
            .collect()
    }

    fn recover_task(&self, recovery: &Recovery) -> Result<bool> {
        let task = recovery.task;
        let Some(dead_tick) = &task.tick_id else {
            return Ok(false);
        };
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
                ":now": millis(recovery.now),
                ":due": millis(recovery.due_again_at),
                ":failed": recovery.failed,
                ":why": recovery.why,
                ":id": task.id,
                ":dead": dead_tick,
                ":number": task.attempts,
            })
            .with_context(|| format!("cannot recover task {}", task.id))?;
        if changed == 0 {
            return Ok(false);
        }
        let outcome = recovery.failed.then_some("failed");
        let mut tally = self.tally.borrow_mut();
        tally.moved(
            Some(Phase::Running),
            Phase::unheld(outcome, task.attempts, task.attempts_base),
        );
        let interrupted = self
            .conn
            .prepare_cached(
                "UPDATE attempts SET outcome = 'interrupted', error = :why \
                 WHERE task_id = :id AND number = :number AND outcome IS NULL",
            )?
            .execute(
                named_params! {":why": recovery.why, ":id": task.id, ":number": task.attempts},
            )?;
        if interrupted > 0 {
            tally.finished(&task.endpoint, AttemptOutcome::Interrupted.as_str());
        }
        Ok(true)
    }

    fn due_preview(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Task>> {
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

    fn has_work(&self, now: DateTime<Utc>) -> Result<bool> {
        // One statement of three indexed probes: an idle tick costs little more than opening
        // the database.
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM tasks WHERE tick_id IS NOT NULL) \
                     OR EXISTS (SELECT 1 FROM tasks \
                         WHERE outcome IS NULL AND tick_id IS NULL AND next_attempt_at <= ?1) \
                     OR EXISTS (SELECT 1 FROM schedules \
                         WHERE paused_at IS NULL AND next_fire_at <= ?1 \
                             AND (until_at IS NULL OR next_fire_at <= until_at))",
            )?
            .query_row([millis(now)], |row| row.get(0))?)
    }

    fn any_due(&self, now: DateTime<Utc>, skip: &[String]) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM tasks \
                     WHERE outcome IS NULL AND tick_id IS NULL AND next_attempt_at <= ?1 \
                       AND endpoint NOT IN (SELECT value FROM json_each(?2)))",
            )?
            .query_row(
                rusqlite::params![millis(now), serde_json::to_string(skip)?],
                |row| row.get(0),
            )?)
    }

    fn waiting_count_of(&self, endpoint: &str, now: DateTime<Utc>) -> Result<u64> {
        let count: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM tasks WHERE endpoint = ?1 AND outcome IS NULL \
                     AND tick_id IS NULL AND next_attempt_at <= ?2",
            )?
            .query_row(rusqlite::params![endpoint, millis(now)], |row| row.get(0))?;
        Ok(count as u64)
    }

    fn running_tasks(&self) -> Result<Vec<Task>> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE tick_id IS NOT NULL");
        let tasks = self
            .conn
            .prepare_cached(&sql)?
            .query_map([], task_from_row)?
            .collect::<rusqlite::Result<Vec<Task>>>()?;
        Ok(tasks)
    }
}
