//! PostgreSQL with ticks on several hosts (SPEC.md, Storage): hosts are told apart by
//! `HTTPAT_HOST` (and, as root, by pid namespaces in tests/pid_namespaces.rs). Each test needs a
//! PostgreSQL server (tests/common/postgres.rs); without one it says why and proves nothing,
//! unless `HTTPAT_REQUIRE_POSTGRES=1`.

mod common;
#[path = "support/reliability.rs"]
mod reliability;

use std::collections::HashSet;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use common::{count, httpat, rows, show, Env, Server, PATIENCE};
use reliability::{minute, schedule_all, tally, BASE};

const HOSTS: [&str; 4] = ["line-a", "line-b", "line-c", "line-d"];

/// `httpat tick ARGS` at `now` as host `host`.
fn tick_as(env: &Env, host: &str, now: &str, args: &[&str]) -> Command {
    let mut full = vec!["tick"];
    full.extend_from_slice(args);
    let mut cmd = httpat(env, now, &full);
    cmd.env("HTTPAT_HOST", host);
    cmd
}

fn start(mut cmd: Command) -> Child {
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start httpat")
}

fn succeeded(out: &Output) -> bool {
    out.status.success()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Waits until `done` holds, or panics after PATIENCE.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "{what} did not happen");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn eight_ticks_on_four_hosts_send_each_of_5000_tasks_once() {
    let Some(env) = Env::postgres("eight_ticks_on_four_hosts") else {
        return;
    };
    let server = Server::start();
    server.set_delay_between(Duration::ZERO, Duration::from_millis(2));
    env.ok(&["register", "hook", "--url", &server.url("/hook")]);
    let ids = schedule_all(&env, "hook", "k", 5_000);
    assert_eq!(ids.len(), 5_000);
    let ticks: Vec<Child> = (0..8)
        .map(|n| start(tick_as(&env, HOSTS[n % 4], BASE, &["--concurrency", "4"])))
        .collect();
    for tick in ticks {
        let out = tick.wait_with_output().unwrap();
        assert!(succeeded(&out), "a tick failed: {}", stderr(&out));
    }
    let keys: Vec<String> = (0..5_000).map(|n| format!("k{n}")).collect();
    let deliveries = server.deliveries_by_key();
    let twice: Vec<_> = deliveries.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    let result = tally(&env, &keys, &deliveries);
    assert!(
        result.lost.is_empty(),
        "lost: {:?}",
        &result.lost[..result.lost.len().min(5)]
    );
    assert_eq!(result.stuck, 0);
    let hosts: HashSet<String> = rows(&env, "SELECT DISTINCT tick_id FROM attempts")
        .into_iter()
        .filter_map(|row| row[0].clone())
        .filter_map(|tick| tick.split(':').next().map(str::to_string))
        .collect();
    assert!(
        hosts.len() >= 2,
        "the ticks did not run side by side, so this proves nothing: {hosts:?}"
    );
}

#[test]
fn a_killed_tick_of_another_host_keeps_its_tasks_until_its_lease_expires() {
    let Some(mut env) = Env::postgres("a_killed_tick_of_another_host") else {
        return;
    };
    let server = Server::start();
    server.hold("/held");
    env.ok(&["register", "hook", "--url", &server.url("/held")]);
    schedule_all(&env, "hook", "k", 20);
    let mut remote = start(tick_as(&env, "line-a", BASE, &["--concurrency", "20"]));
    assert!(
        server.wait_for(20),
        "the remote tick never sent its requests"
    );
    wait_until("the tasks running", || {
        count(&env, "SELECT count(*) FROM tasks WHERE tick_id IS NOT NULL") == 20
    });
    remote.kill().unwrap();
    remote.wait().unwrap();
    server.release();

    // Another host cannot see the dead tick's pid: only the lease frees its tasks.
    let out = tick_as(&env, "line-b", &minute(1), &[]).output().unwrap();
    assert!(succeeded(&out), "{}", stderr(&out));
    assert_eq!(
        server.count(),
        20,
        "a task was taken before its lease expired"
    );
    assert_eq!(
        count(&env, "SELECT count(*) FROM tasks WHERE tick_id IS NOT NULL"),
        20
    );

    env.now(&minute(10));
    let out = tick_as(&env, "line-b", &minute(10), &[]).output().unwrap();
    assert!(succeeded(&out), "{}", stderr(&out));
    let keys: Vec<String> = (0..20).map(|n| format!("k{n}")).collect();
    let result = tally(&env, &keys, &server.deliveries_by_key());
    assert!(result.lost.is_empty(), "lost: {:?}", result.lost);
    assert!(result.unexplained.is_empty(), "{:?}", result.unexplained);
    assert_eq!(result.stuck, 0);
}

/// `httpat` on the real clock (nothing pinned), run under `faketime` with this offset.
fn with_clock(env: &Env, offset: Option<&str>, args: &[&str]) -> Command {
    let inner = {
        let mut cmd = httpat(env, BASE, args);
        cmd.env_remove("HTTPAT_NOW");
        cmd
    };
    match offset {
        None => inner,
        Some(offset) => common::run_under(&["faketime", "-f", offset], inner),
    }
}

fn has_faketime() -> bool {
    let found = Command::new("faketime")
        .args(["-f", "+1m", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !found && common::postgres::required() {
        panic!("faketime is missing (Debian's package faketime)");
    }
    if !found {
        eprintln!("skipped: faketime is missing (Debian's package faketime)");
    }
    found
}

#[test]
fn a_host_whose_clock_runs_ten_minutes_ahead_never_sends_early_nor_steals_a_lease() {
    let Some(env) = Env::postgres("a_host_whose_clock_runs_ahead") else {
        return;
    };
    if !has_faketime() {
        return;
    }
    let server = Server::start();
    server.hold("/held");
    env.ok(&["register", "later", "--url", &server.url("/later")]);
    env.ok(&["register", "held", "--url", &server.url("/held")]);
    // Times are the server's: "in 5 minutes" by its clock, whatever this host's says.
    let out = with_clock(&env, Some("+10m"), &["schedule", "later", "--in", "5m"])
        .output()
        .unwrap();
    assert!(succeeded(&out), "{}", stderr(&out));
    let later: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let out = with_clock(&env, None, &["schedule", "held", "--at", "now"])
        .output()
        .unwrap();
    assert!(succeeded(&out), "{}", stderr(&out));

    // An honest host holds the due task; the one ten minutes ahead ticks beside it.
    let honest = start(with_clock(&env, None, &["tick"]));
    assert!(server.wait_for(1), "the honest tick never sent");
    let mut fast = with_clock(&env, Some("+10m"), &["tick"]);
    fast.env("HTTPAT_HOST", "fast-clock");
    let out = fast.output().unwrap();
    assert!(succeeded(&out), "{}", stderr(&out));
    assert!(
        server.requests_to("/later").is_empty(),
        "a task due in 5 minutes was sent by a host 10 minutes ahead"
    );
    assert_eq!(
        server.requests_to("/held").len(),
        1,
        "a live lease was stolen"
    );
    server.release();
    let out = honest.wait_with_output().unwrap();
    assert!(succeeded(&out), "{}", stderr(&out));
    assert_eq!(show(&env, later)["state"], "scheduled");
}

#[test]
fn sixteen_schedules_of_one_key_from_four_hosts_make_one_task() {
    let Some(env) = Env::postgres("sixteen_schedules_of_one_key") else {
        return;
    };
    env.register_release_roll();
    let children: Vec<Child> = (0..16)
        .map(|n| {
            let mut cmd = httpat(
                &env,
                BASE,
                &[
                    "schedule",
                    "release-roll",
                    "--in",
                    "36h",
                    "--arg",
                    "roll=CCT-0042",
                    "--key",
                    "cool:CCT-0042",
                ],
            );
            cmd.env("HTTPAT_HOST", HOSTS[n % 4]);
            start(cmd)
        })
        .collect();
    let ids: HashSet<String> = children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            assert!(succeeded(&out), "{}", stderr(&out));
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "different ids printed: {ids:?}");
    assert_eq!(count(&env, "SELECT count(*) FROM tasks"), 1);
}

#[test]
fn four_hosts_ticking_at_a_firing_make_one_task() {
    let Some(env) = Env::postgres("four_hosts_ticking_at_a_firing") else {
        return;
    };
    let server = Server::start();
    env.ok(&["register", "export", "--url", &server.url("/export")]);
    env.ok(&[
        "recur",
        "every-minute",
        "export",
        "--cron",
        "* * * * *",
        "--tz",
        "UTC",
    ]);
    for round in 1..=3 {
        let at = minute(round);
        let ticks: Vec<Child> = HOSTS
            .iter()
            .map(|host| start(tick_as(&env, host, &at, &[])))
            .collect();
        for tick in ticks {
            let out = tick.wait_with_output().unwrap();
            assert!(succeeded(&out), "{}", stderr(&out));
        }
        assert_eq!(
            count(&env, "SELECT count(*) FROM tasks"),
            round,
            "round {round}: one task per firing"
        );
        assert_eq!(server.count(), round as usize, "round {round}: one request");
    }
}

#[test]
fn a_restart_of_the_server_mid_drain_loses_nothing() {
    // A cluster of its own: restarting the shared one would cut the other tests' connections.
    let Some(pg) = common::postgres::private_cluster("a_restart_of_the_server_mid_drain") else {
        return;
    };
    let cluster = pg.cluster().expect("a cluster this process runs");
    let env = Env::on_server(pg);
    let server = Server::start();
    server.set_delay(Duration::from_millis(20));
    env.ok(&["register", "hook", "--url", &server.url("/hook")]);
    let tasks = 300;
    schedule_all(&env, "hook", "k", tasks);
    let drain = start(tick_as(&env, "line-a", BASE, &["--concurrency", "4"]));
    assert!(server.wait_for(40), "the tick never got going");
    cluster.restart();
    let out = drain.wait_with_output().unwrap();
    let said = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the tick lost its database: {said}"
    );
    assert!(
        said.lines().count() == 1 && said.contains("database postgres://"),
        "one clear line naming the database: {said}"
    );

    let mut at = 1;
    while count(&env, "SELECT count(*) FROM tasks WHERE outcome IS NULL") > 0 && at < 30 {
        let out = tick_as(&env, "line-a", &minute(at), &[]).output().unwrap();
        assert!(succeeded(&out), "{}", stderr(&out));
        at += 5;
    }
    let keys: Vec<String> = (0..tasks).map(|n| format!("k{n}")).collect();
    let result = tally(&env, &keys, &server.deliveries_by_key());
    assert!(result.lost.is_empty(), "lost: {:?}", result.lost);
    assert_eq!(result.stuck, 0, "stuck running");
    assert!(result.unexplained.is_empty(), "{:?}", result.unexplained);
}

#[test]
fn a_schema_from_a_newer_httpat_is_refused_and_left_untouched() {
    let Some(env) = Env::postgres("a_schema_from_a_newer_httpat") else {
        return;
    };
    env.register_release_roll();
    env.pg
        .as_ref()
        .unwrap()
        .client()
        .batch_execute("INSERT INTO httpat.schema_migrations (version) VALUES (99)")
        .unwrap();
    let before = env.dump();
    let (_, said) = common::exits(&env, &["list"], 1);
    assert!(
        said.contains("newer httpat") && said.contains("99"),
        "{said}"
    );
    common::exits(
        &env,
        &["schedule", "release-roll", "--in", "1h", "--arg", "roll=A"],
        1,
    );
    assert_eq!(env.dump(), before, "the schema was changed");
}

#[test]
fn a_wrong_password_or_host_exits_1_and_the_password_is_never_shown() {
    use common::postgres::{PASSWORD, PASSWORD_ROLE};
    let Some(env) = Env::postgres("a_wrong_password_or_host") else {
        return;
    };
    let Some(cluster) = common::postgres::server().ok().and_then(|s| s.cluster()) else {
        eprintln!("skipped: the server was given by HTTPAT_TEST_POSTGRES");
        return;
    };
    let name = &env.pg.as_ref().unwrap().name;
    let socket = cluster.socket_dir.display();
    env.pg
        .as_ref()
        .unwrap()
        .client()
        .batch_execute(&format!("GRANT ALL ON DATABASE {name} TO {PASSWORD_ROLE}"))
        .unwrap();
    let url =
        |password: &str| format!("postgres://{PASSWORD_ROLE}:{password}@/{name}?host={socket}");
    let run = |db: &str, password_env: Option<&str>| {
        let mut cmd = httpat(
            &env,
            BASE,
            &[
                "--db",
                db,
                "register",
                "hook",
                "--url",
                "http://127.0.0.1:9/",
            ],
        );
        if let Some(password) = password_env {
            cmd.env("PGPASSWORD", password);
        }
        cmd.output().unwrap()
    };
    let wrong = run(&url("not-the-pw-77"), None);
    assert_eq!(wrong.status.code(), Some(1), "{}", stderr(&wrong));
    let said = stderr(&wrong);
    assert!(
        said.contains("credentials") && !said.contains("not-the-pw-77"),
        "{said}"
    );
    let unreachable = run("postgres://alice:s3cret-host@127.0.0.1:1/httpat", None);
    assert_eq!(unreachable.status.code(), Some(1));
    let said = stderr(&unreachable);
    assert!(
        said.contains("cannot be reached") && !said.contains("s3cret-host"),
        "{said}"
    );

    // The right password, from the URL or from PGPASSWORD, works; and is in no file or output.
    let right = run(&url(PASSWORD), None);
    assert!(succeeded(&right), "{}", stderr(&right));
    let from_env = run(
        &format!("postgres://{PASSWORD_ROLE}@/{name}?host={socket}"),
        Some(PASSWORD),
    );
    assert!(succeeded(&from_env), "{}", stderr(&from_env));
    let mut seen = Vec::new();
    for out in [&wrong, &unreachable, &right, &from_env] {
        seen.extend_from_slice(&out.stdout);
        seen.extend_from_slice(&out.stderr);
    }
    for file in reliability_files(&env) {
        seen.extend(std::fs::read(file).unwrap_or_default());
    }
    seen.extend(env.dump().into_bytes());
    let seen = String::from_utf8_lossy(&seen);
    for secret in [PASSWORD, "not-the-pw-77", "s3cret-host"] {
        assert!(!seen.contains(secret), "{secret} was shown or stored");
    }
}

/// Every file the commands may have written in the test's home (the log among them).
fn reliability_files(env: &Env) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![env.dir.path().to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
