//! `httpat recur NAME ENDPOINT --cron EXPR ...`: create or update a recurring schedule and say
//! what changed; `--pause`, `--resume`, `--delete`; `--until` alone moves or lifts its end.

use anyhow::Result;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
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
    /// null when the schedule is paused, deleted or ended.
    pub next_fire_at: Option<String>,
    pub until_at: Option<String>,
    /// Past its end: it never fires again (unless its end is moved or lifted).
    pub ended: bool,
}

impl RecurChange {
    fn of(schedule: &Schedule, change: ScheduleChange, fields: Vec<&'static str>) -> RecurChange {
        let fires =
            !schedule.ended() && schedule.paused_at.is_none() && change != ScheduleChange::Deleted;
        RecurChange {
            name: schedule.name.clone(),
            change,
            fields,
            next_fire_at: fires.then(|| when::rfc3339(schedule.next_fire_at)),
            until_at: schedule.until_at.map(when::rfc3339),
            ended: schedule.ended(),
        }
    }
}

/// What `--until` asks: None when not given, `Some(None)` for `none` (no end).
type UntilChange = Option<Option<DateTime<Utc>>>;

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
    } else if args.endpoint.is_none() {
        // `recur NAME --until TIME|none`: only the end of an existing schedule.
        let task = &args.task;
        if !task.args.is_empty()
            || task.args_json.is_some()
            || task.priority.is_some()
            || task.max_attempts.is_some()
        {
            return Err(usage(format!(
                "recur {} --until changes only the end; to change what the schedule makes, give \
                 it whole: recur {} ENDPOINT --cron EXPR ...",
                args.name, args.name
            )));
        }
        parse_until(&args, context.now()?)?;
        let store = context.read_store()?;
        let now = context.now_for(&store)?;
        let until = parse_until(&args, now)?;
        store.in_transaction(|store| end(store, &args.name, until, now))?
    } else {
        // Checked before the database is opened; the next firing counted by its clock.
        check(&args, context.now()?)?;
        parse_until(&args, context.now()?)?;
        let store = context.open_store()?;
        let now = context.now_for(&store)?;
        let wanted = check(&args, now)?;
        let until = parse_until(&args, now)?;
        store.in_transaction(|store| define(store, wanted, until, now))?
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
    let end_moved = change.change == ScheduleChange::Created || change.fields.contains(&"until");
    if change.ended && end_moved {
        log::warn!(
            "schedule \"{}\" ends at {}, before its next firing: it fires no more (--until none \
             lifts the end)",
            change.name,
            change.until_at.as_deref().unwrap_or_default()
        );
    }
    Ok(())
}

/// `--until TIME|none`, TIME read as `schedule --at` reads it (in `--tz` when given), to the
/// millisecond, never later than asked.
fn parse_until(args: &RecurArgs, now: DateTime<Utc>) -> Result<UntilChange> {
    let Some(text) = args.until.as_deref() else {
        return Ok(None);
    };
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(Some(None));
    }
    let zone = args.tz.as_deref().map(when::parse_zone).transpose()?;
    let until = when::parse_time(text, now, zone)
        .map_err(|e| usage(format!("--until: {e:#}; or none, to lift the end")))?;
    let until = until
        .duration_trunc(TimeDelta::milliseconds(1))
        .unwrap_or(until);
    Ok(Some(Some(until)))
}

/// Moves or lifts the end of `schedule`; true when it changed. A schedule that had ended and
/// fires again starts from the next future time, as `--resume` does: firings missed while it
/// had ended are not made up.
fn move_end(
    schedule: &mut Schedule,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool> {
    if schedule.until_at == until {
        return Ok(false);
    }
    let had_ended = schedule.ended();
    schedule.until_at = until;
    if had_ended && !schedule.ended() {
        let rule = CronRule::parse(&schedule.cron, when::parse_zone(&schedule.zone)?)?;
        schedule.next_fire_at = rule.next_after(now)?;
    }
    Ok(true)
}

/// `recur NAME --until TIME|none`.
fn end(store: &Tx, name: &str, until: UntilChange, now: DateTime<Utc>) -> Result<RecurChange> {
    let Some(mut schedule) = store.schedule(name)? else {
        return Err(refused(format!(
            "schedule \"{name}\" does not exist (see httpat recurring)"
        )));
    };
    let until = until.ok_or_else(|| usage("give --until TIME, or none"))?;
    if !move_end(&mut schedule, until, now)? {
        return Ok(RecurChange::of(
            &schedule,
            ScheduleChange::Unchanged,
            Vec::new(),
        ));
    }
    store.save_schedule(&schedule, now)?;
    Ok(RecurChange::of(
        &schedule,
        ScheduleChange::Updated,
        vec!["until"],
    ))
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
        until_at: None,
    })
}

/// Creates or updates; the endpoint must exist, not be deprecated, and take the arguments. An
/// end not given stays as it is.
fn define(
    store: &Tx,
    mut wanted: Schedule,
    until: UntilChange,
    now: DateTime<Utc>,
) -> Result<RecurChange> {
    let endpoint = usable_endpoint(store, &wanted.endpoint)?;
    check_args(&endpoint, &endpoint.template()?, &wanted.args)?;
    let current = store.schedule(&wanted.name)?;
    let (change, fields) = match &current {
        None => {
            wanted.until_at = until.flatten();
            (ScheduleChange::Created, Vec::new())
        }
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
            wanted.until_at = current.until_at;
            if let Some(until) = until {
                if move_end(&mut wanted, until, now)? {
                    fields.push("until");
                }
            }
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
    Ok(RecurChange::of(&wanted, change, fields))
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
    let mut shown = RecurChange::of(&schedule, change, Vec::new());
    if change != ScheduleChange::Resumed {
        shown.next_fire_at = None;
    }
    Ok(shown)
}
