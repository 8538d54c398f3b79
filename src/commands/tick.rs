//! `httpat tick`: recover what a dead tick left, send what is due, record every outcome, exit.
//! Silent when all is well, as cron expects; one stderr line per task that failed for good or
//! was cancelled by the executor. The work itself is in `crate::tick`.

use std::time::Instant;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::cli::TickArgs;
use crate::context::Context;
use crate::error::usage;
use crate::request::{endpoint_gone, RequestPlan};
use crate::store::Store;
use crate::tick::{self, Options};
use crate::when;

pub fn run(args: TickArgs, context: &Context) -> Result<()> {
    let options = check(&args)?;
    let start = context.now()?;
    let started = Instant::now();
    let store = context.open_store()?;
    if args.dry_run {
        return dry_run(&store, start, options.limit.unwrap_or(u32::MAX));
    }
    let counts = tick::run(store, options, start, context.log_path())?;
    if context.verbose > 0 {
        crate::errln!(
            "httpat: tick: fired {}, sent {}, succeeded {}, retrying {}, failed {}, cancelled {}, recovered {} in {:.2}s",
            counts.fired,
            counts.sent,
            counts.succeeded,
            counts.retrying,
            counts.failed,
            counts.cancelled,
            counts.recovered,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn check(args: &TickArgs) -> Result<Options> {
    let max_runtime = when::parse_duration(&args.max_runtime)?;
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
    })
}

/// `tick --dry-run`: what a tick would send now, secrets masked; nothing changes.
fn dry_run(store: &Store, now: DateTime<Utc>, limit: u32) -> Result<()> {
    let tasks = store.due_preview(now, limit)?;
    if tasks.is_empty() {
        crate::outln!("Nothing is due.");
        return Ok(());
    }
    for task in tasks {
        let header = format!(
            "task {} ({}, due {})",
            task.id,
            task.endpoint,
            when::rfc3339(task.next_attempt_at)
        );
        let plan = match store.endpoint(&task.endpoint)? {
            None => Err(endpoint_gone(&task)),
            Some(endpoint) => RequestPlan::build(&endpoint, &task),
        };
        let plan = plan.and_then(|plan| {
            plan.expand_headers(|name| std::env::var(name).ok())?;
            Ok(plan)
        });
        match plan {
            Err(e) => crate::outln!("{header}: would be cancelled: {e:#}"),
            Ok(plan) => {
                crate::outln!("{header}: {} {}", plan.method, plan.url);
                for (name, value) in &plan.headers {
                    crate::outln!("  {name}: {value}");
                }
                if let Some(body) = &plan.body {
                    crate::outln!("  {body}");
                }
            }
        }
    }
    Ok(())
}
