//! SQL that both backends speak word for word, written once so that what it means cannot drift
//! between them.

use crate::task::State;

/// The SQL condition that selects tasks in `state` at the time bound to `now` (the dialect's
/// placeholder: `:now`, `$1`): the mirror of `task::state_of`, which a test holds it to.
pub fn state_condition(state: State, now: &str) -> String {
    match state {
        State::Succeeded => "outcome = 'succeeded'".to_string(),
        State::Failed => "outcome = 'failed'".to_string(),
        State::Cancelled => "outcome = 'cancelled'".to_string(),
        State::Running => "(outcome IS NULL AND tick_id IS NOT NULL)".to_string(),
        State::Retrying => {
            "(outcome IS NULL AND tick_id IS NULL AND attempts > attempts_base)".to_string()
        }
        State::Scheduled => format!(
            "(outcome IS NULL AND tick_id IS NULL AND attempts = attempts_base \
             AND next_attempt_at > {now})"
        ),
        State::Due => format!(
            "(outcome IS NULL AND tick_id IS NULL AND attempts = attempts_base \
             AND next_attempt_at <= {now})"
        ),
    }
}
