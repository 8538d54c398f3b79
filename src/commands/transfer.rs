//! `httpat transfer --to DB`: copy everything into an empty database of either backend, ids
//! kept, in one transaction on the target; the source is left as it was. The way from one
//! host's SQLite to PostgreSQL, and back.

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::cli::TransferArgs;
use crate::context::Context;
use crate::error::{refused, usage};
use crate::render;
use crate::store::{Copied, Location, Store};

/// What `transfer --json` prints.
#[derive(Debug, Serialize)]
pub struct Transferred {
    pub from: String,
    pub to: String,
    #[serde(flatten)]
    pub copied: Copied,
}

pub fn run(args: TransferArgs, context: &Context) -> Result<()> {
    let target = Location::parse(&args.to)?;
    let source = context.location()?.clone();
    if target == source {
        return Err(usage(format!(
            "--to {target} is the database being copied: name another one"
        )));
    }
    let Some(store) = context.open_existing_store()? else {
        return Err(refused(format!(
            "there is no database at {source} to copy (set --db or HTTPAT_DB to it)"
        )));
    };
    let open_target = || Store::open(&target).with_context(|| format!("database {target}"));
    let copied = store.transfer_to(open_target, &target.to_string())?;
    let transferred = Transferred {
        from: source.to_string(),
        to: target.to_string(),
        copied,
    };
    if context.json {
        return render::print_json(&transferred);
    }
    crate::outln!(
        "copied {} endpoints, {} tasks, {} attempts, {} transitions, {} schedules and {} tick \
         records from {} to {}",
        copied.endpoints,
        copied.tasks,
        copied.attempts,
        copied.transitions,
        copied.schedules,
        copied.ticks,
        transferred.from,
        transferred.to
    );
    Ok(())
}
