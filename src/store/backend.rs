//! What a backend does: the statements of httpat, one method each, the same names for SQLite
//! and PostgreSQL so that the two can be read side by side. A backend executes; it decides
//! nothing a user would see (which state, which history line, which key): `Store` and `Tx`
//! compose those above it, once for both.
//!
//! Every method takes `&self`: a backend holds one connection and runs one statement at a time.
//! Methods that write are called only by `Tx`, inside a transaction the backend began.

use std::time::Instant;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::records::{
    AttemptCount, AttemptRecord, Candidate, Claim, EndpointActivity, LimitedEndpoint,
    MissingReport, NewTask, Pick, PruneCounts, Recorded, Recovery, Schedule, Snapshot, TaskFilter,
    TickCounts, TickRecord, Transition,
};
use crate::endpoint::Endpoint;
use crate::limits::Usage;
use crate::origin::Origin;
use crate::task::{State, Task};

/// The registry.
pub trait Endpoints {
    fn endpoint(&self, name: &str) -> Result<Option<Endpoint>>;
    /// Every endpoint, by name.
    fn endpoints(&self) -> Result<Vec<Endpoint>>;
    /// Every endpoint by name, with how many unfinished tasks it has.
    fn endpoints_with_waiting(&self) -> Result<Vec<(Endpoint, u64)>>;
    /// Every endpoint by name, with its tasks due and retrying at `now`, how many failed at or
    /// after `failed_since`, and when one last succeeded; each read over an index, at a cost
    /// bounded by the waiting tasks or by what it counts, never by every finished task.
    fn endpoint_activity(
        &self,
        now: DateTime<Utc>,
        failed_since: DateTime<Utc>,
    ) -> Result<Vec<EndpointActivity>>;
    fn endpoint_names(&self) -> Result<Vec<String>>;
    fn unfinished_tasks_of(&self, name: &str) -> Result<u64>;
    /// The endpoint, read to change it: on PostgreSQL its row stays locked until the
    /// transaction ends, so that a task admitted to it meanwhile waits for the change (SQLite's
    /// one writer already makes them take turns).
    fn endpoint_to_change(&self, name: &str) -> Result<Option<Endpoint>>;
    /// The endpoint, read to admit new work to it: on PostgreSQL a lock that shares with other
    /// admissions and with claims, but makes `endpoint_to_change` wait until it commits.
    fn endpoint_to_admit(&self, name: &str) -> Result<Option<Endpoint>>;
    /// The waiting tasks of an endpoint (scheduled, due or retrying: unclaimed, unfinished)
    /// whose arguments lack a plain value (a string, number or boolean, as a URL placeholder
    /// needs) for one of `placeholders`: how many, and the first `limit` ids.
    fn tasks_lacking(
        &self,
        endpoint: &str,
        placeholders: &[&str],
        limit: u32,
    ) -> Result<(u64, Vec<i64>)>;
    /// Inserts the endpoint, or replaces the stored one of the same name.
    fn save_endpoint(&self, endpoint: &Endpoint, now: DateTime<Utc>) -> Result<()>;
    fn delete_endpoint(&self, name: &str) -> Result<()>;
}

/// Tasks, their attempts and their history.
pub trait Tasks {
    /// Stores a task row and returns its id; None when its key is taken (nothing is stored).
    /// The id is above any ever given, pruned ones included.
    fn insert_task(&self, task: &NewTask, now: DateTime<Utc>) -> Result<Option<i64>>;
    fn insert_transition(&self, transition: &Transition) -> Result<()>;
    /// A new task's first transition. A backend may hold it back and write those of one
    /// transaction together, before any other transition is written or read, and at commit.
    fn insert_created(&self, transition: Transition) -> Result<()> {
        self.insert_transition(&transition)
    }
    /// Several transitions at once (a backend may send them in one statement).
    fn insert_transitions(&self, transitions: &[Transition]) -> Result<()> {
        transitions
            .iter()
            .try_for_each(|transition| self.insert_transition(transition))
    }
    fn task(&self, id: i64) -> Result<Option<Task>>;
    fn task_by_key(&self, key: &str) -> Result<Option<Task>>;
    /// Up to `limit` tasks matching `filter` in the order they fall due, and how many match in
    /// all (exact up to `COUNT_CAP`, else `COUNT_CAP + 1`).
    fn tasks_matching(
        &self,
        filter: &TaskFilter,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<(Vec<Task>, u64)>;
    /// The failed tasks of an endpoint (that failed after `after`), in the order they failed.
    fn failed_tasks_of(&self, endpoint: &str, after: Option<DateTime<Utc>>) -> Result<Vec<Task>>;
    /// Marks an unclaimed, unfinished task cancelled; false when it was claimed meanwhile.
    fn cancel_task(&self, id: i64, reason: Option<&str>, now: DateTime<Utc>) -> Result<bool>;
    /// Puts a failed or cancelled task back to wait until `at` with a fresh attempt budget; the
    /// time it was scheduled for stays. False when it is in neither state.
    fn retry_task(&self, id: i64, at: DateTime<Utc>) -> Result<bool>;
    /// How many tasks are in each state at `now`, in `State::ALL` order.
    fn state_counts(&self, now: DateTime<Utc>) -> Result<Vec<(State, u64)>>;
    /// The task that has waited longest for a tick.
    fn oldest_waiting(&self, now: DateTime<Utc>) -> Result<Option<Task>>;
    /// Deletes (or, for a dry run, counts) finished tasks that finished before `cutoff`, their
    /// attempts and history, and tick records that started before it, except each host's latest
    /// tick and latest ended tick and any tick that holds a task; raises the id mark first.
    fn prune(&self, cutoff: DateTime<Utc>, dry_run: bool) -> Result<PruneCounts>;
    fn attempts_of(&self, task_id: i64) -> Result<Vec<AttemptRecord>>;
    fn transitions_of(&self, task_id: i64) -> Result<Vec<Transition>>;
    /// Which states the SQL filters put a task in (for the test that holds them to `state_of`).
    fn states_by_sql(&self, task_id: i64, now: DateTime<Utc>) -> Result<Vec<State>>;
}

/// What ticks do to tasks.
pub trait Claims {
    /// Claims due tasks, highest priority first, then the longest waiting, then by id: each
    /// gets its next attempt number, the lease and an in-flight attempt row. Two ticks never
    /// claim the same task.
    fn claim_due(&self, claim: &Claim) -> Result<Vec<Task>>;
    /// The due tasks a claim may take, in claim order, without taking them; on PostgreSQL each
    /// is locked (skipping rows another claim holds) until the transaction ends.
    fn claim_candidates(&self, pick: &Pick) -> Result<Vec<Candidate>>;
    /// Takes these candidates as `claim_due` takes what it finds; one taken meanwhile is left.
    fn take_tasks(&self, ids: &[i64], claim: &Claim) -> Result<Vec<Task>>;
    /// Undoes the claim of a task whose request never started (its attempt row goes, and its
    /// start counted against a rate); fenced by tick and attempt. False when the tick no longer
    /// held it.
    fn release_task(&self, task: &Task, tick_id: &str) -> Result<bool>;
    /// Records each result of a group and moves its task on, fenced: only the tick that holds
    /// the task for that attempt changes anything. Says, in order, whether each was recorded
    /// (false: that tick no longer held it).
    fn record_results(&self, recorded: &[Recorded]) -> Result<Vec<bool>>;
    /// Frees a task whose tick is gone: its in-flight attempt becomes `interrupted`. Fenced like
    /// `record_results`.
    fn recover_task(&self, recovery: &Recovery) -> Result<bool>;
    /// The tasks a claim at `now` would take, without claiming them.
    fn due_preview(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Task>>;
    /// Whether a tick at `now` has anything to do: a task held by a tick, a task due, or a
    /// schedule to fire.
    fn has_work(&self, now: DateTime<Utc>) -> Result<bool>;
    /// Whether any task is due at `now` and not claimed (rows another tick is claiming count).
    fn any_due(&self, now: DateTime<Utc>, skip: &[String]) -> Result<bool>;
    /// How many tasks of an endpoint wait for a tick at `now`.
    fn waiting_count_of(&self, endpoint: &str, now: DateTime<Utc>) -> Result<u64>;
    /// Tasks held by a tick (this one's or another's), for recovery.
    fn running_tasks(&self) -> Result<Vec<Task>>;
}

/// What endpoints' limits count, in the database, so that every tick on every host shares
/// them.
pub trait LimitCounts {
    /// The endpoints with a limit, by name. With `lock`, their rows stay locked until the
    /// transaction ends, so that claims for them take turns (on PostgreSQL; SQLite's one writer
    /// already makes them).
    fn limited_endpoints(&self, lock: bool) -> Result<Vec<LimitedEndpoint>>;
    /// What is used of an endpoint's limits: its tasks held by a tick and, with a rate's
    /// window `(since, n)`, its starts counted after `since` (up to n) and the n-th newest.
    fn limit_usage(&self, endpoint: &str, window: Option<(DateTime<Utc>, u32)>) -> Result<Usage>;
    /// Counts the start of each claimed task (id, attempt, endpoint) at `at`.
    fn count_starts(&self, starts: &[(i64, u32, &str)], at: DateTime<Utc>) -> Result<()>;
    /// Forgets an endpoint's starts counted at or before `before`.
    fn forget_starts(&self, endpoint: &str, before: DateTime<Utc>) -> Result<()>;
}

/// Recurring schedules.
pub trait Schedules {
    fn schedule(&self, name: &str) -> Result<Option<Schedule>>;
    /// Every schedule, by name.
    fn schedules(&self) -> Result<Vec<Schedule>>;
    /// Active schedules whose next firing is at or before `now`.
    fn schedules_due(&self, now: DateTime<Utc>) -> Result<Vec<Schedule>>;
    /// Inserts the schedule, or replaces the stored one of the same name.
    fn save_schedule(&self, schedule: &Schedule, now: DateTime<Utc>) -> Result<()>;
    fn delete_schedule(&self, name: &str) -> Result<bool>;
    /// Moves an active schedule from the next firing read to `next`, recording `fired` as its
    /// last: a compare-and-set, false when another tick moved it first.
    fn advance_schedule(
        &self,
        name: &str,
        read: DateTime<Utc>,
        next: DateTime<Utc>,
        fired: DateTime<Utc>,
    ) -> Result<bool>;
    fn set_last_task(&self, name: &str, task_id: i64) -> Result<()>;
}

/// Counts the schema's triggers keep as tasks change and attempts finish, so that `metrics`
/// and `status` read them without scanning every task.
pub trait Counters {
    /// Tasks per phase: `waiting` (scheduled or due), `retrying`, `running`, `succeeded`,
    /// `failed`, `cancelled`.
    fn phase_counts(&self) -> Result<Vec<(String, u64)>>;
    /// Of the waiting tasks, those whose time has come (`due`): a walk of the due ones alone.
    fn due_count(&self, now: DateTime<Utc>) -> Result<u64>;
    /// Attempts ever finished, per endpoint and outcome (never decreasing, prunes included).
    fn attempt_counts(&self) -> Result<Vec<AttemptCount>>;
    /// Sets the attempt counters to `counts` (a transfer's target, whose own copy of the
    /// attempts counted them again).
    fn set_attempt_counts(&self, counts: &[AttemptCount]) -> Result<()>;
    /// Folds the changes appended since the last fold into the totals (PostgreSQL appends a row
    /// per change rather than update a total), in a transaction of its own; nothing to do, and
    /// no transaction, where totals are updated in place.
    fn fold_counts(&self) -> Result<()>;
    /// When the tick that ended last started and ended.
    fn last_ended_tick(&self) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>>;
}

/// What `tick --follow` waits on: the next time a task may be claimed, and other connections'
/// commits (SQLite's `data_version`; PostgreSQL's notifications).
pub trait Watch {
    /// When the next waiting task of an endpoint not in `skip` may be claimed; None: none waits.
    fn next_due_at(&self, skip: &[String]) -> Result<Option<DateTime<Utc>>>;
    /// From now on, hear of what other connections commit (PostgreSQL: LISTEN).
    fn watch_changes(&self) -> Result<()>;
    /// Waits up to `timeout` for another connection to commit a change; whether one did.
    fn wait_for_change(&self, timeout: std::time::Duration) -> Result<bool>;
}

/// Every tick records itself.
pub trait Ticks {
    /// The latest ticks, newest first.
    fn recent_ticks(&self, limit: u32) -> Result<Vec<TickRecord>>;
    fn last_tick_end(&self) -> Result<Option<DateTime<Utc>>>;
    /// Records a tick's start and where it runs, committed at once.
    fn record_tick_start(&self, tick_id: &str, origin: &Origin, at: DateTime<Utc>) -> Result<()>;
    /// Records a tick's end, what it did and what it could not send for lack of variables,
    /// committed at once.
    fn record_tick_end(
        &self,
        tick_id: &str,
        at: DateTime<Utc>,
        counts: &TickCounts,
        error: Option<&str>,
        missing: &[MissingReport],
    ) -> Result<()>;
    /// What the latest ended tick of each host could not send for lack of variables, hosts by
    /// name.
    fn latest_missing_reports(&self) -> Result<Vec<MissingReport>>;
    /// Records a tick that found nothing to do, start and end at once.
    fn record_idle_tick(
        &self,
        tick_id: &str,
        origin: &Origin,
        started_at: DateTime<Utc>,
        ended_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Where a recorded tick ran; None when it left no record of that.
    fn tick_origin(&self, tick_id: &str) -> Result<Option<Origin>>;
}

/// Copying a whole database (`transfer`).
pub trait Transfers {
    /// Whether the database holds any endpoint, task, schedule or tick.
    fn holds_anything(&self) -> Result<bool>;
    /// Every row, ids kept.
    fn export(&self) -> Result<Snapshot>;
    /// Writes every row of `snapshot` into this (empty) database, ids kept; inside a
    /// transaction.
    fn import(&self, snapshot: &Snapshot) -> Result<()>;
}

/// Transactions and what is the backend's own.
pub trait Connection {
    /// Begins a write transaction (taken at once on SQLite, so two writers never deadlock).
    fn begin(&self) -> Result<()>;
    fn commit(&self) -> Result<()>;
    /// Rolls back whatever is open; never fails (a connection that is gone has nothing open).
    fn rollback(&self);
    /// The database's clock and the instant it was read, for a backend whose clock is a
    /// server's (None: the caller's).
    fn clock(&self) -> Result<Option<(DateTime<Utc>, Instant)>>;
}

/// A whole backend.
pub trait Backend:
    Endpoints
    + Tasks
    + Claims
    + LimitCounts
    + Counters
    + Schedules
    + Ticks
    + Transfers
    + Watch
    + Connection
{
}

impl<T> Backend for T where
    T: Endpoints
        + Tasks
        + Claims
        + LimitCounts
        + Counters
        + Schedules
        + Ticks
        + Transfers
        + Watch
        + Connection
{
}
