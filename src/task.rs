//! A scheduled request and its state. The one `state_of` function lives here; every filter,
//! table and count in the store agrees with it (a test holds them to it).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;

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
