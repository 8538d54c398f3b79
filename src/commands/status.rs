//! `httpat status [--check]`: is the executor alive? The last ticks, the tasks per state, the
//! oldest due task and how late it is, each endpoint's waiting and failed tasks, its last success
//! and what holds its tasks back, and a warning when nothing is sending.

use std::collections::BTreeSet;

use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use comfy_table::Cell;
use serde::Serialize;

use crate::cli::StatusArgs;
use crate::context::Context;
use crate::error::refused;
use crate::render::{self, LimitView};
use crate::store::{EndpointActivity, LimitWait, MissingReport, TickCounts};
use crate::task::State;
use crate::when;

/// Due tasks and no tick ended for this long: the executor is not running.
const STALE_AFTER_MINUTES: i64 = 3;

/// How far back `failed_24h` counts failures.
const FAILED_WITHIN_HOURS: i64 = 24;

/// What `status --json` prints.
#[derive(Debug, Serialize)]
pub struct Status {
    pub ticks: Vec<TickView>,
    pub last_tick_ended_at: Option<String>,
    pub counts: StateCounts,
    pub oldest_due: Option<OldestDue>,
    /// Every endpoint with a limit, and how many of its due tasks wait on it.
    pub limits: Vec<LimitView>,
    /// The endpoints with something to report: tasks due or retrying, failures in the last
    /// 24 hours, a success ever, or tasks held back.
    pub endpoints: Vec<EndpointStatus>,
    /// Set when tasks are due and no tick has ended in the last 3 minutes.
    pub warning: Option<String>,
}

/// One endpoint as `status` shows it.
#[derive(Debug, Serialize)]
pub struct EndpointStatus {
    pub name: String,
    pub due: u64,
    pub retrying: u64,
    /// Tasks that failed in the last 24 hours.
    pub failed_24h: u64,
    pub last_success_at: Option<String>,
    /// Which limit holds its due tasks back now, in words; null when none does.
    pub waiting_on_limit: Option<String>,
    /// Variables that the latest tick of a host lacked, so that it left the tasks due.
    pub missing_variables: Vec<String>,
    /// Variables set there but holding no signing secret.
    pub not_signing_secrets: Vec<String>,
    #[serde(skip)]
    last_success: Option<DateTime<Utc>>,
    /// The limit alone, for the table.
    #[serde(skip)]
    limit: Option<String>,
}

impl EndpointStatus {
    fn new(
        activity: EndpointActivity,
        wait: Option<&LimitWait>,
        missing: &[MissingReport],
        now: DateTime<Utc>,
    ) -> EndpointStatus {
        let names = |pick: fn(&MissingReport) -> &Vec<String>| -> Vec<String> {
            let set: BTreeSet<&String> = missing
                .iter()
                .filter(|report| report.endpoint == activity.endpoint)
                .flat_map(pick)
                .collect();
            set.into_iter().cloned().collect()
        };
        EndpointStatus {
            missing_variables: names(|report| &report.variables),
            not_signing_secrets: names(|report| &report.not_signing_secrets),
            name: activity.endpoint,
            due: activity.due,
            retrying: activity.retrying,
            failed_24h: activity.failed_since,
            last_success_at: activity.last_success_at.map(when::rfc3339),
            waiting_on_limit: wait.and_then(|wait| wait.reason(now)),
            last_success: activity.last_success_at,
            limit: wait.and_then(LimitWait::holding).map(|bound| bound.brief()),
        }
    }

    /// Whether it has anything to report.
    fn worth_showing(&self) -> bool {
        self.due > 0
            || self.retrying > 0
            || self.failed_24h > 0
            || self.last_success.is_some()
            || self.limit.is_some()
            || !self.missing_variables.is_empty()
            || !self.not_signing_secrets.is_empty()
    }

    /// What holds its tasks back, in a few words; empty when nothing does.
    fn held_back(&self) -> String {
        let references = |names: &[String]| -> String {
            names
                .iter()
                .map(|name| format!("${{{name}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut parts = Vec::new();
        if let Some(limit) = &self.limit {
            parts.push(format!("limit: {limit}"));
        }
        if !self.missing_variables.is_empty() {
            parts.push(format!("missing {}", references(&self.missing_variables)));
        }
        if !self.not_signing_secrets.is_empty() {
            parts.push(format!(
                "no signing secret in {}",
                references(&self.not_signing_secrets)
            ));
        }
        parts.join("; ")
    }
}

/// How many tasks are in each state.
#[derive(Debug, Default, Serialize)]
pub struct StateCounts {
    pub scheduled: u64,
    pub due: u64,
    pub running: u64,
    pub retrying: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub cancelled: u64,
}

impl StateCounts {
    fn new(counts: &[(State, u64)]) -> StateCounts {
        let mut all = StateCounts::default();
        for (state, n) in counts {
            let slot = match state {
                State::Scheduled => &mut all.scheduled,
                State::Due => &mut all.due,
                State::Running => &mut all.running,
                State::Retrying => &mut all.retrying,
                State::Succeeded => &mut all.succeeded,
                State::Failed => &mut all.failed,
                State::Cancelled => &mut all.cancelled,
            };
            *slot = *n;
        }
        all
    }
}

#[derive(Debug, Serialize)]
pub struct TickView {
    pub id: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub duration_ms: Option<i64>,
    #[serde(flatten)]
    pub counts: TickCounts,
    /// Why the tick stopped early, when it did.
    pub error: Option<String>,
    #[serde(skip)]
    pub started: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct OldestDue {
    pub id: i64,
    pub endpoint: String,
    pub state: State,
    pub due_at: String,
    pub late_ms: i64,
}

pub fn run(args: StatusArgs, context: &Context) -> Result<()> {
    let store = context.read_store()?;
    let now = context.now_for(&store)?;
    let ticks = store.recent_ticks(5)?;
    let last_end = store.last_tick_end()?;
    let counts = store.state_counts(now)?;
    let oldest = store.oldest_waiting(now)?;
    let waits = store.limit_waits(now)?;
    let missing = store.latest_missing_reports()?;
    let endpoints: Vec<EndpointStatus> = store
        .endpoint_activity(now, now - Duration::hours(FAILED_WITHIN_HOURS))?
        .into_iter()
        .map(|activity| {
            let wait = waits.iter().find(|wait| wait.endpoint == activity.endpoint);
            EndpointStatus::new(activity, wait, &missing, now)
        })
        .filter(EndpointStatus::worth_showing)
        .collect();
    let stale = last_end.is_none_or(|end| end < now - Duration::minutes(STALE_AFTER_MINUTES));
    let warning = match (&oldest, stale) {
        (Some(task), true) => Some(format!(
            "task {} has been due since {} and no tick has ended in the last {STALE_AFTER_MINUTES} \
             minutes{}: is cron running `httpat tick`? (see crontab.example)",
            task.id,
            when::relative(task.next_attempt_at, now),
            last_end
                .map(|end| format!(" (the last ended {})", when::relative(end, now)))
                .unwrap_or_else(|| " (none ever has)".to_string()),
        )),
        _ => None,
    };
    let status = Status {
        ticks: ticks
            .iter()
            .map(|tick| TickView {
                id: tick.id.clone(),
                started_at: when::rfc3339(tick.started_at),
                ended_at: tick.ended_at.map(when::rfc3339),
                duration_ms: tick
                    .ended_at
                    .map(|end| (end - tick.started_at).num_milliseconds()),
                counts: tick.counts,
                error: tick.error.clone(),
                started: tick.started_at,
            })
            .collect(),
        last_tick_ended_at: last_end.map(when::rfc3339),
        counts: StateCounts::new(&counts),
        oldest_due: oldest.as_ref().map(|task| OldestDue {
            id: task.id,
            endpoint: task.endpoint.clone(),
            state: task.state(now),
            due_at: when::rfc3339(task.next_attempt_at),
            late_ms: (now - task.next_attempt_at).num_milliseconds(),
        }),
        limits: waits.iter().map(|wait| LimitView::new(wait, now)).collect(),
        endpoints,
        warning,
    };
    if context.json {
        render::print_json(&status)?;
    } else {
        print(&status, now, context.utc);
    }
    if args.check {
        if let Some(warning) = &status.warning {
            return Err(refused(format!("check failed: {warning}")));
        }
    }
    Ok(())
}

fn print(status: &Status, now: DateTime<Utc>, utc: bool) {
    crate::outln!("Last ticks");
    if status.ticks.is_empty() {
        crate::outln!("  none has run yet");
    } else {
        let mut table = render::table(&[
            "started",
            "",
            "took",
            "sent",
            "succeeded",
            "retrying",
            "failed",
            "cancelled",
            "recovered",
        ]);
        for tick in &status.ticks {
            let took = match (tick.duration_ms, &tick.error) {
                (Some(_), Some(_)) => "failed".to_string(),
                (Some(ms), None) => format!("{:.2}s", ms as f64 / 1000.0),
                (None, _) => "running".to_string(),
            };
            let c = &tick.counts;
            table.add_row(vec![
                Cell::new(when::display(tick.started, utc)),
                Cell::new(when::relative(tick.started, now)),
                Cell::new(took),
                Cell::new(c.sent),
                Cell::new(c.succeeded),
                Cell::new(c.retrying),
                Cell::new(c.failed),
                Cell::new(c.cancelled),
                Cell::new(c.recovered),
            ]);
        }
        render::print_table(&table);
    }
    crate::outln!();
    let c = &status.counts;
    crate::outln!(
        "Tasks: scheduled {}, due {}, running {}, retrying {}, succeeded {}, failed {}, cancelled {}",
        c.scheduled, c.due, c.running, c.retrying, c.succeeded, c.failed, c.cancelled
    );
    match &status.oldest_due {
        Some(oldest) => crate::outln!(
            "Oldest due: task {} ({}, {}), due {} late",
            oldest.id,
            oldest.endpoint,
            oldest.state,
            when::relative(now - Duration::milliseconds(oldest.late_ms), now)
                .trim_end_matches(" ago")
        ),
        None => crate::outln!("Oldest due: none, nothing is waiting for a tick"),
    }
    for limit in status.limits.iter().filter(|limit| limit.tasks_waiting > 0) {
        crate::outln!(
            "Waiting on a limit: {} due task(s) of {}: {}",
            limit.tasks_waiting,
            limit.endpoint,
            limit.reason.as_deref().unwrap_or("")
        );
    }
    print_endpoints(&status.endpoints, now, utc);
    if let Some(warning) = &status.warning {
        crate::outln!();
        crate::outln!("WARNING: {warning}");
    }
}

/// The per-endpoint table; nothing when no endpoint has anything to report.
fn print_endpoints(endpoints: &[EndpointStatus], now: DateTime<Utc>, utc: bool) {
    if endpoints.is_empty() {
        return;
    }
    crate::outln!();
    crate::outln!("Endpoints");
    let mut table = render::table(&[
        "endpoint",
        "due",
        "retrying",
        "failed 24h",
        "last success",
        "",
        "held back",
    ]);
    for endpoint in endpoints {
        let (success, ago) = match endpoint.last_success {
            Some(at) => (when::display(at, utc), when::relative(at, now)),
            None => ("never".to_string(), String::new()),
        };
        table.add_row(vec![
            Cell::new(&endpoint.name),
            Cell::new(endpoint.due),
            Cell::new(endpoint.retrying),
            Cell::new(endpoint.failed_24h),
            Cell::new(success),
            Cell::new(ago),
            Cell::new(endpoint.held_back()),
        ]);
    }
    render::print_table(&table);
}
