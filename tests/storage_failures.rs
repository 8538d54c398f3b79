//! Disk full and read-only databases (issue 10; SPEC exit code 1): `schedule` and `tick` that
//! cannot write exit 1 (never 0, never a panic) with a message naming the database, acknowledge
//! nothing, and leave a database that is still valid, with every task acknowledged before, which
//! later ticks finish. The write limits work as root (CI): RLIMIT_FSIZE through `ulimit -f`, a
//! read-only or full tmpfs when `mount` is allowed (skipped otherwise), another user through
//! `setpriv`, and paths under /proc.

mod common;
#[path = "support/reliability.rs"]
mod reliability;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{describe, httpat, open_db, run_under, spawn_tick, Env, Server};
use reliability::{
    minute, run, schedule_all, schedule_file, tally, task_lines, tick_until_done, with_stdin, BASE,
};
use rusqlite::Connection;

const TASKS: usize = 300;

/// `httpat ARGS` with its files limited to `kib` KiB (RLIMIT_FSIZE, which binds root too).
/// SIGXFSZ is ignored, so a write past the limit fails with EFBIG instead of killing the process.
fn limited(env: &Env, kib: u64, args: &[&str]) -> Command {
    let script = format!("trap '' XFSZ; ulimit -f {kib} || exit 99; exec \"$0\" \"$@\"");
    run_under(&["bash", "-c", &script], httpat(env, BASE, args))
}

/// Exit 1, nothing on stdout (no id acknowledged), no panic. Returns a complaint when the
/// message does not name the database (SPEC: messages name the thing at fault), so the test
/// can check the data first and report the message last.
fn failed_cleanly(what: &str, out: &Output, db: &Path) -> Option<String> {
    assert_eq!(out.status.code(), Some(1), "{what}: {}", describe(out));
    assert!(
        out.stdout.is_empty(),
        "{what} acknowledged: {}",
        describe(out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("httpat: ") && !stderr.contains("panicked"),
        "{what}: {}",
        describe(out)
    );
    let named = stderr.contains(&db.display().to_string());
    (!named).then(|| {
        format!(
            "{what}: the message does not name the database {}: {stderr:?}",
            db.display()
        )
    })
}

/// `PRAGMA integrity_check` says ok, `list` works, and every acknowledged key is there exactly
/// once; keys of refused work are not.
fn still_valid(env: &Env, acknowledged: &[String], refused_prefix: &str) {
    let conn = open_db(&env.db);
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("run integrity_check");
    assert_eq!(check, "ok", "integrity_check");
    let list = env.json(&["list", "--limit", "100000"]);
    let listed = list["tasks"]
        .as_array()
        .expect("list --json has tasks")
        .len();
    assert_eq!(listed, acknowledged.len(), "tasks listed");
    for key in acknowledged {
        let n: i64 = conn
            .query_row("SELECT count(*) FROM tasks WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .expect("count a key");
        assert_eq!(n, 1, "acknowledged task {key}");
    }
    let half_done: i64 = conn
        .query_row(
            "SELECT count(*) FROM tasks WHERE key LIKE ?1 || '%'",
            [refused_prefix],
            |row| row.get(0),
        )
        .expect("count refused keys");
    assert_eq!(half_done, 0, "tasks stored by a command that exited 1");
}

/// Finishes everything with ticks that can write, and checks nothing was lost on the way.
fn finishes(env: &Env, server: &Server, acknowledged: &[String]) {
    tick_until_done(env, 1, 10);
    let result = tally(env, acknowledged, &server.deliveries_by_key());
    assert!(result.lost.is_empty(), "lost: {:?}", result.lost);
    assert_eq!(result.stuck, 0, "stuck running");
    assert!(
        result.unexplained.is_empty(),
        "unexplained duplicates: {:?}",
        result.unexplained
    );
}

/// A database with TASKS acknowledged tasks due now to a local server, and a connection held
/// open that keeps the WAL's shared memory and empties the WAL, so that the next write must
/// grow a file.
fn filled(env: &Env, server: &Server) -> (Vec<String>, Connection) {
    env.ok(&["register", "hook", "--url", &server.url("/hook")]);
    schedule_all(env, "hook", "kept-", TASKS);
    let keeper = open_db(&env.db);
    keeper
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint the WAL");
    let keys = (0..TASKS).map(|n| format!("kept-{n}")).collect();
    (keys, keeper)
}

#[test]
fn with_a_file_size_limit_schedule_and_tick_exit_1_and_the_database_stays_valid() {
    let env = Env::sqlite();
    let server = Server::start();
    let (acknowledged, keeper) = filled(&env, &server);
    let mut complaints = Vec::new();

    // No byte may be added to any file: the first write fails.
    let one = limited(
        &env,
        0,
        &["schedule", "hook", "--at", "now", "--key", "refused-one"],
    );
    complaints.extend(failed_cleanly("schedule, no room", &run(one), &env.db));
    let batch = task_lines("hook", BASE, "refused-batch-", 500);
    let out = with_stdin(limited(&env, 0, &["schedule", "--file", "-"]), &batch);
    complaints.extend(failed_cleanly("schedule --file, no room", &out, &env.db));
    complaints.extend(failed_cleanly(
        "tick, no room",
        &run(limited(&env, 0, &["tick"])),
        &env.db,
    ));

    // Room for a few pages: the big batch and the drain run out part way.
    let out = with_stdin(limited(&env, 64, &["schedule", "--file", "-"]), &batch);
    complaints.extend(failed_cleanly("schedule --file, 64 KiB", &out, &env.db));
    complaints.extend(failed_cleanly(
        "tick, 64 KiB",
        &run(limited(&env, 64, &["tick"])),
        &env.db,
    ));
    drop(keeper);

    still_valid(&env, &acknowledged, "refused-");
    finishes(&env, &server, &acknowledged);
    assert!(complaints.is_empty(), "{complaints:#?}");
}

#[test]
fn with_stderr_on_the_full_disk_too_a_tick_still_exits_1_not_a_panic() {
    // `httpat tick >>/var/log/httpat.log 2>&1` from cron: the disk that is full also holds the
    // file stderr goes to. The error cannot be read there, but the exit code must still say 1.
    let env = Env::sqlite();
    let server = Server::start();
    let (acknowledged, keeper) = filled(&env, &server);
    let log = std::fs::File::create(env.path("cron.log")).expect("create cron.log");
    for args in [&["tick"][..], &["schedule", "hook", "--at", "now"][..]] {
        let out = limited(&env, 0, args)
            .stdout(Stdio::from(log.try_clone().expect("clone cron.log")))
            .stderr(Stdio::from(log.try_clone().expect("clone cron.log")))
            .output()
            .expect("run httpat");
        assert_eq!(
            out.status.code(),
            Some(1),
            "httpat {args:?} with stderr on the full disk (101 is a panic)"
        );
    }
    drop(keeper);
    still_valid(&env, &acknowledged, "refused-");
}

/// A tmpfs mounted over a folder for one test, unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// None (and a note) when this machine does not let the test mount (no privilege).
    fn mount(path: PathBuf, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(&path).expect("create the mount point");
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(&path)
            .output();
        match out {
            Ok(out) if out.status.success() => Some(Tmpfs { path }),
            Ok(out) => {
                eprintln!(
                    "skipped: cannot mount a tmpfs here: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: no mount command: {e}");
                None
            }
        }
    }

    fn remount(&self, options: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.path)
            .output()
            .expect("run mount");
        assert!(out.status.success(), "remount {options}: {out:?}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Moves the test's database and log into `folder`.
fn live_in(env: &mut Env, folder: &Path) {
    env.db = folder.join("httpat.db");
    env.log = folder.join("httpat.log");
}

/// Writes zeros into `path` until the file system says it is full.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).expect("create the filler");
    for chunk in [65_536, 4_096, 1] {
        let zeros = vec![0u8; chunk];
        while file.write_all(&zeros).is_ok() {}
    }
}

#[test]
fn on_a_full_file_system_schedule_and_tick_exit_1_and_the_database_stays_valid() {
    let mut env = Env::sqlite();
    let Some(disk) = Tmpfs::mount(env.path("small"), "4m") else {
        return;
    };
    live_in(&mut env, &disk.path);
    let server = Server::start();
    let (acknowledged, keeper) = filled(&env, &server);
    fill(&disk.path.join("filler"));
    let mut complaints = Vec::new();

    let one = httpat(
        &env,
        BASE,
        &["schedule", "hook", "--at", "now", "--key", "refused-one"],
    );
    complaints.extend(failed_cleanly("schedule, disk full", &run(one), &env.db));
    let batch = task_lines("hook", BASE, "refused-batch-", 500);
    let out = schedule_file(&env, BASE, &batch);
    complaints.extend(failed_cleanly("schedule --file, disk full", &out, &env.db));
    let out = spawn_tick(&env, &minute(0), &[])
        .wait_with_output()
        .expect("wait for the tick");
    complaints.extend(failed_cleanly("tick, disk full", &out, &env.db));

    std::fs::remove_file(disk.path.join("filler")).expect("free the space");
    drop(keeper);
    still_valid(&env, &acknowledged, "refused-");
    finishes(&env, &server, &acknowledged);
    assert!(complaints.is_empty(), "{complaints:#?}");
}

#[test]
fn on_a_read_only_file_system_schedule_and_tick_exit_1_and_the_database_stays_valid() {
    let mut env = Env::sqlite();
    let Some(disk) = Tmpfs::mount(env.path("frozen"), "16m") else {
        return;
    };
    live_in(&mut env, &disk.path);
    let server = Server::start();
    let (acknowledged, keeper) = filled(&env, &server);
    drop(keeper);
    // As httpat leaves it: its WAL and shared-memory files beside it (closing our connection
    // last removed them), which a reader on a read-only file system needs.
    env.ok(&["list"]);
    disk.remount("ro");
    let mut complaints = Vec::new();

    let one = httpat(
        &env,
        BASE,
        &["schedule", "hook", "--at", "now", "--key", "refused-one"],
    );
    complaints.extend(failed_cleanly("schedule, read-only", &run(one), &env.db));
    let out = spawn_tick(&env, &minute(0), &[])
        .wait_with_output()
        .expect("wait for the tick");
    complaints.extend(failed_cleanly("tick, read-only", &out, &env.db));
    assert_eq!(server.count(), 0, "a tick that cannot record sent requests");
    // Reading needs no write: the operator can still look.
    env.ok(&["list"]);

    disk.remount("rw");
    still_valid(&env, &acknowledged, "refused-");
    finishes(&env, &server, &acknowledged);
    assert!(complaints.is_empty(), "{complaints:#?}");
}

/// Whether this test runs as root: a folder it creates belongs to uid 0.
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    let folder = tempfile::tempdir().expect("create a temp dir");
    std::fs::metadata(folder.path()).expect("stat it").uid() == 0
}

#[test]
fn a_database_the_user_may_not_write_makes_schedule_and_tick_exit_1() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::sqlite();
    let server = Server::start();
    let (acknowledged, keeper) = filled(&env, &server);
    drop(keeper);
    let setpriv = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let as_reader = |args: &[&str]| -> Command {
        let inner = httpat(&env, BASE, args);
        if !is_root() {
            return inner;
        }
        // chmod does not stop root: run as nobody, who may read but not write.
        run_under(&setpriv, inner)
    };
    if is_root() && Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: running as root without setpriv");
        return;
    }
    let set_modes = |folder: u32, file: u32| {
        let folder_path = env.dir.path();
        std::fs::set_permissions(folder_path, std::fs::Permissions::from_mode(folder))
            .expect("chmod the folder");
        for entry in std::fs::read_dir(folder_path).expect("read the folder") {
            let path = entry.expect("an entry").path();
            if path.is_file() {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(file))
                    .expect("chmod a file");
            }
        }
    };
    if is_root() {
        set_modes(0o755, 0o644);
    } else {
        set_modes(0o555, 0o444);
    }
    let mut complaints = Vec::new();
    let one = as_reader(&["schedule", "hook", "--at", "now", "--key", "refused-one"]);
    complaints.extend(failed_cleanly("schedule, read-only", &run(one), &env.db));
    let tick = as_reader(&["tick"]);
    complaints.extend(failed_cleanly("tick, read-only", &run(tick), &env.db));
    assert_eq!(server.count(), 0, "a tick that cannot record sent requests");
    set_modes(0o700, 0o600);

    still_valid(&env, &acknowledged, "refused-");
    finishes(&env, &server, &acknowledged);
    assert!(complaints.is_empty(), "{complaints:#?}");
}

#[test]
fn a_database_path_under_proc_is_refused_with_exit_1_naming_the_path() {
    let env = Env::sqlite();
    let cases = [
        // Exists, read-only for root too, and not a database.
        "/proc/version",
        // A file /proc will not let anyone create.
        "/proc/httpat-test.db",
        // A folder /proc will not let anyone create.
        "/proc/httpat-test/httpat.db",
    ];
    for db in cases {
        // Only a command that stores creates a database; the others say there is none.
        let creates = !Path::new(db).exists();
        for (args, stores) in [
            (&["schedule", "hook", "--at", "now"][..], true),
            (&["tick"][..], false),
            (&["list"][..], false),
        ] {
            let mut full = vec!["--db", db];
            full.extend_from_slice(args);
            let out = run(httpat(&env, BASE, &full));
            let what = format!("httpat --db {db} {args:?}");
            if creates && !stores {
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.code(), Some(0), "{what}: {}", describe(&out));
                assert!(stderr.contains(db), "{what} names the path: {stderr}");
                continue;
            }
            let complaint = failed_cleanly(&what, &out, Path::new(db));
            assert!(complaint.is_none(), "{complaint:?}");
        }
    }
}

#[test]
fn a_damaged_database_is_named_once_with_what_to_do() {
    let env = Env::sqlite();
    std::fs::write(
        &env.db,
        "this is not an SQLite database, only text ".repeat(40),
    )
    .unwrap();
    let out = run(httpat(&env, BASE, &["list"]));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let path = env.db.display().to_string();
    assert_eq!(stderr.matches(&path).count(), 1, "{stderr}");
    assert!(
        stderr.contains("damaged or not an httpat database")
            && stderr.contains("nothing was changed"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
