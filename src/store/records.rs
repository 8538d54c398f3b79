//! What the store takes and gives besides the domain's own types: rows to write, filters, and
//! records read back. Both backends speak these.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::attempt::{AttemptOutcome, AttemptResult};
use crate::limits::{Allowance, Limits, Usage};
use crate::task::{Outcome, State, Task};

/// A task about to be stored.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub endpoint: String,
    pub args: Map<String, Value>,
    pub key: Option<String>,
    pub priority: i64,
    pub max_attempts: Option<u32>,
    pub agent: Option<String>,
    pub due_at: DateTime<Utc>,
    /// The recurring schedule that made it, if any.
    pub schedule: Option<String>,
    /// The task whose outcome it reports, when it is a notification.
    pub notifies: Option<i64>,
    /// The detail of its first transition [default: "created"].
    pub creation: Option<String>,
}

/// What `list` asks for; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub states: Vec<State>,
    pub endpoint: Option<String>,
    pub agent: Option<String>,
    pub key: Option<String>,
    pub schedule: Option<String>,
    pub before: Option<DateTime<Utc>>,
    pub after: Option<DateTime<Utc>>,
}

/// Counting stops here, so that `list` stays fast on millions of tasks.
pub const COUNT_CAP: u64 = 10_000;

/// One attempt as stored.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub number: u32,
    pub tick_id: String,
    pub started_at: DateTime<Utc>,
    pub duration_ms: Option<i64>,
    /// None while in flight.
    pub outcome: Option<AttemptOutcome>,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub request: Option<String>,
    pub content_type: Option<String>,
    pub retry_after: Option<String>,
    pub location: Option<String>,
    pub body: Option<Vec<u8>>,
    pub body_truncated: bool,
}

/// One change of a task's state, as written and as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub task_id: i64,
    pub at: DateTime<Utc>,
    /// None for the first (the task's creation).
    pub from: Option<State>,
    pub to: State,
    /// `user:NAME` or a tick's id.
    pub actor: String,
    pub detail: Option<String>,
}

/// What `prune` deleted, or would delete.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PruneCounts {
    pub tasks: u64,
    pub attempts: u64,
    pub transitions: u64,
    pub ticks: u64,
}

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TickCounts {
    pub recovered: u32,
    pub fired: u32,
    pub sent: u32,
    pub succeeded: u32,
    pub retrying: u32,
    pub failed: u32,
    pub cancelled: u32,
}

/// A tick as recorded.
#[derive(Debug, Clone)]
pub struct TickRecord {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub counts: TickCounts,
    pub error: Option<String>,
    /// The endpoints it could not send to for lack of variables in its environment.
    pub missing: Vec<MissingReport>,
}

/// An endpoint whose due tasks a tick left because the tick's environment lacked variables its
/// requests read, as the tick's record keeps it (names only, never a value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingReport {
    pub endpoint: String,
    /// Not set at all.
    pub variables: Vec<String>,
    /// Set, but holding no signing secret.
    pub not_signing_secrets: Vec<String>,
    pub tasks_waiting: u64,
}

impl MissingReport {
    /// The column a tick's record keeps them in: a JSON array, NULL when there are none.
    pub fn to_column(reports: &[MissingReport]) -> anyhow::Result<Option<String>> {
        if reports.is_empty() {
            return Ok(None);
        }
        Ok(Some(serde_json::to_string(reports)?))
    }

    /// The reports back from that column.
    pub fn from_column(text: Option<&str>) -> anyhow::Result<Vec<MissingReport>> {
        use anyhow::Context as _;
        let Some(text) = text else {
            return Ok(Vec::new());
        };
        serde_json::from_str(text)
            .with_context(|| format!("a tick's record of missing variables is damaged: {text:?}"))
    }
}

/// What `status` tells of one endpoint's tasks at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointActivity {
    pub endpoint: String,
    pub due: u64,
    pub retrying: u64,
    /// Tasks that failed at or after the time asked.
    pub failed_since: u64,
    pub last_success_at: Option<DateTime<Utc>>,
}

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
    /// No firing after this time (`recur --until`); None: it never ends.
    pub until_at: Option<DateTime<Utc>>,
}

impl Schedule {
    /// Past its end: its next firing would come after `--until`, so it never fires again.
    pub fn ended(&self) -> bool {
        self.until_at.is_some_and(|until| self.next_fire_at > until)
    }
}

/// One firing a tick is about to make: the schedule as read, the firing's time, and the next.
#[derive(Debug, Clone)]
pub struct Firing {
    pub schedule: Schedule,
    pub fire_at: DateTime<Utc>,
    pub next_fire_at: DateTime<Utc>,
    pub skipped: u64,
}

/// A claim of due tasks for one tick.
#[derive(Debug, Clone)]
pub struct Claim<'a> {
    pub tick_id: &'a str,
    /// What counts as due: tasks whose next attempt time is at or before this.
    pub now: DateTime<Utc>,
    /// When the claimed attempts start.
    pub started_at: DateTime<Utc>,
    pub lease_until: DateTime<Utc>,
    /// Only tasks whose endpoint timeout fits in this many milliseconds are taken.
    pub remaining_ms: i64,
    pub limit: u32,
    /// Endpoints the tick cannot send to: their tasks stay due.
    pub skip: &'a [String],
    /// How many tasks of endpoints with a `--rate` to take at most: each must start within
    /// moments of its counted start, so no more than the tick has idle workers for.
    pub paced_limit: u32,
    /// How many tasks to take at most in all (what is left of `tick --limit`).
    pub most: u32,
}

/// What a claim took, and what it had to leave.
#[derive(Debug, Default)]
pub struct Claimed {
    pub tasks: Vec<Task>,
    /// The endpoints with a `--rate` among the tasks, and when their requests must start.
    pub paced: Vec<(String, StartWindow)>,
    /// Endpoints with a limit whose due tasks were left: they wait for a slot.
    pub held_back: Vec<HeldBack>,
}

/// When a paced request may start: not before its start was counted, and soon after or not
/// at all (it is then given back, its start uncounted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartWindow {
    pub not_before: DateTime<Utc>,
    pub start_by: DateTime<Utc>,
}

/// An endpoint whose due tasks a claim left because of its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBack {
    pub endpoint: String,
    /// When its rate frees the next slot; None when a slot frees as a request ends (or the
    /// claim had no room for more).
    pub next_slot: Option<DateTime<Utc>>,
}

/// An endpoint with a limit, and how many of its due tasks wait on it.
#[derive(Debug, Clone)]
pub struct LimitWait {
    pub endpoint: String,
    pub limits: Limits,
    /// Its due tasks no tick holds.
    pub due: u64,
    pub usage: Usage,
    pub allowance: Allowance,
}

impl LimitWait {
    /// How many of its due tasks a claim now could not take because of the limits.
    pub fn waiting(&self) -> u64 {
        self.due.saturating_sub(self.allowance.now)
    }

    /// The limit that holds tasks back, in words, when one does.
    pub fn reason(&self, now: DateTime<Utc>) -> Option<String> {
        Some(self.holding()?.describe(now))
    }

    /// The limit that holds tasks back, when one does.
    pub fn holding(&self) -> Option<crate::limits::Bound> {
        self.allowance.bound_by.filter(|_| self.waiting() > 0)
    }
}

/// An endpoint with a limit, as the claim reads it.
#[derive(Debug, Clone)]
pub struct LimitedEndpoint {
    pub name: String,
    pub limits: Limits,
    pub timeout_ms: i64,
}

/// Which due tasks a claim may take: of one endpoint, or of all but some.
#[derive(Debug, Clone, Copy)]
pub struct Pick<'a> {
    pub now: DateTime<Utc>,
    /// Only tasks whose endpoint timeout fits in this many milliseconds.
    pub remaining_ms: i64,
    pub limit: u32,
    /// Every endpoint but these (ignored with `only`).
    pub skip: &'a [String],
    pub only: Option<&'a str>,
}

/// A task a claim may take, with what orders it: priority (highest first), then time, then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub id: i64,
    pub priority: i64,
    pub next_attempt_at: DateTime<Utc>,
}

impl Candidate {
    pub fn claim_order(&self) -> (std::cmp::Reverse<i64>, DateTime<Utc>, i64) {
        (
            std::cmp::Reverse(self.priority),
            self.next_attempt_at,
            self.id,
        )
    }
}

/// An attempt's result to record, and where the task goes.
#[derive(Debug, Clone)]
pub struct Recorded<'a> {
    pub tick_id: &'a str,
    /// The task as the tick claimed it.
    pub task: &'a Task,
    pub result: &'a AttemptResult,
    /// Set when the task is finished by this result.
    pub outcome: Option<Outcome>,
    /// When the next attempt may start (a task that will be retried).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub finished_at: DateTime<Utc>,
    pub reason: Option<&'a str>,
}

/// A running task freed because its tick is gone.
#[derive(Debug, Clone)]
pub struct Recovery<'a> {
    pub task: &'a Task,
    pub now: DateTime<Utc>,
    /// When it may be sent again (if it is not failed).
    pub due_again_at: DateTime<Utc>,
    /// Its attempts are used up: it fails.
    pub failed: bool,
    pub why: &'a str,
}

/// Everything a database holds, as `transfer` copies it: every row of every table, ids kept.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub endpoints: Vec<Dated<crate::endpoint::Endpoint>>,
    pub tasks: Vec<Task>,
    /// Each with its task's id, in the order they were recorded.
    pub attempts: Vec<(i64, AttemptRecord)>,
    pub transitions: Vec<Transition>,
    pub schedules: Vec<Dated<Schedule>>,
    pub ticks: Vec<TickRow>,
    /// The attempt counters, which outlive the attempts `prune` deletes.
    pub attempt_counts: Vec<AttemptCount>,
    /// The highest task id ever given (pruned ones included): the target never gives one again.
    pub highest_task_id: i64,
}

/// Attempts finished for one endpoint with one outcome (`success`, `retryable`, `permanent`,
/// `interrupted`, `executor_error`), ever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptCount {
    pub endpoint: String,
    pub outcome: String,
    pub count: u64,
}

/// What `transfer` copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Copied {
    pub endpoints: u64,
    pub tasks: u64,
    pub attempts: u64,
    pub transitions: u64,
    pub schedules: u64,
    pub ticks: u64,
}

impl Snapshot {
    pub fn copied(&self) -> Copied {
        let n = |len: usize| len as u64;
        Copied {
            endpoints: n(self.endpoints.len()),
            tasks: n(self.tasks.len()),
            attempts: n(self.attempts.len()),
            transitions: n(self.transitions.len()),
            schedules: n(self.schedules.len()),
            ticks: n(self.ticks.len()),
        }
    }
}

/// A row with when it was created and last updated.
#[derive(Debug, Clone)]
pub struct Dated<T> {
    pub row: T,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A tick's record whole: what it did and where it ran.
#[derive(Debug, Clone)]
pub struct TickRow {
    pub record: TickRecord,
    pub host: Option<String>,
    pub boot_id: Option<String>,
    pub pid_ns: Option<String>,
}

/// The ids of a group of tasks (a claim, a group of results) in words, for an error: the first
/// and the last, not every one.
pub fn id_range(ids: &[i64]) -> String {
    match ids {
        [one] => one.to_string(),
        [first, .., last] => format!("{first} to {last}"),
        [] => "(none)".to_string(),
    }
}
