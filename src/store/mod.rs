//! The database behind one interface: `Store` for reading, `Tx` for what is written, always
//! inside a transaction. A backend (`sqlite/`, `postgres/`) holds every SQL string and executes
//! statements; what those statements mean for a user (the state a task enters, the line in its
//! history, the key of a firing) is decided here, once for both.

mod backend;
mod conditions;
mod limited;
mod location;
mod postgres;
mod records;
mod rows;
mod sqlite;

use std::ops::Deref;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};

use crate::attempt::AttemptResult;
use crate::endpoint::{Endpoint, Notify};
use crate::notification;
use crate::origin::Origin;
use crate::task::{Decision, Outcome, State, Task};
use backend::Backend;
use records::LimitedEndpoint;

pub use location::{redact, Location};
pub use records::{
    AttemptCount, AttemptRecord, Claim, Claimed, Copied, EndpointActivity, Firing, HeldBack,
    LimitWait, MissingReport, NewTask, PruneCounts, Schedule, StartWindow, TaskFilter, TickCounts,
    TickRecord, Transition, COUNT_CAP,
};

/// An open database.
pub struct Store {
    backend: Box<dyn Backend + Send>,
}

impl Store {
    /// Opens the database, creating it (an SQLite file: folder 0700, file 0600) and bringing
    /// its schema up to date. A database from a newer httpat is refused and left untouched.
    pub fn open(location: &Location) -> Result<Store> {
        match location {
            Location::Sqlite(path) => Ok(Store::with(sqlite::Sqlite::open(path)?)),
            Location::Postgres(url) => Ok(Store::with(postgres::Postgres::open(url)?)),
        }
    }

    /// Opens the database if it exists (`None` when an SQLite file does not; nothing is
    /// created). A PostgreSQL database always exists; its schema is made on first use.
    pub fn open_existing(location: &Location) -> Result<Option<Store>> {
        match location {
            Location::Sqlite(path) => Ok(sqlite::Sqlite::open_existing(path)?.map(Store::with)),
            Location::Postgres(url) => Ok(Some(Store::with(postgres::Postgres::open(url)?))),
        }
    }

    /// An empty database in memory, with the whole schema: what a command that only reads sees
    /// when no database exists yet.
    pub fn empty() -> Result<Store> {
        Ok(Store::with(sqlite::Sqlite::empty()?))
    }

    fn with(backend: impl Backend + Send + 'static) -> Store {
        Store {
            backend: Box::new(backend),
        }
    }

    /// The database's clock, when it is a server's (every command's "now" then); None for a
    /// file, whose clock is the command's own.
    pub fn clock(&self) -> Result<Option<(DateTime<Utc>, std::time::Instant)>> {
        self.backend.clock()
    }

    /// Runs `work` in one write transaction: committed if it returns Ok, rolled back otherwise
    /// (a failed commit included, so that no later statement runs inside a dead transaction).
    pub fn in_transaction<T>(&self, work: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        self.backend.begin()?;
        let done = work(&Tx { store: self }).and_then(|value| {
            self.backend.commit()?;
            Ok(value)
        });
        if done.is_err() {
            self.backend.rollback();
        }
        done
    }

    pub fn endpoint(&self, name: &str) -> Result<Option<Endpoint>> {
        self.backend.endpoint(name)
    }

    /// Every endpoint, by name.
    pub fn endpoints(&self) -> Result<Vec<Endpoint>> {
        self.backend.endpoints()
    }

    /// Every endpoint by name, with how many unfinished tasks it has.
    pub fn endpoints_with_waiting(&self) -> Result<Vec<(Endpoint, u64)>> {
        self.backend.endpoints_with_waiting()
    }

    /// Every endpoint by name, with its tasks due and retrying at `now`, how many failed at or
    /// after `failed_since`, and when one last succeeded (`status`).
    pub fn endpoint_activity(
        &self,
        now: DateTime<Utc>,
        failed_since: DateTime<Utc>,
    ) -> Result<Vec<EndpointActivity>> {
        self.backend.endpoint_activity(now, failed_since)
    }

    /// The registered names, for messages that say what exists.
    pub fn endpoint_names(&self) -> Result<Vec<String>> {
        self.backend.endpoint_names()
    }

    pub fn unfinished_tasks_of(&self, name: &str) -> Result<u64> {
        self.backend.unfinished_tasks_of(name)
    }

    pub fn task(&self, id: i64) -> Result<Option<Task>> {
        self.backend.task(id)
    }

    /// The task holding this idempotency key, if any.
    pub fn task_by_key(&self, key: &str) -> Result<Option<Task>> {
        self.backend.task_by_key(key)
    }

    /// Up to `limit` tasks matching `filter` in the order they fall due, and how many match in
    /// all (exact up to `COUNT_CAP`, else `COUNT_CAP + 1`).
    pub fn tasks_matching(
        &self,
        filter: &TaskFilter,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<(Vec<Task>, u64)> {
        self.backend.tasks_matching(filter, now, limit)
    }

    /// The failed tasks of an endpoint (that failed after `after`), in the order they failed.
    pub fn failed_tasks_of(
        &self,
        endpoint: &str,
        after: Option<DateTime<Utc>>,
    ) -> Result<Vec<Task>> {
        self.backend.failed_tasks_of(endpoint, after)
    }

    /// How many tasks are in each state at `now`, in `State::ALL` order: from the counts the
    /// schema keeps as tasks change, and a walk of the due tasks alone, so that the cost does not
    /// grow with the tasks that wait or have finished.
    pub fn state_counts(&self, now: DateTime<Utc>) -> Result<Vec<(State, u64)>> {
        let phases = self.backend.phase_counts()?;
        let phase = |name: &str| {
            phases
                .iter()
                .filter(|(p, _)| p == name)
                .map(|(_, n)| *n)
                .sum::<u64>()
        };
        let due = self.backend.due_count(now)?;
        Ok(State::ALL
            .iter()
            .map(|state| {
                let n = match state {
                    State::Scheduled => phase("waiting").saturating_sub(due),
                    State::Due => due,
                    other => phase(other.as_str()),
                };
                (*state, n)
            })
            .collect())
    }

    /// The same counts by a scan of every task: what the kept counts are held to in tests.
    pub fn state_counts_by_scan(&self, now: DateTime<Utc>) -> Result<Vec<(State, u64)>> {
        self.backend.state_counts(now)
    }

    /// Attempts ever finished, per endpoint and outcome: a counter `prune` never lowers.
    pub fn attempt_counts(&self) -> Result<Vec<AttemptCount>> {
        self.backend.attempt_counts()
    }

    /// Folds the changes of the kept counts into their totals (PostgreSQL appends one row per
    /// change, so that no two transactions wait on a counter row and a bulk transaction never
    /// updates one row over and over): the counts stay the same, in fewer rows.
    pub fn fold_counts(&self) -> Result<()> {
        self.backend.fold_counts()
    }

    /// When the next waiting task of an endpoint not in `skip` may be claimed (`tick --follow`).
    pub fn next_due_at(&self, skip: &[String]) -> Result<Option<DateTime<Utc>>> {
        self.backend.next_due_at(skip)
    }

    /// From now on, hear of tasks other connections make or make due (`tick --follow`).
    pub fn watch_changes(&self) -> Result<()> {
        self.backend.watch_changes()
    }

    /// Waits up to `timeout` for another connection to commit a change; whether one did.
    pub fn wait_for_change(&self, timeout: std::time::Duration) -> Result<bool> {
        self.backend.wait_for_change(timeout)
    }

    /// When the tick that ended last started and ended.
    pub fn last_ended_tick(&self) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>> {
        self.backend.last_ended_tick()
    }

    /// The task that has waited longest for a tick: `due`, or `retrying` whose next attempt
    /// time has passed.
    pub fn oldest_waiting(&self, now: DateTime<Utc>) -> Result<Option<Task>> {
        self.backend.oldest_waiting(now)
    }

    /// Every attempt of a task, oldest first.
    pub fn attempts_of(&self, task_id: i64) -> Result<Vec<AttemptRecord>> {
        self.backend.attempts_of(task_id)
    }

    /// Every transition of a task, oldest first.
    pub fn transitions_of(&self, task_id: i64) -> Result<Vec<Transition>> {
        self.backend.transitions_of(task_id)
    }

    /// Which states the SQL filters put a task in (for the test that holds them to `state_of`).
    pub fn states_by_sql(&self, task_id: i64, now: DateTime<Utc>) -> Result<Vec<State>> {
        self.backend.states_by_sql(task_id, now)
    }

    /// The tasks a claim at `now` would take, without claiming them (`tick --dry-run`).
    pub fn due_preview(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Task>> {
        self.backend.due_preview(now, limit)
    }

    /// Whether a tick at `now` has anything to do.
    pub fn has_work(&self, now: DateTime<Utc>) -> Result<bool> {
        self.backend.has_work(now)
    }

    /// Whether a task not of the `skip` endpoints is due at `now` and not claimed.
    pub fn any_due(&self, now: DateTime<Utc>, skip: &[String]) -> Result<bool> {
        self.backend.any_due(now, skip)
    }

    /// How many tasks of an endpoint wait for a tick at `now`.
    pub fn waiting_count_of(&self, endpoint: &str, now: DateTime<Utc>) -> Result<u64> {
        self.backend.waiting_count_of(endpoint, now)
    }

    /// Tasks held by a tick (this one's or another's), for recovery.
    pub fn running_tasks(&self) -> Result<Vec<Task>> {
        self.backend.running_tasks()
    }

    pub fn schedule(&self, name: &str) -> Result<Option<Schedule>> {
        self.backend.schedule(name)
    }

    /// Every schedule, by name.
    pub fn schedules(&self) -> Result<Vec<Schedule>> {
        self.backend.schedules()
    }

    /// Active schedules whose next firing is at or before `now`.
    pub fn schedules_due(&self, now: DateTime<Utc>) -> Result<Vec<Schedule>> {
        self.backend.schedules_due(now)
    }

    /// The state of a task, if it still exists.
    pub fn task_state(&self, id: i64, now: DateTime<Utc>) -> Result<Option<State>> {
        Ok(self.task(id)?.map(|task| task.state(now)))
    }

    /// The latest ticks, newest first.
    pub fn recent_ticks(&self, limit: u32) -> Result<Vec<TickRecord>> {
        self.backend.recent_ticks(limit)
    }

    /// When the last tick ended, if any has.
    pub fn last_tick_end(&self) -> Result<Option<DateTime<Utc>>> {
        self.backend.last_tick_end()
    }

    /// Where a recorded tick ran; None when it left no record of that (a tick of an older
    /// httpat, or a record pruned).
    pub fn tick_origin(&self, tick_id: &str) -> Result<Option<Origin>> {
        self.backend.tick_origin(tick_id)
    }

    /// Records a tick's start and where it runs (a tick with work to do), committed at once.
    pub fn record_tick_start(
        &self,
        tick_id: &str,
        origin: &Origin,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.backend.record_tick_start(tick_id, origin, at)
    }

    /// Records a tick's end, what it did, and the endpoints it could not send to for lack of
    /// variables (for `status`), committed at once.
    pub fn record_tick_end(
        &self,
        tick_id: &str,
        at: DateTime<Utc>,
        counts: &TickCounts,
        error: Option<&str>,
        missing: &[MissingReport],
    ) -> Result<()> {
        self.backend
            .record_tick_end(tick_id, at, counts, error, missing)
    }

    /// What the latest ended tick of each host could not send for lack of variables: a later
    /// tick of that host that had them (or had nothing due for them) clears its report.
    pub fn latest_missing_reports(&self) -> Result<Vec<MissingReport>> {
        self.backend.latest_missing_reports()
    }

    /// Copies everything in this database (endpoints, tasks in every state with their attempts
    /// and history, schedules, tick records, the highest id given) into the database `target`
    /// opens, which must hold nothing, keeping ids, in one transaction on the target. A source
    /// with running tasks is refused (their results would be lost) before the target is
    /// opened; the source is left as it was.
    pub fn transfer_to(
        &self,
        target: impl FnOnce() -> Result<Store>,
        target_name: &str,
    ) -> Result<Copied> {
        let snapshot = self.in_transaction(|source| {
            let running = source.running_tasks()?;
            if !running.is_empty() {
                let ids: Vec<String> = running.iter().take(10).map(|t| t.id.to_string()).collect();
                return Err(crate::error::refused(format!(
                    "{} task(s) are running (first ids: {}): let their ticks finish, or stop \
                     the ticks and wait for the leases to expire, then transfer; nothing was \
                     copied",
                    running.len(),
                    ids.join(", ")
                )));
            }
            source.backend().export()
        })?;
        if let Some(damage) = snapshot
            .tasks
            .iter()
            .filter_map(|t| t.damage.as_ref())
            .chain(
                snapshot
                    .endpoints
                    .iter()
                    .filter_map(|e| e.row.damage.as_ref()),
            )
            .next()
        {
            return Err(crate::error::refused(format!(
                "{damage}: repair it (or cancel and prune the task) before a transfer; nothing \
                 was copied"
            )));
        }
        let target = target()?;
        target.in_transaction(|tx| {
            if tx.backend().holds_anything()? {
                return Err(crate::error::refused(format!(
                    "{target_name} is not empty: a transfer copies into an empty database \
                     only; nothing was copied"
                )));
            }
            tx.backend().import(&snapshot)
        })?;
        Ok(snapshot.copied())
    }

    /// Records a tick that found nothing to do, start and end at once. It acknowledges nothing,
    /// so a backend may spare it a sync.
    pub fn record_idle_tick(
        &self,
        tick_id: &str,
        origin: &Origin,
        started_at: DateTime<Utc>,
        ended_at: DateTime<Utc>,
    ) -> Result<()> {
        self.backend
            .record_idle_tick(tick_id, origin, started_at, ended_at)
    }
}

/// A write transaction: what changes the database exists only here. It reads like a `Store`.
pub struct Tx<'a> {
    store: &'a Store,
}

impl Deref for Tx<'_> {
    type Target = Store;

    fn deref(&self) -> &Store {
        self.store
    }
}

impl Tx<'_> {
    fn backend(&self) -> &dyn Backend {
        self.store.backend.as_ref()
    }

    /// Inserts the endpoint, or replaces the stored one of the same name.
    pub fn save_endpoint(&self, endpoint: &Endpoint, now: DateTime<Utc>) -> Result<()> {
        self.backend().save_endpoint(endpoint, now)
    }

    /// Removes an endpoint; its tasks stay (a tick cancels unfinished ones, naming the cause).
    pub fn delete_endpoint(&self, name: &str) -> Result<()> {
        self.backend().delete_endpoint(name)
    }

    /// The endpoint, read to change it: no task can be admitted to it until this transaction
    /// ends, so that what is checked of its waiting tasks stays true until the change commits.
    pub fn endpoint_to_change(&self, name: &str) -> Result<Option<Endpoint>> {
        self.backend().endpoint_to_change(name)
    }

    /// The endpoint, read to admit new work to it: a change to it waits for this transaction.
    pub fn endpoint_to_admit(&self, name: &str) -> Result<Option<Endpoint>> {
        self.backend().endpoint_to_admit(name)
    }

    /// The waiting tasks (scheduled, due, retrying) of an endpoint whose arguments cannot fill
    /// one of `placeholders`: how many, and the first `limit` ids.
    pub fn tasks_lacking(
        &self,
        endpoint: &str,
        placeholders: &[&str],
        limit: u32,
    ) -> Result<(u64, Vec<i64>)> {
        if placeholders.is_empty() {
            return Ok((0, Vec::new()));
        }
        self.backend().tasks_lacking(endpoint, placeholders, limit)
    }

    /// Stores a new task and its first transition (`scheduled`, or `due` when its time has
    /// come); returns its id, or None when its key is taken (nothing is stored).
    pub fn insert_task(
        &self,
        task: &NewTask,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let Some(id) = self.backend().insert_task(task, now)? else {
            return Ok(None);
        };
        let initial = if task.due_at > now {
            State::Scheduled
        } else {
            State::Due
        };
        let detail = task.creation.as_deref().unwrap_or("created");
        self.backend().insert_created(Transition {
            task_id: id,
            at: now,
            from: None,
            to: initial,
            actor: actor.to_string(),
            detail: Some(detail.to_string()),
        })?;
        Ok(Some(id))
    }

    /// Records a change of state in a task's history.
    pub fn record_transition(
        &self,
        task_id: i64,
        at: DateTime<Utc>,
        from: Option<State>,
        to: State,
        actor: &str,
        detail: Option<&str>,
    ) -> Result<()> {
        self.backend().insert_transition(&Transition {
            task_id,
            at,
            from,
            to,
            actor: actor.to_string(),
            detail: detail.map(str::to_string),
        })
    }

    /// Cancels a task that has not started (it is `from`), with the operator's reason; false
    /// when a tick claimed it meanwhile.
    pub fn cancel(
        &self,
        task: &Task,
        from: State,
        reason: Option<&str>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        if !self.backend().cancel_task(task.id, reason, now)? {
            return Ok(false);
        }
        self.record_transition(task.id, now, Some(from), State::Cancelled, actor, reason)?;
        Ok(true)
    }

    /// Puts a failed or cancelled task (it is `from`) back to wait until `at`, with a fresh
    /// attempt budget; false when it changed meanwhile.
    pub fn retry(
        &self,
        task: &Task,
        from: State,
        at: DateTime<Utc>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<State>> {
        if !self.backend().retry_task(task.id, at)? {
            return Ok(None);
        }
        let to = if at > now {
            State::Scheduled
        } else {
            State::Due
        };
        let detail = format!(
            "retry at {}, with a fresh attempt budget",
            crate::when::rfc3339(at)
        );
        self.record_transition(task.id, now, Some(from), to, actor, Some(&detail))?;
        Ok(Some(to))
    }

    /// Deletes (or, for a dry run, counts) finished tasks that finished before `cutoff`, with
    /// their attempts and history, and old tick records.
    pub fn prune(&self, cutoff: DateTime<Utc>, dry_run: bool) -> Result<PruneCounts> {
        self.backend().prune(cutoff, dry_run)
    }

    /// Claims due tasks for a tick; each claimed task's history says which attempt it starts.
    /// Endpoints with a limit get no more than it allows, counted across every tick; `clock`
    /// gives the moment their starts are counted at, read once the claim may count them.
    pub fn claim_due(&self, claim: &Claim, clock: &dyn Fn() -> DateTime<Utc>) -> Result<Claimed> {
        let limited: Vec<LimitedEndpoint> = self
            .backend()
            .limited_endpoints(true)?
            .into_iter()
            .filter(|endpoint| !claim.skip.contains(&endpoint.name))
            .collect();
        let claimed = if limited.is_empty() {
            Claimed {
                tasks: self.backend().claim_due(claim)?,
                ..Claimed::default()
            }
        } else {
            self.claim_within_limits(claim, &limited, clock())?
        };
        let transitions: Vec<Transition> = claimed
            .tasks
            .iter()
            .map(|task| Transition {
                task_id: task.id,
                at: claim.started_at,
                from: Some(task.state_before_claim()),
                to: State::Running,
                actor: claim.tick_id.to_string(),
                detail: Some(format!("attempt {}", task.attempts)),
            })
            .collect();
        self.backend().insert_transitions(&transitions)?;
        Ok(claimed)
    }

    /// Gives back a claimed task whose request was never started (the tick stopped, its time
    /// budget ran out first, a paced request missed its moment: `why` says which, for the
    /// history): the claim's attempt is undone, with its start counted against a rate, and the
    /// task waits again. Fenced like `record_result`.
    pub fn release(
        &self,
        task: &Task,
        tick_id: &str,
        now: DateTime<Utc>,
        why: &str,
    ) -> Result<bool> {
        if !self.backend().release_task(task, tick_id)? {
            return Ok(false);
        }
        self.record_transition(
            task.id,
            now,
            Some(State::Running),
            task.state_before_claim(),
            tick_id,
            Some(why),
        )?;
        Ok(true)
    }

    /// Records one attempt's result and moves the task as `decision` says, if `tick_id` still
    /// holds the task for that attempt (fencing: a tick that lost its lease changes nothing).
    /// Returns whether the result was recorded. A task that ends makes its notification here,
    /// in the same transaction, if its endpoint's notifications (as the caller read them) name
    /// one.
    pub fn record_result(
        &self,
        held: Held,
        tick_id: &str,
        result: &AttemptResult,
        decision: &Decision,
        finished_at: DateTime<Utc>,
        reason: Option<&str>,
    ) -> Result<bool> {
        let one = Decided {
            held,
            result,
            decision,
            reason,
        };
        Ok(self.record_results(tick_id, &[one], finished_at)?[0])
    }

    /// `record_result` for a group of results, a few statements for the whole group where the
    /// backend can (PostgreSQL: one round trip per statement). Says, for each, whether it was
    /// recorded.
    pub fn record_results(
        &self,
        tick_id: &str,
        results: &[Decided],
        finished_at: DateTime<Utc>,
    ) -> Result<Vec<bool>> {
        let recorded: Vec<records::Recorded> = results
            .iter()
            .map(|outcome| records::Recorded {
                tick_id,
                task: outcome.held.task,
                result: outcome.result,
                outcome: outcome_of(outcome.decision.state),
                next_attempt_at: outcome.decision.next_attempt_at,
                finished_at,
                reason: outcome.reason,
            })
            .collect();
        let done = self.backend().record_results(&recorded)?;
        let kept = || results.iter().zip(&done).filter(|(_, done)| **done);
        let transitions: Vec<Transition> = kept()
            .map(|(outcome, _)| Transition {
                task_id: outcome.result.task_id,
                at: finished_at,
                from: Some(State::Running),
                to: outcome.decision.state,
                actor: tick_id.to_string(),
                detail: Some(format!(
                    "attempt {}: {}",
                    outcome.result.number,
                    outcome.result.summary()
                )),
            })
            .collect();
        self.backend().insert_transitions(&transitions)?;
        for (outcome, _) in kept() {
            let Held { task, notify } = outcome.held;
            let ending = notification::Ending {
                state: outcome.decision.state,
                reason: outcome.reason,
                status: outcome.result.status,
                attempts: outcome.result.number.saturating_sub(task.attempts_base),
            };
            self.notify(task, notify, &ending, tick_id, finished_at)?;
        }
        Ok(done)
    }

    /// Schedules the notification of a task's ending, if its endpoint names one for it.
    fn notify(
        &self,
        task: &Task,
        notify: &Notify,
        ending: &notification::Ending,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if let Some(new) = notification::for_ending(task, notify, ending, now, actor) {
            self.insert_task(&new, actor, now)
                .with_context(|| format!("cannot schedule the notification of task {}", task.id))?;
        }
        Ok(())
    }

    /// Frees a task whose tick died or whose lease expired: its in-flight attempt is recorded
    /// as `interrupted`, and it is due again at `due_again_at` (`retrying`), or `failed` when
    /// its attempts are used up. Fenced like `record_result`.
    pub fn recover(
        &self,
        Held { task, notify }: Held,
        actor: &str,
        now: DateTime<Utc>,
        due_again_at: DateTime<Utc>,
        to: State,
        why: &str,
    ) -> Result<bool> {
        let recovered = self.backend().recover_task(&records::Recovery {
            task,
            now,
            due_again_at,
            failed: to == State::Failed,
            why,
        })?;
        if !recovered {
            return Ok(false);
        }
        let detail = format!("attempt {} interrupted: {why}", task.attempts);
        self.record_transition(task.id, now, Some(State::Running), to, actor, Some(&detail))?;
        if to == State::Failed {
            let ending = notification::Ending {
                state: State::Failed,
                reason: Some(why),
                status: None,
                attempts: task.attempts_used(),
            };
            self.notify(task, notify, &ending, actor, now)?;
        }
        Ok(true)
    }

    /// Inserts the schedule, or replaces the stored one of the same name.
    pub fn save_schedule(&self, schedule: &Schedule, now: DateTime<Utc>) -> Result<()> {
        self.backend().save_schedule(schedule, now)
    }

    pub fn delete_schedule(&self, name: &str) -> Result<bool> {
        self.backend().delete_schedule(name)
    }

    /// Makes the task of one firing and moves the schedule to its next firing, fenced on the
    /// next firing read: when another tick fired it first, nothing happens and None is
    /// returned. The task's key, `recur:NAME:FIRE_TIME` (UTC), makes a second task for one
    /// firing impossible, however many ticks run on however many hosts.
    pub fn fire(&self, firing: &Firing, actor: &str, now: DateTime<Utc>) -> Result<Option<i64>> {
        let schedule = &firing.schedule;
        let advanced = self.backend().advance_schedule(
            &schedule.name,
            schedule.next_fire_at,
            firing.next_fire_at,
            firing.fire_at,
        )?;
        if !advanced {
            return Ok(None);
        }
        let fired = firing
            .fire_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
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
            key: Some(format!("recur:{}:{fired}", schedule.name)),
            priority: schedule.priority,
            max_attempts: schedule.max_attempts,
            agent: Some(format!("recur:{}", schedule.name)),
            due_at: firing.fire_at,
            schedule: Some(schedule.name.clone()),
            notifies: None,
            creation: Some(detail),
        };
        let Some(id) = self.insert_task(&task, actor, now)? else {
            return Ok(None);
        };
        self.backend().set_last_task(&schedule.name, id)?;
        Ok(Some(id))
    }
}

/// A task a tick holds, with where its endpoint reports outcomes (as the tick read it).
#[derive(Clone, Copy)]
pub struct Held<'a> {
    pub task: &'a Task,
    pub notify: &'a Notify,
}

/// One attempt's result for `Tx::record_results`: the task, what the tick decided, and why.
#[derive(Clone, Copy)]
pub struct Decided<'a> {
    pub held: Held<'a>,
    pub result: &'a AttemptResult,
    pub decision: &'a Decision,
    pub reason: Option<&'a str>,
}

/// The stored outcome of a terminal state; None for the others.
fn outcome_of(state: State) -> Option<Outcome> {
    match state {
        State::Succeeded => Some(Outcome::Succeeded),
        State::Failed => Some(Outcome::Failed),
        State::Cancelled => Some(Outcome::Cancelled),
        State::Scheduled | State::Due | State::Running | State::Retrying => None,
    }
}

/// What a person needs from an error of the database at `location`, in one line (the database,
/// what went wrong in plain words, the fix where there is one); None for an error of another
/// kind, which is shown as it is.
pub fn explain(error: &anyhow::Error, location: &Location) -> Option<String> {
    let explained = match location {
        Location::Sqlite(_) => sqlite::explain(error)?,
        Location::Postgres(_) => postgres::explain(error)?,
    };
    Some(format!("database {location}: {explained}"))
}
