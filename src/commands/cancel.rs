//! `httpat cancel ID... | --key KEY`: cancel tasks that have not started, all or none.

use anyhow::Result;

use crate::cli::CancelArgs;
use crate::context::Context;
use crate::error::refused;
use crate::store::Store;
use crate::task::State;

pub fn run(args: CancelArgs, context: &Context) -> Result<()> {
    let now = context.now()?;
    let actor = context.actor();
    let store = context.open_store()?;
    let lines = store.in_transaction(|store| {
        let ids = match &args.key {
            Some(key) => vec![id_for_key(store, key)?],
            None => args.ids.clone(),
        };
        let mut lines = Vec::new();
        for id in ids {
            lines.push(cancel_one(store, id, args.reason.as_deref(), &actor, now)?);
        }
        Ok(lines)
    })?;
    for line in lines {
        crate::outln!("{line}");
    }
    Ok(())
}

fn id_for_key(store: &Store, key: &str) -> Result<i64> {
    store
        .task_by_key(key)?
        .map(|task| task.id)
        .ok_or_else(|| refused(format!("no task has key \"{key}\"")))
}

/// Cancels one task, or says why not; the caller's transaction makes several all or none.
fn cancel_one(
    store: &Store,
    id: i64,
    reason: Option<&str>,
    actor: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String> {
    let task = store
        .task(id)?
        .ok_or_else(|| refused(format!("task {id} does not exist (see httpat list)")))?;
    let state = task.state(now);
    match state {
        State::Cancelled => Ok(format!("task {id} was already cancelled")),
        State::Scheduled | State::Due | State::Retrying => {
            if !store.cancel_task(id, reason, now)? {
                return Err(refused(format!(
                    "task {id} was just claimed by a tick: it is running and cannot be cancelled"
                )));
            }
            store.record_transition(id, now, Some(state), State::Cancelled, actor, reason)?;
            Ok(format!("cancelled task {id}"))
        }
        State::Running | State::Succeeded | State::Failed => Err(refused(format!(
            "task {id} is {state}: only tasks that have not started can be cancelled; nothing was cancelled"
        ))),
    }
}
