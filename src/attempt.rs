//! The result of one attempt to send a task's request, as the executor reports it and the store
//! records it.

use chrono::{DateTime, Utc};

use crate::task::Verdict;

/// How an attempt ended, as stored: the verdict on its result, or `interrupted` when its tick
/// died before recording one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Success,
    Retryable,
    Permanent,
    ExecutorError,
    Interrupted,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Success => "success",
            AttemptOutcome::Retryable => "retryable",
            AttemptOutcome::Permanent => "permanent",
            AttemptOutcome::ExecutorError => "executor_error",
            AttemptOutcome::Interrupted => "interrupted",
        }
    }

    pub fn parse(text: &str) -> Option<AttemptOutcome> {
        [
            AttemptOutcome::Success,
            AttemptOutcome::Retryable,
            AttemptOutcome::Permanent,
            AttemptOutcome::ExecutorError,
            AttemptOutcome::Interrupted,
        ]
        .into_iter()
        .find(|outcome| outcome.as_str() == text)
    }
}

impl From<Verdict> for AttemptOutcome {
    fn from(verdict: Verdict) -> AttemptOutcome {
        match verdict {
            Verdict::Success => AttemptOutcome::Success,
            Verdict::Retryable => AttemptOutcome::Retryable,
            Verdict::Permanent => AttemptOutcome::Permanent,
            Verdict::ExecutorError => AttemptOutcome::ExecutorError,
        }
    }
}

/// One attempt's result. Secrets are already masked in every field.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub task_id: i64,
    /// The attempt number the tick claimed; a result is recorded only under this number.
    pub number: u32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub verdict: Verdict,
    pub status: Option<u16>,
    /// A typed error: "timeout after 30s", "connection refused", or the executor's own error.
    pub error: Option<String>,
    /// The request as sent, JSON, with `${VAR}` in place of secrets.
    pub request: Option<String>,
    pub content_type: Option<String>,
    pub retry_after: Option<String>,
    pub location: Option<String>,
    pub body: Option<Vec<u8>>,
    pub body_truncated: bool,
}

impl AttemptResult {
    /// One line for tables: "200 OK 84ms", "timeout after 30s", "301 Moved Permanently → /x".
    pub fn summary(&self) -> String {
        let mut line = match (self.status, &self.error) {
            (Some(status), _) => {
                let reason = http_reason(status);
                format!("{status} {reason} {}ms", self.duration_ms).replace("  ", " ")
            }
            (None, Some(error)) => error.clone(),
            (None, None) => "no response".to_string(),
        };
        if let (Some(location), Some(300..=399)) = (&self.location, self.status) {
            line.push_str(&format!(" -> {location}"));
        }
        line
    }
}

/// The standard reason phrase of a status, or "" for an unknown one.
pub fn http_reason(status: u16) -> &'static str {
    ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
        .unwrap_or("")
}
