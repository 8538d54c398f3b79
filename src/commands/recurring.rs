//! `httpat recurring`: the recurring schedules as a table.

use anyhow::Result;
use comfy_table::Cell;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::cli::RecurringArgs;
use crate::context::Context;
use crate::render;
use crate::task::State;
use crate::when;

/// A schedule as `recurring` shows it.
#[derive(Debug, Serialize)]
pub struct ScheduleView {
    pub name: String,
    pub endpoint: String,
    pub cron: String,
    pub zone: String,
    pub args: Map<String, Value>,
    pub priority: i64,
    pub max_attempts: Option<u32>,
    pub paused: bool,
    /// Past its end (`recur --until`): it fires no more.
    pub ended: bool,
    /// null when paused or ended.
    pub next_fire_at: Option<String>,
    /// No firing after this time; null when it never ends.
    pub until_at: Option<String>,
    pub last_fire_at: Option<String>,
    pub last_task_id: Option<i64>,
    pub last_task_state: Option<State>,
}

pub fn run(_args: RecurringArgs, context: &Context) -> Result<()> {
    let store = context.read_store()?;
    let now = context.now_for(&store)?;
    let mut views = Vec::new();
    for schedule in store.schedules()? {
        let last_task_state = match schedule.last_task_id {
            Some(id) => store.task_state(id, now)?,
            None => None,
        };
        let ended = schedule.ended();
        views.push((
            ScheduleView {
                paused: schedule.paused_at.is_some(),
                ended,
                next_fire_at: (schedule.paused_at.is_none() && !ended)
                    .then(|| when::rfc3339(schedule.next_fire_at)),
                until_at: schedule.until_at.map(when::rfc3339),
                last_fire_at: schedule.last_fire_at.map(when::rfc3339),
                name: schedule.name,
                endpoint: schedule.endpoint,
                cron: schedule.cron,
                zone: schedule.zone,
                args: schedule.args,
                priority: schedule.priority,
                max_attempts: schedule.max_attempts,
                last_task_id: schedule.last_task_id,
                last_task_state,
            },
            schedule.next_fire_at,
            schedule.last_fire_at,
            schedule.until_at,
        ));
    }
    if context.json {
        let views: Vec<&ScheduleView> = views.iter().map(|(v, _, _, _)| v).collect();
        return render::print_json(&views);
    }
    if views.is_empty() {
        crate::outln!(
            "No recurring schedules. Add one with: httpat recur NAME ENDPOINT --cron EXPR"
        );
        return Ok(());
    }
    // The end is shown only when some schedule has one.
    let ends = views.iter().any(|(_, _, _, until)| until.is_some());
    let mut header = vec![
        "name",
        "endpoint",
        "cron",
        "zone",
        "next",
        "",
        "last",
        "last task",
        "paused",
    ];
    if ends {
        header.push("until");
    }
    let mut table = render::table(&header);
    for (view, next, last, until) in &views {
        let (next_time, next_relative) = if view.ended {
            ("ended".to_string(), String::new())
        } else if view.paused {
            ("-".to_string(), String::new())
        } else {
            (
                when::display(*next, context.utc),
                when::relative(*next, now),
            )
        };
        let last_time = last
            .map(|at| {
                format!(
                    "{} ({})",
                    when::display(at, context.utc),
                    when::relative(at, now)
                )
            })
            .unwrap_or_else(|| "never".to_string());
        let last_task = match (view.last_task_id, view.last_task_state) {
            (Some(id), Some(state)) => format!("{id} {state}"),
            (Some(id), None) => format!("{id} pruned"),
            _ => String::new(),
        };
        let mut row = vec![
            Cell::new(&view.name),
            Cell::new(&view.endpoint),
            Cell::new(&view.cron),
            Cell::new(&view.zone),
            Cell::new(next_time),
            Cell::new(next_relative),
            Cell::new(last_time),
            Cell::new(last_task),
            Cell::new(if view.paused { "yes" } else { "" }),
        ];
        if ends {
            let until = until.map(|at| when::display(at, context.utc));
            row.push(Cell::new(until.unwrap_or_default()));
        }
        table.add_row(row);
    }
    render::print_table(&table);
    Ok(())
}
