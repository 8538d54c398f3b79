//! `httpat retry ID... [--at TIME]` and `retry --endpoint NAME [--after TIME]`: failed or
//! cancelled tasks wait again with a fresh attempt budget; their attempts and history stay. A
//! retry never makes a task earlier than it was scheduled (SPEC.md, invariant 7). All or none.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cli::RetryArgs;
use crate::context::Context;
use crate::error::refused;
use crate::render;
use crate::store::{Store, Tx};
use crate::task::{State, Task};
use crate::when;

/// One retried task, as `retry --json` gives it.
#[derive(Debug, Serialize)]
pub struct Retried {
    pub id: i64,
    /// The state it was retried from: `failed` or `cancelled`.
    pub was: State,
    /// `scheduled` or `due`.
    pub state: State,
    pub next_attempt_at: String,
}

/// What `retry --json` prints.
#[derive(Debug, Serialize)]
pub struct Retry {
    /// With --endpoint: the endpoint whose failed tasks were retried.
    pub endpoint: Option<String>,
    pub retried: Vec<Retried>,
}

pub fn run(args: RetryArgs, context: &Context) -> Result<()> {
    // Checked before the database is opened; the times are read again by its clock.
    times(&args, context.now()?)?;
    let actor = context.actor();
    let store = context.read_store()?;
    let now = context.now_for(&store)?;
    let (at, after) = times(&args, now)?;
    let retried = store.in_transaction(|tx| {
        let tasks = match &args.endpoint {
            Some(endpoint) => failed_tasks_of(tx, endpoint, after)?,
            None => args
                .ids
                .iter()
                .map(|id| task(tx, *id))
                .collect::<Result<Vec<_>>>()?,
        };
        tasks
            .iter()
            .map(|task| retry_one(tx, task, at, &actor, now))
            .collect::<Result<Vec<_>>>()
    })?;
    let retry = Retry {
        endpoint: args.endpoint,
        retried,
    };
    if context.json {
        return render::print_json(&retry);
    }
    print(&retry, now);
    Ok(())
}

/// A time an option may give.
type Given = Option<DateTime<Utc>>;

/// `--at` and `--after`, read at `now`.
fn times(args: &RetryArgs, now: DateTime<Utc>) -> Result<(Given, Given)> {
    let zone = args.tz.as_deref().map(when::parse_zone).transpose()?;
    let read = |text: &Option<String>| {
        text.as_deref()
            .map(|text| when::parse_time(text, now, zone.clone()))
            .transpose()
    };
    Ok((read(&args.at)?, read(&args.after)?))
}

fn print(retry: &Retry, now: DateTime<Utc>) {
    for task in &retry.retried {
        let next = when::parse_stored(&task.next_attempt_at);
        crate::outln!(
            "task {} will be retried {}",
            task.id,
            next.map_or_else(
                || task.next_attempt_at.clone(),
                |at| when::relative(at, now)
            )
        );
    }
    if let Some(endpoint) = &retry.endpoint {
        crate::outln!(
            "retried {} failed task(s) of endpoint \"{endpoint}\"",
            retry.retried.len()
        );
    }
}

fn task(store: &Store, id: i64) -> Result<Task> {
    store
        .task(id)?
        .ok_or_else(|| refused(format!("task {id} does not exist (see httpat list)")))
}

/// Every failed task of `endpoint` (that failed after `after`), oldest first.
fn failed_tasks_of(
    store: &Store,
    endpoint: &str,
    after: Option<DateTime<Utc>>,
) -> Result<Vec<Task>> {
    if store.endpoint(endpoint)?.is_none() {
        return Err(refused(format!(
            "endpoint \"{endpoint}\" is not registered (see httpat endpoints); nothing was retried"
        )));
    }
    store.failed_tasks_of(endpoint, after)
}

fn retry_one(
    tx: &Tx,
    task: &Task,
    at: Option<DateTime<Utc>>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Retried> {
    let id = task.id;
    let state = task.state(now);
    if !matches!(state, State::Failed | State::Cancelled) {
        return Err(refused(format!(
            "task {id} is {state}: only failed or cancelled tasks can be retried; nothing was retried"
        )));
    }
    let next = match at {
        Some(at) if at < task.due_at => {
            return Err(refused(format!(
                "task {id} was scheduled for {}: a retry cannot make it earlier; give --at that \
                 time or later, or leave --at out; nothing was retried",
                when::rfc3339(task.due_at)
            )))
        }
        Some(at) => at,
        None => task.due_at.max(now),
    };
    let Some(to) = tx.retry(task, state, next, actor, now)? else {
        return Err(refused(format!(
            "task {id} changed meanwhile; nothing was retried"
        )));
    };
    Ok(Retried {
        id,
        was: state,
        state: to,
        next_attempt_at: when::rfc3339(next),
    })
}
