//! A scheduled request and its state. The one `state_of` function lives here; every filter,
//! table and count in the store agrees with it (a test holds them to it).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;

use std::time::Duration;

use crate::endpoint::SuccessStatuses;
use crate::error::usage;

/// Where a task is in its life (SPEC.md, "Task states").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Scheduled,
    Due,
    Running,
    Retrying,
    Succeeded,
    Failed,
    Cancelled,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Scheduled,
        State::Due,
        State::Running,
        State::Retrying,
        State::Succeeded,
        State::Failed,
        State::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Scheduled => "scheduled",
            State::Due => "due",
            State::Running => "running",
            State::Retrying => "retrying",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, State::Succeeded | State::Failed | State::Cancelled)
    }

    /// Parses `due,retrying` into states; an unknown name is a usage error naming it.
    pub fn parse_list(text: &str) -> anyhow::Result<Vec<State>> {
        text.split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(State::from_str)
            .collect()
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = anyhow::Error;

    fn from_str(name: &str) -> anyhow::Result<State> {
        State::ALL
            .into_iter()
            .find(|state| state.as_str() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
                usage(format!(
                    "unknown state \"{name}\": use one or more of {}",
                    names.join(", ")
                ))
            })
    }
}

/// How a finished task ended, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    Cancelled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Outcome> {
        match text {
            "succeeded" => Some(Outcome::Succeeded),
            "failed" => Some(Outcome::Failed),
            "cancelled" => Some(Outcome::Cancelled),
            _ => None,
        }
    }
}

/// A task as stored.
#[derive(Debug, Clone)]
pub struct Task {
    pub id: i64,
    pub endpoint: String,
    pub args: serde_json::Map<String, serde_json::Value>,
    /// Why the stored row cannot be used as it is (a column that does not parse), if it cannot.
    pub damage: Option<String>,
    pub key: Option<String>,
    pub priority: i64,
    pub max_attempts: Option<u32>,
    pub agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub attempts: u32,
    pub attempts_base: u32,
    pub tick_id: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub outcome: Option<Outcome>,
    pub finished_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub last_result: Option<String>,
    /// The recurring schedule that made it, if any.
    pub schedule: Option<String>,
    /// The task whose outcome it reports, when it is a notification (which never notifies).
    pub notifies: Option<i64>,
}

impl Task {
    pub fn state(&self, now: DateTime<Utc>) -> State {
        state_of(
            self.outcome,
            self.tick_id.is_some(),
            self.attempts - self.attempts_base,
            self.next_attempt_at,
            now,
        )
    }

    /// For a task a tick holds: the state it was claimed from, and goes back to if the claim is
    /// undone (`due` for its first attempt of the budget, else `retrying`).
    pub fn state_before_claim(&self) -> State {
        if self.attempts_used() > 1 {
            State::Retrying
        } else {
            State::Due
        }
    }

    /// Attempts used from the current budget (a `retry` refills it).
    pub fn attempts_used(&self) -> u32 {
        self.attempts - self.attempts_base
    }

    /// The value sent as `Idempotency-Key`: the task's key, else one stable per task.
    pub fn idempotency_key(&self) -> String {
        match &self.key {
            Some(key) => key.clone(),
            None => format!("httpat-task-{}", self.id),
        }
    }
}

/// The one definition of a task's state. The store's SQL filters mirror it
/// (`store::state_condition`).
pub fn state_of(
    outcome: Option<Outcome>,
    claimed: bool,
    attempts_used: u32,
    next_attempt_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> State {
    match outcome {
        Some(Outcome::Succeeded) => State::Succeeded,
        Some(Outcome::Failed) => State::Failed,
        Some(Outcome::Cancelled) => State::Cancelled,
        None if claimed => State::Running,
        None if attempts_used > 0 => State::Retrying,
        None if next_attempt_at > now => State::Scheduled,
        None => State::Due,
    }
}

/// What one attempt's result means for the task (SPEC.md, tick step 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A success status.
    Success,
    /// Worth another attempt: connection errors, timeouts, 408, 429, 5xx.
    Retryable,
    /// Any other status: no attempt will do better.
    Permanent,
    /// httpat itself could not make the request (a URL that no longer renders, an endpoint
    /// removed, a file it cannot read): the task is cancelled with the error as its reason.
    ExecutorError,
}

/// Classifies a response status against the endpoint's success list.
pub fn classify_status(status: u16, success: &SuccessStatuses) -> Verdict {
    if success.contains(status) {
        Verdict::Success
    } else if status == 408 || status == 429 || (500..600).contains(&status) {
        Verdict::Retryable
    } else {
        Verdict::Permanent
    }
}

/// The first retry waits this long; each next one twice as long, up to `BACKOFF_CAP`.
pub const BACKOFF_BASE: Duration = Duration::from_secs(60);
pub const BACKOFF_CAP: Duration = Duration::from_secs(3600);

/// How long to wait after the `attempt`-th failed attempt (1-based): 1 min, 2 min, 4 min ...
/// capped at 1 h, plus up to 10 % jitter (`jitter` in 0..1) so that a burst of failures does
/// not come back as a burst; never less than the server's `Retry-After`.
pub fn backoff(attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    let base = BACKOFF_BASE.saturating_mul(1 << doublings).min(BACKOFF_CAP);
    let jittered = base.mul_f64(1.0 + 0.1 * jitter.clamp(0.0, 1.0));
    jittered.max(retry_after.unwrap_or_default())
}

/// Where a task goes after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub state: State,
    /// When the next attempt may start (for `retrying`).
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Decides a task's next state from an attempt's verdict; `attempts_used` counts this attempt.
pub fn decide(
    verdict: Verdict,
    attempts_used: u32,
    max_attempts: u32,
    finished_at: DateTime<Utc>,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Decision {
    let state = match verdict {
        Verdict::Success => State::Succeeded,
        Verdict::Permanent => State::Failed,
        Verdict::ExecutorError => State::Cancelled,
        Verdict::Retryable if attempts_used >= max_attempts => State::Failed,
        Verdict::Retryable => State::Retrying,
    };
    let next_attempt_at = (state == State::Retrying).then(|| {
        let wait = backoff(attempts_used, retry_after, jitter);
        finished_at + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1))
    });
    Decision {
        state,
        next_attempt_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn state_follows_the_stored_fields() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let later = now + chrono::Duration::milliseconds(1);
        let cases = [
            (None, false, 0, later, State::Scheduled),
            (None, false, 0, now, State::Due),
            (None, true, 0, now, State::Running),
            (None, false, 1, later, State::Retrying),
            (None, false, 1, now, State::Retrying),
            (Some(Outcome::Succeeded), false, 1, now, State::Succeeded),
            (Some(Outcome::Failed), false, 5, now, State::Failed),
            (Some(Outcome::Cancelled), false, 0, later, State::Cancelled),
        ];
        for (outcome, claimed, used, next, expected) in cases {
            assert_eq!(state_of(outcome, claimed, used, next, now), expected);
        }
    }

    #[test]
    fn statuses_are_classified() {
        let success = SuccessStatuses::parse("2xx,409").unwrap();
        let cases = [
            (200, Verdict::Success),
            (204, Verdict::Success),
            (409, Verdict::Success),
            (301, Verdict::Permanent),
            (400, Verdict::Permanent),
            (404, Verdict::Permanent),
            (408, Verdict::Retryable),
            (429, Verdict::Retryable),
            (500, Verdict::Retryable),
            (503, Verdict::Retryable),
        ];
        for (status, verdict) in cases {
            assert_eq!(classify_status(status, &success), verdict, "{status}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_an_hour_and_honours_retry_after() {
        let minutes = |attempt| backoff(attempt, None, 0.0).as_secs() / 60;
        assert_eq!(
            [1, 2, 3, 4, 7, 8, 30].map(minutes),
            [1, 2, 4, 8, 60, 60, 60]
        );
        assert_eq!(backoff(1, None, 1.0), Duration::from_secs(66));
        assert_eq!(
            backoff(1, Some(Duration::from_secs(600)), 0.5),
            Duration::from_secs(600)
        );
    }

    #[test]
    fn decisions_follow_the_budget() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let retry = decide(Verdict::Retryable, 1, 5, now, None, 0.0);
        assert_eq!(retry.state, State::Retrying);
        assert_eq!(
            retry.next_attempt_at,
            Some(now + chrono::Duration::minutes(1))
        );
        assert_eq!(
            decide(Verdict::Retryable, 5, 5, now, None, 0.0).state,
            State::Failed
        );
        assert_eq!(
            decide(Verdict::Permanent, 1, 5, now, None, 0.0).state,
            State::Failed
        );
        assert_eq!(
            decide(Verdict::Success, 1, 5, now, None, 0.0).state,
            State::Succeeded
        );
        assert_eq!(
            decide(Verdict::ExecutorError, 1, 5, now, None, 0.0).state,
            State::Cancelled
        );
    }

    #[test]
    fn state_names_round_trip() {
        for state in State::ALL {
            assert_eq!(state.as_str().parse::<State>().unwrap(), state);
        }
        assert!("bogus".parse::<State>().is_err());
        assert_eq!(
            State::parse_list("due, retrying").unwrap(),
            vec![State::Due, State::Retrying]
        );
    }
}
