//! Recurring schedules (`recur`, `recurring`, tick step 3): created / updated / unchanged, bad
//! input refused with nothing stored, firings across DST changes in Europe/Riga, one task for
//! the latest firing after downtime, one task per firing under overlapping ticks, pause and
//! resume without a burst, and the tasks a schedule makes being ordinary tasks.

mod common;
#[path = "support/recurring.rs"]
mod recurring_support;

use std::sync::Barrier;

use common::{instant, refused_unchanged, Env, Server};
use recurring_support::{
    all_task_ids, json_at, key, keys_of, next_fire, ok_at, recur_at, run_at, schedule, schedules,
    standalone_numbers, tasks_of, tick_at,
};
use serde_json::{json, Value};

const RIGA: &str = "Europe/Riga";

/// An environment with a local server and an endpoint `export` that POSTs to its `/export`.
fn with_export_endpoint() -> (Env, Server) {
    with_export_endpoint_at("/export")
}

/// The same with the endpoint's URL at `path` on the server (which may hold placeholders).
fn with_export_endpoint_at(path: &str) -> (Env, Server) {
    let env = Env::new();
    let server = Server::start();
    env.ok(&["register", "export", "--url", &server.url(path)]);
    (env, server)
}

/// Follows a schedule: reads its next firing from `recurring --json`, runs a tick at that very
/// instant, `firings` times; returns the instants it fired at.
fn follow(env: &Env, name: &str, from: &str, firings: usize) -> Vec<String> {
    let mut now = from.to_string();
    let mut fired = Vec::new();
    for _ in 0..firings {
        let next = next_fire(env, &now, name)
            .unwrap_or_else(|| panic!("schedule {name} shows no next firing at {now}"));
        now = next.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        tick_at(env, &now);
        fired.push(now.clone());
    }
    fired
}

/// The detail of a task's first transition (its creation), from `show ID --json`.
fn creation_detail(env: &Env, now: &str, id: i64) -> String {
    let shown = json_at(env, now, &["show", &id.to_string()]);
    shown["transitions"][0]["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("task {id} has no creation detail: {shown:#}"))
        .to_string()
}

fn id_of(task: &Value) -> i64 {
    task["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("task without id: {task:#}"))
}

// ---------------------------------------------------------------------------------------------
// created / updated / unchanged
// ---------------------------------------------------------------------------------------------

#[test]
fn recur_says_created_unchanged_or_which_fields_were_updated() {
    let (env, _server) = with_export_endpoint();
    let now = "2026-11-25T12:00:00Z";
    let define = |cron: &str, zone: &str| {
        recur_at(
            &env,
            now,
            &["daily-export", "export", "--cron", cron, "--tz", zone],
        )
    };
    assert_eq!(define("0 6 * * *", RIGA), "created");
    assert_eq!(define("0 6 * * *", RIGA), "unchanged");
    let unchanged_dump = env.dump();
    assert_eq!(define("0 6 * * *", RIGA), "unchanged");
    assert_eq!(
        env.dump(),
        unchanged_dump,
        "`unchanged` changed the database"
    );

    assert_eq!(define("0 7 * * *", RIGA), "updated: cron");
    let view = schedule(&env, now, "daily-export");
    assert_eq!(view["cron"], "0 7 * * *");
    // 07:00 in Riga (EET, UTC+2) on the next day.
    assert_eq!(
        next_fire(&env, now, "daily-export"),
        Some(instant("2026-11-26T05:00:00Z"))
    );

    assert_eq!(define("0 8 * * *", "Europe/Berlin"), "updated: cron, tz");
    let view = schedule(&env, now, "daily-export");
    assert_eq!(view["cron"], "0 8 * * *");
    assert_eq!(view["zone"], "Europe/Berlin");
    // 08:00 in Berlin (CET, UTC+1).
    assert_eq!(
        next_fire(&env, now, "daily-export"),
        Some(instant("2026-11-26T07:00:00Z"))
    );
    assert_eq!(
        schedules(&env, now).len(),
        1,
        "one schedule, updated in place"
    );

    // A zone is stored as the database spells it: another spelling of it changes nothing.
    assert_eq!(define("0 8 * * *", "europe/berlin"), "unchanged");
    assert_eq!(schedule(&env, now, "daily-export")["zone"], "Europe/Berlin");
}

// ---------------------------------------------------------------------------------------------
// bad input: nothing stored
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_cron_expressions_and_unknown_zones_exit_2_with_the_reason_and_store_nothing() {
    let (env, _server) = with_export_endpoint();
    recur_at(
        &env,
        common::DEFAULT_NOW,
        &["existing", "export", "--cron", "0 6 * * *", "--tz", RIGA],
    );
    // (expression, fragments of which the reason must hold one)
    let cases: [(&str, &[&str]); 8] = [
        ("61 * * * *", &["minute 61: minutes are 0-59"]),
        ("0 25 * * *", &["hour 25: hours are 0-23"]),
        (
            "0 6 32 * *",
            &["day of month 32: days of the month are 1-31"],
        ),
        ("0 6 * 13 *", &["month 13: months are 1-12"]),
        ("0 6 * * 8", &["day of week 8: days of the week are 0-7"]),
        ("0 6-30 * * *", &["hour 30: hours are 0-23"]),
        ("* * * *", &["5 fields", "five fields"]),
        (
            "@sometimes",
            &["5 fields", "nickname", "unknown", "@hourly"],
        ),
    ];
    for (expression, reasons) in cases {
        // A new schedule and an update of an existing one alike.
        for name in ["fresh", "existing"] {
            let args = ["recur", name, "export", "--cron", expression, "--tz", RIGA];
            let stderr = refused_unchanged(&env, &args, 2);
            assert!(
                stderr.contains(expression),
                "the message names the expression {expression:?}: {stderr}"
            );
            let lower = stderr.to_lowercase();
            assert!(
                reasons.iter().any(|r| lower.contains(r)),
                "the message for {expression:?} gives the parser's reason (one of {reasons:?}): \
                 {stderr}"
            );
        }
    }
    for name in ["fresh", "existing"] {
        let args = [
            "recur",
            name,
            "export",
            "--cron",
            "0 6 * * *",
            "--tz",
            "Mars/Olympus_Mons",
        ];
        let stderr = refused_unchanged(&env, &args, 2);
        assert!(
            stderr.contains("Mars/Olympus_Mons") && stderr.to_lowercase().contains("zone"),
            "the message names the unknown zone: {stderr}"
        );
    }
    let names: Vec<Value> = schedules(&env, common::DEFAULT_NOW)
        .iter()
        .map(|s| s["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("existing")]);
    assert_eq!(
        schedule(&env, common::DEFAULT_NOW, "existing")["cron"],
        "0 6 * * *"
    );
}

#[test]
fn unknown_or_deprecated_endpoints_exit_3_and_a_missing_url_argument_exits_2() {
    let (env, server) = with_export_endpoint_at("/export/{scope}");
    env.ok(&["register", "old-export", "--url", &server.url("/old")]);
    env.ok(&[
        "register",
        "old-export",
        "--deprecate",
        "--reason",
        "retired",
    ]);

    let stderr = refused_unchanged(
        &env,
        &["recur", "nightly", "no-such-endpoint", "--cron", "@daily"],
        3,
    );
    assert!(stderr.contains("no-such-endpoint"), "{stderr}");

    let stderr = refused_unchanged(
        &env,
        &["recur", "nightly", "old-export", "--cron", "@daily"],
        3,
    );
    assert!(stderr.contains("old-export"), "{stderr}");
    assert!(stderr.contains("deprecated"), "{stderr}");

    let stderr = refused_unchanged(&env, &["recur", "nightly", "export", "--cron", "@daily"], 2);
    assert!(
        stderr.contains("scope"),
        "the message names the missing argument: {stderr}"
    );

    assert!(schedules(&env, common::DEFAULT_NOW).is_empty());
    // With the argument it is accepted.
    let created = recur_at(
        &env,
        common::DEFAULT_NOW,
        &[
            "nightly",
            "export",
            "--cron",
            "@daily",
            "--arg",
            "scope=all",
        ],
    );
    assert_eq!(created, "created");
}

// ---------------------------------------------------------------------------------------------
// DST in Europe/Riga
// ---------------------------------------------------------------------------------------------

#[test]
fn spring_forward_a_missing_wall_time_fires_once_at_the_next_existing_minute() {
    // 2026-03-29 in Riga: 03:00 EET jumps to 04:00 EEST, so 03:30 does not exist that day.
    let (env, server) = with_export_endpoint();
    let created_at = "2026-03-28T12:00:00Z";
    let name = "nightly";
    let created = recur_at(
        &env,
        created_at,
        &[name, "export", "--cron", "30 3 * * *", "--tz", RIGA],
    );
    assert_eq!(created, "created");
    // 04:00 EEST, the first minute that exists after the gap.
    assert_eq!(
        next_fire(&env, created_at, name),
        Some(instant("2026-03-29T01:00:00Z"))
    );

    // A minute before: nothing.
    tick_at(&env, "2026-03-29T00:59:00Z");
    assert!(keys_of(&env, "2026-03-29T00:59:00Z", name).is_empty());
    assert!(server.requests().is_empty(), "sent before its time");

    let fired = follow(&env, name, created_at, 3);
    assert_eq!(
        fired,
        [
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:30:00Z",
            "2026-03-31T00:30:00Z"
        ]
    );
    let now = "2026-03-31T00:30:00Z";
    assert_eq!(
        keys_of(&env, now, name),
        [
            key(name, "2026-03-29T01:00:00Z"),
            key(name, "2026-03-30T00:30:00Z"),
            key(name, "2026-03-31T00:30:00Z")
        ]
    );
    assert_eq!(server.requests().len(), 3, "one request per firing");
    assert_eq!(
        next_fire(&env, now, name),
        Some(instant("2026-04-01T00:30:00Z"))
    );
    // An on-time firing skipped nothing.
    for task in tasks_of(&env, now, name) {
        let detail = creation_detail(&env, now, id_of(&task));
        assert!(
            !detail.contains("skipped"),
            "an on-time firing says it skipped: {detail}"
        );
    }
}

#[test]
fn fall_back_a_repeated_wall_time_fires_once() {
    // 2026-10-25 in Riga: 04:00 EEST goes back to 03:00 EET, so 03:30 happens twice.
    let (env, server) = with_export_endpoint();
    let created_at = "2026-10-24T12:00:00Z";
    let name = "nightly";
    recur_at(
        &env,
        created_at,
        &[name, "export", "--cron", "30 3 * * *", "--tz", RIGA],
    );
    assert_eq!(
        next_fire(&env, created_at, name),
        Some(instant("2026-10-25T00:30:00Z"))
    );

    // The first 03:30 (EEST).
    tick_at(&env, "2026-10-25T00:30:00Z");
    assert_eq!(
        keys_of(&env, "2026-10-25T00:30:00Z", name),
        [key(name, "2026-10-25T00:30:00Z")]
    );
    assert_eq!(
        next_fire(&env, "2026-10-25T00:30:00Z", name),
        Some(instant("2026-10-26T01:30:00Z"))
    );

    // The second 03:30 (EET): no second firing.
    tick_at(&env, "2026-10-25T01:30:00Z");
    tick_at(&env, "2026-10-25T01:31:00Z");
    assert_eq!(
        keys_of(&env, "2026-10-25T01:31:00Z", name),
        [key(name, "2026-10-25T00:30:00Z")],
        "the repeated 03:30 fired again"
    );
    assert_eq!(server.requests().len(), 1);

    // The next day, 03:30 EET.
    let fired = follow(&env, name, "2026-10-25T01:31:00Z", 1);
    assert_eq!(fired, ["2026-10-26T01:30:00Z"]);
    assert_eq!(
        keys_of(&env, "2026-10-26T01:30:00Z", name),
        [
            key(name, "2026-10-25T00:30:00Z"),
            key(name, "2026-10-26T01:30:00Z")
        ]
    );
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn hourly_follows_real_time_through_both_dst_changes() {
    let (env, server) = with_export_endpoint();
    // (created at, the consecutive UTC hours it must fire at)
    let cases = [
        // Spring forward: 02:00 EET, then 04:00 EEST (03:00 local does not exist), 05:00 ...
        (
            "hourly-spring",
            "2026-03-28T23:30:00Z",
            [
                "2026-03-29T00:00:00Z",
                "2026-03-29T01:00:00Z",
                "2026-03-29T02:00:00Z",
                "2026-03-29T03:00:00Z",
            ],
        ),
        // Fall back: 03:00 EEST, then 03:00 EET (the same wall time again), 04:00 ...
        (
            "hourly-fall",
            "2026-10-24T23:30:00Z",
            [
                "2026-10-25T00:00:00Z",
                "2026-10-25T01:00:00Z",
                "2026-10-25T02:00:00Z",
                "2026-10-25T03:00:00Z",
            ],
        ),
    ];
    let mut sent = 0;
    for (name, created_at, expected) in cases {
        recur_at(
            &env,
            created_at,
            &[name, "export", "--cron", "@hourly", "--tz", RIGA],
        );
        let fired = follow(&env, name, created_at, expected.len());
        assert_eq!(fired, expected, "{name}: firings");
        let last = expected[expected.len() - 1];
        let keys: Vec<String> = expected.iter().map(|at| key(name, at)).collect();
        assert_eq!(keys_of(&env, last, name), keys, "{name}: one task per hour");
        sent += expected.len();
        assert_eq!(
            server.requests().len(),
            sent,
            "{name}: one request per hour"
        );
        let next = next_fire(&env, last, name).expect("a next firing");
        assert_eq!(
            next,
            instant(last) + chrono::Duration::hours(1),
            "{name}: the next hour"
        );
        recur_at(&env, last, &[name, "--delete"]);
    }
}

// ---------------------------------------------------------------------------------------------
// downtime and overlapping ticks
// ---------------------------------------------------------------------------------------------

#[test]
fn after_three_hours_of_downtime_an_hourly_schedule_fires_once_and_says_two_were_skipped() {
    let (env, server) = with_export_endpoint();
    let name = "hourly";
    recur_at(
        &env,
        "2026-11-25T09:30:00Z",
        &[name, "export", "--cron", "@hourly", "--tz", RIGA],
    );
    assert_eq!(
        next_fire(&env, "2026-11-25T09:30:00Z", name),
        Some(instant("2026-11-25T10:00:00Z"))
    );
    // No tick ran at 10:00, 11:00 or 12:00; the first one after is at 12:30.
    let now = "2026-11-25T12:30:00Z";
    tick_at(&env, now);
    let tasks = tasks_of(&env, now, name);
    assert_eq!(
        tasks.len(),
        1,
        "exactly one task after downtime: {tasks:#?}"
    );
    let task = &tasks[0];
    assert_eq!(task["key"], key(name, "2026-11-25T12:00:00Z"), "{task:#}");
    assert_eq!(
        instant(task["due_at"].as_str().expect("due_at")),
        instant("2026-11-25T12:00:00Z")
    );
    assert_eq!(task["state"], "succeeded", "{task:#}");
    assert_eq!(server.requests().len(), 1, "one request after downtime");
    assert_eq!(
        server.requests()[0].header("Idempotency-Key"),
        Some(key(name, "2026-11-25T12:00:00Z").as_str())
    );

    let detail = creation_detail(&env, now, id_of(task));
    assert!(detail.contains("skipped"), "{detail}");
    assert_eq!(
        standalone_numbers(&detail),
        [2],
        "the detail says 2 firings were skipped: {detail}"
    );

    assert_eq!(
        next_fire(&env, now, name),
        Some(instant("2026-11-25T13:00:00Z"))
    );
    let view = schedule(&env, now, name);
    assert_eq!(
        instant(view["last_fire_at"].as_str().expect("last_fire_at")),
        instant("2026-11-25T12:00:00Z")
    );
    // The next tick has nothing to make up.
    tick_at(&env, "2026-11-25T12:31:00Z");
    assert_eq!(tasks_of(&env, "2026-11-25T12:31:00Z", name).len(), 1);
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn overlapping_ticks_at_a_firing_make_one_task_and_send_one_request() {
    const TICKS: usize = 4;
    let (env, server) = with_export_endpoint();
    let name = "hourly";
    recur_at(
        &env,
        "2026-11-25T11:30:00Z",
        &[name, "export", "--cron", "@hourly", "--tz", RIGA],
    );
    let firings = [
        "2026-11-25T12:00:00Z",
        "2026-11-25T13:00:00Z",
        "2026-11-25T14:00:00Z",
    ];
    for (round, firing) in firings.iter().enumerate() {
        let start = Barrier::new(TICKS);
        let outputs: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..TICKS)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        run_at(&env, firing, &["tick"])
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("tick thread"))
                .collect()
        });
        for out in &outputs {
            assert!(
                out.status.success(),
                "a tick at {firing} exited {:?}: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let keys = keys_of(&env, firing, name);
        let expected: Vec<String> = firings[..=round].iter().map(|at| key(name, at)).collect();
        assert_eq!(keys, expected, "one task per firing after round {round}");
        assert_eq!(
            server.requests().len(),
            round + 1,
            "one request per firing after round {round}"
        );
        let task = tasks_of(&env, firing, name).pop().expect("the latest task");
        assert_eq!(task["attempts_used"], 1, "{task:#}");
        assert_eq!(task["state"], "succeeded", "{task:#}");
    }
    let mut delivered: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.header("Idempotency-Key").unwrap_or("").to_string())
        .collect();
    delivered.sort();
    let expected: Vec<String> = firings.iter().map(|at| key(name, at)).collect();
    assert_eq!(delivered, expected);
}

// ---------------------------------------------------------------------------------------------
// pause, resume, delete
// ---------------------------------------------------------------------------------------------

#[test]
fn pause_stops_firings_and_resume_restarts_from_the_next_future_time_without_a_burst() {
    let (env, server) = with_export_endpoint();
    let name = "hourly";
    recur_at(
        &env,
        "2026-11-25T09:30:00Z",
        &[name, "export", "--cron", "@hourly", "--tz", RIGA],
    );
    recur_at(&env, "2026-11-25T09:45:00Z", &[name, "--pause"]);
    assert_eq!(schedule(&env, "2026-11-25T09:45:00Z", name)["paused"], true);

    // Past the firing it had: nothing is made or sent.
    for now in ["2026-11-25T10:00:00Z", "2026-11-25T11:00:00Z"] {
        tick_at(&env, now);
        assert!(
            tasks_of(&env, now, name).is_empty(),
            "a paused schedule fired at {now}"
        );
    }
    assert!(server.requests().is_empty());

    let resumed_at = "2026-11-25T11:30:00Z";
    recur_at(&env, resumed_at, &[name, "--resume"]);
    let view = schedule(&env, resumed_at, name);
    assert_eq!(view["paused"], false, "{view:#}");
    let next = next_fire(&env, resumed_at, name).expect("a next firing after resume");
    assert!(
        next > instant(resumed_at),
        "resume restarts from a future time, not {next}"
    );
    assert_eq!(next, instant("2026-11-25T12:00:00Z"));

    // Right after resume: the missed 10:00 and 11:00 are not made up.
    tick_at(&env, "2026-11-25T11:31:00Z");
    assert!(
        tasks_of(&env, "2026-11-25T11:31:00Z", name).is_empty(),
        "resume made a burst of missed firings"
    );
    assert!(server.requests().is_empty());

    tick_at(&env, "2026-11-25T12:00:00Z");
    assert_eq!(
        keys_of(&env, "2026-11-25T12:00:00Z", name),
        [key(name, "2026-11-25T12:00:00Z")]
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn delete_removes_the_schedule_and_the_tasks_it_made_stay() {
    let (env, server) = with_export_endpoint();
    let name = "hourly";
    recur_at(
        &env,
        "2026-11-25T11:30:00Z",
        &[name, "export", "--cron", "@hourly", "--tz", RIGA],
    );
    let fired = follow(&env, name, "2026-11-25T11:30:00Z", 2);
    assert_eq!(fired, ["2026-11-25T12:00:00Z", "2026-11-25T13:00:00Z"]);
    let made: Vec<i64> = tasks_of(&env, "2026-11-25T13:00:00Z", name)
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(made.len(), 2);

    recur_at(&env, "2026-11-25T13:10:00Z", &[name, "--delete"]);
    assert!(
        schedules(&env, "2026-11-25T13:10:00Z").is_empty(),
        "the schedule is gone"
    );
    // Later ticks make nothing; the tasks already made are still there, as they were.
    tick_at(&env, "2026-11-25T14:00:00Z");
    tick_at(&env, "2026-11-25T15:00:00Z");
    assert_eq!(all_task_ids(&env, "2026-11-25T15:00:00Z"), made);
    for id in &made {
        let shown = json_at(&env, "2026-11-25T15:00:00Z", &["show", &id.to_string()]);
        assert_eq!(shown["state"], "succeeded", "{shown:#}");
    }
    assert_eq!(server.requests().len(), 2);
    // The name is free again.
    assert_eq!(
        recur_at(
            &env,
            "2026-11-25T15:00:00Z",
            &[name, "export", "--cron", "@hourly", "--tz", RIGA],
        ),
        "created"
    );
}

#[test]
fn pausing_resuming_or_deleting_an_unknown_schedule_exits_3() {
    let (env, _server) = with_export_endpoint();
    recur_at(
        &env,
        common::DEFAULT_NOW,
        &["known", "export", "--cron", "@daily", "--tz", RIGA],
    );
    for switch in ["--pause", "--resume", "--delete"] {
        let stderr = refused_unchanged(&env, &["recur", "no-such-schedule", switch], 3);
        assert!(
            stderr.contains("no-such-schedule"),
            "{switch}: the message names the schedule: {stderr}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// the tasks are ordinary; `recurring` shows the schedules
// ---------------------------------------------------------------------------------------------

#[test]
fn recurring_tasks_are_ordinary_listed_by_schedule_cancelled_and_retried() {
    let (env, server) = with_export_endpoint_at("/export/{scope}");
    server.answer("/export/a", 503, "busy");
    let created_at = "2026-11-25T11:30:00Z";
    recur_at(
        &env,
        created_at,
        &[
            "export-a",
            "export",
            "--cron",
            "0 * * * *",
            "--tz",
            RIGA,
            "--arg",
            "scope=a",
            "--priority",
            "5",
            "--max-attempts",
            "3",
        ],
    );
    recur_at(
        &env,
        created_at,
        &[
            "export-b", "export", "--cron", "@hourly", "--tz", "UTC", "--arg", "scope=b",
        ],
    );
    let manual = common::parse_id(&ok_at(
        &env,
        created_at,
        &[
            "schedule",
            "export",
            "--at",
            "2026-11-25T12:00:00Z",
            "--arg",
            "scope=manual",
        ],
    ));

    let now = "2026-11-25T12:00:00Z";
    tick_at(&env, now);
    assert_eq!(server.requests().len(), 3);

    let a_tasks = tasks_of(&env, now, "export-a");
    let b_tasks = tasks_of(&env, now, "export-b");
    assert_eq!(a_tasks.len(), 1, "{a_tasks:#?}");
    assert_eq!(b_tasks.len(), 1, "{b_tasks:#?}");
    let (a, b) = (id_of(&a_tasks[0]), id_of(&b_tasks[0]));
    assert_eq!(a_tasks[0]["key"], key("export-a", now));
    assert_eq!(a_tasks[0]["args"], json!({"scope": "a"}));
    assert_eq!(a_tasks[0]["priority"], 5);
    assert_eq!(a_tasks[0]["max_attempts"], 3);
    assert_eq!(a_tasks[0]["state"], "retrying");
    assert_eq!(b_tasks[0]["state"], "succeeded");
    assert_eq!(all_task_ids(&env, now), {
        let mut ids = vec![a, b, manual];
        ids.sort();
        ids
    });

    // `recurring --json`: every field, with the last task's state.
    let view = schedule(&env, now, "export-a");
    for field in [
        "name",
        "endpoint",
        "cron",
        "zone",
        "args",
        "priority",
        "max_attempts",
        "paused",
        "next_fire_at",
        "last_fire_at",
        "last_task_id",
        "last_task_state",
    ] {
        assert!(
            view.get(field).is_some(),
            "recurring --json lacks {field}: {view:#}"
        );
    }
    assert_eq!(view["name"], "export-a");
    assert_eq!(view["endpoint"], "export");
    assert_eq!(view["cron"], "0 * * * *");
    assert_eq!(view["zone"], RIGA);
    assert_eq!(view["args"], json!({"scope": "a"}));
    assert_eq!(view["priority"], 5);
    assert_eq!(view["max_attempts"], 3);
    assert_eq!(view["paused"], false);
    assert_eq!(
        instant(view["next_fire_at"].as_str().expect("next_fire_at")),
        instant("2026-11-25T13:00:00Z")
    );
    assert_eq!(
        instant(view["last_fire_at"].as_str().expect("last_fire_at")),
        instant(now)
    );
    assert_eq!(view["last_task_id"], a);
    assert_eq!(view["last_task_state"], "retrying");
    assert_eq!(
        schedule(&env, now, "export-b")["last_task_state"],
        "succeeded"
    );

    // The table: name, endpoint, cron, zone and the last task's state on each row.
    let table = ok_at(&env, now, &["recurring"]);
    for (name, cron, zone, state) in [
        ("export-a", "0 * * * *", RIGA, "retrying"),
        ("export-b", "@hourly", "UTC", "succeeded"),
    ] {
        let row = table
            .lines()
            .find(|line| common::cells(line).first().map(String::as_str) == Some(name))
            .unwrap_or_else(|| panic!("no row for {name} in:\n{table}"));
        for cell in ["export", cron, zone, state] {
            assert!(
                row.contains(cell),
                "{name}: row lacks {cell:?}: {row}\n{table}"
            );
        }
    }

    // Cancelled like any task, and the schedule shows it.
    let later = "2026-11-25T12:00:30Z";
    ok_at(
        &env,
        later,
        &["cancel", &a.to_string(), "--reason", "by hand"],
    );
    let shown = json_at(&env, later, &["show", &a.to_string()]);
    assert_eq!(shown["state"], "cancelled", "{shown:#}");
    assert_eq!(
        schedule(&env, later, "export-a")["last_task_state"],
        "cancelled"
    );
    let table = ok_at(&env, later, &["recurring"]);
    assert!(
        table
            .lines()
            .any(|l| l.trim_start().starts_with("export-a") && l.contains("cancelled")),
        "{table}"
    );

    // Retried like any task: it waits again and the next tick sends it.
    server.answer("/export/a", 200, "ok");
    ok_at(&env, later, &["retry", &a.to_string()]);
    tick_at(&env, "2026-11-25T12:01:00Z");
    let shown = json_at(&env, "2026-11-25T12:01:00Z", &["show", &a.to_string()]);
    assert_eq!(shown["state"], "succeeded", "{shown:#}");
    assert_eq!(
        schedule(&env, "2026-11-25T12:01:00Z", "export-a")["last_task_state"],
        "succeeded"
    );
    let to_a = server
        .requests()
        .iter()
        .filter(|r| r.url.starts_with("/export/a"))
        .count();
    assert_eq!(to_a, 2, "the first attempt and the retry");
    // Still the schedule's only task: the retry made no new one.
    assert_eq!(
        keys_of(&env, "2026-11-25T12:01:00Z", "export-a"),
        [key("export-a", now)]
    );
}
