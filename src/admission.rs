//! Admitting new tasks: what `schedule`, `schedule --file` and `recur` share. A task is
//! checked before the database is touched (bad input changes nothing), then admitted inside the
//! caller's transaction: the endpoint must exist and not be deprecated, the arguments must fill
//! its URL, and a key must not name another request. Keys are taken by the insert itself
//! (`ON CONFLICT DO NOTHING`), so that callers on several hosts at once make one task.

use std::collections::HashMap;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::context;
use crate::endpoint::{self, Endpoint};
use crate::error::{refused, usage};
use crate::store::{NewTask, Tx};
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
#[derive(Debug, Default, Clone)]
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
    /// Checks the fields and builds the task, its time counted from `now`. Called before the
    /// database is touched (bad input changes nothing), and again with the database's "now".
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
        // As it is stored: to the millisecond, rounded up, so that what `schedule` prints is
        // what `show` will say.
        let due_at = when::not_before_millis(due_at);
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
            notifies: None,
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

/// Admits tasks inside the caller's transaction.
pub struct Admission<'a, 'b> {
    tx: &'a Tx<'b>,
    endpoints: HashMap<String, (Endpoint, UrlTemplate)>,
}

impl<'a, 'b> Admission<'a, 'b> {
    pub fn new(tx: &'a Tx<'b>) -> Admission<'a, 'b> {
        Admission {
            tx,
            endpoints: HashMap::new(),
        }
    }

    /// Reads these endpoints in name order, which on PostgreSQL takes their locks in the order
    /// `register --file` takes its own, so that the two never wait on each other in a circle.
    /// An unknown one is left for `admit` to refuse, naming its line.
    pub fn lock_in_order<'n>(&self, names: impl IntoIterator<Item = &'n str>) -> Result<()> {
        let names: std::collections::BTreeSet<&str> = names.into_iter().collect();
        for name in names {
            self.tx.endpoint_to_admit(name)?;
        }
        Ok(())
    }

    pub fn admit(&mut self, task: &NewTask, actor: &str, now: DateTime<Utc>) -> Result<Admitted> {
        let (endpoint, template) = self.endpoint(&task.endpoint)?;
        check_args(endpoint, template, &task.args)?;
        if let Some(id) = self.tx.insert_task(task, actor, now)? {
            return Ok(Admitted {
                id,
                existing_due: None,
            });
        }
        // The key is taken (perhaps a moment ago, by another caller): the same request is the
        // same task; another one is refused.
        let key = task.key.as_deref().unwrap_or_default();
        let Some(existing) = self.tx.task_by_key(key)? else {
            return Err(anyhow::anyhow!(
                "key \"{key}\" is taken, but no task holds it: run the command again"
            ));
        };
        if existing.endpoint == task.endpoint && existing.args == task.args {
            return Ok(Admitted {
                id: existing.id,
                existing_due: Some(existing.due_at),
            });
        }
        Err(refused(format!(
            "key \"{key}\" is taken by task {} (endpoint \"{}\", arguments {}) with other \
             arguments or another endpoint: use another key, or see httpat show {}",
            existing.id,
            existing.endpoint,
            Value::Object(existing.args.clone()),
            existing.id
        )))
    }

    fn endpoint(&mut self, name: &str) -> Result<&(Endpoint, UrlTemplate)> {
        if !self.endpoints.contains_key(name) {
            let endpoint = usable_endpoint(self.tx, name)?;
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
/// deprecated, else refused with what to do instead. Read so that a change to the endpoint
/// waits for the caller's transaction: `register` checks the waiting tasks against its new URL,
/// and none may slip in between.
pub fn usable_endpoint(store: &Tx, name: &str) -> Result<Endpoint> {
    let Some(endpoint) = store.endpoint_to_admit(name)? else {
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
