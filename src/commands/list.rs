//! `httpat list`: tasks as a table, filtered, in the order they fall due.

use std::collections::HashMap;

use anyhow::Result;
use chrono::{DateTime, Utc};
use comfy_table::Cell;
use serde::Serialize;

use crate::cli::ListArgs;
use crate::context::Context;
use crate::endpoint::DEFAULT_MAX_ATTEMPTS;
use crate::error::usage;
use crate::render::{self, TaskView};
use crate::store::{TaskFilter, COUNT_CAP};
use crate::task::State;
use crate::when;

/// What `list --json` prints.
#[derive(Debug, Serialize)]
pub struct Listing {
    pub tasks: Vec<TaskView>,
    /// How many tasks match in all, counted exactly up to 10,000.
    pub matched: u64,
    /// True when more than `matched` tasks match (the count stopped at 10,000).
    pub more_than: bool,
}

pub fn run(args: ListArgs, context: &Context) -> Result<()> {
    // Checked before the database is opened; the times are read again by its clock.
    filter(&args, context.now()?)?;
    if args.limit == 0 {
        return Err(usage("--limit must be at least 1"));
    }
    let store = context.read_store()?;
    let now = context.now_for(&store)?;
    let filter = filter(&args, now)?;
    let (tasks, matched) = store.tasks_matching(&filter, now, args.limit)?;
    let budgets: HashMap<String, u32> = store
        .endpoints()?
        .into_iter()
        .map(|endpoint| (endpoint.name, endpoint.max_attempts))
        .collect();
    let views: Vec<TaskView> = tasks
        .iter()
        .map(|task| {
            let budget = budgets
                .get(&task.endpoint)
                .copied()
                .unwrap_or(DEFAULT_MAX_ATTEMPTS);
            TaskView::new(task, now, budget)
        })
        .collect();
    let listing = Listing {
        more_than: matched > COUNT_CAP,
        matched: matched.min(COUNT_CAP),
        tasks: views,
    };
    if context.json {
        return render::print_json(&listing);
    }
    print(&listing, now, context.utc);
    Ok(())
}

/// What `list` asks for.
fn filter(args: &ListArgs, now: DateTime<Utc>) -> Result<TaskFilter> {
    Ok(TaskFilter {
        states: args
            .state
            .as_deref()
            .map(State::parse_list)
            .transpose()?
            .unwrap_or_default(),
        endpoint: args.endpoint.clone(),
        agent: args.agent.clone(),
        key: args.key.clone(),
        schedule: args.schedule.clone(),
        before: args
            .before
            .as_deref()
            .map(|t| when::parse_time(t, now, None))
            .transpose()?,
        after: args
            .after
            .as_deref()
            .map(|t| when::parse_time(t, now, None))
            .transpose()?,
    })
}

fn print(listing: &Listing, now: DateTime<Utc>, utc: bool) {
    if listing.tasks.is_empty() {
        crate::outln!("No tasks match.");
        return;
    }
    let mut table = render::table(&[
        "id",
        "endpoint",
        "state",
        "when",
        "",
        "attempts",
        "last result",
        "agent",
    ]);
    for task in &listing.tasks {
        table.add_row(vec![
            Cell::new(task.id),
            Cell::new(&task.endpoint),
            render::state_cell(task.state),
            Cell::new(when::display(task.when, utc)),
            Cell::new(when::relative(task.when, now)),
            Cell::new(format!("{}/{}", task.attempts_used, task.max_attempts)),
            Cell::new(task.last_result.as_deref().unwrap_or("")),
            Cell::new(task.agent.as_deref().unwrap_or("")),
        ]);
    }
    render::print_table(&table);
    let shown = listing.tasks.len() as u64;
    if listing.more_than {
        crate::outln!("{shown} shown of more than {COUNT_CAP} matching tasks; narrow with filters or raise --limit");
    } else if listing.matched > shown {
        crate::outln!(
            "{shown} shown of {} matching tasks; raise --limit to see more",
            listing.matched
        );
    }
}
