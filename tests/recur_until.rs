//! Schedules that end (`recur ... --until TIME`, `recur NAME --until TIME|none`): firings up to
//! the end and none after it, not even the catch-up after downtime (which may still make up the
//! latest missed firing at or before the end, once), `ended` in `recurring`, lifting the end,
//! tasks that outlive their schedule, and bad times refused with nothing changed.

mod common;
#[path = "support/recurring.rs"]
mod recurring_support;

use common::{instant, refused_unchanged, Env, Reply, Server};
use recurring_support::{
    json_at, key, keys_of, next_fire, ok_at, recur_at, run_at, schedule, standalone_numbers,
    tasks_of, tick_at,
};

/// When the schedules below are made: 2026-11-25T12:00:00Z.
const CREATED: &str = common::DEFAULT_NOW;

/// An environment with a local server and an endpoint `export` that POSTs to its `/export`.
fn with_export_endpoint() -> (Env, Server) {
    let env = Env::new();
    let server = Server::start();
    env.ok(&["register", "export", "--url", &server.url("/export")]);
    (env, server)
}

/// `recur audit export --cron @hourly --tz UTC --until UNTIL`, made at `CREATED`.
fn hourly_until(env: &Env, until: &str) {
    let created = recur_at(
        env,
        CREATED,
        &[
            "audit", "export", "--cron", "@hourly", "--tz", "UTC", "--until", until,
        ],
    );
    assert_eq!(created, "created");
}

/// What `tick --json` counted as fired at `now`.
fn fired_by_tick_at(env: &Env, now: &str) -> i64 {
    json_at(env, now, &["tick"])["fired"]
        .as_i64()
        .expect("tick --json has a fired count")
}

/// The `recurring` table at `now`, and the cells of schedule `name`'s row.
fn table_row(env: &Env, now: &str, name: &str) -> (String, Vec<String>) {
    let table = ok_at(env, now, &["recurring"]);
    let row = table
        .lines()
        .find(|line| common::cells(line).first().map(String::as_str) == Some(name))
        .map(common::cells)
        .unwrap_or_else(|| panic!("no row for {name} in:\n{table}"));
    (table, row)
}

#[test]
fn a_schedule_fires_up_to_its_end_and_its_tasks_are_sent() {
    let (env, server) = with_export_endpoint();
    hourly_until(&env, "2026-11-25T14:30:00Z");
    let view = schedule(&env, CREATED, "audit");
    assert_eq!(view["ended"], false);
    assert_eq!(
        instant(view["until_at"].as_str().unwrap()),
        instant("2026-11-25T14:30:00Z")
    );
    assert_eq!(
        next_fire(&env, CREATED, "audit"),
        Some(instant("2026-11-25T13:00:00Z"))
    );

    for now in ["2026-11-25T13:00:00Z", "2026-11-25T14:00:00Z"] {
        assert_eq!(fired_by_tick_at(&env, now), 1, "at {now}");
    }
    assert_eq!(
        keys_of(&env, "2026-11-25T14:00:00Z", "audit"),
        [
            key("audit", "2026-11-25T13:00:00Z"),
            key("audit", "2026-11-25T14:00:00Z")
        ]
    );
    assert_eq!(
        server.requests_to("/export").len(),
        2,
        "both firings were sent"
    );
}

#[test]
fn no_firing_after_the_end_and_ticks_skip_an_ended_schedule() {
    let (env, server) = with_export_endpoint();
    hourly_until(&env, "2026-11-25T14:30:00Z");
    for now in ["2026-11-25T13:00:00Z", "2026-11-25T14:00:00Z"] {
        tick_at(&env, now);
    }
    let fired_before = keys_of(&env, "2026-11-25T14:00:00Z", "audit");
    let schedule_before = schedule(&env, "2026-11-25T14:00:00Z", "audit");

    // The clock past the end: 15:00 and every later hour would be firings, but none is made.
    for now in [
        "2026-11-25T15:00:00Z",
        "2026-11-25T16:00:00Z",
        "2026-11-26T09:00:00Z",
        "2027-03-01T00:00:00Z",
    ] {
        assert_eq!(
            fired_by_tick_at(&env, now),
            0,
            "a firing after the end, at {now}"
        );
        assert_eq!(keys_of(&env, now, "audit"), fired_before, "at {now}");
        let view = schedule(&env, now, "audit");
        assert_eq!(view["ended"], true, "{view:#}");
        assert_eq!(view["next_fire_at"], serde_json::Value::Null, "{view:#}");
        // Skipped, not re-evaluated: the schedule stays as the last firing left it.
        assert_eq!(view["last_fire_at"], schedule_before["last_fire_at"]);
        assert_eq!(view["last_task_id"], schedule_before["last_task_id"]);
    }
    assert_eq!(server.requests_to("/export").len(), 2);
}

#[test]
fn after_downtime_only_the_latest_missed_firing_before_the_end_is_made_up() {
    let (env, _server) = with_export_endpoint();
    // Firings at 13:00 and 14:00 fall before the end, 15:00 and 16:00 after it.
    hourly_until(&env, "2026-11-25T14:30:00Z");
    let back = "2026-11-25T16:20:00Z";
    assert_eq!(fired_by_tick_at(&env, back), 1);
    let tasks = tasks_of(&env, back, "audit");
    assert_eq!(tasks.len(), 1, "exactly one task: {tasks:#?}");
    assert_eq!(tasks[0]["key"], key("audit", "2026-11-25T14:00:00Z"));
    assert_eq!(
        instant(tasks[0]["due_at"].as_str().unwrap()),
        instant("2026-11-25T14:00:00Z")
    );
    let id = tasks[0]["id"].to_string();
    let shown = json_at(&env, back, &["show", &id]);
    let detail = shown["transitions"][0]["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("skipped"), "{detail}");
    assert_eq!(
        standalone_numbers(&detail),
        [1],
        "13:00 was skipped, and nothing after the end counts: {detail}"
    );

    // And nothing more, later.
    for now in ["2026-11-25T17:00:00Z", "2026-11-26T12:00:00Z"] {
        assert_eq!(fired_by_tick_at(&env, now), 0, "at {now}");
    }
    assert_eq!(tasks_of(&env, "2026-11-26T12:00:00Z", "audit").len(), 1);
    assert_eq!(
        schedule(&env, "2026-11-26T12:00:00Z", "audit")["ended"],
        true
    );
}

#[test]
fn a_firing_at_the_end_itself_is_made() {
    let (env, _server) = with_export_endpoint();
    hourly_until(&env, "2026-11-25T14:00:00Z");
    tick_at(&env, "2026-11-25T14:10:00Z");
    assert_eq!(
        keys_of(&env, "2026-11-25T14:10:00Z", "audit"),
        [key("audit", "2026-11-25T14:00:00Z")]
    );
    assert_eq!(
        schedule(&env, "2026-11-25T14:10:00Z", "audit")["ended"],
        true
    );
}

#[test]
fn until_none_lifts_the_end_and_firing_resumes_from_the_next_future_time() {
    let (env, _server) = with_export_endpoint();
    hourly_until(&env, "2026-11-25T13:30:00Z");
    tick_at(&env, "2026-11-25T13:00:00Z");
    tick_at(&env, "2026-11-25T16:00:00Z");
    let later = "2026-11-25T18:10:00Z";
    assert_eq!(schedule(&env, later, "audit")["ended"], true);

    assert_eq!(
        recur_at(&env, later, &["audit", "--until", "none"]),
        "updated: until"
    );
    let view = schedule(&env, later, "audit");
    assert_eq!(view["ended"], false, "{view:#}");
    assert_eq!(view["until_at"], serde_json::Value::Null, "{view:#}");
    // No burst for the hours it had ended: the next firing is the next future one.
    assert_eq!(
        next_fire(&env, later, "audit"),
        Some(instant("2026-11-25T19:00:00Z"))
    );
    tick_at(&env, later);
    assert_eq!(
        keys_of(&env, later, "audit"),
        [key("audit", "2026-11-25T13:00:00Z")]
    );
    tick_at(&env, "2026-11-25T19:00:00Z");
    assert_eq!(
        keys_of(&env, "2026-11-25T19:00:00Z", "audit"),
        [
            key("audit", "2026-11-25T13:00:00Z"),
            key("audit", "2026-11-25T19:00:00Z")
        ]
    );
    // The same again changes nothing.
    assert_eq!(
        recur_at(&env, "2026-11-25T19:00:00Z", &["audit", "--until", "none"]),
        "unchanged"
    );
}

#[test]
fn until_on_an_existing_schedule_moves_its_end_in_the_zone_asked() {
    let (env, _server) = with_export_endpoint();
    recur_at(
        &env,
        CREATED,
        &["audit", "export", "--cron", "@hourly", "--tz", "UTC"],
    );
    assert_eq!(
        schedule(&env, CREATED, "audit")["until_at"],
        serde_json::Value::Null
    );

    // A local time in the zone named: 17:30 in Riga (EET, UTC+2) is 15:30Z.
    let said = recur_at(
        &env,
        CREATED,
        &[
            "audit",
            "--until",
            "2026-11-25 17:30",
            "--tz",
            "Europe/Riga",
        ],
    );
    assert_eq!(said, "updated: until");
    let view = schedule(&env, CREATED, "audit");
    assert_eq!(
        instant(view["until_at"].as_str().unwrap()),
        instant("2026-11-25T15:30:00Z")
    );
    assert_eq!(
        view["zone"], "UTC",
        "--tz with --until alone names the zone of TIME only"
    );
    assert_eq!(
        recur_at(&env, CREATED, &["audit", "--until", "2026-11-25T15:30:00Z"]),
        "unchanged"
    );
    // `+DURATION` counts from now.
    recur_at(&env, CREATED, &["audit", "--until", "+36h"]);
    assert_eq!(
        instant(
            schedule(&env, CREATED, "audit")["until_at"]
                .as_str()
                .unwrap()
        ),
        instant("2026-11-27T00:00:00Z")
    );
    // Defining the schedule again without --until keeps its end; with it, says so.
    assert_eq!(
        recur_at(
            &env,
            CREATED,
            &["audit", "export", "--cron", "@hourly", "--tz", "UTC"]
        ),
        "unchanged"
    );
    assert_eq!(
        recur_at(
            &env,
            CREATED,
            &["audit", "export", "--cron", "@hourly", "--tz", "UTC", "--until", "now"]
        ),
        "updated: until"
    );
    let json = json_at(&env, CREATED, &["recur", "audit", "--until", "+1h"]);
    assert_eq!(json["change"], "updated");
    assert_eq!(json["fields"], serde_json::json!(["until"]));
    assert_eq!(json["ended"], false);
    assert_eq!(
        instant(json["until_at"].as_str().unwrap()),
        instant("2026-11-25T13:00:00Z")
    );
}

#[test]
fn an_ended_schedule_says_ended_in_the_table_and_in_json() {
    let (env, _server) = with_export_endpoint();
    hourly_until(&env, "2026-11-25T13:30:00Z");
    recur_at(
        &env,
        CREATED,
        &["forever", "export", "--cron", "@hourly", "--tz", "UTC"],
    );
    tick_at(&env, "2026-11-25T13:00:00Z");
    tick_at(&env, "2026-11-25T14:00:00Z");
    let now = "2026-11-25T14:05:00Z";

    // name, endpoint, cron, zone, then where the next firing would be.
    let (table, row) = table_row(&env, now, "audit");
    assert_eq!(row[4], "ended", "{table}");
    assert!(
        table.to_lowercase().contains("until"),
        "a column for the end: {table}"
    );
    assert!(
        row.join(" ").contains("2026-11-25 13:30"),
        "the end is shown: {table}"
    );
    let (table, row) = table_row(&env, now, "forever");
    assert_eq!(row[4], "2026-11-25", "{table}");
    assert!(!row.join(" ").contains("ended"), "{table}");

    let audit = schedule(&env, now, "audit");
    assert_eq!(audit["ended"], true, "{audit:#}");
    assert_eq!(audit["next_fire_at"], serde_json::Value::Null, "{audit:#}");
    assert_eq!(
        instant(audit["until_at"].as_str().unwrap()),
        instant("2026-11-25T13:30:00Z")
    );
    let forever = schedule(&env, now, "forever");
    assert_eq!(forever["ended"], false, "{forever:#}");
    assert_eq!(forever["until_at"], serde_json::Value::Null);

    // Made already ended (its end before its first firing): it says so, and ends at once.
    let out = run_at(
        &env,
        now,
        &[
            "recur", "never", "export", "--cron", "@daily", "--until", "+1h",
        ],
    );
    assert!(out.status.success(), "{}", common::describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("never") && stderr.contains("fires no more"),
        "{stderr}"
    );
    assert_eq!(schedule(&env, now, "never")["ended"], true);
}

#[test]
fn tasks_made_before_the_end_outlive_it() {
    let (env, server) = with_export_endpoint();
    server.script("/export", vec![Reply::status(503), Reply::status(200)]);
    hourly_until(&env, "2026-11-25T13:30:00Z");
    tick_at(&env, "2026-11-25T13:00:00Z");
    let tasks = tasks_of(&env, "2026-11-25T13:00:00Z", "audit");
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["state"], "retrying", "{:#}", tasks[0]);

    // Past the end, its retry is still sent; and deleting the schedule leaves the task.
    let later = "2026-11-25T15:00:00Z";
    tick_at(&env, later);
    let id = tasks[0]["id"].to_string();
    assert_eq!(json_at(&env, later, &["show", &id])["state"], "succeeded");
    assert_eq!(server.requests_to("/export").len(), 2);
    ok_at(&env, later, &["recur", "audit", "--delete"]);
    assert_eq!(json_at(&env, later, &["show", &id])["state"], "succeeded");
}

#[test]
fn a_bad_until_exits_2_and_changes_nothing() {
    let (mut env, _server) = with_export_endpoint();
    env.now(CREATED);
    hourly_until(&env, "2026-11-25T14:30:00Z");
    for bad in [
        "tomorrow",
        "2026-13-01 10:00",
        "+forever",
        "",
        "2026-11-25T25:00:00Z",
    ] {
        // On the existing schedule, and in a new one.
        for args in [
            vec!["recur", "audit", "--until", bad],
            vec![
                "recur", "audit", "export", "--cron", "@hourly", "--until", bad,
            ],
            vec![
                "recur", "fresh", "export", "--cron", "@hourly", "--until", bad,
            ],
        ] {
            let stderr = refused_unchanged(&env, &args, 2);
            assert!(stderr.contains("--until"), "{args:?}: {stderr}");
        }
    }
    // A wall time the clocks skip (03:30 on 2026-03-29 in Riga).
    let stderr = refused_unchanged(
        &env,
        &[
            "recur",
            "audit",
            "--until",
            "2026-03-29 03:30",
            "--tz",
            "Europe/Riga",
        ],
        2,
    );
    assert!(stderr.contains("does not exist"), "{stderr}");
    // Only the end, with what the schedule makes: the whole definition is asked for.
    refused_unchanged(
        &env,
        &["recur", "audit", "--until", "+1h", "--arg", "a=b"],
        2,
    );
    // An unknown schedule is refused by state.
    let stderr = refused_unchanged(&env, &["recur", "no-such", "--until", "+1h"], 3);
    assert!(stderr.contains("no-such"), "{stderr}");
    assert_eq!(
        instant(
            schedule(&env, CREATED, "audit")["until_at"]
                .as_str()
                .unwrap()
        ),
        instant("2026-11-25T14:30:00Z")
    );
}
