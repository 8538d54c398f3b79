//! `httpat endpoints`: the registry as a table.

use anyhow::Result;
use comfy_table::Cell;

use crate::cli::EndpointsArgs;
use crate::context::Context;
use crate::limits::Limits;
use crate::render::{self, EndpointView};
use crate::when;

pub fn run(_args: EndpointsArgs, context: &Context) -> Result<()> {
    let store = context.read_store()?;
    let now = context.now_for(&store)?;
    let waits = store.limit_waits(now)?;
    let views: Vec<EndpointView> = store
        .endpoints_with_waiting()?
        .iter()
        .map(|(endpoint, waiting)| {
            let wait = waits.iter().find(|wait| wait.endpoint == endpoint.name);
            EndpointView::new(endpoint, *waiting).waiting_on(wait, now)
        })
        .collect();
    if context.json {
        return render::print_json(&views);
    }
    if views.is_empty() {
        crate::outln!("No endpoints registered. Add one with: httpat register NAME --url URL");
        return Ok(());
    }
    let mut table = render::table(&[
        "name",
        "method",
        "url",
        "timeout",
        "attempts",
        "limits",
        "signed with",
        "notifies",
        "deprecated",
        "waiting",
    ]);
    for view in &views {
        let timeout = std::time::Duration::from_millis(view.timeout_ms);
        let deprecated = match (&view.deprecated, &view.deprecated_reason) {
            (false, _) => String::new(),
            (true, Some(reason)) => format!("yes: {reason}"),
            (true, None) => "yes".to_string(),
        };
        let limits = Limits {
            max_in_flight: view.max_in_flight,
            rate: view.rate,
        };
        let waiting = match view.tasks_waiting_on_limit {
            0 => view.tasks_waiting.to_string(),
            held => format!("{} ({held} on a limit)", view.tasks_waiting),
        };
        table.add_row(vec![
            Cell::new(&view.name),
            Cell::new(&view.method),
            Cell::new(&view.url),
            Cell::new(when::display_duration(timeout)),
            Cell::new(view.max_attempts),
            Cell::new(limits.describe()),
            Cell::new(view.signing_secrets.join(" ")),
            Cell::new(notifies(view)),
            Cell::new(deprecated),
            Cell::new(waiting),
        ]);
    }
    render::print_table(&table);
    Ok(())
}

/// Where its outcomes are reported: `failure → chat, success → audit`.
fn notifies(view: &EndpointView) -> String {
    let named = [("failure", &view.on_failure), ("success", &view.on_success)];
    named
        .iter()
        .filter_map(|(what, target)| Some(format!("{what} → {}", target.as_deref()?)))
        .collect::<Vec<_>>()
        .join(", ")
}
