//! One tick of the executor: recover what a dead tick left, fire recurring schedules, claim due
//! tasks and send them with the worker pool, and record every outcome in groups.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::attempt::AttemptResult;
use crate::endpoint::{Endpoint, Notify, DEFAULT_MAX_ATTEMPTS, DEFAULT_TIMEOUT};
use crate::executor::{self, Job, NotStarted, Pool, Report, StartBetween, StartRule};
use crate::limits::LEAD;
use crate::origin::Origin;
use crate::recurring::CronRule;
use crate::store::{
    Claim, Claimed, Decided, Firing, Held, HeldBack, Location, MissingReport, Schedule, Store,
    TickCounts, Tx,
};
use crate::task::{self, State, Task, Verdict};
use crate::{logfile, when};

/// Results are committed in groups: this many, or after this long, whichever comes first.
const GROUP_SIZE: usize = 64;
const GROUP_WAIT: Duration = Duration::from_millis(100);

/// How many claimed tasks a tick holds (queued or in flight) for `concurrency` workers: enough
/// that claims are few and large, so that draining thousands is not one commit per request.
/// A task that waits too long in the queue is not sent but released (see `StartRule`).
fn held_target(concurrency: usize) -> usize {
    (8 * concurrency).clamp(128, 1024)
}

/// The answers a tick keeps in memory while they wait to be written (their bodies, up to 64 KiB
/// each): about this many bytes of them. Answers of a few bytes never reach it; a drain of
/// large answers holds fewer tasks at once instead of more memory.
const HELD_BYTES: usize = 2 << 20;

/// How many tasks a tick holds at once: `held_target`, or fewer when the answers are large
/// (by the running mean of their sizes), never fewer than two per worker (nor more than
/// `held_target`).
struct Holding {
    most: usize,
    least: usize,
    /// Bytes per answer, a running mean; None before the first answer.
    mean: Option<usize>,
}

impl Holding {
    fn new(concurrency: usize) -> Holding {
        let most = held_target(concurrency);
        Holding {
            most,
            least: (2 * concurrency).min(most),
            mean: None,
        }
    }

    fn answered(&mut self, bytes: usize) {
        self.mean = Some(self.mean.map_or(bytes, |mean| (mean * 7 + bytes) / 8));
    }

    /// Until the first answers tell their size, as few as for large ones.
    fn target(&self) -> usize {
        match self.mean {
            Some(mean) => (HELD_BYTES / mean.max(1)).clamp(self.least, self.most),
            None => self.least,
        }
    }
}

/// How often a tick looks again for a slot of an endpoint whose requests in flight are another
/// tick's (it hears of its own as they end).
const SLOT_POLL: Duration = Duration::from_millis(100);

/// The longest `--follow` sleeps without looking at the store again (and at a signal).
const WAKE_SLICE: Duration = Duration::from_millis(250);

/// What a claim may take: `want` of the unlimited (and in-flight-limited) endpoints' tasks,
/// `paced` of rate-limited ones, `most` in all; only tasks whose timeout fits in `remaining`.
struct ClaimAsk {
    want: u32,
    paced: u32,
    most: u32,
    remaining: Duration,
    max_timeout: Duration,
}

/// A lease outlives the longest a tick may hold a task by this margin.
const LEASE_MARGIN: Duration = Duration::from_secs(60);

/// How a tick runs: `tick --concurrency --max-runtime --limit`.
pub struct Options {
    pub concurrency: usize,
    pub max_runtime: Duration,
    pub limit: Option<u32>,
    /// Stay until the runtime ends, sending tasks as their time comes (`--follow`); requests
    /// start until then and may finish after, by their timeout.
    pub follow: bool,
    /// Where a second connection records results while the first claims (PostgreSQL, whose
    /// server then works on both at once); None: one connection does both.
    pub results_aside: Option<Location>,
}

/// What one tick did: its counts, the tasks it reported on stderr, and what it could not send.
#[derive(Debug, Serialize)]
pub struct TickReport {
    pub tick_id: String,
    #[serde(flatten)]
    pub counts: TickCounts,
    /// Tasks that failed for good or were cancelled by the executor, in the order they ended.
    pub ended: Vec<Ended>,
    /// Endpoints whose due tasks were not sent because the tick's environment lacks variables
    /// they read: the tasks stay due, and the tick exits 1.
    pub missing_variables: Vec<MissingVariables>,
}

/// A task that failed for good or was cancelled by the executor during the tick.
#[derive(Debug, Clone, Serialize)]
pub struct Ended {
    pub id: i64,
    pub endpoint: String,
    pub state: State,
    pub reason: String,
}

/// The variables of an endpoint's requests that the tick's environment cannot give.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Unusable {
    /// Not set at all.
    pub variables: Vec<String>,
    /// Set, but holding no signing secret (base64, with or without `whsec_`).
    pub not_signing_secrets: Vec<String>,
}

impl Unusable {
    /// What is wrong, in words.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.variables.is_empty() {
            let (noun, verb) = match self.variables.len() {
                1 => ("variable", "is"),
                _ => ("variables", "are"),
            };
            parts.push(format!(
                "environment {noun} {} {verb} not set in the tick's environment",
                self.variables.join(", ")
            ));
        }
        if !self.not_signing_secrets.is_empty() {
            parts.push(format!(
                "environment variable {} holds no signing secret (its base64, with or without \
                 whsec_)",
                self.not_signing_secrets.join(", ")
            ));
        }
        parts.join("; ")
    }
}

/// An endpoint the tick could not send to: the variables its environment cannot give, and how
/// many tasks wait for them.
#[derive(Debug, Clone, Serialize)]
pub struct MissingVariables {
    pub endpoint: String,
    #[serde(flatten)]
    pub unusable: Unusable,
    pub tasks_waiting: u64,
}

impl MissingVariables {
    /// The line cron's mail carries.
    pub fn line(&self) -> String {
        format!(
            "endpoint \"{}\": {} due task(s) wait: {}; nothing was sent or cancelled, the tasks \
             stay due",
            self.endpoint,
            self.tasks_waiting,
            self.unusable.describe()
        )
    }

    /// What the tick's record keeps of it, for `status`.
    pub fn report(&self) -> MissingReport {
        MissingReport {
            endpoint: self.endpoint.clone(),
            variables: self.unusable.variables.clone(),
            not_signing_secrets: self.unusable.not_signing_secrets.clone(),
            tasks_waiting: self.tasks_waiting,
        }
    }
}

/// Runs one tick on `store`, "now" being `start` (read once when the command started, at the
/// instant given with it: the tick's clock runs on from there), and returns what it did.
pub fn run(
    store: Store,
    options: Options,
    (start, started): (DateTime<Utc>, Instant),
    log_path: Option<PathBuf>,
) -> Result<TickReport> {
    let clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync> =
        Arc::new(move || start + chrono::Duration::from_std(started.elapsed()).unwrap_or_default());
    let origin = Origin::current();
    let tick = Tick {
        id: tick_id(&origin),
        origin,
        store,
        start,
        started,
        clock,
        options,
        log_path,
        endpoints: HashMap::new(),
        limited: HashSet::new(),
        missing: BTreeMap::new(),
        counts: TickCounts::default(),
        ended: Vec::new(),
        recorder: None,
    };
    tick.run()
}

/// `host:pid:random`: which machine and process holds a task; the tick's record says in which
/// boot and pid namespace, so that a later tick can tell whether that process is still alive.
fn tick_id(origin: &Origin) -> String {
    format!(
        "{}:{}:{:08x}",
        origin.host,
        origin.pid,
        rand::random::<u32>()
    )
}

/// For each endpoint whose requests read a variable that `lookup` cannot give (or gives no
/// signing secret in): its name and what is wrong. Such an endpoint is the tick's fault, not its
/// tasks': they stay due.
pub fn missing_variables<'a>(
    endpoints: impl IntoIterator<Item = &'a Arc<Endpoint>>,
    lookup: impl Fn(&str) -> Option<String>,
) -> BTreeMap<String, Unusable> {
    endpoints
        .into_iter()
        .filter_map(|endpoint| {
            let mut unusable = Unusable::default();
            for name in endpoint.variables() {
                match lookup(&name) {
                    None => unusable.variables.push(name),
                    Some(value)
                        if endpoint.signing_secrets.contains(&name)
                            && crate::signing::key(&value).is_err() =>
                    {
                        unusable.not_signing_secrets.push(name)
                    }
                    Some(_) => {}
                }
            }
            let bad = !unusable.variables.is_empty() || !unusable.not_signing_secrets.is_empty();
            bad.then(|| (endpoint.name.clone(), unusable))
        })
        .collect()
}

struct Tick {
    id: String,
    origin: Origin,
    store: Store,
    start: DateTime<Utc>,
    started: Instant,
    clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    options: Options,
    log_path: Option<PathBuf>,
    endpoints: HashMap<String, Arc<Endpoint>>,
    /// The names of `endpoints` that have a limit (`--max-in-flight`, `--rate`).
    limited: HashSet<String>,
    /// Endpoints whose requests read variables this tick's environment cannot give, by name.
    missing: BTreeMap<String, Unusable>,
    counts: TickCounts,
    ended: Vec<Ended>,
    /// Records results on a second connection (`Options::results_aside`), once the drain
    /// started it.
    recorder: Option<Recorder>,
}

impl Tick {
    fn run(mut self) -> Result<TickReport> {
        if !self.options.follow && !self.store.has_work(self.start)? {
            self.store
                .record_idle_tick(&self.id, &self.origin, self.start, (self.clock)())
                .context("cannot record the tick")?;
            self.fold_counts();
            return Ok(self.report(Vec::new()));
        }
        self.store
            .record_tick_start(&self.id, &self.origin, self.start)?;
        let running = self.store.running_tasks()?;
        let firing = self.store.schedules_due(self.start)?;
        self.read_endpoints()?;
        let worked = self
            .recover(&running)
            .and_then(|()| self.fire(&firing))
            .and_then(|()| self.drain())
            .and_then(|()| self.still_waiting());
        // The record says how the tick ended, failure included, for `status`; if the database
        // itself is what failed, this write fails too and the first error is the one reported.
        let error = match &worked {
            Err(e) => Some(format!("{e:#}")),
            Ok(missing) if !missing.is_empty() => Some(
                missing
                    .iter()
                    .map(MissingVariables::line)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Ok(_) => None,
        };
        let reports: Vec<MissingReport> = match &worked {
            Ok(missing) => missing.iter().map(MissingVariables::report).collect(),
            Err(_) => Vec::new(),
        };
        let ended = self.store.record_tick_end(
            &self.id,
            (self.clock)(),
            &self.counts,
            error.as_deref(),
            &reports,
        );
        let missing = worked?;
        ended?;
        self.fold_counts();
        Ok(self.report(missing))
    }

    /// Where an endpoint's outcomes are reported, as this tick read the registry (at its start,
    /// and again when it claimed a task of an endpoint registered since).
    fn notify_of(&self, endpoint: &str) -> Notify {
        self.endpoints
            .get(endpoint)
            .map(|e| e.notify.clone())
            .unwrap_or_default()
    }

    /// Housekeeping of the kept counts; a failure changes no count, so it is only logged.
    fn fold_counts(&self) {
        if let Err(e) = self.store.fold_counts() {
            let message = format!("cannot fold the kept counts (they stay right): {e:#}");
            log::warn!("{message}");
            self.log(&message);
        }
    }

    fn report(self, missing_variables: Vec<MissingVariables>) -> TickReport {
        TickReport {
            tick_id: self.id,
            counts: self.counts,
            ended: self.ended,
            missing_variables,
        }
    }

    /// After the drain: the tasks left due because this tick lacks variables they need, one
    /// stderr line per endpoint.
    fn still_waiting(&self) -> Result<Vec<MissingVariables>> {
        let now = (self.clock)();
        let mut waiting = Vec::new();
        for (endpoint, unusable) in &self.missing {
            let tasks_waiting = self.store.waiting_count_of(endpoint, now)?;
            if tasks_waiting == 0 {
                continue;
            }
            let missing = MissingVariables {
                endpoint: endpoint.clone(),
                unusable: unusable.clone(),
                tasks_waiting,
            };
            crate::errln!("httpat: {}", missing.line());
            self.log(&missing.line());
            waiting.push(missing);
        }
        Ok(waiting)
    }

    fn max_attempts(&self, task: &Task) -> u32 {
        task.max_attempts.unwrap_or_else(|| {
            self.endpoints
                .get(&task.endpoint)
                .map_or(DEFAULT_MAX_ATTEMPTS, |e| e.max_attempts)
        })
    }

    /// Step 2: a running task whose tick is gone gets an `interrupted` attempt and is due again
    /// at once, or fails when its attempts are used up.
    fn recover(&mut self, running: &[Task]) -> Result<()> {
        let now = (self.clock)();
        let mut holders: HashMap<&str, Option<Origin>> = HashMap::new();
        for holder in running.iter().filter_map(|t| t.tick_id.as_deref()) {
            if !holders.contains_key(holder) {
                holders.insert(holder, self.store.tick_origin(holder)?);
            }
        }
        let gone: Vec<&Task> = running
            .iter()
            .filter(|task| {
                let holder = task.tick_id.as_deref().and_then(|id| holders.get(id));
                self.holder_is_gone(task, holder.and_then(Option::as_ref), now)
            })
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        let mut ended = Vec::new();
        let recovered = self.store.in_transaction(|store| {
            let mut recovered = 0;
            ended.clear();
            for task in &gone {
                let holder = task.tick_id.as_deref().unwrap_or("?");
                let why = format!("tick {holder} stopped before recording a result");
                let to = if task.attempts_used() >= self.max_attempts(task) {
                    State::Failed
                } else {
                    State::Retrying
                };
                // Due again at the tick's own "now", so that this tick sends it again itself.
                let notify = self.notify_of(&task.endpoint);
                let held = Held {
                    task,
                    notify: &notify,
                };
                if store.recover(held, &self.id, now, self.start, to, &why)? {
                    recovered += 1;
                    if to == State::Failed {
                        ended.push(Ended {
                            id: task.id,
                            endpoint: task.endpoint.clone(),
                            state: to,
                            reason: format!("its attempts are used up ({why})"),
                        });
                    }
                }
            }
            Ok(recovered)
        })?;
        self.counts.recovered += recovered;
        for task in ended {
            crate::errln!(
                "httpat: task {} ({}) failed: {}",
                task.id,
                task.endpoint,
                task.reason
            );
            self.counts.failed += 1;
            self.ended.push(task);
        }
        Ok(())
    }

    /// Whether a task's holder is certainly gone: its lease expired, or it is a process this
    /// tick can see (same host, boot and pid namespace) that no longer exists. A tick of another
    /// pid namespace frees a task only by its lease's expiry.
    fn holder_is_gone(&self, task: &Task, holder: Option<&Origin>, now: DateTime<Utc>) -> bool {
        if task.lease_until.is_none_or(|lease| lease < now) {
            return true;
        }
        holder.is_some_and(|holder| self.origin.proves_dead(holder))
    }

    /// Step 3: each recurring schedule whose time has come makes one task, for its latest
    /// missed firing; the history says how many earlier ones were skipped.
    fn fire(&mut self, schedules: &[Schedule]) -> Result<()> {
        for schedule in schedules {
            let firing = match self.plan_firing(schedule) {
                Ok(firing) => firing,
                Err(error) => {
                    let message = format!("schedule \"{}\" cannot fire: {error:#}", schedule.name);
                    crate::errln!("httpat: {message}");
                    self.log(&message);
                    continue;
                }
            };
            let made = self
                .store
                .in_transaction(|store| store.fire(&firing, &self.id, self.start))?;
            self.counts.fired += u32::from(made.is_some());
        }
        Ok(())
    }

    fn plan_firing(&self, schedule: &Schedule) -> Result<Firing> {
        let rule = CronRule::parse(&schedule.cron, when::parse_zone(&schedule.zone)?)?;
        // A schedule that ends fires nothing after its end, a missed firing included.
        let horizon = schedule
            .until_at
            .map_or(self.start, |until| until.min(self.start));
        let fire_at = rule
            .latest_between(schedule.next_fire_at, horizon)?
            .unwrap_or(schedule.next_fire_at);
        let missed = rule.count_between(schedule.next_fire_at, fire_at)?;
        Ok(Firing {
            schedule: schedule.clone(),
            fire_at,
            next_fire_at: rule.next_after(self.start)?,
            skipped: missed.saturating_sub(1),
        })
    }

    /// Step 4: claim due tasks in batches, send them with up to `--concurrency` in flight,
    /// and record the results in groups, until nothing is due, `--limit` is reached, the time
    /// budget is spent, or SIGINT/SIGTERM asks to stop.
    fn drain(&mut self) -> Result<()> {
        let stop = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // A second signal ends the process at once; the tasks it held are recovered by the
            // next tick.
            signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))
                .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
                .context("cannot watch for SIGINT and SIGTERM")?;
        }
        let concurrency = self.options.concurrency;
        // No request starts unless it can finish (by its timeout) within the time budget; under
        // --follow, none starts after it.
        let rule = StartRule {
            deadline: self.started + self.options.max_runtime,
            finish_within: !self.options.follow,
            stop: Arc::clone(&stop),
        };
        if self.options.follow {
            self.store.watch_changes()?;
        }
        if let Some(location) = self.options.results_aside.clone() {
            self.recorder = self.start_recorder(&location);
        }
        let (pool, reports) = Pool::start(concurrency, Arc::clone(&self.clock), rule);
        let mut held: HashMap<i64, Task> = HashMap::new();
        let mut drained = self.drain_with(&pool, &reports, &mut held, &stop);
        if drained.is_err() {
            // The database failed: no request starts any more, those in flight finish, and
            // their results are recorded if the database lets them be; what it does not is
            // recovered as a crashed tick's would be.
            stop.store(true, Ordering::Relaxed);
        }
        pool.finish();
        if let Some(recorder) = self.recorder.take() {
            let written = recorder.finish();
            let collected = self.collect(written, &mut held);
            drained = drained.and(collected);
        }
        if drained.is_err() {
            let late: Vec<Report> = reports.try_iter().collect();
            if !late.is_empty() {
                let _ = self.commit(&late, &mut held, None);
            }
        }
        drained
    }

    /// The recorder on a second connection to `location`; None (one connection does both, as
    /// on SQLite: slower, not wrong) when it cannot be opened.
    fn start_recorder(&self, location: &Location) -> Option<Recorder> {
        match Store::open_existing(location) {
            Ok(Some(store)) => Some(Recorder::start(store, self.id.clone())),
            Ok(None) => None,
            Err(e) => {
                let message = format!(
                    "cannot open a second connection to record results on (one connection \
                     claims and records): {e:#}"
                );
                log::warn!("{message}");
                self.log(&message);
                None
            }
        }
    }

    /// Takes in what the recorder wrote: the tasks leave `held`, their notices are told.
    fn collect(&mut self, written: Vec<Written>, held: &mut HashMap<i64, Task>) -> Result<()> {
        let mut failed = Ok(());
        for Written { ids, notices } in written {
            for id in ids {
                held.remove(&id);
            }
            match notices {
                Ok(notices) => notices.into_iter().for_each(|notice| self.tell(notice)),
                Err(e) => failed = failed.and(Err(e)),
            }
        }
        failed
    }

    /// Hands a group to the recorder, leaving `group` empty, when there is a recorder and no
    /// endpoint has limits (whose claims must see a slot freed as soon as its result is
    /// recorded); else the group stays, for `commit`.
    fn record_aside(&self, group: &mut Vec<Report>, held: &HashMap<i64, Task>) -> Result<()> {
        let Some(recorder) = &self.recorder else {
            return Ok(());
        };
        if group.is_empty() || !self.limited.is_empty() {
            return Ok(());
        }
        let now = (self.clock)();
        let mut recording = Recording {
            decided: Vec::new(),
            given_back: Vec::new(),
            ids: Vec::new(),
            now,
        };
        for report in group.drain(..) {
            let Some(task) = held.get(&report.task_id()) else {
                continue;
            };
            recording.ids.push(task.id);
            match report {
                Report::Attempted(result) => {
                    let Decision {
                        notify,
                        decision,
                        reason,
                        ..
                    } = self.decide(task, &result, now);
                    recording.decided.push(Decision {
                        task: Cow::Owned(task.clone()),
                        result: Cow::Owned(result),
                        notify,
                        decision,
                        reason,
                    });
                }
                Report::NotStarted { why, .. } => {
                    recording.given_back.push((task.clone(), why.detail()));
                }
            }
        }
        recorder.send(recording)
    }

    /// The claim, send and record loop of `drain`.
    fn drain_with(
        &mut self,
        pool: &Pool,
        reports: &Receiver<Report>,
        held: &mut HashMap<i64, Task>,
        stop: &AtomicBool,
    ) -> Result<()> {
        let concurrency = self.options.concurrency;
        let max_timeout = self
            .endpoints
            .values()
            .map(|e| e.timeout)
            .max()
            .unwrap_or(DEFAULT_TIMEOUT);
        let mut holding = Holding::new(concurrency);
        let mut left = self.options.limit.unwrap_or(u32::MAX);
        // `held`: claimed and not yet recorded; `pending`: answered, waiting for a commit.
        let mut pending: Vec<Report> = Vec::new();
        let mut oldest_pending: Option<Instant> = None;
        let mut nothing_due = false;
        // Endpoints with a limit: when one may have a slot again; until when claiming is
        // pointless (the last claim took nothing, and a slot is awaited); whether a request of
        // one has ended, freeing its slot, so that the result is recorded and the slot reused
        // at once.
        let mut next_slot_at: Option<Instant> = None;
        let mut idle_until: Option<Instant> = None;
        let mut freed = false;
        loop {
            let target = holding.target();
            if let Some(recorder) = &self.recorder {
                // When the thread that records is behind the claims, wait for it to write a
                // group back before claiming more: what waits to be written (each answer with
                // its body) stays bounded, and no task waits there past its lease.
                let written = if recorder.tasks() > target {
                    recorder.wait_written(GROUP_WAIT)?
                } else {
                    recorder.written()?
                };
                self.collect(written, held)?;
            }
            let now = Instant::now();
            let recording = self.recorder.as_ref().map_or(0, Recorder::tasks);
            let in_queue = held.len() - pending.len() - recording;
            let room = in_queue <= target / 2 && idle_until.is_none_or(|t| now >= t);
            let slot_due = next_slot_at.is_some_and(|t| now >= t);
            // Not while the thread that records is behind (see above).
            let may_claim = recording <= target
                && self.may_claim_more(nothing_due, left, stop)
                && (room || slot_due || freed);
            let flush = !pending.is_empty()
                && (pending.len() >= GROUP_SIZE
                    || in_queue == 0
                    || may_claim
                    || freed
                    || oldest_pending.is_some_and(|t| t.elapsed() >= GROUP_WAIT));
            if may_claim || flush {
                let remaining = self
                    .options
                    .max_runtime
                    .saturating_sub(self.started.elapsed());
                let mut group = std::mem::take(&mut pending);
                oldest_pending = None;
                // On a second connection while this one claims, if there is one.
                self.record_aside(&mut group, held)?;
                freed = false;
                let ask = may_claim.then(|| ClaimAsk {
                    want: (target.saturating_sub(in_queue)).min(left as usize) as u32,
                    paced: (pool.idle() as u32).min(left),
                    most: left,
                    remaining,
                    max_timeout,
                });
                let claimed = if group.is_empty() && ask.is_none() {
                    Claimed::default()
                } else {
                    self.commit(&group, held, ask)?
                };
                if may_claim {
                    let fresh = claimed.tasks.len();
                    next_slot_at = self.next_slot(&claimed.held_back);
                    idle_until = (fresh == 0).then_some(next_slot_at).flatten();
                    // A short batch does not mean nothing more is due: on PostgreSQL another
                    // tick may hold rows locked that this claim passed over. Only an empty one,
                    // with no limited endpoint waiting for a slot this tick can still use.
                    nothing_due = fresh == 0 && next_slot_at.is_none();
                    left -= fresh as u32;
                    let given_back = self.submit(pool, held, claimed)?;
                    if !given_back.is_empty() {
                        pending.extend(given_back);
                        oldest_pending.get_or_insert_with(Instant::now);
                    }
                }
                // A paced request that missed its slot was given back, due again: claim it
                // again (the last claim may have found nothing while this tick held it).
                if group.iter().any(|report| {
                    matches!(
                        report,
                        Report::NotStarted {
                            why: NotStarted::MissedSlot,
                            ..
                        }
                    )
                }) {
                    nothing_due = false;
                }
            }
            if held.is_empty() {
                if nothing_due && self.options.follow && self.may_claim_more(false, left, stop) {
                    // Nothing is due now: sleep until the next task's time, new work, a signal
                    // or the end of the runtime, then claim again.
                    self.wait_for_work(stop)?;
                    nothing_due = false;
                    continue;
                }
                if !self.may_claim_more(nothing_due, left, stop) {
                    break;
                }
                // Waiting for a limited endpoint's slot: sleep until it comes, a signal at most
                // a moment late.
                let wait = next_slot_at.map_or(GROUP_WAIT, |t| {
                    t.saturating_duration_since(Instant::now()).min(GROUP_WAIT)
                });
                std::thread::sleep(wait);
                continue;
            }
            let wait = next_slot_at.map_or(GROUP_WAIT / 2, |t| {
                t.saturating_duration_since(Instant::now())
                    .clamp(Duration::from_millis(1), GROUP_WAIT / 2)
            });
            match reports.recv_timeout(wait) {
                Ok(report) => {
                    holding.answered(report.bytes());
                    pending.push(report);
                    while let Ok(more) = reports.try_recv() {
                        holding.answered(more.bytes());
                        pending.push(more);
                    }
                    freed |= pending.iter().any(|report| {
                        held.get(&report.task_id())
                            .is_some_and(|task| self.limited.contains(&task.endpoint))
                    });
                    oldest_pending.get_or_insert_with(Instant::now);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        Ok(())
    }

    /// Hands a claim's tasks to the workers: those of a limited endpoint ahead of the queue,
    /// paced ones with the moments they must start between. An endpoint registered since the
    /// tick began is read then; what it needs that the tick lacks gives its tasks back (the
    /// returned reports).
    fn submit(
        &mut self,
        pool: &Pool,
        held: &mut HashMap<i64, Task>,
        claimed: Claimed,
    ) -> Result<Vec<Report>> {
        if claimed
            .tasks
            .iter()
            .any(|task| !self.endpoints.contains_key(&task.endpoint))
        {
            self.read_endpoints()?;
        }
        let mut given_back = Vec::new();
        for task in claimed.tasks {
            if self.missing.contains_key(&task.endpoint) {
                given_back.push(Report::NotStarted {
                    task_id: task.id,
                    why: NotStarted::MissingVariable,
                });
                held.insert(task.id, task);
                continue;
            }
            let endpoint = self.endpoints.get(&task.endpoint).cloned();
            let start = claimed
                .paced
                .iter()
                .find(|(name, _)| *name == task.endpoint)
                .map(|(_, window)| StartBetween {
                    not_before: self.instant_of(window.not_before),
                    start_by: self.instant_of(window.start_by),
                });
            let urgent = start.is_some() || self.limited.contains(&task.endpoint);
            held.insert(task.id, task.clone());
            pool.submit(Job {
                task,
                endpoint,
                urgent,
                start,
            });
        }
        Ok(given_back)
    }

    /// Reads the registry, and which endpoints need variables this tick lacks.
    fn read_endpoints(&mut self) -> Result<()> {
        self.endpoints = self
            .store
            .endpoints()?
            .into_iter()
            .map(|e| (e.name.clone(), Arc::new(e)))
            .collect();
        self.limited = self
            .endpoints
            .values()
            .filter(|e| !e.limits.is_none())
            .map(|e| e.name.clone())
            .collect();
        self.missing = missing_variables(self.endpoints.values(), |name| std::env::var(name).ok());
        Ok(())
    }

    /// When to claim again for endpoints whose due tasks wait on their limits: at the earliest
    /// rate slot (less `LEAD`: a claim counts its starts that far ahead), or after a short
    /// while for one that waits on requests in flight (another tick's, whose end this tick
    /// does not hear of). A slot too late for a request to finish within the tick's time is
    /// not waited for. None: nothing to wait for.
    fn next_slot(&self, held_back: &[HeldBack]) -> Option<Instant> {
        let deadline = self.started + self.options.max_runtime;
        held_back
            .iter()
            .filter_map(|held| match held.next_slot {
                None => Some(Instant::now() + SLOT_POLL),
                Some(slot) => {
                    let timeout = self
                        .endpoints
                        .get(&held.endpoint)
                        .map_or(DEFAULT_TIMEOUT, |e| e.timeout);
                    let starts = self.instant_of(slot);
                    let ends = if self.options.follow {
                        starts
                    } else {
                        starts + timeout
                    };
                    (ends <= deadline).then(|| starts.checked_sub(LEAD).unwrap_or(starts))
                }
            })
            .min()
    }

    /// `--follow` with nothing due: returns when a task's time has come (by the next due time
    /// the store gives, checked again after every change another connection commits and at
    /// least every `WAKE_SLICE`), a signal asked to stop, or the runtime is spent.
    fn wait_for_work(&self, stop: &AtomicBool) -> Result<()> {
        let deadline = self.started + self.options.max_runtime;
        let skip: Vec<String> = self.missing.keys().cloned().collect();
        loop {
            if stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
                return Ok(());
            }
            let until = match self.store.next_due_at(&skip)? {
                Some(at) if at <= (self.clock)() => return Ok(()),
                Some(at) => self.instant_of(at).min(deadline),
                None => deadline,
            };
            let wait = until.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return Ok(());
            }
            self.store.wait_for_change(wait.min(WAKE_SLICE))?;
        }
    }

    /// The instant of a time of this tick's clock (which is its start plus the time elapsed).
    fn instant_of(&self, at: DateTime<Utc>) -> Instant {
        let since_start = (at - self.start).to_std().unwrap_or_default();
        self.started + since_start
    }

    /// Whether claiming may go on: something may still be due, `--limit` is not reached, no
    /// signal asked to stop, and the time budget is not spent.
    fn may_claim_more(&self, nothing_due: bool, left: u32, stop: &AtomicBool) -> bool {
        !nothing_due
            && left > 0
            && !stop.load(Ordering::Relaxed)
            && self.started.elapsed() < self.options.max_runtime
    }

    /// Records a group of reports and, when asked, claims the next batch, in one transaction
    /// (one fsync for both).
    fn commit(
        &mut self,
        group: &[Report],
        held: &mut HashMap<i64, Task>,
        ask: Option<ClaimAsk>,
    ) -> Result<Claimed> {
        let now = (self.clock)();
        let mut notices = Vec::new();
        let skip: Vec<String> = self.missing.keys().cloned().collect();
        let claimed = self.store.in_transaction(|store| {
            let mut decided = Vec::new();
            let mut given_back = Vec::new();
            for report in group {
                let Some(task) = held.get(&report.task_id()) else {
                    continue;
                };
                match report {
                    Report::Attempted(result) => decided.push(self.decide(task, result, now)),
                    Report::NotStarted { why, .. } => given_back.push((task, why.detail())),
                }
            }
            notices.extend(write_group(store, &self.id, &given_back, &decided, now)?);
            let Some(ask) = ask else {
                return Ok(Claimed::default());
            };
            let lease_until = now
                + chrono::Duration::from_std(
                    self.options.max_runtime + ask.max_timeout + LEASE_MARGIN,
                )
                .unwrap_or_default();
            // Due by the tick's start ("now" is read once), started now; under --follow, due by
            // the tick's clock as it runs, and sent whatever their timeout (a request may end
            // after the runtime, by its timeout, within the lease).
            let (due_by, remaining_ms) = if self.options.follow {
                ((self.clock)(), i64::MAX)
            } else {
                (self.start, ask.remaining.as_millis() as i64)
            };
            store.claim_due(
                &Claim {
                    tick_id: &self.id,
                    now: due_by,
                    started_at: now,
                    lease_until,
                    remaining_ms,
                    limit: ask.want,
                    skip: &skip,
                    paced_limit: ask.paced,
                    most: ask.most,
                },
                self.clock.as_ref(),
            )
        })?;
        for report in group {
            held.remove(&report.task_id());
        }
        for notice in notices {
            self.tell(notice);
        }
        Ok(claimed)
    }

    /// What becomes of a task after its attempt's result, and why.
    fn decide<'a>(
        &self,
        task: &'a Task,
        result: &'a AttemptResult,
        now: DateTime<Utc>,
    ) -> Decision<'a> {
        let retry_after = result
            .retry_after
            .as_deref()
            .and_then(|v| executor::parse_retry_after(v, now));
        let max_attempts = self.max_attempts(task);
        let used = task.attempts_used();
        let decision = task::decide(
            result.verdict,
            used,
            max_attempts,
            now,
            retry_after,
            rand::random::<f64>(),
        );
        let summary = result.summary();
        let reason = match decision.state {
            State::Failed if result.verdict == Verdict::Retryable => Some(format!(
                "attempts used up ({used} of {max_attempts}): {summary}"
            )),
            State::Failed => Some(format!("permanent failure: {summary}")),
            State::Cancelled => Some(format!("executor error: {summary}")),
            _ => None,
        };
        Decision {
            task: Cow::Borrowed(task),
            result: Cow::Borrowed(result),
            notify: self.notify_of(&task.endpoint),
            decision,
            reason,
        }
    }

    /// Counts a recorded result and says what cron's mail must carry.
    fn tell(&mut self, notice: Notice) {
        let Notice {
            task_id,
            endpoint,
            state,
            sent,
            reason,
            recorded,
        } = notice;
        if !recorded {
            let message = format!(
                "task {task_id}: this tick lost its lease before recording the result; the \
                 task was recovered by another tick and the result is dropped"
            );
            log::warn!("{message}");
            self.log(&message);
            return;
        }
        self.counts.sent += u32::from(sent);
        let reason = reason.unwrap_or_default();
        match state {
            State::Succeeded => self.counts.succeeded += 1,
            State::Retrying => self.counts.retrying += 1,
            State::Failed => {
                self.counts.failed += 1;
                crate::errln!("httpat: task {task_id} ({endpoint}) failed: {reason}");
            }
            State::Cancelled => {
                self.counts.cancelled += 1;
                crate::errln!("httpat: task {task_id} ({endpoint}) cancelled: {reason}");
                self.log(&format!("task {task_id} ({endpoint}) cancelled: {reason}"));
            }
            State::Scheduled | State::Due | State::Running => return,
        }
        if matches!(state, State::Failed | State::Cancelled) {
            self.ended.push(Ended {
                id: task_id,
                endpoint,
                state,
                reason,
            });
        }
    }

    fn log(&self, message: &str) {
        if let Some(path) = &self.log_path {
            logfile::append_message(path, Some(&format!("tick {}", self.id)), message);
        }
    }
}

/// Writes a group for tick `tick_id`: gives back the claimed tasks whose requests never started
/// (with why), records the results, and says what cron's mail must say of each result.
fn write_group(
    store: &Tx,
    tick_id: &str,
    given_back: &[(&Task, &str)],
    decided: &[Decision],
    now: DateTime<Utc>,
) -> Result<Vec<Notice>> {
    for (task, why) in given_back {
        store.release(task, tick_id, now, why)?;
    }
    record(store, tick_id, decided, now)
}

/// Records a group's results for tick `tick_id`, and what cron's mail must say of each.
fn record(
    store: &Tx,
    tick_id: &str,
    decided: &[Decision],
    now: DateTime<Utc>,
) -> Result<Vec<Notice>> {
    let outcomes: Vec<Decided> = decided
        .iter()
        .map(|d| Decided {
            held: Held {
                task: &d.task,
                notify: &d.notify,
            },
            result: &d.result,
            decision: &d.decision,
            reason: d.reason.as_deref(),
        })
        .collect();
    let recorded = store.record_results(tick_id, &outcomes, now)?;
    Ok(decided
        .iter()
        .zip(recorded)
        .map(|(d, recorded)| Notice {
            task_id: d.task.id,
            endpoint: d.task.endpoint.clone(),
            state: d.decision.state,
            sent: d.result.verdict != Verdict::ExecutorError,
            reason: d.reason.clone(),
            recorded,
        })
        .collect())
}

/// A group of results for the recorder: owned, to cross to its thread.
struct Recording {
    decided: Vec<Decision<'static>>,
    /// Claimed tasks whose requests never started, and why.
    given_back: Vec<(Task, &'static str)>,
    /// Every task of the group.
    ids: Vec<i64>,
    now: DateTime<Utc>,
}

/// What the recorder wrote of a group: its tasks, and the notices of its results (or why the
/// transaction failed).
struct Written {
    ids: Vec<i64>,
    notices: Result<Vec<Notice>>,
}

/// A thread with a connection of its own that records groups of results, each in a
/// transaction, in the order given, while the tick claims on its own connection.
struct Recorder {
    groups: Option<Sender<Recording>>,
    written: Receiver<Written>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Tasks in groups handed over and not yet written back.
    tasks: std::cell::Cell<usize>,
}

impl Recorder {
    fn start(store: Store, tick_id: String) -> Recorder {
        let (groups, recordings) = std::sync::mpsc::channel::<Recording>();
        let (done, written) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            for recording in recordings {
                let Recording {
                    decided,
                    given_back,
                    ids,
                    now,
                } = recording;
                let given_back: Vec<(&Task, &str)> =
                    given_back.iter().map(|(task, why)| (task, *why)).collect();
                let notices = store
                    .in_transaction(|tx| write_group(tx, &tick_id, &given_back, &decided, now));
                if done.send(Written { ids, notices }).is_err() {
                    break;
                }
            }
        });
        Recorder {
            groups: Some(groups),
            written,
            thread: Some(thread),
            tasks: std::cell::Cell::new(0),
        }
    }

    fn send(&self, recording: Recording) -> Result<()> {
        let tasks = recording.ids.len();
        let sent = self.groups.as_ref().map(|groups| groups.send(recording));
        if !matches!(sent, Some(Ok(()))) {
            return Err(Recorder::stopped());
        }
        self.tasks.set(self.tasks.get() + tasks);
        Ok(())
    }

    fn stopped() -> anyhow::Error {
        anyhow::anyhow!(
            "the thread that records results stopped: the tick stops, and the tasks it held are \
             recovered by the next tick"
        )
    }

    /// Tasks handed over and not yet written back.
    fn tasks(&self) -> usize {
        self.tasks.get()
    }

    /// What was written since last asked.
    fn written(&self) -> Result<Vec<Written>> {
        self.written_after(None)
    }

    /// What was written since last asked, waiting up to `patience` for a first group.
    fn wait_written(&self, patience: Duration) -> Result<Vec<Written>> {
        let first = self.written.recv_timeout(patience).ok();
        self.written_after(first)
    }

    fn written_after(&self, first: Option<Written>) -> Result<Vec<Written>> {
        let gone = self.thread.as_ref().is_none_or(|t| t.is_finished());
        let written: Vec<Written> = first.into_iter().chain(self.written.try_iter()).collect();
        let tasks: usize = written.iter().map(|w| w.ids.len()).sum();
        self.tasks.set(self.tasks.get().saturating_sub(tasks));
        // Read before the results: a thread that ended with groups unwritten panicked.
        if gone && self.tasks.get() > 0 {
            return Err(Recorder::stopped());
        }
        Ok(written)
    }

    /// Waits for every group handed over to be written, and ends the thread.
    fn finish(mut self) -> Vec<Written> {
        self.groups = None;
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                log::warn!("the thread that records results panicked");
            }
        }
        self.written.try_iter().collect()
    }
}

/// One attempt's result and what the tick decided of it, before it is recorded (borrowed from
/// the tick, or owned on the way to the recorder).
struct Decision<'a> {
    task: Cow<'a, Task>,
    result: Cow<'a, AttemptResult>,
    /// Where the task's endpoint reports outcomes, as this tick read it.
    notify: Notify,
    decision: task::Decision,
    reason: Option<String>,
}

/// What one recorded result means for the operator.
struct Notice {
    task_id: i64,
    endpoint: String,
    state: State,
    sent: bool,
    reason: Option<String>,
    recorded: bool,
}

#[cfg(test)]
mod tests {
    use super::Holding;

    #[test]
    fn a_tick_holds_fewer_tasks_as_its_answers_grow() {
        let mut holding = Holding::new(16);
        assert_eq!(holding.target(), 32, "before any answer: two per worker");
        holding.answered(300);
        assert_eq!(
            holding.target(),
            128,
            "small answers: a whole claim's worth"
        );
        for _ in 0..64 {
            holding.answered(64 * 1024);
        }
        assert_eq!(holding.target(), 32, "answers of 64 KiB: two per worker");
        for _ in 0..128 {
            holding.answered(32 * 1024);
        }
        assert_eq!(holding.target(), 64, "2 MiB of answers of 32 KiB");
        let mut one = Holding::new(1);
        one.answered(0);
        assert_eq!(
            one.target(),
            128,
            "an empty answer is no reason to hold fewer"
        );
    }
}
