//! Tasks, their attempts and their transitions in PostgreSQL.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use postgres::types::ToSql;
use postgres::Row;

use super::{at, count, not_before, Postgres};
use crate::attempt::AttemptOutcome;
use crate::store::backend::Tasks;
use crate::store::conditions::state_condition;
use crate::store::records::{
    AttemptRecord, NewTask, PruneCounts, TaskFilter, Transition, COUNT_CAP,
};
use crate::store::rows::task_args;
use crate::task::{Outcome, State, Task};

pub(super) const TASK_COLUMNS: &str = "id, endpoint, args::text, key, priority, max_attempts, \
     agent, created_at, due_at, next_attempt_at, attempts, attempts_base, tick_id, lease_until, \
     outcome, finished_at, reason, last_result, schedule, notifies";

pub(super) fn task_from_row(row: &Row) -> Result<Task> {
    let id: i64 = row.try_get(0)?;
    let (args, damage) = task_args(id, &row.try_get::<_, String>(2)?);
    let outcome: Option<String> = row.try_get(14)?;
    Ok(Task {
        id,
        endpoint: row.try_get(1)?,
        args,
        damage,
        key: row.try_get(3)?,
        priority: row.try_get(4)?,
        max_attempts: row.try_get::<_, Option<i32>>(5)?.map(|n| n.max(0) as u32),
        agent: row.try_get(6)?,
        created_at: row.try_get(7)?,
        due_at: row.try_get(8)?,
        next_attempt_at: row.try_get(9)?,
        attempts: row.try_get::<_, i32>(10)?.max(0) as u32,
        attempts_base: row.try_get::<_, i32>(11)?.max(0) as u32,
        tick_id: row.try_get(12)?,
        lease_until: row.try_get(13)?,
        outcome: outcome.as_deref().and_then(Outcome::parse),
        finished_at: row.try_get(15)?,
        reason: row.try_get(16)?,
        last_result: row.try_get(17)?,
        schedule: row.try_get(18)?,
        notifies: row.try_get(19)?,
    })
}

pub(super) fn tasks_from_rows(rows: &[Row]) -> Result<Vec<Task>> {
    rows.iter().map(task_from_row).collect()
}

pub(super) const ATTEMPT_COLUMNS: &str = "number, tick_id, started_at, duration_ms, outcome, \
     status, error, request, content_type, retry_after, location, body, body_truncated";

/// An attempt from `ATTEMPT_COLUMNS`, the first at `first`.
pub(super) fn attempt_from_row(row: &Row, first: usize) -> Result<AttemptRecord> {
    let at = |i: usize| first + i;
    Ok(AttemptRecord {
        number: row.try_get::<_, i32>(at(0))?.max(0) as u32,
        tick_id: row.try_get(at(1))?,
        started_at: row.try_get(at(2))?,
        duration_ms: row.try_get(at(3))?,
        outcome: row
            .try_get::<_, Option<String>>(at(4))?
            .as_deref()
            .and_then(AttemptOutcome::parse),
        status: row
            .try_get::<_, Option<i32>>(at(5))?
            .and_then(|s| u16::try_from(s).ok()),
        error: row.try_get(at(6))?,
        request: row.try_get(at(7))?,
        content_type: row.try_get(at(8))?,
        retry_after: row.try_get(at(9))?,
        location: row.try_get(at(10))?,
        body: row.try_get(at(11))?,
        body_truncated: row.try_get(at(12))?,
    })
}

/// The tick records `prune` may delete: started before the cutoff (`$1`), and none that `status`
/// or recovery reads (each host's latest tick and latest ended tick, any that holds a task).
const OLD_TICKS: &str = "started_at < $1 \
     AND id NOT IN (SELECT tick_id FROM tasks WHERE tick_id IS NOT NULL) \
     AND id NOT IN (SELECT DISTINCT ON (host) id FROM ticks \
                    ORDER BY host, started_at DESC, seq DESC) \
     AND id NOT IN (SELECT DISTINCT ON (host) id FROM ticks WHERE ended_at IS NOT NULL \
                    ORDER BY host, ended_at DESC, seq DESC)";

fn state_named(name: &str) -> Result<State> {
    name.parse()
}

impl Tasks for Postgres {
    fn insert_task(&self, task: &NewTask, now: DateTime<Utc>) -> Result<Option<i64>> {
        let args = serde_json::to_string(&task.args)?;
        let max_attempts = task.max_attempts.map(|n| n as i32);
        let due = not_before(task.due_at);
        let row = self
            .query_opt(
                "INSERT INTO tasks (endpoint, args, key, priority, max_attempts, agent, \
                     created_at, due_at, next_attempt_at, schedule, notifies) \
                 VALUES ($1, $2::text::jsonb, $3, $4, $5, $6, $7, $8, $8, $9, $10) \
                 ON CONFLICT (key) DO NOTHING RETURNING id",
                &[
                    &task.endpoint,
                    &args,
                    &task.key,
                    &task.priority,
                    &max_attempts,
                    &task.agent,
                    &at(now),
                    &due,
                    &task.schedule,
                    &task.notifies,
                ],
            )
            .with_context(|| format!("cannot store a task for endpoint \"{}\"", task.endpoint))?;
        Ok(row.map(|row| row.get(0)))
    }

    fn insert_transition(&self, transition: &Transition) -> Result<()> {
        self.execute(
            "INSERT INTO transitions (task_id, at, from_state, to_state, actor, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &transition.task_id,
                &at(transition.at),
                &transition.from.map(State::as_str),
                &transition.to.as_str(),
                &transition.actor,
                &transition.detail,
            ],
        )
        .with_context(|| format!("cannot record the history of task {}", transition.task_id))?;
        Ok(())
    }

    fn insert_transitions(&self, transitions: &[Transition]) -> Result<()> {
        if transitions.is_empty() {
            return Ok(());
        }
        let column = |f: fn(&Transition) -> Option<String>| -> Vec<Option<String>> {
            transitions.iter().map(f).collect()
        };
        let ids: Vec<i64> = transitions.iter().map(|t| t.task_id).collect();
        let times: Vec<DateTime<Utc>> = transitions.iter().map(|t| at(t.at)).collect();
        let from = column(|t| t.from.map(|s| s.as_str().to_string()));
        let to = column(|t| Some(t.to.as_str().to_string()));
        let actors = column(|t| Some(t.actor.clone()));
        let details = column(|t| t.detail.clone());
        self.execute(
            "INSERT INTO transitions (task_id, at, from_state, to_state, actor, detail) \
             SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], \
                 $5::text[], $6::text[])",
            &[&ids, &times, &from, &to, &actors, &details],
        )
        .context("cannot record the tasks' history")?;
        Ok(())
    }

    fn task(&self, id: i64) -> Result<Option<Task>> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1");
        self.query_opt(&sql, &[&id])
            .with_context(|| format!("cannot read task {id}"))?
            .map(|row| task_from_row(&row))
            .transpose()
    }

    fn task_by_key(&self, key: &str) -> Result<Option<Task>> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE key = $1");
        self.query_opt(&sql, &[&key])
            .with_context(|| format!("cannot read the task with key \"{key}\""))?
            .map(|row| task_from_row(&row))
            .transpose()
    }

    fn tasks_matching(
        &self,
        filter: &TaskFilter,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<(Vec<Task>, u64)> {
        let now = at(now);
        let mut conditions: Vec<String> = Vec::new();
        let mut values: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(now)];
        if !filter.states.is_empty() {
            let states: Vec<String> = filter
                .states
                .iter()
                .map(|s| state_condition(*s, "$1"))
                .collect();
            conditions.push(format!("({})", states.join(" OR ")));
        }
        let mut text = |column: &str, value: &Option<String>| {
            if let Some(value) = value {
                values.push(Box::new(value.clone()));
                conditions.push(format!("{column} = ${}", values.len()));
            }
        };
        text("endpoint", &filter.endpoint);
        text("agent", &filter.agent);
        text("key", &filter.key);
        text("schedule", &filter.schedule);
        if let Some(before) = filter.before {
            values.push(Box::new(at(before)));
            conditions.push(format!("next_attempt_at < ${}", values.len()));
        }
        if let Some(after) = filter.after {
            values.push(Box::new(at(after)));
            conditions.push(format!("next_attempt_at >= ${}", values.len()));
        }
        // `$1` is always there, so that every statement has the same first parameter.
        conditions.push("$1::timestamptz IS NOT NULL".to_string());
        let condition = conditions.join(" AND ");
        let limit_at = values.len() + 1;
        let params: Vec<&(dyn ToSql + Sync)> = values
            .iter()
            .map(|v| v.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let list_sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE {condition} \
             ORDER BY next_attempt_at, id LIMIT ${limit_at}"
        );
        let limit = i64::from(limit);
        let mut list_params = params.clone();
        list_params.push(&limit);
        let tasks = tasks_from_rows(&self.query(&list_sql, &list_params)?)?;
        let cap = COUNT_CAP as i64 + 1;
        let count_sql = format!(
            "SELECT count(*) FROM (SELECT 1 FROM tasks WHERE {condition} LIMIT ${limit_at}) m"
        );
        let mut count_params = params;
        count_params.push(&cap);
        let matched = count(self.query_one(&count_sql, &count_params)?.try_get(0)?);
        Ok((tasks, matched))
    }

    fn failed_tasks_of(&self, endpoint: &str, after: Option<DateTime<Utc>>) -> Result<Vec<Task>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks \
             WHERE endpoint = $1 AND outcome = 'failed' \
               AND ($2::timestamptz IS NULL OR finished_at > $2) \
             ORDER BY finished_at, id"
        );
        let rows = self
            .query(&sql, &[&endpoint, &after.map(at)])
            .with_context(|| format!("cannot read the failed tasks of endpoint \"{endpoint}\""))?;
        tasks_from_rows(&rows)
    }

    fn cancel_task(&self, id: i64, reason: Option<&str>, now: DateTime<Utc>) -> Result<bool> {
        let changed = self
            .execute(
                "UPDATE tasks SET outcome = 'cancelled', finished_at = $2, reason = $3 \
                 WHERE id = $1 AND outcome IS NULL AND tick_id IS NULL",
                &[&id, &at(now), &reason],
            )
            .with_context(|| format!("cannot cancel task {id}"))?;
        Ok(changed == 1)
    }

    fn retry_task(&self, id: i64, next_attempt_at: DateTime<Utc>) -> Result<bool> {
        let changed = self
            .execute(
                "UPDATE tasks SET outcome = NULL, finished_at = NULL, reason = NULL, \
                     attempts_base = attempts, next_attempt_at = $2 \
                 WHERE id = $1 AND outcome IN ('failed', 'cancelled')",
                &[&id, &not_before(next_attempt_at)],
            )
            .with_context(|| format!("cannot retry task {id}"))?;
        Ok(changed == 1)
    }

    fn state_counts(&self, now: DateTime<Utc>) -> Result<Vec<(State, u64)>> {
        let sums: Vec<String> = State::ALL
            .iter()
            .map(|state| format!("count(*) FILTER (WHERE {})", state_condition(*state, "$1")))
            .collect();
        let sql = format!("SELECT {} FROM tasks", sums.join(", "));
        let row = self.query_one(&sql, &[&at(now)])?;
        State::ALL
            .iter()
            .enumerate()
            .map(|(i, state)| Ok((*state, count(row.try_get(i)?))))
            .collect()
    }

    fn oldest_waiting(&self, now: DateTime<Utc>) -> Result<Option<Task>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks \
             WHERE outcome IS NULL AND tick_id IS NULL AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT 1"
        );
        self.query_opt(&sql, &[&at(now)])?
            .map(|row| task_from_row(&row))
            .transpose()
    }

    fn prune(&self, cutoff: DateTime<Utc>, dry_run: bool) -> Result<PruneCounts> {
        let cutoff = at(cutoff);
        let number =
            |sql: &str| -> Result<u64> { Ok(count(self.query_one(sql, &[&cutoff])?.try_get(0)?)) };
        let old = "SELECT id FROM tasks WHERE outcome IS NOT NULL AND finished_at < $1";
        let counts = PruneCounts {
            tasks: number(&format!("SELECT count(*) FROM ({old}) o"))?,
            attempts: number(&format!(
                "SELECT count(*) FROM attempts WHERE task_id IN ({old})"
            ))?,
            transitions: number(&format!(
                "SELECT count(*) FROM transitions WHERE task_id IN ({old})"
            ))?,
            ticks: number(&format!("SELECT count(*) FROM ticks WHERE {OLD_TICKS}"))?,
        };
        if !dry_run {
            // Ids come from an identity sequence, which never gives one twice.
            self.execute(
                &format!("DELETE FROM attempts WHERE task_id IN ({old})"),
                &[&cutoff],
            )?;
            self.execute(
                &format!("DELETE FROM transitions WHERE task_id IN ({old})"),
                &[&cutoff],
            )?;
            self.execute(
                "DELETE FROM tasks WHERE outcome IS NOT NULL AND finished_at < $1",
                &[&cutoff],
            )?;
            self.execute(&format!("DELETE FROM ticks WHERE {OLD_TICKS}"), &[&cutoff])?;
        }
        Ok(counts)
    }

    fn attempts_of(&self, task_id: i64) -> Result<Vec<AttemptRecord>> {
        let sql =
            format!("SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE task_id = $1 ORDER BY number");
        self.query(&sql, &[&task_id])?
            .iter()
            .map(|row| attempt_from_row(row, 0))
            .collect()
    }

    fn transitions_of(&self, task_id: i64) -> Result<Vec<Transition>> {
        let rows = self.query(
            "SELECT at, from_state, to_state, actor, detail FROM transitions \
             WHERE task_id = $1 ORDER BY id",
            &[&task_id],
        )?;
        rows.iter()
            .map(|row| {
                Ok(Transition {
                    task_id,
                    at: row.try_get(0)?,
                    from: row
                        .try_get::<_, Option<String>>(1)?
                        .as_deref()
                        .map(state_named)
                        .transpose()?,
                    to: state_named(row.try_get(2)?)?,
                    actor: row.try_get(3)?,
                    detail: row.try_get(4)?,
                })
            })
            .collect()
    }

    fn states_by_sql(&self, task_id: i64, now: DateTime<Utc>) -> Result<Vec<State>> {
        let mut found = Vec::new();
        for state in State::ALL {
            let sql = format!(
                "SELECT count(*) FROM tasks WHERE id = $2 AND $1::timestamptz IS NOT NULL AND {}",
                state_condition(state, "$1")
            );
            let n: i64 = self.query_one(&sql, &[&at(now), &task_id])?.try_get(0)?;
            if n > 0 {
                found.push(state);
            }
        }
        Ok(found)
    }
}
