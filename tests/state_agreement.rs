//! The SQL filters behind `list --state` and every count agree with `task::state_of`: tasks are
//! built in every state, at the edges too, and both are asked, on the run's backend.

mod common;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use httpat::attempt::AttemptResult;
use httpat::endpoint::{Endpoint, SuccessStatuses};
use httpat::store::{Claim, Held, Location, NewTask, Store};
use httpat::task::{decide, State, Verdict};

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
}

fn result(task_id: i64, number: u32, verdict: Verdict, status: u16) -> AttemptResult {
    AttemptResult {
        task_id,
        number,
        started_at: at(0),
        duration_ms: 5,
        verdict,
        status: Some(status),
        error: None,
        request: None,
        content_type: None,
        retry_after: None,
        location: None,
        body: None,
        body_truncated: false,
    }
}

struct Fixture {
    store: Store,
    _env: common::Env,
}

impl Fixture {
    fn new() -> Fixture {
        let env = common::Env::new();
        let location = Location::parse(Path::new(&env.db_arg())).unwrap();
        let store = Store::open(&location).unwrap();
        store
            .in_transaction(|tx| {
                tx.save_endpoint(
                    &Endpoint {
                        name: "release-roll".into(),
                        method: "POST".into(),
                        url: "http://127.0.0.1:9/x".into(),
                        headers: vec![],
                        timeout: Duration::from_secs(30),
                        max_attempts: 5,
                        success: SuccessStatuses::parse("2xx").unwrap(),
                        tls: Default::default(),
                        signing_secrets: vec![],
                        limits: Default::default(),
                        notify: Default::default(),
                        description: None,
                        deprecated_at: None,
                        deprecated_reason: None,
                        damage: None,
                    },
                    at(-100),
                )
            })
            .unwrap();
        Fixture { store, _env: env }
    }

    fn task(&self, due_in: i64) -> i64 {
        let task = NewTask {
            endpoint: "release-roll".into(),
            args: Default::default(),
            key: None,
            priority: 0,
            max_attempts: None,
            agent: None,
            due_at: at(due_in),
            schedule: None,
            notifies: None,
            creation: None,
        };
        self.insert(&task)
    }

    fn insert(&self, task: &NewTask) -> i64 {
        self.store
            .in_transaction(|tx| tx.insert_task(task, "user:test", at(-100)))
            .unwrap()
            .expect("a task without a key is always stored")
    }

    fn cancel(&self, id: i64, reason: Option<&str>, now: DateTime<Utc>) -> bool {
        let task = self.store.task(id).unwrap().unwrap();
        self.store
            .in_transaction(|tx| tx.cancel(&task, task.state(now), reason, "user:test", now))
            .unwrap()
    }

    /// Claims exactly the due tasks at `now` (all of them).
    fn claim(&self, now: DateTime<Utc>) -> Vec<httpat::task::Task> {
        self.store
            .in_transaction(|tx| {
                let claim = Claim {
                    tick_id: "host:1:t",
                    now,
                    started_at: now,
                    lease_until: at(3600),
                    remaining_ms: 60_000,
                    limit: 100,
                    skip: &[],
                    paced_limit: 100,
                    most: 100,
                };
                tx.claim_due(&claim, &|| now)
            })
            .unwrap()
            .tasks
    }

    fn finish(&self, id: i64, verdict: Verdict, status: u16) {
        let task = self.store.task(id).unwrap().unwrap();
        let decision = decide(verdict, task.attempts_used(), 5, at(1), None, 0.0);
        let recorded = self
            .store
            .in_transaction(|tx| {
                tx.record_result(
                    Held {
                        task: &task,
                        notify: &Default::default(),
                    },
                    "host:1:t",
                    &result(id, task.attempts, verdict, status),
                    &decision,
                    at(1),
                    None,
                )
            })
            .unwrap();
        assert!(recorded);
    }
}

#[test]
fn sql_filters_agree_with_state_of_for_every_state() {
    let f = Fixture::new();
    let succeeded = f.task(-50);
    let failed = f.task(-40);
    let retrying = f.task(-30);
    let cancelled_after_retry = f.task(-20);
    let running = f.task(-10);
    f.claim(at(-10));
    f.finish(succeeded, Verdict::Success, 200);
    f.finish(failed, Verdict::Permanent, 404);
    f.finish(retrying, Verdict::Retryable, 503);
    f.finish(cancelled_after_retry, Verdict::Retryable, 503);
    assert!(f.cancel(cancelled_after_retry, Some("moved"), at(2)));
    let due_exactly_now = f.task(0);
    let due = f.task(-1);
    let scheduled = f.task(1);
    // One millisecond after "now" is not due yet.
    let scheduled_by_a_millisecond = {
        let task = NewTask {
            endpoint: "release-roll".into(),
            args: Default::default(),
            key: Some("edge".into()),
            priority: 0,
            max_attempts: None,
            agent: None,
            due_at: at(0) + chrono::Duration::milliseconds(1),
            schedule: None,
            notifies: None,
            creation: None,
        };
        f.insert(&task)
    };
    let cancelled = f.task(100);
    assert!(f.cancel(cancelled, None, at(0)));

    let now = at(0);
    let expected = [
        (succeeded, State::Succeeded),
        (failed, State::Failed),
        (retrying, State::Retrying),
        (cancelled_after_retry, State::Cancelled),
        (running, State::Running),
        (due_exactly_now, State::Due),
        (due, State::Due),
        (scheduled, State::Scheduled),
        (scheduled_by_a_millisecond, State::Scheduled),
        (cancelled, State::Cancelled),
    ];
    for (id, state) in expected {
        let task = f.store.task(id).unwrap().unwrap();
        assert_eq!(task.state(now), state, "state_of for task {id}");
        assert_eq!(
            f.store.states_by_sql(id, now).unwrap(),
            vec![state],
            "SQL filters for task {id}"
        );
    }
    // The counts the schema keeps as tasks change agree with a count over every task, at the
    // edge of "due" included; and once the clock has moved on.
    for when in [now, at(-1), at(1), at(3 * 3600)] {
        assert_eq!(
            f.store.state_counts(when).unwrap(),
            f.store.state_counts_by_scan(when).unwrap(),
            "kept counts against a scan at {when}"
        );
    }
    // A retry and a prune move the counts too.
    let failed_task = f.store.task(failed).unwrap().unwrap();
    f.store
        .in_transaction(|tx| tx.retry(&failed_task, State::Failed, at(5), "user:tester", at(5)))
        .unwrap();
    f.store
        .in_transaction(|tx| tx.prune(at(3 * 3600), false))
        .unwrap();
    assert_eq!(
        f.store.state_counts(at(10)).unwrap(),
        f.store.state_counts_by_scan(at(10)).unwrap(),
        "kept counts against a scan after a retry and a prune"
    );
    // A retrying task whose next attempt time has passed is still `retrying`, for both.
    let later = at(3 * 3600);
    let task = f.store.task(retrying).unwrap().unwrap();
    assert_eq!(task.state(later), State::Retrying);
    assert_eq!(
        f.store.states_by_sql(retrying, later).unwrap(),
        vec![State::Retrying]
    );
}
