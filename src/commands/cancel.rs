//! `httpat cancel ID... | --key KEY`: cancel tasks that have not started, all or none.

use anyhow::Result;
use serde::Serialize;

use crate::cli::CancelArgs;
use crate::context::Context;
use crate::error::refused;
use crate::render;
use crate::store::{Store, Tx};
use crate::task::State;

/// One task as `cancel --json` gives it.
#[derive(Debug, Serialize)]
pub struct Cancelled {
    pub id: i64,
    /// The state it was cancelled from (`cancelled` when it already was).
    pub was: State,
    pub state: State,
}

impl Cancelled {
    fn line(&self) -> String {
        if self.was == State::Cancelled {
            format!("task {} was already cancelled", self.id)
        } else {
            format!("cancelled task {}", self.id)
        }
    }
}

pub fn run(args: CancelArgs, context: &Context) -> Result<()> {
    let actor = context.actor();
    let store = context.read_store()?;
    let now = context.now_for(&store)?;
    let cancelled = store.in_transaction(|tx| {
        let ids = match &args.key {
            Some(key) => vec![id_for_key(tx, key)?],
            None => args.ids.clone(),
        };
        ids.into_iter()
            .map(|id| cancel_one(tx, id, args.reason.as_deref(), &actor, now))
            .collect::<Result<Vec<_>>>()
    })?;
    if context.json {
        return render::print_json(&cancelled);
    }
    for task in &cancelled {
        crate::outln!("{}", task.line());
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
    tx: &Tx,
    id: i64,
    reason: Option<&str>,
    actor: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Cancelled> {
    let task = tx
        .task(id)?
        .ok_or_else(|| refused(format!("task {id} does not exist (see httpat list)")))?;
    let state = task.state(now);
    let done = Cancelled {
        id,
        was: state,
        state: State::Cancelled,
    };
    match state {
        State::Cancelled => Ok(done),
        State::Scheduled | State::Due | State::Retrying => {
            if !tx.cancel(&task, state, reason, actor, now)? {
                return Err(refused(format!(
                    "task {id} was just claimed by a tick: it is running and cannot be cancelled"
                )));
            }
            Ok(done)
        }
        State::Running | State::Succeeded | State::Failed => Err(refused(format!(
            "task {id} is {state}: only tasks that have not started can be cancelled; nothing was cancelled"
        ))),
    }
}
