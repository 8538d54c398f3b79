//! `httpat metrics`: the Prometheus text exposition format on stdout (`tick --metrics-file`
//! writes the same to a file at the end of every tick).

use std::io::Write as _;

use anyhow::Result;

use crate::cli::MetricsArgs;
use crate::context::Context;
use crate::metrics::Metrics;
use crate::render;

pub fn run(_args: MetricsArgs, context: &Context) -> Result<()> {
    let store = context.read_store()?;
    let now = context.now_for(&store)?;
    let metrics = Metrics::gather(&store, now)?;
    if context.json {
        return render::print_json(&metrics);
    }
    // As `outln!`: a closed pipe (`httpat metrics | head`) is not an error of ours.
    let _ = std::io::stdout().write_all(metrics.exposition().as_bytes());
    Ok(())
}
