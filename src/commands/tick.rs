//! `httpat tick`: recover what a dead tick left, send what is due, record every outcome, exit.
//! Silent when all is well, as cron expects; one stderr line per task that failed for good or
//! was cancelled by the executor, and per endpoint whose secrets the tick lacks. The work itself
//! is in `crate::tick`.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cli::TickArgs;
use crate::context::Context;
use crate::error::{reported, usage};
use crate::metrics::{self, Metrics};
use crate::render;
use crate::request::{endpoint_gone, RequestPlan};
use crate::store::{Location, Store};
use crate::tick::{self, MissingVariables, Options, TickReport};
use crate::when;

pub fn run(args: TickArgs, context: &Context) -> Result<()> {
    let options = check(&args)?;
    let started = Instant::now();
    let Some(store) = context.open_existing_store()? else {
        crate::errln!(
            "httpat: tick: there is no database at {} (nothing was ever registered or scheduled \
             there): set --db or HTTPAT_DB to the database your schedules use",
            context.db_name()
        );
        return Ok(());
    };
    let (start, read_at) = context.clock_for(&store)?;
    if args.dry_run {
        return dry_run(
            &store,
            start,
            options.limit.unwrap_or(u32::MAX),
            context.json,
        );
    }
    // On PostgreSQL a tick records its results on a second connection while the first claims.
    let options = Options {
        results_aside: match context.location()? {
            location @ Location::Postgres(_) => Some(location.clone()),
            Location::Sqlite(_) => None,
        },
        ..options
    };
    let report = tick::run(store, options, (start, read_at), context.log_path())?;
    if let Some(path) = &args.metrics_file {
        write_metrics(path, context)?;
    }
    if context.verbose > 0 {
        crate::errln!("{}", summary(&report, started));
    }
    if context.json {
        render::print_json(&report)?;
    }
    if !report.missing_variables.is_empty() {
        return Err(reported(
            report
                .missing_variables
                .iter()
                .map(MissingVariables::line)
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    Ok(())
}

/// `--metrics-file`: the metrics as they stand after the tick, read anew.
fn write_metrics(path: &std::path::Path, context: &Context) -> Result<()> {
    let store = context.read_store()?;
    let now = context.now_for(&store)?;
    let metrics = Metrics::gather(&store, now)?;
    metrics::write_atomically(path, &metrics.exposition())
}

fn summary(report: &TickReport, started: Instant) -> String {
    let counts = &report.counts;
    let waiting: u64 = report
        .missing_variables
        .iter()
        .map(|m| m.tasks_waiting)
        .sum();
    format!(
        "httpat: tick: fired {}, sent {}, succeeded {}, retrying {}, failed {}, cancelled {}, \
         recovered {}, left waiting for variables {waiting} in {:.2}s",
        counts.fired,
        counts.sent,
        counts.succeeded,
        counts.retrying,
        counts.failed,
        counts.cancelled,
        counts.recovered,
        started.elapsed().as_secs_f64()
    )
}

fn check(args: &TickArgs) -> Result<Options> {
    let default = if args.follow { "60s" } else { "50s" };
    let max_runtime = when::parse_duration(args.max_runtime.as_deref().unwrap_or(default))?;
    if max_runtime.is_zero() {
        return Err(usage("--max-runtime must be more than 0s"));
    }
    if !(1..=1024).contains(&args.concurrency) {
        return Err(usage("--concurrency must be between 1 and 1024"));
    }
    if args.limit == Some(0) {
        return Err(usage("--limit must be at least 1"));
    }
    Ok(Options {
        concurrency: args.concurrency as usize,
        max_runtime,
        limit: args.limit,
        follow: args.follow,
        results_aside: None,
    })
}

/// What a tick would do with a due task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Send,
    /// The tick's environment lacks a variable the request reads: the task stays due.
    Wait,
    /// The request cannot be built: the executor would cancel the task.
    Cancel,
}

/// One task as `tick --dry-run` shows it.
#[derive(Debug, Serialize)]
pub struct WouldSend {
    pub id: i64,
    pub endpoint: String,
    pub due_at: String,
    pub action: Action,
    /// The request as it would be sent, secrets as `${VAR}`; null unless `action` is `send`.
    pub request: Option<RequestPlan>,
    /// Why the task would wait or be cancelled.
    pub reason: Option<String>,
}

/// `tick --dry-run`: what a tick would send now, secrets masked; nothing changes.
fn dry_run(store: &Store, now: DateTime<Utc>, limit: u32, json: bool) -> Result<()> {
    let endpoints: Vec<Arc<crate::endpoint::Endpoint>> =
        store.endpoints()?.into_iter().map(Arc::new).collect();
    let missing = tick::missing_variables(&endpoints, |name| std::env::var(name).ok());
    let plans: Vec<WouldSend> = store
        .due_preview(now, limit)?
        .into_iter()
        .map(|task| {
            let endpoint = endpoints.iter().find(|e| e.name == task.endpoint);
            let mut would = WouldSend {
                id: task.id,
                endpoint: task.endpoint.clone(),
                due_at: when::rfc3339(task.next_attempt_at),
                action: Action::Send,
                request: None,
                reason: None,
            };
            if let Some(unusable) = missing.get(&task.endpoint) {
                would.action = Action::Wait;
                would.reason = Some(unusable.describe());
                return would;
            }
            let plan = match endpoint {
                None => Err(endpoint_gone(&task)),
                Some(endpoint) => RequestPlan::build(endpoint, &task),
            };
            match plan {
                Ok(plan) => would.request = Some(plan),
                Err(e) => {
                    would.action = Action::Cancel;
                    would.reason = Some(format!("{e:#}"));
                }
            }
            would
        })
        .collect();
    if json {
        return render::print_json(&plans);
    }
    if plans.is_empty() {
        crate::outln!("Nothing is due.");
    }
    for would in plans {
        let header = format!(
            "task {} ({}, due {})",
            would.id, would.endpoint, would.due_at
        );
        let reason = would.reason.as_deref().unwrap_or_default();
        match (would.action, &would.request) {
            (Action::Wait, _) => crate::outln!("{header}: would wait: {reason}"),
            (Action::Send, Some(plan)) => {
                crate::outln!("{header}: {} {}", plan.method, plan.url);
                for (name, value) in &plan.headers {
                    crate::outln!("  {name}: {value}");
                }
                if let Some(body) = &plan.body {
                    crate::outln!("  {body}");
                }
            }
            _ => crate::outln!("{header}: would be cancelled: {reason}"),
        }
    }
    Ok(())
}
