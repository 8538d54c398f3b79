//! Output for people (tables) and for scripts (`--json`): each table row is built from the same
//! view struct that `--json` serialises, so the two never disagree.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use chrono::{DateTime, Utc};
use comfy_table::{presets, Cell, Color, ContentArrangement, Table};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::endpoint::Endpoint;
use crate::limits::Rate;
use crate::store::LimitWait;
use crate::task::{State, Task};
use crate::when;

/// Prints one JSON document on stdout. A reader that stops early (`| head`) is not an error.
pub fn print_json(value: &impl Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out));
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// A table in httpat's style: no borders, a header row, colour only on a terminal.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().map(|h| Cell::new(h.to_uppercase())));
    if std::io::stdout().is_terminal() {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    table
}

/// Prints a table, its lines without trailing blanks.
pub fn print_table(table: &Table) {
    for line in table.lines() {
        crate::outln!("{}", line.trim_end());
    }
}

/// A cell for a state, coloured by one rule.
pub fn state_cell(state: State) -> Cell {
    let color = match state {
        State::Scheduled => Color::Reset,
        State::Due | State::Running => Color::Cyan,
        State::Retrying => Color::Yellow,
        State::Succeeded => Color::Green,
        State::Failed => Color::Red,
        State::Cancelled => Color::DarkGrey,
    };
    Cell::new(state).fg(color)
}

/// A time as "2026-11-27 08:00:00 +02:00 (in 35h 12m)".
pub fn time_with_relative(at: DateTime<Utc>, now: DateTime<Utc>, utc: bool) -> String {
    format!("{} ({})", when::display(at, utc), when::relative(at, now))
}

/// An endpoint as `endpoints` shows it.
#[derive(Debug, Serialize)]
pub struct EndpointView {
    pub name: String,
    pub method: String,
    pub url: String,
    pub headers: Vec<String>,
    pub timeout_ms: u64,
    pub max_attempts: u32,
    pub success: String,
    /// TLS files (absolute paths); null when unset.
    pub ca_file: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    /// The variables holding the signing secrets, as `${VAR}`; empty when not signed.
    pub signing_secrets: Vec<String>,
    /// Limits across every tick and host; null: none.
    pub max_in_flight: Option<u32>,
    pub rate: Option<Rate>,
    /// The endpoints its tasks' failures and successes are reported to; null: none.
    pub on_failure: Option<String>,
    pub on_success: Option<String>,
    pub description: Option<String>,
    pub deprecated: bool,
    pub deprecated_reason: Option<String>,
    /// Unfinished tasks.
    pub tasks_waiting: u64,
    /// Due tasks its limits hold back now.
    pub tasks_waiting_on_limit: u64,
    /// Which limit holds them back, in words; null when none does.
    pub waiting_on_limit: Option<String>,
}

/// An endpoint's limits and what they hold back at a moment, as `status` gives them.
#[derive(Debug, Serialize)]
pub struct LimitView {
    pub endpoint: String,
    pub max_in_flight: Option<u32>,
    pub rate: Option<Rate>,
    /// Its tasks held by a tick.
    pub in_flight: u64,
    /// Starts counted in the rate's window (up to its N); null without a rate.
    pub started_in_window: Option<u64>,
    /// Due tasks no tick holds.
    pub due: u64,
    /// Of those, how many its limits hold back now.
    pub tasks_waiting: u64,
    /// The limit that holds them back, in words; null when none does.
    pub reason: Option<String>,
}

impl LimitView {
    pub fn new(wait: &LimitWait, now: DateTime<Utc>) -> LimitView {
        LimitView {
            endpoint: wait.endpoint.clone(),
            max_in_flight: wait.limits.max_in_flight,
            rate: wait.limits.rate,
            in_flight: wait.usage.in_flight,
            started_in_window: wait.limits.rate.map(|_| wait.usage.started),
            due: wait.due,
            tasks_waiting: wait.waiting(),
            reason: wait.reason(now),
        }
    }
}

impl EndpointView {
    pub fn new(endpoint: &Endpoint, tasks_waiting: u64) -> EndpointView {
        EndpointView {
            name: endpoint.name.clone(),
            method: endpoint.method.clone(),
            url: endpoint.url.clone(),
            headers: endpoint
                .headers
                .iter()
                .map(|(name, value)| format!("{name}: {value}"))
                .collect(),
            timeout_ms: endpoint.timeout.as_millis() as u64,
            max_attempts: endpoint.max_attempts,
            success: endpoint.success.as_str().to_string(),
            ca_file: endpoint.tls.ca_file.clone(),
            client_cert: endpoint.tls.client_cert.clone(),
            client_key: endpoint.tls.client_key.clone(),
            signing_secrets: endpoint
                .signing_secrets
                .iter()
                .map(|name| format!("${{{name}}}"))
                .collect(),
            description: endpoint.description.clone(),
            deprecated: endpoint.deprecated_at.is_some(),
            deprecated_reason: endpoint.deprecated_reason.clone(),
            max_in_flight: endpoint.limits.max_in_flight,
            rate: endpoint.limits.rate,
            on_failure: endpoint.notify.on_failure.clone(),
            on_success: endpoint.notify.on_success.clone(),
            tasks_waiting,
            tasks_waiting_on_limit: 0,
            waiting_on_limit: None,
        }
    }

    /// With what its limits hold back now.
    pub fn waiting_on(mut self, wait: Option<&LimitWait>, now: DateTime<Utc>) -> EndpointView {
        if let Some(wait) = wait {
            self.tasks_waiting_on_limit = wait.waiting();
            self.waiting_on_limit = wait.reason(now);
        }
        self
    }
}

/// A task as `list` and `show` give it.
#[derive(Debug, Serialize)]
pub struct TaskView {
    pub id: i64,
    pub endpoint: String,
    pub state: State,
    pub args: Map<String, Value>,
    pub key: Option<String>,
    pub priority: i64,
    /// Attempts used from the current budget (`show` lists the attempts themselves as
    /// `attempts`).
    pub attempts_used: u32,
    pub max_attempts: u32,
    pub agent: Option<String>,
    pub created_at: String,
    pub due_at: String,
    pub next_attempt_at: String,
    pub finished_at: Option<String>,
    pub last_result: Option<String>,
    pub reason: Option<String>,
    /// The recurring schedule that made it, if any.
    pub schedule: Option<String>,
    /// The task whose outcome it reports, when it is a notification.
    pub notifies: Option<i64>,
    #[serde(skip)]
    pub when: DateTime<Utc>,
}

impl TaskView {
    /// `default_max_attempts` is the endpoint's budget, used when the task has none of its own.
    pub fn new(task: &Task, now: DateTime<Utc>, default_max_attempts: u32) -> TaskView {
        let state = task.state(now);
        // What `list` shows as WHEN: when an unfinished task will be sent (its next attempt),
        // when a finished one ended.
        let when = task
            .finished_at
            .filter(|_| state.is_finished())
            .unwrap_or(task.next_attempt_at);
        TaskView {
            id: task.id,
            endpoint: task.endpoint.clone(),
            state,
            args: task.args.clone(),
            key: task.key.clone(),
            priority: task.priority,
            attempts_used: task.attempts_used(),
            max_attempts: task.max_attempts.unwrap_or(default_max_attempts),
            agent: task.agent.clone(),
            created_at: when::rfc3339(task.created_at),
            due_at: when::rfc3339(task.due_at),
            next_attempt_at: when::rfc3339(task.next_attempt_at),
            finished_at: task.finished_at.map(when::rfc3339),
            last_result: task.last_result.clone(),
            reason: task.reason.clone(),
            schedule: task.schedule.clone(),
            notifies: task.notifies,
            when,
        }
    }
}
