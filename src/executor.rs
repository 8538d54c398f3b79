//! Sending requests: a fixed pool of worker threads sharing the tick's HTTP agents (keep-alive,
//! connection reuse; one agent per TLS files, timeout and proxy). Each worker builds a task's
//! request, expands its secrets at the last moment, sends it, and reports an `AttemptResult`
//! with every secret masked.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ureq::http;

use crate::agents::{Agents, NoAgent};
use crate::attempt::AttemptResult;
use crate::endpoint::Endpoint;
use crate::proxy::{ProxyChoice, ProxyEnv};
use crate::request::{endpoint_gone, RequestPlan};
use crate::secrets;
use crate::task::{classify_status, Task, Verdict};
use crate::tls_failure;

/// Response bodies are stored up to this size; the rest is cut and the cut recorded.
pub const BODY_LIMIT: usize = 64 * 1024;

/// One claimed task to send.
pub struct Job {
    pub task: Task,
    /// None when the endpoint was removed after the task was scheduled.
    pub endpoint: Option<Arc<Endpoint>>,
    /// For an endpoint with a limit: sent before the other queued jobs, so that the slot it
    /// holds is used at once.
    pub urgent: bool,
    /// For an endpoint with a rate: the moments it must start between, or not at all.
    pub start: Option<StartBetween>,
}

/// The moments a paced request starts between: not before its start was counted, and not after
/// `start_by` (it is then given back, its start uncounted).
#[derive(Debug, Clone, Copy)]
pub struct StartBetween {
    pub not_before: Instant,
    pub start_by: Instant,
}

/// What a worker reports for a job.
pub enum Report {
    /// The request was made (or could not be made): record the attempt.
    Attempted(AttemptResult),
    /// The request was not started: the tick is stopping, or it could not finish before the
    /// tick's time budget ends, or a paced request missed its moment. The task goes back to
    /// wait.
    NotStarted { task_id: i64, why: NotStarted },
}

/// Why a claimed task's request was not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotStarted {
    /// The tick was asked to stop, or the request could not finish within its time budget.
    Stopping,
    /// A paced request could not leave soon enough after its start was counted.
    MissedSlot,
    /// Its endpoint was registered after the tick began, with a variable the tick lacks.
    MissingVariable,
}

impl NotStarted {
    /// The history's words for it.
    pub fn detail(self) -> &'static str {
        match self {
            NotStarted::Stopping => {
                "not sent: the tick stopped, or its time ran out, before this request could start"
            }
            NotStarted::MissedSlot => {
                "not sent: no worker was free at the moment the endpoint's rate gave it"
            }
            NotStarted::MissingVariable => {
                "not sent: the tick's environment lacks a variable of its endpoint"
            }
        }
    }
}

impl Report {
    pub fn task_id(&self) -> i64 {
        match self {
            Report::Attempted(result) => result.task_id,
            Report::NotStarted { task_id, .. } => *task_id,
        }
    }

    /// What it holds in memory until it is recorded, roughly: the response's body and the
    /// request as sent.
    pub fn bytes(&self) -> usize {
        match self {
            Report::Attempted(result) => {
                result.body.as_ref().map_or(0, Vec::len)
                    + result.request.as_ref().map_or(0, String::len)
            }
            Report::NotStarted { .. } => 0,
        }
    }
}

/// When a worker may still start a request: before `deadline` less the request's timeout, and
/// not once `stop` is set.
#[derive(Clone)]
pub struct StartRule {
    pub deadline: Instant,
    /// Whether a request must also be able to end (by its timeout) by the deadline, or only
    /// start before it (`tick --follow`, whose leases cover the timeout beyond).
    pub finish_within: bool,
    pub stop: Arc<AtomicBool>,
}

impl StartRule {
    fn allows(&self, timeout: Duration) -> bool {
        let ends_by = if self.finish_within {
            Instant::now() + timeout
        } else {
            Instant::now()
        };
        !self.stop.load(Ordering::Relaxed) && ends_by <= self.deadline
    }
}

/// The jobs waiting for a worker, and how many workers are sending.
#[derive(Default)]
struct Queue {
    urgent: VecDeque<Job>,
    normal: VecDeque<Job>,
    busy: usize,
    closed: bool,
}

/// The worker pool. `finish` ends the workers once the queue is empty.
pub struct Pool {
    queue: Arc<(Mutex<Queue>, Condvar)>,
    size: usize,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts `size` workers; results arrive on the returned receiver. `clock` gives the current
    /// time (pinnable in tests).
    pub fn start(
        size: usize,
        clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
        rule: StartRule,
    ) -> (Pool, Receiver<Report>) {
        let agents = Arc::new(Agents::new(ProxyEnv::from_env()));
        let queue = Arc::new((Mutex::new(Queue::default()), Condvar::new()));
        let (result_sender, results) = mpsc::channel();
        let size = size.max(1);
        let workers = (0..size)
            .map(|_| {
                let agents = Arc::clone(&agents);
                let queue = Arc::clone(&queue);
                let results = result_sender.clone();
                let clock = Arc::clone(&clock);
                let rule = rule.clone();
                std::thread::spawn(move || {
                    while let Some(job) = next_job(&queue) {
                        let report = run_job(&agents, &job, clock.as_ref(), &rule);
                        // Idle again before the tick hears of it, so that a claim made on this
                        // report counts this worker free.
                        lock(&queue.0).busy -= 1;
                        if results.send(report).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        (
            Pool {
                queue,
                size,
                workers,
            },
            results,
        )
    }

    pub fn submit(&self, job: Job) {
        let mut queue = lock(&self.queue.0);
        if job.urgent {
            queue.urgent.push_back(job);
        } else {
            queue.normal.push_back(job);
        }
        self.queue.1.notify_one();
    }

    /// Workers neither sending nor spoken for by an urgent job: how many paced requests could
    /// start at once.
    pub fn idle(&self) -> usize {
        let queue = lock(&self.queue.0);
        self.size
            .saturating_sub(queue.busy)
            .saturating_sub(queue.urgent.len())
    }

    /// Lets the workers finish what is queued, then waits for them.
    pub fn finish(mut self) {
        lock(&self.queue.0).closed = true;
        self.queue.1.notify_all();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// A worker's next job, urgent ones first; None once the pool is finished and nothing waits.
fn next_job(queue: &(Mutex<Queue>, Condvar)) -> Option<Job> {
    let mut waiting = lock(&queue.0);
    loop {
        if let Some(job) = waiting
            .urgent
            .pop_front()
            .or_else(|| waiting.normal.pop_front())
        {
            waiting.busy += 1;
            return Some(job);
        }
        if waiting.closed {
            return None;
        }
        // A poisoned lock only means another worker panicked while holding it.
        waiting = queue.1.wait(waiting).unwrap_or_else(|e| e.into_inner());
    }
}

fn lock(queue: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    // A poisoned lock only means a worker panicked while holding it: the queue is still whole.
    queue.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends a job's request if it may still start, waiting for a paced one's moment first.
fn run_job(
    agents: &Agents,
    job: &Job,
    clock: &(dyn Fn() -> DateTime<Utc> + Send + Sync),
    rule: &StartRule,
) -> Report {
    if let Some(start) = job.start {
        let wait = start.not_before.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        if Instant::now() > start.start_by {
            return Report::NotStarted {
                task_id: job.task.id,
                why: NotStarted::MissedSlot,
            };
        }
    }
    let timeout = job.endpoint.as_ref().map_or(Duration::ZERO, |e| e.timeout);
    if !rule.allows(timeout) {
        return Report::NotStarted {
            task_id: job.task.id,
            why: NotStarted::Stopping,
        };
    }
    Report::Attempted(perform_guarded(agents, job, clock))
}

/// The agent of an endpoint without TLS files, at the default timeout and without a proxy:
/// what `examples/raw_client.rs` measures a tick against.
pub fn agent() -> ureq::Agent {
    crate::agents::build(
        crate::tls::system_trust_store(),
        crate::endpoint::DEFAULT_TIMEOUT,
        None,
    )
}

/// Performs a job; a panic becomes an executor error for that task alone.
fn perform_guarded(
    agents: &Agents,
    job: &Job,
    clock: &(dyn Fn() -> DateTime<Utc> + Send + Sync),
) -> AttemptResult {
    let started_at = clock();
    guard(|| perform(agents, job, clock)).unwrap_or_else(|message| {
        executor_error(
            job,
            started_at,
            format!("internal error while sending: {message}"),
        )
    })
}

/// Runs `work`; a panic in it comes back as the panic's message instead of unwinding further.
fn guard<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(work)).map_err(|panic| {
        panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string())
    })
}

/// Builds, sends and classifies one task's request.
pub fn perform(
    agents: &Agents,
    job: &Job,
    clock: &(dyn Fn() -> DateTime<Utc> + Send + Sync),
) -> AttemptResult {
    let started_at = clock();
    let Some(endpoint) = &job.endpoint else {
        return executor_error(job, started_at, endpoint_gone(&job.task).to_string());
    };
    let mut plan = match RequestPlan::build(endpoint, &job.task) {
        Ok(plan) => plan,
        Err(e) => return executor_error(job, started_at, format!("{e:#}")),
    };
    let lookup = |name: &str| std::env::var(name).ok();
    let signed = plan.sign(endpoint, &job.task, started_at, |name| {
        agents.keys.get(name, lookup)
    });
    let stored_request = serde_json::to_string(&plan).ok();
    let (headers, secrets) = match signed.and_then(|keys| {
        let (headers, mut secrets) = plan.expand_headers(lookup)?;
        secrets.extend(keys);
        Ok((headers, secrets))
    }) {
        Ok(expanded) => expanded,
        Err(e) => {
            let mut result = executor_error(job, started_at, format!("{e:#}"));
            result.request = stored_request;
            return result;
        }
    };
    let chosen = match agents.for_request(&endpoint.tls, endpoint.timeout, &plan.url) {
        Ok(chosen) => chosen,
        Err(NoAgent::TlsFiles(message)) => {
            let mut result = executor_error(job, started_at, message);
            result.request = stored_request;
            return result;
        }
        Err(NoAgent::Proxy(message)) => {
            return AttemptResult {
                error: Some(message),
                request: stored_request,
                ..no_response(job, started_at, Verdict::Retryable)
            };
        }
    };
    let timer = Instant::now();
    let sent = send(&chosen.agent, &plan, &headers).map_err(|error| {
        classify_error(
            error,
            endpoint.tls.client_cert.is_some(),
            chosen.proxy.as_ref(),
        )
    });
    let duration_ms = timer.elapsed().as_millis() as i64;
    let mut result = AttemptResult {
        duration_ms,
        request: stored_request,
        ..no_response(job, started_at, Verdict::Retryable)
    };
    match sent {
        Ok(response) => {
            result.verdict = classify_status(response.status, &endpoint.success);
            result.status = Some(response.status);
            result.content_type = response.content_type.map(|v| secrets::mask(&v, &secrets));
            result.retry_after = response.retry_after;
            result.location = response.location.map(|v| secrets::mask(&v, &secrets));
            result.body = Some(secrets::mask_bytes(response.body, &secrets));
            result.body_truncated = response.body_truncated;
            result.error = response.body_error;
        }
        Err(Failure::Timeout) => {
            let timeout = crate::when::display_duration(endpoint.timeout);
            result.error = Some(format!("timeout after {timeout}"));
        }
        Err(Failure::Transport(message)) => {
            result.error = Some(secrets::mask(&message, &secrets));
        }
        Err(Failure::Tls(message)) => {
            result.verdict = Verdict::Permanent;
            result.error = Some(message);
        }
        Err(Failure::Request(message)) => {
            result.verdict = Verdict::ExecutorError;
            result.error = Some(secrets::mask(&message, &secrets));
        }
    }
    result
}

/// A result with nothing from the server yet: the fields `perform` fills as it learns them.
fn no_response(job: &Job, started_at: DateTime<Utc>, verdict: Verdict) -> AttemptResult {
    AttemptResult {
        task_id: job.task.id,
        number: job.task.attempts,
        started_at,
        duration_ms: 0,
        verdict,
        status: None,
        error: None,
        request: None,
        content_type: None,
        retry_after: None,
        location: None,
        body: None,
        body_truncated: false,
    }
}

fn executor_error(job: &Job, started_at: DateTime<Utc>, message: String) -> AttemptResult {
    AttemptResult {
        error: Some(message),
        ..no_response(job, started_at, Verdict::ExecutorError)
    }
}

/// What came back from the server.
struct Received {
    status: u16,
    content_type: Option<String>,
    retry_after: Option<String>,
    location: Option<String>,
    body: Vec<u8>,
    body_truncated: bool,
    /// The body could not be read whole (the status still counts).
    body_error: Option<String>,
}

enum Failure {
    /// The endpoint's timeout passed first: worth retrying.
    Timeout,
    /// The request never got a response: worth retrying.
    Transport(String),
    /// The TLS handshake failed in a way no retry mends (an untrusted certificate, a client
    /// certificate asked for): a permanent failure.
    Tls(String),
    /// The request could not be made at all: httpat's own error.
    Request(String),
}

fn send(
    agent: &ureq::Agent,
    plan: &RequestPlan,
    headers: &[(&str, Cow<'_, str>)],
) -> Result<Received, ureq::Error> {
    let mut builder = http::Request::builder()
        .method(plan.method.as_str())
        .uri(plan.url.as_str());
    for (name, value) in headers {
        builder = builder.header(*name, value.as_ref());
    }
    let body = plan.body.clone().unwrap_or_default().into_bytes();
    // The agent carries the timeouts and the proxy: a request-level setting would keep ureq from
    // reusing the agent's TLS configuration.
    let request = builder.body(body)?;
    let mut response = agent.run(request)?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let status = response.status().as_u16();
    let content_type = header("content-type");
    let retry_after = header("retry-after");
    let location = header("location");
    // Room for what the answer says it holds, up to the stored limit: a buffer grown by
    // doubling would keep up to twice the body's size while the answer waits to be recorded.
    let announced = response.body().content_length().unwrap_or(0);
    let mut body = Vec::with_capacity(announced.min(BODY_LIMIT as u64 + 1) as usize);
    let read = response
        .body_mut()
        .as_reader()
        .take(BODY_LIMIT as u64 + 1)
        .read_to_end(&mut body);
    let body_truncated = body.len() > BODY_LIMIT;
    body.truncate(BODY_LIMIT);
    body.shrink_to_fit();
    Ok(Received {
        status,
        content_type,
        retry_after,
        location,
        body,
        body_truncated,
        body_error: read.err().map(|e| format!("body not read whole: {e}")),
    })
}

/// Names a transport error the way an operator reads it. `sent_client_cert`: whether the
/// endpoint presents a client certificate; `proxy`: the proxy the request went through, named
/// in the message of an error that did not come from the server.
fn classify_error(
    error: ureq::Error,
    sent_client_cert: bool,
    proxy: Option<&ProxyChoice>,
) -> Failure {
    use std::io::ErrorKind;
    use ureq::Error;
    // rustls' handshake errors reach ureq inside an I/O error, or as its own.
    let tls_error = match &error {
        Error::Rustls(e) => Some(e),
        Error::Io(e) => e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    if let Some(message) = tls_error.and_then(|e| tls_failure::explain(e, sent_client_cert)) {
        return Failure::Tls(message);
    }
    let through = |message: String| match proxy {
        Some(proxy) => {
            Failure::Transport(format!("{message} (through proxy {})", proxy.describe()))
        }
        None => Failure::Transport(message),
    };
    match error {
        Error::Timeout(_) | Error::BodyStalled => Failure::Timeout,
        Error::Io(e) if e.kind() == ErrorKind::TimedOut => Failure::Timeout,
        Error::HostNotFound => through("DNS: host not found".to_string()),
        Error::ConnectionFailed => through("connection failed".to_string()),
        Error::Io(e) => through(match e.kind() {
            ErrorKind::ConnectionRefused => "connection refused".to_string(),
            ErrorKind::ConnectionReset => "connection reset".to_string(),
            ErrorKind::ConnectionAborted => "connection aborted".to_string(),
            ErrorKind::UnexpectedEof => "connection closed before a response".to_string(),
            _ => format!("I/O error: {e}"),
        }),
        Error::Tls(e) => Failure::Transport(format!("TLS: {e}")),
        Error::Rustls(e) => Failure::Transport(format!("TLS: {e}")),
        // Nothing was sent: the same request would not fit the next time either.
        Error::Protocol(ureq_proto::Error::OutputOverflow) => Failure::Request(format!(
            "the request's line and headers take more than the {} KiB a request may carry (a \
             long URL or query, or large headers): not sent",
            crate::agents::OUTPUT_BUFFER / 1024
        )),
        Error::Protocol(e) => Failure::Transport(format!("protocol error: {e}")),
        Error::ConnectProxyFailed(e) => through(format!("proxy: {e}")),
        Error::Http(e) => Failure::Request(format!("cannot build the request: {e}")),
        other => Failure::Request(format!("cannot send the request: {other}")),
    }
}

/// Parses a `Retry-After` value: seconds, or an HTTP date; returns how long to wait from `now`.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds.min(7 * 86_400)));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    (at - now)
        .to_std()
        .ok()
        .map(|d| d.min(Duration::from_secs(7 * 86_400)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_panic_while_sending_becomes_its_message() {
        assert_eq!(guard(|| 7), Ok(7));
        assert_eq!(
            guard(|| -> u32 { panic!("a static message") }),
            Err("a static message".to_string())
        );
        let task = 42;
        assert_eq!(
            guard(|| -> u32 { panic!("task {task} broke") }),
            Err("task 42 broke".to_string())
        );
        assert_eq!(
            guard(|| -> u32 { std::panic::panic_any(3u8) }),
            Err("unknown panic".to_string())
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 25 Nov 2026 12:10:00 GMT", now),
            Some(Duration::from_secs(600))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(
            parse_retry_after("Wed, 25 Nov 2026 11:00:00 GMT", now),
            None
        );
    }
}
