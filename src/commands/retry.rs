//! `httpat retry ID... [--at TIME]`: failed or cancelled tasks wait again with a fresh attempt
//! budget; their attempts and history stay. All or none.

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::cli::RetryArgs;
use crate::context::Context;
use crate::error::refused;
use crate::store::Store;
use crate::task::State;
use crate::when;

pub fn run(args: RetryArgs, context: &Context) -> Result<()> {
    let now = context.now()?;
    let zone = args.tz.as_deref().map(when::parse_zone).transpose()?;
    let at = match &args.at {
        Some(text) => when::parse_time(text, now, zone)?,
        None => now,
    };
    let actor = context.actor();
    let store = context.open_store()?;
    let lines = store.in_transaction(|store| {
        args.ids
            .iter()
            .map(|id| retry_one(store, *id, at, &actor, now))
            .collect::<Result<Vec<_>>>()
    })?;
    for line in lines {
        crate::outln!("{line}");
    }
    Ok(())
}

fn retry_one(
    store: &Store,
    id: i64,
    at: DateTime<Utc>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<String> {
    let task = store
        .task(id)?
        .ok_or_else(|| refused(format!("task {id} does not exist (see httpat list)")))?;
    let state = task.state(now);
    if !matches!(state, State::Failed | State::Cancelled) {
        return Err(refused(format!(
            "task {id} is {state}: only failed or cancelled tasks can be retried; nothing was retried"
        )));
    }
    if !store.retry_task(id, at)? {
        return Err(refused(format!(
            "task {id} changed meanwhile; nothing was retried"
        )));
    }
    let to = if at > now {
        State::Scheduled
    } else {
        State::Due
    };
    let detail = format!(
        "retry at {}, with a fresh attempt budget",
        when::rfc3339(at)
    );
    store.record_transition(id, now, Some(state), to, actor, Some(&detail))?;
    Ok(format!(
        "task {id} will be retried {}",
        when::relative(at, now)
    ))
}
