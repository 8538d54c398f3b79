//! Invariant 5: bad input changes nothing and says what is wrong. Every case is a malformed
//! (exit 2) or refused (exit 3) invocation; each must name its fault on stderr and leave the
//! database exactly as it was.

mod common;

use common::{Env, Server, RELEASE_ROLL_URL};

struct Case {
    args: &'static [&'static str],
    /// 2 = bad usage or malformed input, 3 = well-formed but refused by the current state.
    code: i32,
    /// Substrings stderr must hold (case-insensitive), naming the fault. `{k1}` and
    /// `{cancelled}` stand for the ids of the tasks made by `setup`.
    names: &'static [&'static str],
    /// Rejected by clap itself, whose messages do not start with `httpat: `.
    by_clap: bool,
}

const fn ours(args: &'static [&'static str], code: i32, names: &'static [&'static str]) -> Case {
    Case {
        args,
        code,
        names,
        by_clap: false,
    }
}

const fn clap(args: &'static [&'static str], names: &'static [&'static str]) -> Case {
    Case {
        args,
        code: 2,
        names,
        by_clap: true,
    }
}

const CASES: &[Case] = &[
    // schedule: times and durations
    ours(
        &[
            "schedule",
            "release-roll",
            "--at",
            "tomorrow-ish",
            "--arg",
            "roll=B",
        ],
        2,
        &["tomorrow-ish"],
    ),
    ours(
        &[
            "schedule",
            "release-roll",
            "--in",
            "36 parsecs",
            "--arg",
            "roll=B",
        ],
        2,
        &["parsecs"],
    ),
    ours(
        &["schedule", "release-roll", "--in", "", "--arg", "roll=B"],
        2,
        &["duration"],
    ),
    ours(
        &[
            "schedule",
            "release-roll",
            "--at",
            "2026-02-30 10:00",
            "--arg",
            "roll=B",
        ],
        2,
        &["2026-02-30"],
    ),
    clap(
        &[
            "schedule",
            "release-roll",
            "--at",
            "now",
            "--in",
            "1h",
            "--arg",
            "roll=B",
        ],
        &["--in"],
    ),
    clap(&["schedule", "release-roll", "--arg", "roll=B"], &["--at"]),
    ours(
        &[
            "schedule",
            "release-roll",
            "--at",
            "2026-03-29 03:30",
            "--tz",
            "Europe/Riga",
            "--arg",
            "roll=B",
        ],
        2,
        &["03:30"],
    ),
    ours(
        &[
            "schedule",
            "release-roll",
            "--at",
            "2026-11-27 08:00",
            "--tz",
            "Mars/Olympus",
            "--arg",
            "roll=B",
        ],
        2,
        &["Mars/Olympus"],
    ),
    // schedule: arguments
    ours(
        &[
            "schedule",
            "release-roll",
            "--in",
            "1h",
            "--arg",
            "roll=B",
            "--arg",
            "colour",
        ],
        2,
        &["colour"],
    ),
    ours(
        &[
            "schedule",
            "release-roll",
            "--in",
            "1h",
            "--args",
            "not json",
        ],
        2,
        &["json"],
    ),
    ours(
        &["schedule", "release-roll", "--in", "1h", "--args", "[1,2]"],
        2,
        &["object"],
    ),
    ours(
        &[
            "schedule",
            "release-roll",
            "--in",
            "1h",
            "--args",
            "{\"roll\": \"B\"",
        ],
        2,
        &["json"],
    ),
    ours(&["schedule", "release-roll", "--in", "1h"], 2, &["roll"]),
    ours(&["schedule", "notify-shift", "--in", "1h"], 2, &["ticket"]),
    ours(
        &[
            "schedule",
            "release-roll",
            "--in",
            "1h",
            "--arg",
            "roll=B",
            "--max-attempts",
            "0",
        ],
        2,
        &["attempts"],
    ),
    clap(
        &[
            "schedule",
            "release-roll",
            "--in",
            "1h",
            "--arg",
            "roll=B",
            "--priority",
            "high",
        ],
        &["high"],
    ),
    // schedule: refused by the current state
    ours(
        &["schedule", "relase-roll", "--in", "1h", "--arg", "roll=B"],
        3,
        &["relase-roll", "release-roll"],
    ),
    ours(
        &[
            "schedule",
            "release-roll",
            "--in",
            "1h",
            "--arg",
            "roll=B",
            "--key",
            "k1",
        ],
        3,
        &["k1", "{k1}"],
    ),
    ours(
        &[
            "schedule",
            "notify-shift",
            "--in",
            "36h",
            "--arg",
            "ticket=1",
            "--key",
            "k1",
        ],
        3,
        &["k1", "{k1}"],
    ),
    // register
    ours(
        &["register", "pallet", "--url", "http://x/{roll"],
        2,
        &["{roll"],
    ),
    ours(&["register", "pallet", "--url", "ftp://x"], 2, &["ftp"]),
    ours(
        &["register", "release-roll", "--url", "ftp://x/{roll}"],
        2,
        &["ftp"],
    ),
    ours(
        &["register", "pallet", "--url", "not a url"],
        2,
        &["not a url"],
    ),
    ours(&["register", "pallet"], 2, &["--url"]),
    ours(
        &["register", "bad name!", "--url", "http://x/"],
        2,
        &["bad name!"],
    ),
    ours(
        &["register", "release-roll", "--timeout", "forever"],
        2,
        &["forever"],
    ),
    ours(
        &["register", "release-roll", "--success", "7xx"],
        2,
        &["7xx"],
    ),
    ours(
        &["register", "release-roll", "--method", "FETCH!"],
        2,
        &["FETCH!"],
    ),
    ours(
        &["register", "release-roll", "--header", "NoColon"],
        2,
        &["NoColon"],
    ),
    ours(
        &["register", "release-roll", "--max-attempts", "0"],
        2,
        &["attempts"],
    ),
    // show, cancel, list
    ours(&["show", "999"], 3, &["999"]),
    clap(&["show", "abc"], &["abc"]),
    ours(&["cancel", "999"], 3, &["999"]),
    ours(&["cancel", "{k1}", "999"], 3, &["999"]),
    ours(&["cancel", "--key", "no-such-key"], 3, &["no-such-key"]),
    clap(&["cancel"], &["<IDS>"]),
    ours(&["list", "--state", "bogus"], 2, &["bogus"]),
    ours(&["list", "--before", "garbage"], 2, &["garbage"]),
    ours(&["list", "--after", "garbage"], 2, &["garbage"]),
    clap(&["list", "--limit", "many"], &["many"]),
    clap(&["frobnicate"], &["frobnicate"]),
    // refused by the state of a task or an endpoint
    ours(
        &["schedule", "old-roll", "--in", "1h", "--arg", "roll=B"],
        3,
        &["old-roll", "deprecated"],
    ),
    ours(&["cancel", "{done}"], 3, &["{done}", "succeeded"]),
    ours(&["cancel", "{k1}", "{done}"], 3, &["{done}", "succeeded"]),
    ours(&["retry", "{k1}"], 3, &["{k1}", "scheduled"]),
    ours(&["retry", "999"], 3, &["999"]),
    ours(
        &["retry", "{cancelled}", "--at", "soonish"],
        2,
        &["soonish"],
    ),
    ours(
        &["register", "no-such-endpoint", "--deprecate"],
        3,
        &["no-such-endpoint"],
    ),
    ours(
        &["retry", "{cancelled}", "--at", "2026-01-01T00:00:00Z"],
        3,
        &["{cancelled}", "earlier"],
    ),
    ours(
        &["retry", "--endpoint", "nope"],
        3,
        &["nope", "not registered"],
    ),
    clap(
        &["retry", "{cancelled}", "--endpoint", "release-roll"],
        &["--endpoint"],
    ),
    clap(&["retry", "--after", "now"], &["--endpoint"]),
    // the first deployment's stumbles
    ours(
        &[
            "schedule",
            "release-roll",
            "--in",
            "1h",
            "--arg",
            "roll=X",
            "--arg",
            "roll=Y",
        ],
        2,
        &["\"roll\" is given twice", "roll=X", "roll=Y"],
    ),
    ours(
        &[
            "schedule",
            "release-roll",
            "--in",
            "1h",
            "--args",
            "{\"roll\": \"X\"}",
            "--arg",
            "roll=Y",
        ],
        2,
        &["\"roll\" is given twice"],
    ),
    ours(
        &["schedule", "release-roll", "--in", "-5m", "--arg", "roll=X"],
        2,
        &["cannot be negative", "--at"],
    ),
    ours(
        &["recur", "nightly", "release-roll", "--cron", "0 25 * * *"],
        2,
        &["hour 25: hours are 0-23"],
    ),
    ours(
        &[
            "--db",
            "postgres://alice:s3cret@dbhost/httpat?sslmode=sometimes",
            "list",
        ],
        2,
        &["postgres://alice@dbhost/httpat", "sslmode"],
    ),
    ours(
        &["--db", "mysql://dbhost/httpat", "list"],
        2,
        &["postgres://", "file path"],
    ),
    ours(
        &[
            "register",
            "release-roll",
            "--header",
            "Authorization: Bearer $IMS_TOKEN",
        ],
        2,
        &["${IMS_TOKEN}"],
    ),
    // other commands' malformed options
    ours(&["prune", "--older-than", "ages"], 2, &["ages"]),
    ours(&["tick", "--max-runtime", "forever"], 2, &["forever"]),
];

/// The tasks made by `setup`, which cases name as `{k1}`, `{cancelled}` and `{done}`.
struct Ids {
    k1: i64,
    cancelled: i64,
    done: i64,
}

impl Ids {
    fn fill(&self, text: &str) -> String {
        text.replace("{k1}", &self.k1.to_string())
            .replace("{cancelled}", &self.cancelled.to_string())
            .replace("{done}", &self.done.to_string())
    }
}

/// Endpoints with placeholders, a deprecated one, a scheduled task with key `k1`, a cancelled
/// task and one that a tick has sent successfully to the returned server.
fn setup() -> (Env, Ids, Server) {
    let env = Env::new();
    let server = Server::start();
    env.register_release_roll();
    env.ok(&[
        "register",
        "notify-shift",
        "--url",
        "http://127.0.0.1:9/notify/{ticket}",
    ]);
    env.ok(&[
        "register",
        "old-roll",
        "--url",
        "http://127.0.0.1:9/old/{roll}",
    ]);
    env.ok(&[
        "register",
        "old-roll",
        "--deprecate",
        "--reason",
        "use release-roll",
    ]);
    env.ok(&["register", "ping", "--url", &server.url("/ping")]);

    let k1 = env.schedule(&[
        "release-roll",
        "--in",
        "36h",
        "--arg",
        "roll=A",
        "--key",
        "k1",
    ]);
    let cancelled = env.schedule(&["release-roll", "--in", "1h", "--arg", "roll=C"]);
    env.ok(&["cancel", &cancelled.to_string()]);
    let done = env.schedule(&["ping", "--at", "now"]);
    env.ok(&["tick"]);
    assert_eq!(server.requests().len(), 1, "the tick sent the due task");
    (
        env,
        Ids {
            k1,
            cancelled,
            done,
        },
        server,
    )
}

/// What is wrong with one case's outcome, if anything.
fn check(env: &Env, ids: &Ids, case: &Case) -> Option<String> {
    let args: Vec<String> = case.args.iter().map(|a| ids.fill(a)).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let before = env.dump();
    let out = env.cmd(&args).output().expect("run httpat");
    let after = env.dump();
    let stderr = String::from_utf8_lossy(&out.stderr);

    let mut faults = Vec::new();
    if out.status.code() != Some(case.code) {
        faults.push(format!(
            "exit {:?}, expected {}",
            out.status.code(),
            case.code
        ));
    }
    for name in case.names {
        let name = ids.fill(name);
        if !stderr.to_lowercase().contains(&name.to_lowercase()) {
            faults.push(format!("stderr does not name {name:?}"));
        }
    }
    if stderr.contains("s3cret") {
        faults.push("stderr shows the password".to_string());
    }
    if !case.by_clap && !stderr.lines().any(|l| l.starts_with("httpat: ")) {
        faults.push("stderr has no `httpat: ` line".to_string());
    }
    if before != after {
        faults.push(format!(
            "the database changed:\n--- before\n{before}--- after\n{after}"
        ));
    }
    if faults.is_empty() {
        return None;
    }
    Some(format!(
        "httpat {args:?}: {}\n  stdout: {}\n  stderr: {}",
        faults.join("; "),
        String::from_utf8_lossy(&out.stdout).trim_end(),
        stderr.trim_end()
    ))
}

#[test]
fn bad_input_changes_nothing_and_names_the_fault() {
    let (env, ids, _server) = setup();
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|case| check(&env, &ids, case))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n\n")
    );
}

#[test]
fn a_database_path_that_cannot_be_created_is_named() {
    let (env, _, _server) = setup();
    let file = env.path("file");
    std::fs::write(&file, "a regular file, not a folder").unwrap();
    let db = file.join("x.db");

    let before = env.dump();
    let out = env
        .cmd(&[
            "--db",
            db.to_str().unwrap(),
            "register",
            "release-roll",
            "--url",
            RELEASE_ROLL_URL,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(1) | Some(2)),
        "exit {:?}: {stderr}",
        out.status.code()
    );
    assert!(stderr.starts_with("httpat: "), "{stderr}");
    assert!(
        stderr.contains(file.to_str().unwrap()),
        "names the path: {stderr}"
    );
    assert_eq!(env.dump(), before);
    assert!(file.is_file(), "the file in the way is left alone");
}

#[test]
fn no_database_is_created_by_bad_usage() {
    let env = Env::new();
    env.cmd(&["schedule", "release-roll", "--arg", "roll=A"])
        .assert()
        .code(2);
    assert_eq!(env.dump(), "<no database>");
}
