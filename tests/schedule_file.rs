//! `schedule --file FILE|-`: JSON Lines, one task per line, in one transaction, all or none; one
//! id per line in input order (the existing id where a key matched); a bad line stores nothing
//! and is named by its number; 100,000 lines go through.

mod common;

use std::time::Instant;

use common::{count, refused_unchanged, show, Env};

fn env_with_release_roll() -> Env {
    let env = Env::new();
    env.register_release_roll();
    env
}

/// A line for `release-roll` with this roll and `when` (more `"field": value` pairs, already
/// JSON).
fn line(roll: &str, when: &str) -> String {
    format!(r#"{{"endpoint": "release-roll", {when}, "args": {{"roll": "{roll}"}}}}"#)
}

fn write(env: &Env, name: &str, lines: &[String]) -> String {
    let path = env.path(name);
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&path, text).expect("write the task file");
    path.display().to_string()
}

fn ids(stdout: &str) -> Vec<i64> {
    stdout
        .lines()
        .map(|l| {
            l.parse()
                .unwrap_or_else(|_| panic!("{l:?} is not an id in {stdout:?}"))
        })
        .collect()
}

fn roll_of(env: &Env, id: i64) -> String {
    show(env, id)["args"]["roll"]
        .as_str()
        .expect("the task has a roll")
        .to_string()
}

/// Three tasks whose times run against their order in the file.
fn three() -> Vec<String> {
    vec![
        line("CCT-0001", r#""at": "2026-11-27T08:00:00+02:00""#),
        line("CCT-0002", r#""in": "36h""#),
        line("CCT-0003", r#""at": "+1h""#),
    ]
}

fn assert_in_input_order(env: &Env, stdout: &str) {
    let printed = ids(stdout);
    assert_eq!(printed.len(), 3, "{stdout}");
    let rolls: Vec<String> = printed.iter().map(|id| roll_of(env, *id)).collect();
    assert_eq!(rolls, vec!["CCT-0001", "CCT-0002", "CCT-0003"]);
    let detail = show(env, printed[1]);
    assert_eq!(detail["due_at"], "2026-11-27T00:00:00.000Z", "{detail:#}");
}

#[test]
fn a_file_prints_one_id_per_line_in_input_order() {
    let env = env_with_release_roll();
    let path = write(&env, "three.jsonl", &three());
    let stdout = env.ok(&["schedule", "--file", &path]);
    assert_in_input_order(&env, &stdout);
}

#[test]
fn stdin_prints_one_id_per_line_in_input_order() {
    let env = env_with_release_roll();
    let out = env
        .cmd(&["schedule", "--file", "-"])
        .write_stdin(three().join("\n") + "\n")
        .output()
        .expect("run httpat");
    assert!(out.status.success(), "{out:?}");
    assert_in_input_order(&env, &String::from_utf8_lossy(&out.stdout));
}

#[test]
fn a_line_whose_key_matches_an_existing_task_prints_that_task_id() {
    let env = env_with_release_roll();
    let existing = env.schedule(&[
        "release-roll",
        "--in",
        "36h",
        "--arg",
        "roll=CCT-0002",
        "--key",
        "cool:CCT-0002",
    ]);
    let lines = vec![
        line("CCT-0001", r#""in": "36h", "key": "cool:CCT-0001""#),
        // Another time: the first one stays.
        line("CCT-0002", r#""in": "40h", "key": "cool:CCT-0002""#),
        line("CCT-0003", r#""in": "36h""#),
        // The same key twice in one file is one task.
        line("CCT-0001", r#""in": "36h", "key": "cool:CCT-0001""#),
    ];
    let stdout = env.ok(&["schedule", "--file", &write(&env, "keys.jsonl", &lines)]);
    let printed = ids(&stdout);
    assert_eq!(printed.len(), 4, "{stdout}");
    assert_eq!(printed[1], existing, "{stdout}");
    assert_eq!(printed[3], printed[0], "{stdout}");
    assert_eq!(roll_of(&env, printed[2]), "CCT-0003");
    assert_eq!(count(&env, "SELECT count(*) FROM tasks"), 3);
    assert_eq!(show(&env, existing)["due_at"], "2026-11-27T00:00:00.000Z");
}

#[test]
fn a_bad_line_in_the_middle_stores_nothing_and_is_named_by_its_number() {
    let good = |n: u32| line(&format!("CCT-{n:04}"), r#""in": "36h""#);
    let cases: [(&str, String, i32); 8] = [
        (
            "bad JSON",
            r#"{"endpoint": "release-roll", "in": "#.to_string(),
            2,
        ),
        ("a bad time", line("CCT-0099", r#""at": "tomorrowish""#), 2),
        ("a bad duration", line("CCT-0099", r#""in": "ages""#), 2),
        (
            "an unknown field",
            line("CCT-0099", r#""in": "36h", "colour": "red""#),
            2,
        ),
        (
            "a missing placeholder",
            r#"{"endpoint": "release-roll", "in": "36h", "args": {"lot": "7"}}"#.to_string(),
            2,
        ),
        (
            "no time",
            r#"{"endpoint": "release-roll", "args": {"roll": "R"}}"#.to_string(),
            2,
        ),
        (
            "an unknown endpoint",
            r#"{"endpoint": "release-rol", "in": "36h", "args": {"roll": "R"}}"#.to_string(),
            3,
        ),
        (
            "a key taken by other arguments",
            line("CCT-0099", r#""in": "36h", "key": "cool:CCT-0001""#),
            3,
        ),
    ];
    let env = env_with_release_roll();
    env.schedule(&[
        "release-roll",
        "--in",
        "1h",
        "--arg",
        "roll=CCT-0001",
        "--key",
        "cool:CCT-0001",
    ]);
    let mut unnamed = Vec::new();
    for (what, bad, code) in cases {
        let lines = vec![good(2), good(3), bad.clone(), good(4), good(5)];
        let path = write(&env, "bad.jsonl", &lines);
        let stderr = refused_unchanged(&env, &["schedule", "--file", &path], code);
        if !stderr.contains("line 3") {
            unnamed.push(format!("{what}: {stderr}"));
        }
        let text = lines.join("\n") + "\n";
        let before = env.dump();
        let out = env
            .cmd(&["schedule", "--file", "-"])
            .write_stdin(text)
            .output()
            .expect("run httpat");
        assert_eq!(out.status.code(), Some(code), "{what} on stdin: {out:?}");
        assert_eq!(before, env.dump(), "{what} on stdin changed the database");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !stderr.contains("line 3") {
            unnamed.push(format!("{what} on stdin: {stderr}"));
        }
    }
    assert!(
        unnamed.is_empty(),
        "stderr names `line 3`; it did not for:\n{}",
        unnamed.join("\n")
    );
    assert_eq!(count(&env, "SELECT count(*) FROM tasks"), 1);
}

#[test]
fn line_numbers_count_blank_lines_too() {
    let env = env_with_release_roll();
    let lines = vec![
        line("CCT-0001", r#""in": "36h""#),
        String::new(),
        line("CCT-0002", r#""in": "36h""#),
        line("CCT-0003", r#""at": "soonish""#),
    ];
    let path = write(&env, "blank.jsonl", &lines);
    let stderr = refused_unchanged(&env, &["schedule", "--file", &path], 2);
    assert!(stderr.contains("line 4"), "{stderr}");
    assert_eq!(count(&env, "SELECT count(*) FROM tasks"), 0);
}

#[test]
fn a_missing_file_is_bad_usage_naming_it() {
    let env = env_with_release_roll();
    let path = env.path("nosuch.jsonl").display().to_string();
    let stderr = refused_unchanged(&env, &["schedule", "--file", &path], 2);
    assert!(stderr.contains("nosuch.jsonl"), "{stderr}");
}

#[test]
fn one_hundred_thousand_lines_are_stored() {
    const LINES: usize = 100_000;
    let env = env_with_release_roll();
    let mut text = String::with_capacity(LINES * 110);
    for n in 0..LINES {
        text.push_str(&format!(
            "{{\"endpoint\": \"release-roll\", \"in\": \"36h\", \"args\": {{\"roll\": \"R-{n}\"}}, \"key\": \"bulk:{n}\"}}\n"
        ));
    }
    let path = env.path("bulk.jsonl");
    std::fs::write(&path, text).expect("write the bulk file");

    let started = Instant::now();
    let out = env
        .cmd(&["schedule", "--file", &path.display().to_string()])
        .output()
        .expect("run httpat");
    let elapsed = started.elapsed();
    eprintln!(
        "schedule --file with {LINES} lines took {:.2} s (debug build)",
        elapsed.as_secs_f64()
    );
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let printed = ids(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(printed.len(), LINES);
    let distinct: std::collections::HashSet<i64> = printed.iter().copied().collect();
    assert_eq!(distinct.len(), LINES, "one id per task");
    assert_eq!(count(&env, "SELECT count(*) FROM tasks"), LINES as i64);
    let listing = env.json(&["list", "--limit", "1"]);
    assert_eq!(listing["more_than"], true, "{listing:#}");
    assert_eq!(roll_of(&env, printed[0]), "R-0");
    assert_eq!(
        roll_of(&env, printed[LINES - 1]),
        format!("R-{}", LINES - 1)
    );
}

#[test]
fn every_task_of_a_long_file_has_one_first_transition_in_its_state() {
    // More lines than the store holds back before it writes their first transitions, and not
    // a multiple of the rows one statement writes: every way of writing them is used. Some lines
    // repeat the key of an earlier one (same request: the earlier id, no second history).
    const LINES: usize = 1_300;
    let mut env = env_with_release_roll();
    env.now("2026-12-01T12:00:00Z");
    let lines: Vec<String> = (0..LINES)
        .map(|n| {
            let when = if n % 2 == 0 {
                r#""at": "now""#
            } else {
                r#""in": "36h""#
            };
            let repeat = n % 100 == 99;
            let key = if n % 100 == 0 || repeat {
                format!(r#", "key": "k-{}""#, n / 100)
            } else {
                String::new()
            };
            let roll = if repeat { n - 99 } else { n };
            format!(
                r#"{{"endpoint": "release-roll", {when}, "args": {{"roll": "R-{roll}"}}{key}}}"#
            )
        })
        .collect();
    let path = write(&env, "long.jsonl", &lines);
    let printed = ids(&env.ok(&["schedule", "--file", &path]));
    assert_eq!(printed.len(), LINES);
    let repeats = LINES / 100;
    for n in (99..LINES).step_by(100) {
        assert_eq!(
            printed[n],
            printed[n - 99],
            "line {} repeats line {}",
            n + 1,
            n - 98
        );
    }
    let tasks = count(&env, "SELECT count(*) FROM tasks");
    assert_eq!(tasks, (LINES - repeats) as i64);

    let history = common::rows(
        &env,
        "SELECT task_id, from_state, to_state, detail FROM transitions ORDER BY id",
    );
    assert_eq!(history.len() as i64, tasks, "one transition per task");
    let mut seen = std::collections::HashSet::new();
    for (n, id) in printed.iter().enumerate() {
        if !seen.insert(*id) {
            continue;
        }
        let expected = if n % 2 == 0 { "due" } else { "scheduled" };
        let first: Vec<&Vec<Option<String>>> = history
            .iter()
            .filter(|row| row[0].as_deref() == Some(&id.to_string()))
            .collect();
        assert_eq!(first.len(), 1, "task {id}: {first:?}");
        assert_eq!(first[0][1], None, "task {id}");
        assert_eq!(
            first[0][2].as_deref(),
            Some(expected),
            "task {id} (line {})",
            n + 1
        );
        assert_eq!(first[0][3].as_deref(), Some("created"), "task {id}");
    }
    // Written in the order the tasks were made.
    let order: Vec<i64> = history
        .iter()
        .map(|row| row[0].as_deref().unwrap().parse().unwrap())
        .collect();
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(order, sorted);
    // The counts agree with the rows.
    let metrics = env.json(&["metrics"]);
    assert_eq!(metrics["tasks"]["due"], 650, "{metrics:#}");
    assert_eq!(metrics["tasks"]["scheduled"], tasks - 650, "{metrics:#}");
}
