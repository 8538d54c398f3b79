//! `httpat prune --older-than 90d [--dry-run]`: forget finished tasks, their attempts and
//! history, and tick records older than that; unfinished tasks are never touched.

use anyhow::Result;
use serde::Serialize;

use crate::cli::PruneArgs;
use crate::context::Context;
use crate::render;
use crate::store::PruneCounts;
use crate::when;

/// What `prune --json` prints.
#[derive(Debug, Serialize)]
pub struct Pruned {
    pub cutoff: String,
    pub dry_run: bool,
    #[serde(flatten)]
    pub counts: PruneCounts,
}

pub fn run(args: PruneArgs, context: &Context) -> Result<()> {
    let age = when::parse_duration(&args.older_than)?;
    when::before(context.now()?, age)?;
    let store = context.read_store()?;
    let cutoff = when::before(context.now_for(&store)?, age)?;
    let counts = store.in_transaction(|store| store.prune(cutoff, args.dry_run))?;
    if context.json {
        return render::print_json(&Pruned {
            cutoff: when::rfc3339(cutoff),
            dry_run: args.dry_run,
            counts,
        });
    }
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    crate::outln!(
        "{verb} {} finished tasks, {} attempts, {} transitions and {} tick records from before {}",
        counts.tasks,
        counts.attempts,
        counts.transitions,
        counts.ticks,
        when::display(cutoff, context.utc)
    );
    Ok(())
}
