//! `httpat schedule ENDPOINT --at TIME | --in DURATION`: store one task and print its id alone.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::cli::ScheduleArgs;
use crate::context::{self, Context};
use crate::endpoint;
use crate::error::{refused, usage};
use crate::render;
use crate::store::{NewTask, Store};
use crate::when;

/// What `schedule --json` prints.
#[derive(Debug, Serialize)]
pub struct Scheduled {
    pub id: i64,
    pub endpoint: String,
    pub due_at: String,
    /// True when the key matched a task scheduled before, whose id this is.
    pub existing: bool,
}

pub fn run(args: ScheduleArgs, context: &Context) -> Result<()> {
    let now = context.now()?;
    let task = new_task(&args, now)?;
    let store = context.open_store()?;
    let (id, existing_due) =
        store.in_transaction(|store| store_task(store, &task, &context.actor(), now))?;
    let due_at = existing_due.unwrap_or(task.due_at);
    match existing_due {
        Some(first) if first != task.due_at => log::warn!(
            "key \"{}\" already names task {id}, due {}; the first time stays",
            task.key.as_deref().unwrap_or_default(),
            when::rfc3339(first)
        ),
        None if task.due_at < now => log::warn!(
            "{} is in the past: the next tick sends it",
            when::rfc3339(task.due_at)
        ),
        _ => {}
    }
    if context.json {
        return render::print_json(&Scheduled {
            id,
            endpoint: task.endpoint,
            due_at: when::rfc3339(due_at),
            existing: existing_due.is_some(),
        });
    }
    println!("{id}");
    Ok(())
}

/// Checks the flags and builds the task before the database is touched.
fn new_task(args: &ScheduleArgs, now: DateTime<Utc>) -> Result<NewTask> {
    endpoint::check_name(&args.endpoint)?;
    let zone = args.tz.as_deref().map(when::parse_zone).transpose()?;
    let due_at = match (&args.at, &args.in_) {
        (Some(at), _) => when::parse_time(at, now, zone)?,
        (None, Some(duration)) => when::after(now, when::parse_duration(duration)?)?,
        (None, None) => return Err(usage("say when: --at TIME or --in DURATION")),
    };
    if let Some(key) = &args.key {
        check_key(key)?;
    }
    Ok(NewTask {
        endpoint: args.endpoint.clone(),
        args: parse_args(args.args_json.as_deref(), &args.args)?,
        key: args.key.clone(),
        priority: args.priority,
        max_attempts: args
            .max_attempts
            .map(endpoint::check_max_attempts)
            .transpose()?,
        agent: Some(args.agent.clone().unwrap_or_else(context::user_name)),
        due_at,
    })
}

/// Stores the task unless its key already names one; returns the id and, for an existing task,
/// the time it is due.
pub fn store_task(
    store: &Store,
    task: &NewTask,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(i64, Option<DateTime<Utc>>)> {
    let Some(endpoint) = store.endpoint(&task.endpoint)? else {
        let names = store.endpoint_names()?;
        let known = if names.is_empty() {
            "none is registered yet (httpat register NAME --url URL)".to_string()
        } else {
            format!("registered: {}", names.join(", "))
        };
        return Err(refused(format!(
            "endpoint \"{}\" is not registered; {known}",
            task.endpoint
        )));
    };
    if endpoint.deprecated_at.is_some() {
        let reason = endpoint
            .deprecated_reason
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        return Err(refused(format!(
            "endpoint \"{}\" is deprecated{reason}; tasks already scheduled still run, new ones are refused",
            endpoint.name
        )));
    }
    endpoint
        .template()?
        .check(&task.args)
        .map_err(|e| usage(format!("endpoint \"{}\": {e:#}", endpoint.name)))?;
    if let Some(key) = &task.key {
        if let Some(existing) = store.task_by_key(key)? {
            if existing.endpoint == task.endpoint && existing.args == task.args {
                return Ok((existing.id, Some(existing.due_at)));
            }
            return Err(refused(format!(
                "key \"{key}\" is taken by task {} (endpoint \"{}\", arguments {}) with other \
                 arguments or another endpoint: use another key, or see httpat show {}",
                existing.id,
                existing.endpoint,
                Value::Object(existing.args.clone()),
                existing.id
            )));
        }
    }
    Ok((store.insert_task(task, actor, now)?, None))
}

fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > 200 || key.chars().any(char::is_control) {
        return Err(usage(format!(
            "key \"{key}\" is not valid: use 1 to 200 printable characters"
        )));
    }
    Ok(())
}

/// `--args JSON` (an object) with each `--arg KEY=VALUE` added as a string.
pub fn parse_args(json: Option<&str>, pairs: &[String]) -> Result<Map<String, Value>> {
    let mut args = match json {
        None => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(other) => {
                return Err(usage(format!(
                    "--args must be a JSON object like '{{\"roll\": \"CCT-0042\"}}', not {other}"
                )))
            }
            Err(e) => return Err(usage(format!("--args is not valid JSON: {e}"))),
        },
    };
    for pair in pairs {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            usage(format!(
                "--arg \"{pair}\" has no `=`: write it as KEY=VALUE"
            ))
        })?;
        if key.is_empty() {
            return Err(usage(format!("--arg \"{pair}\" has an empty KEY")));
        }
        args.insert(key.to_string(), Value::String(value.to_string()));
    }
    Ok(args)
}
