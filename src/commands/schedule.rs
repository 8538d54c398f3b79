//! `httpat schedule ENDPOINT --at TIME | --in DURATION`: store one task and print its id alone.
//! `schedule --file` is in `schedule_file.rs`; both admit tasks through `Admission`.

use std::collections::HashMap;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::schedule_file;
use crate::cli::ScheduleArgs;
use crate::context::{self, Context};
use crate::endpoint::{self, Endpoint};
use crate::error::{refused, usage};
use crate::render;
use crate::store::{NewTask, Store};
use crate::template::UrlTemplate;
use crate::when;

/// What `schedule --json` prints for one task.
#[derive(Debug, Serialize)]
pub struct Scheduled {
    pub id: i64,
    pub endpoint: String,
    pub due_at: String,
    /// True when the key matched a task scheduled before, whose id and time these are.
    pub existing: bool,
}

/// One task as asked for, by flags or by a line of a file, before it is checked.
#[derive(Debug, Default)]
pub struct TaskSpec {
    pub endpoint: String,
    pub at: Option<String>,
    pub in_: Option<String>,
    pub tz: Option<String>,
    pub args: Option<Value>,
    pub arg_pairs: Vec<String>,
    pub key: Option<String>,
    pub priority: Option<i64>,
    pub max_attempts: Option<u32>,
    pub agent: Option<String>,
}

pub fn run(args: ScheduleArgs, context: &Context) -> Result<()> {
    if let Some(file) = &args.file {
        return schedule_file::run(file, context);
    }
    let now = context.now()?;
    let args_json = args
        .task
        .args_json
        .as_deref()
        .map(|text| {
            serde_json::from_str::<Value>(text)
                .map_err(|e| usage(format!("--args is not valid JSON: {e}")))
        })
        .transpose()?;
    let spec = TaskSpec {
        endpoint: args.endpoint.unwrap_or_default(),
        at: args.at,
        in_: args.in_,
        tz: args.tz,
        args: args_json,
        arg_pairs: args.task.args,
        key: args.key,
        priority: args.task.priority,
        max_attempts: args.task.max_attempts,
        agent: args.agent,
    };
    let task = spec.check(now)?;
    let store = context.open_store()?;
    let actor = context.actor();
    let admitted = store.in_transaction(|store| Admission::new(store).admit(&task, &actor, now))?;
    warn_about(&task, &admitted, now);
    if context.json {
        return render::print_json(&admitted.scheduled(&task));
    }
    crate::outln!("{}", admitted.id);
    Ok(())
}

/// The notes `schedule` leaves on stderr: a time in the past, a key that kept the first time.
pub fn warn_about(task: &NewTask, admitted: &Admitted, now: DateTime<Utc>) {
    match admitted.existing_due {
        Some(first) if first != task.due_at => log::warn!(
            "key \"{}\" already names task {}, due {}; the first time stays",
            task.key.as_deref().unwrap_or_default(),
            admitted.id,
            when::rfc3339(first)
        ),
        None if task.due_at < now => log::warn!(
            "{} is in the past: the next tick sends it",
            when::rfc3339(task.due_at)
        ),
        _ => {}
    }
}

impl TaskSpec {
    /// Checks the fields and builds the task before the database is touched.
    pub fn check(self, now: DateTime<Utc>) -> Result<NewTask> {
        endpoint::check_name(&self.endpoint)?;
        let zone = self.tz.as_deref().map(when::parse_zone).transpose()?;
        let due_at = match (&self.at, &self.in_) {
            (Some(_), Some(_)) => return Err(usage("give --at or --in, not both")),
            (Some(at), None) => when::parse_time(at, now, zone)?,
            (None, Some(duration)) if duration.trim_start().starts_with('-') => {
                return Err(usage(format!(
                    "--in {duration}: a duration cannot be negative; for a time in the past \
                     give --at (a time, or now)"
                )))
            }
            (None, Some(duration)) => when::after(now, when::parse_duration(duration)?)?,
            (None, None) => return Err(usage("say when: --at TIME or --in DURATION")),
        };
        if let Some(key) = &self.key {
            check_key(key)?;
        }
        Ok(NewTask {
            args: build_args(self.args, &self.arg_pairs)?,
            endpoint: self.endpoint,
            key: self.key,
            priority: self.priority.unwrap_or(0),
            max_attempts: self
                .max_attempts
                .map(endpoint::check_max_attempts)
                .transpose()?,
            agent: Some(self.agent.unwrap_or_else(context::user_name)),
            due_at,
            schedule: None,
            creation: None,
        })
    }
}

/// A stored task: its id and, when its key matched an earlier task, that task's time.
#[derive(Debug, Clone, Copy)]
pub struct Admitted {
    pub id: i64,
    pub existing_due: Option<DateTime<Utc>>,
}

impl Admitted {
    pub fn scheduled(&self, task: &NewTask) -> Scheduled {
        Scheduled {
            id: self.id,
            endpoint: task.endpoint.clone(),
            due_at: when::rfc3339(self.existing_due.unwrap_or(task.due_at)),
            existing: self.existing_due.is_some(),
        }
    }
}

/// Admits tasks into the store inside the caller's transaction: the endpoint must exist and not
/// be deprecated, the arguments must fill its URL, and a key must not name another request.
pub struct Admission<'a> {
    store: &'a Store,
    endpoints: HashMap<String, (Endpoint, UrlTemplate)>,
}

impl<'a> Admission<'a> {
    pub fn new(store: &'a Store) -> Admission<'a> {
        Admission {
            store,
            endpoints: HashMap::new(),
        }
    }

    pub fn admit(&mut self, task: &NewTask, actor: &str, now: DateTime<Utc>) -> Result<Admitted> {
        let (endpoint, template) = self.endpoint(&task.endpoint)?;
        check_args(endpoint, template, &task.args)?;
        if let Some(key) = &task.key {
            if let Some(existing) = self.store.task_by_key(key)? {
                if existing.endpoint == task.endpoint && existing.args == task.args {
                    return Ok(Admitted {
                        id: existing.id,
                        existing_due: Some(existing.due_at),
                    });
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
        Ok(Admitted {
            id: self.store.insert_task(task, actor, now)?,
            existing_due: None,
        })
    }

    fn endpoint(&mut self, name: &str) -> Result<&(Endpoint, UrlTemplate)> {
        if !self.endpoints.contains_key(name) {
            let endpoint = usable_endpoint(self.store, name)?;
            let template = endpoint.template()?;
            self.endpoints
                .insert(name.to_string(), (endpoint, template));
        }
        // Inserted just above when missing.
        self.endpoints
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("endpoint \"{name}\" vanished from the cache"))
    }
}

/// The endpoint new work may go to (a task, or a recurring schedule): registered and not
/// deprecated, else refused with what to do instead.
pub fn usable_endpoint(store: &Store, name: &str) -> Result<Endpoint> {
    let Some(endpoint) = store.endpoint(name)? else {
        let names = store.endpoint_names()?;
        let known = if names.is_empty() {
            "none is registered yet (httpat register NAME --url URL)".to_string()
        } else {
            format!("registered: {}", names.join(", "))
        };
        return Err(refused(format!(
            "endpoint \"{name}\" is not registered; {known}"
        )));
    };
    if endpoint.deprecated_at.is_some() {
        let reason = endpoint
            .deprecated_reason
            .as_ref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        return Err(refused(format!(
            "endpoint \"{}\" is deprecated{reason}; what is already scheduled still runs, new \
             schedules are refused",
            endpoint.name
        )));
    }
    Ok(endpoint)
}

/// Checks that `args` fill the endpoint's URL placeholders.
pub fn check_args(
    endpoint: &Endpoint,
    template: &UrlTemplate,
    args: &Map<String, Value>,
) -> Result<()> {
    template
        .check(args)
        .map_err(|e| usage(format!("endpoint \"{}\": {e:#}", endpoint.name)))
}

fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > 200 || key.chars().any(char::is_control) {
        return Err(usage(format!(
            "key \"{key}\" is not valid: use 1 to 200 printable characters"
        )));
    }
    Ok(())
}

/// The arguments object (`--args`) with each `--arg KEY=VALUE` added as a string.
pub fn build_args(json: Option<Value>, pairs: &[String]) -> Result<Map<String, Value>> {
    let mut args = match json {
        None => Map::new(),
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Err(usage(format!(
                "the arguments must be a JSON object like {{\"roll\": \"CCT-0042\"}}, not {other}"
            )))
        }
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
        let value = Value::String(value.to_string());
        if let Some(first) = args.insert(key.to_string(), value) {
            return Err(usage(format!(
                "argument \"{key}\" is given twice ({key}={} and {pair}): give it once",
                first
                    .as_str()
                    .map_or_else(|| first.to_string(), str::to_string)
            )));
        }
    }
    Ok(args)
}
