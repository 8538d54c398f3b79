//! Happy paths of the everyday commands, driven through the real binary: register, endpoints,
//! schedule, list, show and cancel.

mod common;

use common::{row_of, Env, RELEASE_ROLL_URL};
use predicates::prelude::*;

fn env_with_release_roll() -> Env {
    let env = Env::new();
    env.register_release_roll();
    env
}

#[test]
fn register_says_created_unchanged_then_which_fields_changed() {
    let env = Env::new();
    let register = |extra: &[&str]| {
        let mut args = vec!["register", "release-roll"];
        args.extend_from_slice(extra);
        env.ok(&args)
    };

    assert_eq!(register(&["--url", RELEASE_ROLL_URL]), "created\n");
    assert_eq!(register(&["--url", RELEASE_ROLL_URL]), "unchanged\n");
    assert_eq!(
        register(&[]),
        "unchanged\n",
        "no option given keeps everything"
    );
    assert_eq!(register(&["--timeout", "10s"]), "updated: timeout\n");
    assert_eq!(register(&["--timeout", "10s"]), "unchanged\n");
    assert_eq!(
        register(&[
            "--url",
            "http://127.0.0.1:9/v2/rolls/{roll}/release",
            "--timeout",
            "20s"
        ]),
        "updated: url, timeout\n"
    );
}

#[test]
fn register_names_changed_fields_in_a_fixed_order() {
    let env = env_with_release_roll();
    // Given in the reverse of the order they must be reported in.
    let stdout = env.ok(&[
        "register",
        "release-roll",
        "--description",
        "move a cooled roll to the batching inbox",
        "--success",
        "2xx,409",
        "--max-attempts",
        "7",
        "--timeout",
        "5s",
        "--header",
        "X-Plant: riga",
        "--method",
        "PUT",
        "--url",
        "http://127.0.0.1:9/other/{roll}",
    ]);
    assert_eq!(
        stdout,
        "updated: url, method, headers, timeout, max_attempts, success, description\n"
    );
}

#[test]
fn endpoints_lists_registered_names() {
    let env = env_with_release_roll();
    env.ok(&[
        "register",
        "notify-shift",
        "--url",
        "http://127.0.0.1:9/notify",
        "--method",
        "GET",
    ]);

    let table = env.ok(&["endpoints"]);
    assert!(table.contains("release-roll"), "{table}");
    assert!(table.contains("notify-shift"), "{table}");
    assert!(table.contains("GET"), "{table}");
}

#[test]
fn schedule_prints_the_id_alone() {
    let env = env_with_release_roll();
    env.cmd(&[
        "schedule",
        "release-roll",
        "--in",
        "36h",
        "--arg",
        "roll=CCT-0042",
    ])
    .assert()
    .success()
    .stdout(predicate::str::is_match(r"^[0-9]+\n$").unwrap());
}

#[test]
fn schedule_ids_differ_for_different_tasks() {
    let env = env_with_release_roll();
    let first = env.schedule(&["release-roll", "--in", "36h", "--arg", "roll=CCT-0042"]);
    let second = env.schedule(&["release-roll", "--in", "36h", "--arg", "roll=CCT-0043"]);
    assert_ne!(first, second);
}

#[test]
fn schedule_with_the_same_key_twice_prints_the_same_id() {
    let env = env_with_release_roll();
    let args = [
        "release-roll",
        "--in",
        "36h",
        "--arg",
        "roll=CCT-0042",
        "--key",
        "k",
    ];
    let first = env.schedule(&args);
    let again = env.schedule(&args);
    assert_eq!(first, again);

    let list = env.ok(&["list"]);
    assert!(row_of(&list, first).is_some(), "{list}");
    let rows = list.lines().filter(|l| l.contains("release-roll")).count();
    assert_eq!(rows, 1, "one task only:\n{list}");
}

#[test]
fn schedule_again_with_the_same_key_at_another_time_keeps_the_first_time() {
    let env = env_with_release_roll();
    let first = env.schedule(&[
        "release-roll",
        "--in",
        "36h",
        "--arg",
        "roll=A",
        "--key",
        "k",
    ]);
    let out = env
        .cmd(&[
            "schedule",
            "release-roll",
            "--in",
            "48h",
            "--arg",
            "roll=A",
            "--key",
            "k",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{first}\n"));
    assert!(!out.stderr.is_empty(), "a note says the asked time differs");
    let shown = env.ok(&["show", &first.to_string()]);
    assert!(shown.contains("2026-11-27"), "first time stays:\n{shown}");
}

#[test]
fn list_shows_id_endpoint_and_state() {
    let env = env_with_release_roll();
    let id = env.schedule(&["release-roll", "--in", "36h", "--arg", "roll=CCT-0042"]);

    let list = env.ok(&["list"]);
    let row = row_of(&list, id).unwrap_or_else(|| panic!("no row for {id}:\n{list}"));
    assert!(row.contains("release-roll"), "{row}");
    assert!(row.contains("scheduled"), "{row}");
    assert!(row.contains("tester"), "agent defaults to $USER: {row}");
}

#[test]
fn list_with_nothing_to_show_says_so() {
    let env = env_with_release_roll();
    env.cmd(&["list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("No tasks"));
    env.schedule(&["release-roll", "--in", "1h", "--arg", "roll=A"]);
    env.cmd(&["list", "--state", "cancelled"])
        .assert()
        .success()
        .stdout(predicate::str::contains("No tasks"));
}

#[test]
fn list_filters_by_state() {
    let env = env_with_release_roll();
    let kept = env.schedule(&["release-roll", "--in", "1h", "--arg", "roll=A"]);
    let cancelled = env.schedule(&["release-roll", "--in", "2h", "--arg", "roll=B"]);
    env.ok(&["cancel", &cancelled.to_string()]);

    let list = env.ok(&["list", "--state", "cancelled"]);
    assert!(row_of(&list, cancelled).is_some(), "{list}");
    assert!(row_of(&list, kept).is_none(), "{list}");

    let list = env.ok(&["list", "--state", "scheduled,due"]);
    assert!(row_of(&list, kept).is_some(), "{list}");
    assert!(row_of(&list, cancelled).is_none(), "{list}");
}

#[test]
fn list_filters_by_endpoint() {
    let env = env_with_release_roll();
    env.ok(&[
        "register",
        "notify-shift",
        "--url",
        "http://127.0.0.1:9/notify",
    ]);
    let roll = env.schedule(&["release-roll", "--in", "1h", "--arg", "roll=A"]);
    let notify = env.schedule(&["notify-shift", "--in", "1h"]);

    let list = env.ok(&["list", "--endpoint", "notify-shift"]);
    assert!(row_of(&list, notify).is_some(), "{list}");
    assert!(row_of(&list, roll).is_none(), "{list}");
}

#[test]
fn list_filters_by_agent() {
    let env = env_with_release_roll();
    let mine = env.schedule(&["release-roll", "--in", "1h", "--arg", "roll=A"]);
    let alices = env.schedule(&[
        "release-roll",
        "--in",
        "1h",
        "--arg",
        "roll=B",
        "--agent",
        "alice",
    ]);

    let list = env.ok(&["list", "--agent", "alice"]);
    assert!(row_of(&list, alices).is_some(), "{list}");
    assert!(row_of(&list, mine).is_none(), "{list}");

    let list = env.ok(&["list", "--agent", "tester"]);
    assert!(row_of(&list, mine).is_some(), "{list}");
    assert!(row_of(&list, alices).is_none(), "{list}");
}

#[test]
fn list_filters_by_key() {
    let env = env_with_release_roll();
    let keyed = env.schedule(&[
        "release-roll",
        "--in",
        "1h",
        "--arg",
        "roll=A",
        "--key",
        "cool:A",
    ]);
    let other = env.schedule(&[
        "release-roll",
        "--in",
        "1h",
        "--arg",
        "roll=B",
        "--key",
        "cool:B",
    ]);

    let list = env.ok(&["list", "--key", "cool:A"]);
    assert!(row_of(&list, keyed).is_some(), "{list}");
    assert!(row_of(&list, other).is_none(), "{list}");
}

#[test]
fn list_filters_by_due_time() {
    let env = env_with_release_roll();
    // Now is 2026-11-25T12:00:00Z.
    let soon = env.schedule(&["release-roll", "--in", "1h", "--arg", "roll=A"]);
    let later = env.schedule(&["release-roll", "--in", "36h", "--arg", "roll=B"]);
    let latest = env.schedule(&["release-roll", "--in", "72h", "--arg", "roll=C"]);

    let list = env.ok(&["list", "--before", "2026-11-26T00:00:00Z"]);
    assert!(row_of(&list, soon).is_some(), "{list}");
    assert!(row_of(&list, later).is_none(), "{list}");
    assert!(row_of(&list, latest).is_none(), "{list}");

    let list = env.ok(&["list", "--after", "2026-11-26T12:00:00Z"]);
    assert!(row_of(&list, soon).is_none(), "{list}");
    assert!(row_of(&list, later).is_some(), "{list}");
    assert!(row_of(&list, latest).is_some(), "{list}");

    // --after is inclusive: `later` is due exactly at 2026-11-27T00:00:00Z.
    let list = env.ok(&[
        "list",
        "--after",
        "2026-11-27T00:00:00Z",
        "--before",
        "2026-11-28T00:00:00Z",
    ]);
    assert!(row_of(&list, soon).is_none(), "{list}");
    assert!(row_of(&list, later).is_some(), "{list}");
    assert!(row_of(&list, latest).is_none(), "{list}");
}

#[test]
fn list_limit_cuts_the_table_and_a_footer_says_how_many_matched() {
    let env = env_with_release_roll();
    let ids: Vec<i64> = ["A", "B", "C"]
        .iter()
        .enumerate()
        .map(|(i, roll)| {
            let when = format!("{}h", i + 1);
            env.schedule(&[
                "release-roll",
                "--in",
                &when,
                "--arg",
                &format!("roll={roll}"),
            ])
        })
        .collect();

    let list = env.ok(&["list", "--limit", "2"]);
    // Listed by due time: the first two.
    assert!(row_of(&list, ids[0]).is_some(), "{list}");
    assert!(row_of(&list, ids[1]).is_some(), "{list}");
    assert!(row_of(&list, ids[2]).is_none(), "{list}");
    let footer = list
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    assert!(
        footer.contains('3') && !footer.contains("release-roll"),
        "footer names the 3 matches:\n{list}"
    );
}

#[test]
fn a_task_one_second_past_its_time_is_due_one_second_before_is_scheduled() {
    let env = env_with_release_roll();
    let past = env.schedule(&[
        "release-roll",
        "--at",
        "2026-11-25T11:59:59Z",
        "--arg",
        "roll=A",
    ]);
    let future = env.schedule(&[
        "release-roll",
        "--at",
        "2026-11-25T12:00:01Z",
        "--arg",
        "roll=B",
    ]);

    let list = env.ok(&["list"]);
    let past_row = row_of(&list, past).unwrap_or_else(|| panic!("{list}"));
    let future_row = row_of(&list, future).unwrap_or_else(|| panic!("{list}"));
    assert!(past_row.contains("due"), "{past_row}");
    assert!(future_row.contains("scheduled"), "{future_row}");

    let due = env.ok(&["list", "--state", "due"]);
    assert!(row_of(&due, past).is_some(), "{due}");
    assert!(row_of(&due, future).is_none(), "{due}");
    let scheduled = env.ok(&["list", "--state", "scheduled"]);
    assert!(row_of(&scheduled, past).is_none(), "{scheduled}");
    assert!(row_of(&scheduled, future).is_some(), "{scheduled}");
}

#[test]
fn a_time_in_the_past_is_accepted_with_a_warning() {
    let env = env_with_release_roll();
    env.cmd(&[
        "schedule",
        "release-roll",
        "--at",
        "2026-11-25T11:00:00Z",
        "--arg",
        "roll=A",
    ])
    .assert()
    .success()
    .stdout(predicate::str::is_match(r"^[0-9]+\n$").unwrap())
    .stderr(predicate::str::is_empty().not());
}

#[test]
fn time_passing_turns_scheduled_into_due() {
    let mut env = env_with_release_roll();
    let id = env.schedule(&["release-roll", "--in", "36h", "--arg", "roll=A"]);
    env.now("2026-11-27T00:00:00.001Z");
    let list = env.ok(&["list", "--state", "due"]);
    assert!(row_of(&list, id).is_some(), "{list}");
}

#[test]
fn show_prints_the_whole_task() {
    let env = env_with_release_roll();
    let id = env.schedule(&[
        "release-roll",
        "--in",
        "36h",
        "--arg",
        "roll=CCT-0042",
        "--key",
        "cool:CCT-0042",
    ]);

    let shown = env.ok(&["show", &id.to_string()]);
    for expected in [
        "release-roll",
        "CCT-0042",
        "cool:CCT-0042",
        "created",
        "scheduled",
        "http://127.0.0.1:9/rolls/CCT-0042/release",
        "2026-11-27",
    ] {
        assert!(
            shown.contains(expected),
            "show lacks {expected:?}:\n{shown}"
        );
    }
}

#[test]
fn cancel_cancels_and_cancelling_again_is_fine() {
    let env = env_with_release_roll();
    let id = env.schedule(&["release-roll", "--in", "36h", "--arg", "roll=A"]);
    let id = id.to_string();

    let out = env.ok(&["cancel", &id, "--reason", "roll moved by hand"]);
    assert!(out.lines().any(|l| l.contains("cancelled")), "{out}");

    let again = env.cmd(&["cancel", &id]).output().unwrap();
    assert_eq!(again.status.code(), Some(0));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&again.stdout),
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(said.contains("already cancelled"), "{said}");

    let shown = env.ok(&["show", &id]);
    assert!(shown.contains("cancelled"), "{shown}");
    assert!(
        shown.contains("roll moved by hand"),
        "the reason is kept:\n{shown}"
    );
}

#[test]
fn cancel_several_ids_at_once() {
    let env = env_with_release_roll();
    let ids: Vec<String> = ["A", "B", "C"]
        .iter()
        .map(|roll| {
            env.schedule(&[
                "release-roll",
                "--in",
                "1h",
                "--arg",
                &format!("roll={roll}"),
            ])
            .to_string()
        })
        .collect();

    env.ok(&["cancel", &ids[0], &ids[1]]);

    let list = env.ok(&["list", "--state", "cancelled"]);
    assert!(row_of(&list, ids[0].parse().unwrap()).is_some(), "{list}");
    assert!(row_of(&list, ids[1].parse().unwrap()).is_some(), "{list}");
    assert!(row_of(&list, ids[2].parse().unwrap()).is_none(), "{list}");
}

#[test]
fn cancel_by_key() {
    let env = env_with_release_roll();
    let id = env.schedule(&[
        "release-roll",
        "--in",
        "1h",
        "--arg",
        "roll=A",
        "--key",
        "cool:A",
    ]);
    env.ok(&["cancel", "--key", "cool:A"]);
    let list = env.ok(&["list", "--state", "cancelled"]);
    assert!(row_of(&list, id).is_some(), "{list}");
}
