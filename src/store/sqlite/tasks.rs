//! Tasks, their attempts and their transitions in SQLite.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, OptionalExtension, Row};

use super::{from_millis, millis, millis_not_before, Phase, Sqlite};
use crate::attempt::AttemptOutcome;
use crate::store::backend::Tasks;
use crate::store::conditions::state_condition;
use crate::store::records::{
    AttemptRecord, NewTask, PruneCounts, TaskFilter, Transition, COUNT_CAP,
};
use crate::store::rows::task_args;
use crate::task::{Outcome, State, Task};

pub(super) const TASK_COLUMNS: &str = "id, endpoint, args, key, priority, max_attempts, agent, \
     created_at, due_at, next_attempt_at, attempts, attempts_base, tick_id, lease_until, outcome, \
     finished_at, reason, last_result, schedule, notifies";

pub(super) fn task_from_row(row: &Row) -> rusqlite::Result<Task> {
    let id: i64 = row.get(0)?;
    let (args, damage) = task_args(id, &row.get::<_, String>(2)?);
    let outcome: Option<String> = row.get(14)?;
    Ok(Task {
        id,
        endpoint: row.get(1)?,
        args,
        damage,
        key: row.get(3)?,
        priority: row.get(4)?,
        max_attempts: row.get(5)?,
        agent: row.get(6)?,
        created_at: from_millis(row.get(7)?),
        due_at: from_millis(row.get(8)?),
        next_attempt_at: from_millis(row.get(9)?),
        attempts: row.get(10)?,
        attempts_base: row.get(11)?,
        tick_id: row.get(12)?,
        lease_until: row.get::<_, Option<i64>>(13)?.map(from_millis),
        outcome: outcome.as_deref().and_then(Outcome::parse),
        finished_at: row.get::<_, Option<i64>>(15)?.map(from_millis),
        reason: row.get(16)?,
        last_result: row.get(17)?,
        schedule: row.get(18)?,
        notifies: row.get(19)?,
    })
}

pub(super) const ATTEMPT_COLUMNS: &str = "number, tick_id, started_at, duration_ms, outcome, \
     status, error, request, content_type, retry_after, location, body, body_truncated";

/// An attempt from `ATTEMPT_COLUMNS`, the first at `first`.
pub(super) fn attempt_from_row(row: &Row, first: usize) -> rusqlite::Result<AttemptRecord> {
    let at = |i: usize| first + i;
    Ok(AttemptRecord {
        number: row.get(at(0))?,
        tick_id: row.get(at(1))?,
        started_at: from_millis(row.get(at(2))?),
        duration_ms: row.get(at(3))?,
        outcome: row
            .get::<_, Option<String>>(at(4))?
            .as_deref()
            .and_then(AttemptOutcome::parse),
        status: row.get(at(5))?,
        error: row.get(at(6))?,
        request: row.get(at(7))?,
        content_type: row.get(at(8))?,
        retry_after: row.get(at(9))?,
        location: row.get(at(10))?,
        body: row.get(at(11))?,
        body_truncated: row.get(at(12))?,
    })
}

/// The tick records `prune` may delete: started before the cutoff (`?1`), and none that `status`
/// or recovery reads.
const OLD_TICKS: &str = "started_at < ?1 \
     AND id NOT IN (SELECT tick_id FROM tasks WHERE tick_id IS NOT NULL) \
     AND id NOT IN (SELECT (SELECT id FROM ticks latest WHERE latest.host IS hosts.host \
                            ORDER BY started_at DESC, rowid DESC LIMIT 1) \
                    FROM (SELECT DISTINCT host FROM ticks) hosts) \
     AND id NOT IN (SELECT (SELECT id FROM ticks latest WHERE latest.host IS hosts.host \
                              AND ended_at IS NOT NULL \
                            ORDER BY ended_at DESC, rowid DESC LIMIT 1) \
                    FROM (SELECT DISTINCT host FROM ticks) hosts)";

/// How many creations the store holds back before it writes them.
const CREATED_AT_ONCE: usize = 512;

/// How many transitions one statement writes, most first (what is left goes one by one).
const ROWS_AT_ONCE: [usize; 2] = [64, 8];

/// The statements that write `ROWS_AT_ONCE` transitions, made once per process.
static ROWS_SQL: std::sync::LazyLock<[String; 2]> = std::sync::LazyLock::new(|| {
    ROWS_AT_ONCE.map(|rows| {
        format!(
            "INSERT INTO transitions (task_id, at, from_state, to_state, actor, detail) VALUES {}",
            vec!["(?, ?, ?, ?, ?, ?)"; rows].join(", ")
        )
    })
});

impl Sqlite {
    /// Writes the creations held back (`insert_created`), in order: before any other transition
    /// is written or read, and when the transaction commits.
    pub(super) fn write_created(&self) -> Result<()> {
        let held = self.created.take();
        if held.is_empty() {
            return Ok(());
        }
        self.write_transitions(&held)
    }

    fn write_transitions(&self, transitions: &[Transition]) -> Result<()> {
        // In order, by statements of 64 rows, then of 8, then one by one: a statement per row
        // cost more than the rows.
        let mut rest = transitions;
        for (rows, sql) in ROWS_AT_ONCE.into_iter().zip(ROWS_SQL.iter()) {
            let mut chunks = rest.chunks_exact(rows);
            if chunks.len() > 0 {
                let mut statement = self.conn.prepare_cached(sql)?;
                for chunk in chunks.by_ref() {
                    for (row, t) in chunk.iter().enumerate() {
                        let at = |column: usize| row * 6 + column + 1;
                        statement.raw_bind_parameter(at(0), t.task_id)?;
                        statement.raw_bind_parameter(at(1), millis(t.at))?;
                        statement.raw_bind_parameter(at(2), t.from.map(State::as_str))?;
                        statement.raw_bind_parameter(at(3), t.to.as_str())?;
                        statement.raw_bind_parameter(at(4), &t.actor)?;
                        statement.raw_bind_parameter(at(5), &t.detail)?;
                    }
                    statement
                        .raw_execute()
                        .context("cannot record the tasks' history")?;
                }
            }
            rest = chunks.remainder();
        }
        rest.iter()
            .try_for_each(|transition| self.write_transition(transition))
    }

    fn write_transition(&self, transition: &Transition) -> Result<()> {
        // One row (a single `schedule`, the rest of a group): a plain statement.
        self.conn
            .prepare_cached(
                "INSERT INTO transitions (task_id, at, from_state, to_state, actor, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                transition.task_id,
                millis(transition.at),
                transition.from.map(State::as_str),
                transition.to.as_str(),
                transition.actor,
                transition.detail
            ])
            .with_context(|| format!("cannot record the history of task {}", transition.task_id))?;
        Ok(())
    }
}

impl Tasks for Sqlite {
    /// Stores a new task and its `created` transition; returns its id.
    fn insert_task(&self, task: &NewTask, now: DateTime<Utc>) -> Result<Option<i64>> {
        let args = serde_json::to_string(&task.args)?;
        let due = millis_not_before(task.due_at);
        let id = self.next_task_id()?;
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO tasks (id, endpoint, args, key, priority, max_attempts, agent, \
                     created_at, due_at, next_attempt_at, schedule, notifies) \
                 VALUES (?11, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10) \
                 ON CONFLICT (key) WHERE key IS NOT NULL DO NOTHING",
            )?
            .execute(params![
                task.endpoint,
                args,
                task.key,
                task.priority,
                task.max_attempts,
                task.agent,
                millis(now),
                due,
                task.schedule,
                task.notifies,
                id
            ])
            .with_context(|| format!("cannot store a task for endpoint \"{}\"", task.endpoint))?;
        if inserted == 1 {
            self.took_task_id(id);
            // Made `waiting`: counted when the transaction commits.
            self.tally.borrow_mut().moved(None, Phase::Waiting);
        }
        Ok((inserted == 1).then_some(id))
    }

    /// The task with this id, if any.
    fn task(&self, id: i64) -> Result<Option<Task>> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?1");
        self.conn
            .prepare_cached(&sql)?
            .query_row([id], task_from_row)
            .optional()
            .with_context(|| format!("cannot read task {id}"))
    }

    /// The task holding this idempotency key, if any.
    fn task_by_key(&self, key: &str) -> Result<Option<Task>> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE key = ?1");
        self.conn
            .prepare_cached(&sql)?
            .query_row([key], task_from_row)
            .optional()
            .with_context(|| format!("cannot read the task with key \"{key}\""))
    }

    /// Up to `limit` tasks matching `filter` in time order, and how many match in all (exact up
    /// to `COUNT_CAP`, else `COUNT_CAP + 1`).
    fn tasks_matching(
        &self,
        filter: &TaskFilter,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<(Vec<Task>, u64)> {
        let mut conditions: Vec<String> = Vec::new();
        let mut values: Vec<(&str, SqlValue)> = vec![(":now", millis(now).into())];
        if !filter.states.is_empty() {
            let states: Vec<String> = filter
                .states
                .iter()
                .map(|s| state_condition(*s, ":now"))
                .collect();
            conditions.push(format!("({})", states.join(" OR ")));
        }
        let mut text = |column: &str, name: &'static str, value: &Option<String>| {
            if let Some(value) = value {
                conditions.push(format!("{column} = {name}"));
                values.push((name, value.clone().into()));
            }
        };
        text("endpoint", ":endpoint", &filter.endpoint);
        text("agent", ":agent", &filter.agent);
        text("key", ":key", &filter.key);
        text("schedule", ":schedule", &filter.schedule);
        if let Some(before) = filter.before {
            conditions.push("next_attempt_at < :before".into());
            values.push((":before", millis(before).into()));
        }
        if let Some(after) = filter.after {
            conditions.push("next_attempt_at >= :after".into());
            values.push((":after", millis(after).into()));
        }
        let condition = if conditions.is_empty() {
            "1".to_string()
        } else {
            conditions.join(" AND ")
        };
        if !condition.contains(":now") {
            // SQLite refuses a named parameter that the statement does not use.
            values.retain(|(name, _)| *name != ":now");
        }
        values.push((":limit", SqlValue::Integer(limit.into())));
        let list_sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE {condition} \
             ORDER BY next_attempt_at, id LIMIT :limit"
        );
        let tasks = self
            .conn
            .prepare_cached(&list_sql)?
            .query_map(named(&values).as_slice(), task_from_row)?
            .collect::<rusqlite::Result<Vec<Task>>>()?;
        if let Some(last) = values.last_mut() {
            last.1 = SqlValue::Integer(COUNT_CAP as i64 + 1);
        }
        let count_sql =
            format!("SELECT count(*) FROM (SELECT 1 FROM tasks WHERE {condition} LIMIT :limit)");
        let matched: i64 = self
            .conn
            .prepare_cached(&count_sql)?
            .query_row(named(&values).as_slice(), |row| row.get(0))?;
        let matched = matched as u64;
        Ok((tasks, matched))
    }

    fn insert_transitions(&self, transitions: &[Transition]) -> Result<()> {
        self.write_created()?;
        self.write_transitions(transitions)
    }

    fn insert_transition(&self, transition: &Transition) -> Result<()> {
        self.write_created()?;
        self.write_transitions(std::slice::from_ref(transition))
    }

    fn insert_created(&self, transition: Transition) -> Result<()> {
        if self.conn.is_autocommit() {
            return self.write_transitions(std::slice::from_ref(&transition));
        }
        let mut created = self.created.borrow_mut();
        created.push(transition);
        if created.len() >= CREATED_AT_ONCE {
            let batch = std::mem::take(&mut *created);
            drop(created);
            self.write_transitions(&batch)?;
        }
        Ok(())
    }

    /// Marks an unclaimed task cancelled; returns false when it was claimed meanwhile.
    fn cancel_task(&self, id: i64, reason: Option<&str>, now: DateTime<Utc>) -> Result<bool> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE tasks SET outcome = 'cancelled', finished_at = ?2, reason = ?3 \
                 WHERE id = ?1 AND outcome IS NULL AND tick_id IS NULL",
            )?
            .execute(params![id, millis(now), reason])
            .with_context(|| format!("cannot cancel task {id}"))?;
        Ok(changed == 1)
    }

    /// Puts a failed or cancelled task back to wait until `at` with a fresh attempt budget; the
    /// time it was scheduled for stays. Returns false when it is in neither state.
    fn retry_task(&self, id: i64, at: DateTime<Utc>) -> Result<bool> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE tasks SET outcome = NULL, finished_at = NULL, reason = NULL, \
                     attempts_base = attempts, next_attempt_at = ?2 \
                 WHERE id = ?1 AND outcome IN ('failed', 'cancelled')",
            )?
            .execute(params![id, millis_not_before(at)])
            .with_context(|| format!("cannot retry task {id}"))?;
        Ok(changed == 1)
    }

    /// The failed tasks of an endpoint (that failed after `after`), in the order they failed.
    fn failed_tasks_of(&self, endpoint: &str, after: Option<DateTime<Utc>>) -> Result<Vec<Task>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks \
             WHERE endpoint = ?1 AND outcome = 'failed' AND finished_at > ?2 \
             ORDER BY finished_at, id"
        );
        let after = after.map_or(i64::MIN, millis);
        let tasks = self
            .conn
            .prepare_cached(&sql)?
            .query_map(params![endpoint, after], task_from_row)?
            .collect::<rusqlite::Result<Vec<Task>>>()
            .with_context(|| format!("cannot read the failed tasks of endpoint \"{endpoint}\""))?;
        Ok(tasks)
    }

    /// How many tasks are in each state at `now`, in `State::ALL` order.
    fn state_counts(&self, now: DateTime<Utc>) -> Result<Vec<(State, u64)>> {
        let sums: Vec<String> = State::ALL
            .iter()
            .map(|state| format!("coalesce(sum({}), 0)", state_condition(*state, ":now")))
            .collect();
        let sql = format!("SELECT {} FROM tasks", sums.join(", "));
        let counts = self.conn.prepare_cached(&sql)?.query_row(
            rusqlite::named_params! {":now": millis(now)},
            |row| {
                State::ALL
                    .iter()
                    .enumerate()
                    .map(|(i, state)| Ok((*state, row.get::<_, i64>(i)? as u64)))
                    .collect::<rusqlite::Result<Vec<_>>>()
            },
        )?;
        Ok(counts)
    }

    /// The task that has waited longest for a tick: `due`, or `retrying` whose next attempt
    /// time has passed.
    fn oldest_waiting(&self, now: DateTime<Utc>) -> Result<Option<Task>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks \
             WHERE outcome IS NULL AND tick_id IS NULL AND next_attempt_at <= ?1 \
             ORDER BY next_attempt_at, id LIMIT 1"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([millis(now)], task_from_row)
            .optional()?)
    }

    /// Deletes (or, for a dry run, counts) finished tasks that finished before `cutoff`, with
    /// their attempts and transitions, and tick records that started before it, except each
    /// host's latest tick and latest ended tick (`status` reads them) and any tick that holds a
    /// task (recovery reads it).
    fn prune(&self, cutoff: DateTime<Utc>, dry_run: bool) -> Result<PruneCounts> {
        self.write_created()?;
        let cutoff = millis(cutoff);
        let count = |sql: &str| -> Result<u64> {
            let n: i64 = self
                .conn
                .prepare_cached(sql)?
                .query_row([cutoff], |row| row.get(0))?;
            Ok(n as u64)
        };
        let old = "SELECT id FROM tasks WHERE outcome IS NOT NULL AND finished_at < ?1";
        let counts = PruneCounts {
            tasks: count(&format!("SELECT count(*) FROM ({old})"))?,
            attempts: count(&format!(
                "SELECT count(*) FROM attempts WHERE task_id IN ({old})"
            ))?,
            transitions: count(&format!(
                "SELECT count(*) FROM transitions WHERE task_id IN ({old})"
            ))?,
            ticks: count(&format!("SELECT count(*) FROM ticks WHERE {OLD_TICKS}"))?,
        };
        if !dry_run {
            self.conn
                .prepare_cached(
                    "UPDATE id_marks SET high = max(high, (SELECT coalesce(max(id), 0) FROM tasks)) \
                     WHERE name = 'tasks'",
                )?
                .execute([])?;
            self.conn
                .prepare_cached(&format!("DELETE FROM attempts WHERE task_id IN ({old})"))?
                .execute([cutoff])?;
            self.conn
                .prepare_cached(&format!("DELETE FROM transitions WHERE task_id IN ({old})"))?
                .execute([cutoff])?;
            self.conn
                .prepare_cached("DELETE FROM tasks WHERE outcome IS NOT NULL AND finished_at < ?1")?
                .execute([cutoff])?;
            self.conn
                .prepare_cached(&format!("DELETE FROM ticks WHERE {OLD_TICKS}"))?
                .execute([cutoff])?;
        }
        Ok(counts)
    }

    /// Every attempt of a task, oldest first.
    fn attempts_of(&self, task_id: i64) -> Result<Vec<AttemptRecord>> {
        let sql =
            format!("SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE task_id = ?1 ORDER BY number");
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map([task_id], |row| attempt_from_row(row, 0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every transition of a task, oldest first.
    fn transitions_of(&self, task_id: i64) -> Result<Vec<Transition>> {
        self.write_created()?;
        let mut statement = self.conn.prepare_cached(
            "SELECT at, from_state, to_state, actor, detail FROM transitions \
             WHERE task_id = ?1 ORDER BY id",
        )?;
        let rows = statement.query_map([task_id], |row| {
            let from: Option<String> = row.get(1)?;
            Ok(Transition {
                task_id,
                at: from_millis(row.get(0)?),
                from: from.map(|name| state_named(1, &name)).transpose()?,
                to: state_named(2, &row.get::<_, String>(2)?)?,
                actor: row.get(3)?,
                detail: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Which of `states` each given task is in, by the SQL filters (for the test that holds them
    /// to `state_of`).
    fn states_by_sql(&self, task_id: i64, now: DateTime<Utc>) -> Result<Vec<State>> {
        let mut found = Vec::new();
        for state in State::ALL {
            let sql = format!(
                "SELECT count(*) FROM tasks WHERE id = :id AND {}",
                state_condition(state, ":now")
            );
            let mut statement = self.conn.prepare_cached(&sql)?;
            let count: i64 = if sql.contains(":now") {
                statement.query_row(
                    rusqlite::named_params! {":id": task_id, ":now": millis(now)},
                    |row| row.get(0),
                )?
            } else {
                statement.query_row(rusqlite::named_params! {":id": task_id}, |row| row.get(0))?
            };
            if count > 0 {
                found.push(state);
            }
        }
        Ok(found)
    }
}

/// A stored state name back as a `State`; another name is a damaged row.
fn state_named(column: usize, name: &str) -> rusqlite::Result<State> {
    name.parse().map_err(|e: anyhow::Error| {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, e.into())
    })
}

fn named<'a>(values: &'a [(&'a str, SqlValue)]) -> Vec<(&'a str, &'a dyn rusqlite::ToSql)> {
    values
        .iter()
        .map(|(name, value)| (*name, value as &dyn rusqlite::ToSql))
        .collect()
}
