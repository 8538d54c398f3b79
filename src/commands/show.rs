//! `httpat show ID`: one task whole, its request, attempts and history; `show ID --body`: only
//! its last stored response body, as it came.

use std::io::Write as _;

use anyhow::{Context as _, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::attempt::AttemptOutcome;
use crate::cli::ShowArgs;
use crate::context::Context;
use crate::endpoint::DEFAULT_MAX_ATTEMPTS;
use crate::error::refused;
use crate::render::{self, TaskView};
use crate::request::{endpoint_gone, RequestPlan};
use crate::store::{AttemptRecord, Transition};
use crate::task::{State, Task};
use crate::tls::TlsFiles;
use crate::when;

/// What `show --json` prints.
#[derive(Debug, Serialize)]
pub struct TaskDetail {
    #[serde(flatten)]
    pub task: TaskView,
    /// The request as it will be sent, secrets as `${VAR}`; null when it cannot be built.
    pub request: Option<RequestPlan>,
    /// Why the request cannot be built (endpoint removed, URL no longer renders).
    pub request_error: Option<String>,
    /// The endpoint's TLS files, each null when unset; null when the endpoint is gone.
    pub tls: Option<TlsFiles>,
    /// The variables holding the secrets the request is signed with, as `${VAR}` (Standard
    /// Webhooks: webhook-id, webhook-timestamp and webhook-signature are added when it is sent).
    pub signed_with: Vec<String>,
    /// The endpoint's limits in words (`2 in flight, 10/s`); null when it has none.
    pub limits: Option<String>,
    /// When the task is due and its endpoint's limits hold due tasks back: which limit, in
    /// words.
    pub waiting_on_limit: Option<String>,
    pub attempts: Vec<AttemptView>,
    pub transitions: Vec<TransitionView>,
}

#[derive(Debug, Serialize)]
pub struct AttemptView {
    pub number: u32,
    pub tick_id: String,
    pub started_at: String,
    pub duration_ms: Option<i64>,
    /// null while in flight.
    pub outcome: Option<AttemptOutcome>,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub content_type: Option<String>,
    pub retry_after: Option<String>,
    pub location: Option<String>,
    /// The stored body as text; null when there is none or it is not UTF-8 text.
    pub body: Option<String>,
    /// How many bytes of body are stored (null when none).
    pub body_bytes: Option<usize>,
    /// True when the stored body is not UTF-8 text (`body` is then null).
    pub body_binary: bool,
    pub body_truncated: bool,
    pub request: Option<serde_json::Value>,
}

/// What `show ID --body --json` prints: the body in base64, so that any bytes fit.
#[derive(Debug, Serialize)]
pub struct BodyView {
    pub id: i64,
    /// The attempt whose response it is.
    pub attempt: u32,
    pub status: Option<u16>,
    pub content_type: Option<String>,
    pub body_bytes: usize,
    /// Cut at the stored limit (64 KiB) when it was received.
    pub body_truncated: bool,
    pub body_base64: String,
}

#[derive(Debug, Serialize)]
pub struct TransitionView {
    pub at: String,
    pub from: Option<State>,
    pub to: State,
    pub actor: String,
    pub detail: Option<String>,
}

pub fn run(args: ShowArgs, context: &Context) -> Result<()> {
    let store = context.read_store()?;
    let now = context.now_for(&store)?;
    let task = store
        .task(args.id)?
        .ok_or_else(|| refused(format!("task {} does not exist (see httpat list)", args.id)))?;
    if args.body {
        return print_body(&task, store.attempts_of(task.id)?, context.json);
    }
    let endpoint = store.endpoint(&task.endpoint)?;
    let budget = endpoint
        .as_ref()
        .map_or(DEFAULT_MAX_ATTEMPTS, |e| e.max_attempts);
    let (request, request_error) = match &endpoint {
        None => (None, Some(endpoint_gone(&task).to_string())),
        Some(endpoint) => match RequestPlan::build(endpoint, &task) {
            Ok(plan) => (Some(plan), None),
            Err(e) => (None, Some(format!("{e:#}"))),
        },
    };
    let limits = endpoint
        .as_ref()
        .map(|e| e.limits)
        .filter(|limits| !limits.is_none());
    let waits_on_limit = limits.is_some()
        && matches!(task.state(now), State::Due | State::Retrying)
        && task.next_attempt_at <= now;
    let waiting_on_limit = match waits_on_limit {
        false => None,
        true => store
            .limit_waits(now)?
            .iter()
            .find(|wait| wait.endpoint == task.endpoint)
            .and_then(|wait| {
                let reason = wait.reason(now)?;
                Some(format!(
                    "{reason}: {} due task(s) of {} wait",
                    wait.waiting(),
                    wait.endpoint
                ))
            }),
    };
    let detail = TaskDetail {
        task: TaskView::new(&task, now, budget),
        request,
        request_error,
        tls: endpoint.as_ref().map(|e| e.tls.clone()),
        signed_with: endpoint
            .as_ref()
            .map(|e| {
                e.signing_secrets
                    .iter()
                    .map(|name| format!("${{{name}}}"))
                    .collect()
            })
            .unwrap_or_default(),
        limits: limits.map(|limits| limits.describe()),
        waiting_on_limit,
        attempts: store
            .attempts_of(task.id)?
            .into_iter()
            .map(attempt_view)
            .collect(),
        transitions: store
            .transitions_of(task.id)?
            .into_iter()
            .map(transition_view)
            .collect(),
    };
    if context.json {
        return render::print_json(&detail);
    }
    print(&detail, now, context.utc);
    Ok(())
}

/// `--body`: the body of the latest attempt that got a response (an empty one included), as
/// stored; with `json`, in base64.
fn print_body(task: &Task, attempts: Vec<AttemptRecord>, json: bool) -> Result<()> {
    let Some(mut attempt) = attempts.into_iter().rev().find(|a| a.body.is_some()) else {
        return Err(refused(format!(
            "task {} has no stored response body: no attempt got a response yet (see httpat \
             show {})",
            task.id, task.id
        )));
    };
    let body = attempt.body.take().unwrap_or_default();
    if attempt.body_truncated {
        log::warn!(
            "the body of task {} (attempt {}) was cut at the stored limit: these are its first \
             {} bytes",
            task.id,
            attempt.number,
            body.len()
        );
    }
    if json {
        return render::print_json(&BodyView {
            id: task.id,
            attempt: attempt.number,
            status: attempt.status,
            content_type: attempt.content_type,
            body_bytes: body.len(),
            body_truncated: attempt.body_truncated,
            body_base64: STANDARD.encode(&body),
        });
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(&body).and_then(|()| out.flush()) {
        // A reader that stopped (`| head -c 10`) took what it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => written.context("cannot write the body to standard output"),
    }
}

fn attempt_view(attempt: AttemptRecord) -> AttemptView {
    let body_bytes = attempt.body.as_ref().map(Vec::len);
    let body = attempt.body.map(String::from_utf8);
    let body_binary = matches!(body, Some(Err(_)));
    AttemptView {
        number: attempt.number,
        tick_id: attempt.tick_id,
        started_at: when::rfc3339(attempt.started_at),
        duration_ms: attempt.duration_ms,
        outcome: attempt.outcome,
        status: attempt.status,
        error: attempt.error,
        content_type: attempt.content_type,
        retry_after: attempt.retry_after,
        location: attempt.location,
        body: body.and_then(Result::ok),
        body_bytes,
        body_binary,
        body_truncated: attempt.body_truncated,
        request: attempt.request.and_then(|r| serde_json::from_str(&r).ok()),
    }
}

/// Text safe for a terminal: control characters (an escape sequence in a body would move the
/// cursor or change colours) are shown escaped; line breaks and tabs stay.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn transition_view(transition: Transition) -> TransitionView {
    TransitionView {
        at: when::rfc3339(transition.at),
        from: transition.from,
        to: transition.to,
        actor: transition.actor,
        detail: transition.detail,
    }
}

/// The endpoint's TLS files, under the request they are sent with.
fn print_tls(tls: &TlsFiles) {
    crate::outln!();
    crate::outln!("TLS");
    let files = [
        ("CA file", &tls.ca_file),
        ("client cert", &tls.client_cert),
        ("client key", &tls.client_key),
    ];
    for (label, path) in files {
        if let Some(path) = path {
            crate::outln!("  {label:<13}{path}");
        }
    }
}

fn print(detail: &TaskDetail, now: DateTime<Utc>, utc: bool) {
    let task = &detail.task;
    let time = |text: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|at| render::time_with_relative(at.with_timezone(&Utc), now, utc))
            .unwrap_or_else(|_| text.to_string())
    };
    let field = |name: &str, value: &str| crate::outln!("  {name:<13}{value}");
    crate::outln!("Task {}", task.id);
    let because = task
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    field("state", &format!("{}{because}", task.state));
    field("endpoint", &task.endpoint);
    field(
        "arguments",
        &serde_json::Value::Object(task.args.clone()).to_string(),
    );
    if let Some(key) = &task.key {
        field("key", key);
    }
    if let Some(reported) = task.notifies {
        field("notifies", &format!("the outcome of task {reported}"));
    }
    field("priority", &task.priority.to_string());
    field("agent", task.agent.as_deref().unwrap_or("-"));
    field(
        "attempts",
        &format!("{} of {}", task.attempts_used, task.max_attempts),
    );
    field("created", &time(&task.created_at));
    field("due", &time(&task.due_at));
    if task.next_attempt_at != task.due_at && !task.state.is_finished() {
        field("next attempt", &time(&task.next_attempt_at));
    }
    if let Some(finished) = &task.finished_at {
        field("finished", &time(finished));
    }
    if let Some(result) = &task.last_result {
        field("last result", result);
    }
    if let Some(limits) = &detail.limits {
        field("limits", limits);
    }
    if let Some(waiting) = &detail.waiting_on_limit {
        field("waiting on", waiting);
    }
    crate::outln!();
    crate::outln!("Request");
    match (&detail.request, &detail.request_error) {
        (Some(request), _) => {
            crate::outln!("  {} {}", request.method, request.url);
            for (name, value) in &request.headers {
                crate::outln!("  {name}: {value}");
            }
            if let Some(body) = &request.body {
                crate::outln!();
                crate::outln!("  {body}");
            }
        }
        (None, error) => crate::outln!("  cannot be built: {}", error.as_deref().unwrap_or("?")),
    }
    if !detail.signed_with.is_empty() {
        crate::outln!(
            "  (signed when sent: webhook-id, webhook-timestamp, webhook-signature with {})",
            detail.signed_with.join(" ")
        );
    }
    if let Some(tls) = detail.tls.as_ref().filter(|tls| !tls.is_empty()) {
        print_tls(tls);
    }
    crate::outln!();
    crate::outln!("Attempts");
    if detail.attempts.is_empty() {
        crate::outln!("  none yet");
    }
    for attempt in &detail.attempts {
        let result = match (&attempt.status, &attempt.error) {
            (_, Some(error)) => error.clone(),
            (Some(status), None) => status.to_string(),
            (None, None) => "in flight".to_string(),
        };
        let duration = attempt
            .duration_ms
            .map(|ms| format!(" {ms}ms"))
            .unwrap_or_default();
        crate::outln!(
            "  #{} {} {}{duration} {} (tick {})",
            attempt.number,
            time(&attempt.started_at),
            attempt.outcome.map_or("running", AttemptOutcome::as_str),
            result,
            attempt.tick_id
        );
        if let Some(location) = &attempt.location {
            crate::outln!("      Location: {location}");
        }
        if let Some(retry_after) = &attempt.retry_after {
            crate::outln!("      Retry-After: {retry_after}");
        }
        let cut = if attempt.body_truncated {
            " (truncated)"
        } else {
            ""
        };
        let content_type = attempt.content_type.as_deref().unwrap_or("body");
        match (&attempt.body, attempt.body_bytes) {
            (Some(body), _) if !body.is_empty() => crate::outln!(
                "      {content_type}{cut}: {}",
                printable(body).replace('\n', "\n      ")
            ),
            (None, Some(bytes)) if attempt.body_binary => {
                crate::outln!("      {content_type}{cut}: {bytes} bytes of binary data")
            }
            _ => {}
        }
    }
    crate::outln!();
    crate::outln!("History");
    for transition in &detail.transitions {
        let from = transition.from.map_or("", State::as_str);
        let detail = transition
            .detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        crate::outln!(
            "  {}  {from} -> {}  by {}{detail}",
            time(&transition.at),
            transition.to,
            transition.actor
        );
    }
}
