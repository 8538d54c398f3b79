//! `httpat recur NAME ENDPOINT --cron EXPR ...`: create or update a recurring schedule and say
//! what changed; `--pause`, `--resume`, `--delete`.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::admission::{build_args, check_args, usable_endpoint};
use crate::cli::RecurArgs;
use crate::context::Context;
use crate::endpoint;
use crate::error::{refused, usage};
use crate::recurring::{local_zone, CronRule};
use crate::render;
use crate::store::{Schedule, Tx};
use crate::when;

/// What happened to a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleChange {
    Created,
    Updated,
    Unchanged,
    Paused,
    Resumed,
    Deleted,
}

impl ScheduleChange {
    fn as_str(self) -> &'static str {
        match self {
            ScheduleChange::Created => "created",
            ScheduleChange::Updated => "updated",
            ScheduleChange::Unchanged => "unchanged",
            ScheduleChange::Paused => "paused",
            ScheduleChange::Resumed => "resumed",
            ScheduleChange::Deleted => "deleted",
        }
    }
}

/// What `recur --json` prints.
#[derive(Debug, Serialize)]
pub struct RecurChange {
    pub name: String,
    pub change: ScheduleChange,
    pub fields: Vec<&'static str>,
    pub next_fire_at: Option<String>,
}

pub fn run(args: RecurArgs, context: &Context) -> Result<()> {
    endpoint::check_name(&args.name).map_err(|_| {
        usage(format!(
            "schedule name \"{}\" is not valid: use letters, digits, `-`, `_` and `.`",
            args.name
        ))
    })?;
    let change = if args.pause || args.resume || args.delete {
        let store = context.read_store()?;
        let now = context.now_for(&store)?;
        store.in_transaction(|store| switch(store, &args, now))?
    } else {
        // Checked before the database is opened; the next firing counted by its clock.
        check(&args, context.now()?)?;
        let store = context.open_store()?;
        let now = context.now_for(&store)?;
        let wanted = check(&args, now)?;
        store.in_transaction(|store| define(store, wanted, now))?
    };
    if context.json {
        return render::print_json(&change);
    }
    match change.change {
        ScheduleChange::Updated => crate::outln!("updated: {}", change.fields.join(", ")),
        other => crate::outln!("{}", other.as_str()),
    }
    if let Some(next) = change.next_fire_at.as_deref() {
        log::info!("next firing {next}");
    }
    Ok(())
}

/// Checks the definition before the database is touched.
fn check(args: &RecurArgs, now: DateTime<Utc>) -> Result<Schedule> {
    let endpoint = args.endpoint.clone().unwrap_or_default();
    endpoint::check_name(&endpoint)?;
    let zone = match &args.tz {
        Some(name) => when::parse_zone(name)?,
        None => local_zone(),
    };
    let cron = args.cron.clone().unwrap_or_default();
    let rule = CronRule::parse(&cron, zone)?;
    // Stored as the database spells it, so `--tz europe/riga` and `--tz Europe/Riga` agree.
    let zone = rule.zone().name().to_string();
    let args_json = args
        .task
        .args_json
        .as_deref()
        .map(|text| {
            serde_json::from_str(text).map_err(|e| usage(format!("--args is not valid JSON: {e}")))
        })
        .transpose()?;
    Ok(Schedule {
        name: args.name.clone(),
        endpoint,
        cron: cron.trim().to_string(),
        zone,
        args: build_args(args_json, &args.task.args)?,
        priority: args.task.priority.unwrap_or(0),
        max_attempts: args
            .task
            .max_attempts
            .map(endpoint::check_max_attempts)
            .transpose()?,
        paused_at: None,
        next_fire_at: rule.next_after(now)?,
        last_fire_at: None,
        last_task_id: None,
    })
}

/// Creates or updates; the endpoint must exist, not be deprecated, and take the arguments.
fn define(store: &Tx, mut wanted: Schedule, now: DateTime<Utc>) -> Result<RecurChange> {
    let endpoint = usable_endpoint(store, &wanted.endpoint)?;
    check_args(&endpoint, &endpoint.template()?, &wanted.args)?;
    let current = store.schedule(&wanted.name)?;
    let (change, fields) = match &current {
        None => (ScheduleChange::Created, Vec::new()),
        Some(current) => {
            let mut fields = Vec::new();
            if current.endpoint != wanted.endpoint {
                fields.push("endpoint");
            }
            if current.cron != wanted.cron {
                fields.push("cron");
            }
            if current.zone != wanted.zone {
                fields.push("tz");
            }
            if current.args != wanted.args {
                fields.push("args");
            }
            if current.priority != wanted.priority {
                fields.push("priority");
            }
            if current.max_attempts != wanted.max_attempts {
                fields.push("max_attempts");
            }
            // The firing times move only when the rule changed.
            if !fields.contains(&"cron") && !fields.contains(&"tz") {
                wanted.next_fire_at = current.next_fire_at;
            }
            wanted.paused_at = current.paused_at;
            wanted.last_fire_at = current.last_fire_at;
            wanted.last_task_id = current.last_task_id;
            let change = if fields.is_empty() {
                ScheduleChange::Unchanged
            } else {
                ScheduleChange::Updated
            };
            (change, fields)
        }
    };
    if change != ScheduleChange::Unchanged {
        store.save_schedule(&wanted, now)?;
    }
    Ok(RecurChange {
        name: wanted.name,
        change,
        fields,
        next_fire_at: Some(when::rfc3339(wanted.next_fire_at)),
    })
}

/// `--pause`, `--resume`, `--delete`.
fn switch(store: &Tx, args: &RecurArgs, now: DateTime<Utc>) -> Result<RecurChange> {
    let Some(mut schedule) = store.schedule(&args.name)? else {
        return Err(refused(format!(
            "schedule \"{}\" does not exist (see httpat recurring)",
            args.name
        )));
    };
    let change = if args.delete {
        store.delete_schedule(&schedule.name)?;
        ScheduleChange::Deleted
    } else if args.pause {
        if schedule.paused_at.is_none() {
            schedule.paused_at = Some(now);
            store.save_schedule(&schedule, now)?;
        }
        ScheduleChange::Paused
    } else {
        if schedule.paused_at.is_some() {
            // No burst: firings missed while paused are not made up.
            let rule = CronRule::parse(&schedule.cron, when::parse_zone(&schedule.zone)?)?;
            schedule.paused_at = None;
            schedule.next_fire_at = rule.next_after(now)?;
            store.save_schedule(&schedule, now)?;
        }
        ScheduleChange::Resumed
    };
    Ok(RecurChange {
        name: schedule.name,
        change,
        fields: Vec::new(),
        next_fire_at: (change == ScheduleChange::Resumed)
            .then(|| when::rfc3339(schedule.next_fire_at)),
    })
}
