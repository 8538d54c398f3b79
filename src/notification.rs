//! Notifications: the one task an endpoint's `--on-failure` or `--on-success` endpoint is sent
//! when a task ends, made in the transaction that records the outcome. Its key
//! (`on-failure:ID`, `on-success:ID`) makes a repeat impossible, and a notification never
//! notifies.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::endpoint::Notify;
use crate::store::NewTask;
use crate::task::{State, Task};

/// How a task ended, as its notification reports it.
pub struct Ending<'a> {
    pub state: State,
    pub reason: Option<&'a str>,
    /// The HTTP status of the attempt that ended it, if it got one.
    pub status: Option<u16>,
    /// Attempts used since the budget was last refilled, the last one included.
    pub attempts: u32,
}

/// The notification of `task`'s ending to the endpoint its endpoint's `notify` names for it,
/// due at `now`; None when there is none to make (no endpoint named, a state that reports
/// nothing, or a task that is itself a notification).
pub fn for_ending(
    task: &Task,
    notify: &Notify,
    ending: &Ending,
    now: DateTime<Utc>,
    actor: &str,
) -> Option<NewTask> {
    if task.notifies.is_some() {
        return None;
    }
    let (kind, target) = match ending.state {
        State::Succeeded => ("on-success", notify.on_success.as_ref()?),
        State::Failed | State::Cancelled => ("on-failure", notify.on_failure.as_ref()?),
        State::Scheduled | State::Due | State::Running | State::Retrying => return None,
    };
    Some(NewTask {
        endpoint: target.clone(),
        args: arguments(task, ending),
        key: Some(format!("{kind}:{}", task.id)),
        priority: 0,
        max_attempts: None,
        agent: Some(actor.to_string()),
        due_at: now,
        schedule: None,
        notifies: Some(task.id),
        creation: Some(format!("created: {kind} of task {}", task.id)),
    })
}

/// `{"task", "endpoint", "state", "reason", "attempts", "status", "key", "args"}`.
fn arguments(task: &Task, ending: &Ending) -> Map<String, Value> {
    let value = json!({
        "task": task.id,
        "endpoint": task.endpoint,
        "state": ending.state.as_str(),
        "reason": ending.reason.unwrap_or_default(),
        "attempts": ending.attempts,
        "status": ending.status,
        "key": task.key,
        "args": task.args,
    });
    match value {
        Value::Object(map) => map,
        _ => unreachable!("json! of an object literal is an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(notifies: Option<i64>) -> Task {
        let at = DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .unwrap()
            .to_utc();
        Task {
            id: 42,
            endpoint: "release-roll".into(),
            args: json!({"roll": "CCT-0042"}).as_object().unwrap().clone(),
            damage: None,
            key: Some("roll-CCT-0042".into()),
            priority: 3,
            max_attempts: None,
            agent: None,
            created_at: at,
            due_at: at,
            next_attempt_at: at,
            attempts: 5,
            attempts_base: 0,
            tick_id: Some("host:1:t".into()),
            lease_until: None,
            outcome: None,
            finished_at: None,
            reason: None,
            last_result: None,
            schedule: None,
            notifies,
        }
    }

    fn endpoint() -> Notify {
        Notify {
            on_failure: Some("chat".into()),
            on_success: None,
        }
    }

    fn failed() -> Ending<'static> {
        Ending {
            state: State::Failed,
            reason: Some("attempts used up (5 of 5): 503 Service Unavailable 12ms"),
            status: Some(503),
            attempts: 5,
        }
    }

    #[test]
    fn a_failure_makes_one_task_to_the_named_endpoint_with_the_documented_arguments() {
        let now = Utc::now();
        let made = for_ending(&task(None), &endpoint(), &failed(), now, "host:1:t").unwrap();
        assert_eq!(made.endpoint, "chat");
        assert_eq!(made.key.as_deref(), Some("on-failure:42"));
        assert_eq!(made.notifies, Some(42));
        assert_eq!(made.due_at, now);
        assert_eq!(
            Value::Object(made.args),
            json!({
                "task": 42, "endpoint": "release-roll", "state": "failed",
                "reason": "attempts used up (5 of 5): 503 Service Unavailable 12ms",
                "attempts": 5, "status": 503, "key": "roll-CCT-0042",
                "args": {"roll": "CCT-0042"},
            })
        );
    }

    #[test]
    fn a_notification_never_notifies_and_an_unnamed_outcome_makes_none() {
        let now = Utc::now();
        assert!(for_ending(&task(Some(7)), &endpoint(), &failed(), now, "t").is_none());
        let succeeded = Ending {
            state: State::Succeeded,
            ..failed()
        };
        assert!(for_ending(&task(None), &endpoint(), &succeeded, now, "t").is_none());
        let retrying = Ending {
            state: State::Retrying,
            ..failed()
        };
        assert!(for_ending(&task(None), &endpoint(), &retrying, now, "t").is_none());
    }
}
