//! The SQLite backend: one file, WAL journaling, every acknowledgement synced; the schema from
//! `migrations/sqlite/`. What is SQLite's own (pragmas, folding the WAL on close, the unsynced
//! record of an idle tick, the words for its errors) stays here.

mod claims;
mod counters;
mod endpoints;
mod limits;
mod schedules;
mod tasks;
mod ticks;
mod transfer;
mod watch;

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{Migrations, M};

use super::backend;

/// The schema, one file per version, applied in order and never edited once released.
const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("../../../migrations/sqlite/0001_initial.sql")),
    M::up(include_str!(
        "../../../migrations/sqlite/0002_recurring.sql"
    )),
    M::up(include_str!(
        "../../../migrations/sqlite/0003_claim_index.sql"
    )),
    M::up(include_str!(
        "../../../migrations/sqlite/0004_first_deployment.sql"
    )),
    M::up(include_str!(
        "../../../migrations/sqlite/0005_operators.sql"
    )),
    M::up(include_str!(
        "../../../migrations/sqlite/0006_tick_counts.sql"
    )),
    M::up(include_str!(
        "../../../migrations/sqlite/0007_lean_tasks.sql"
    ))
    .foreign_key_check(),
];

/// Brings the schema up to date. Foreign keys are off meanwhile, as SQLite's procedure for
/// making a table again asks (dropping the old one must not delete the rows that refer to it);
/// the migrations that make a table again check them before they commit. The caller turns them
/// on afterwards.
fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch("PRAGMA foreign_keys = OFF;")?;
    Migrations::from_slice(MIGRATIONS)
        .to_latest(conn)
        .map_err(|error| match error {
            // SQLite's words are enough: the migration's whole text would follow them.
            rusqlite_migration::Error::RusqliteError { err, .. } => anyhow::Error::new(err),
            other => anyhow::Error::new(other),
        })
}

/// How long a writer waits for another before giving up: ticks and schedules from several
/// processes share one file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// An open SQLite database.
pub struct Sqlite {
    conn: Connection,
    /// Empty for a database in memory.
    path: PathBuf,
    /// The "now" of the last claim that found a backlog (more due than a claim orders itself):
    /// the claims of one tick share their "now", and a backlog only shrinks, so the next ones
    /// go straight to the walk of the priority levels.
    backlog_at: std::cell::Cell<Option<i64>>,
    /// What the open transaction changed of the kept counts that no trigger counts: added to
    /// them when it commits.
    tally: std::cell::RefCell<Tally>,
    /// The `data_version` last seen by `tick --follow`'s wait.
    seen_version: std::cell::Cell<Option<i64>>,
    /// The id the open transaction gives its next task, once it has read it: the transaction
    /// holds the write lock, so no one else takes an id before it commits.
    next_task_id: std::cell::Cell<Option<i64>>,
    /// The open transaction's new tasks' first transitions, not yet written
    /// (`Tasks::insert_created`).
    created: std::cell::RefCell<Vec<crate::store::records::Transition>>,
}

impl Sqlite {
    /// Opens the database at `path`, creating it (folder 0700, file 0600) and bringing its
    /// schema up to date. A database from a newer httpat is refused and left untouched.
    pub fn open(path: &Path) -> Result<Sqlite> {
        create_if_missing(path)?;
        Sqlite::open_file(path)
    }

    /// Opens the database at `path` if it exists (`None` when it does not; nothing is created).
    pub fn open_existing(path: &Path) -> Result<Option<Sqlite>> {
        if !path.exists() {
            return Ok(None);
        }
        Sqlite::open_file(path).map(Some)
    }

    /// An empty database in memory, with the whole schema.
    pub fn empty() -> Result<Sqlite> {
        let mut conn = Connection::open_in_memory()?;
        migrate(&mut conn)?;
        conn.execute_batch("PRAGMA foreign_keys = ON;")?;
        Ok(Sqlite {
            conn,
            path: PathBuf::new(),
            tally: Default::default(),
            backlog_at: Default::default(),
            seen_version: Default::default(),
            next_task_id: Default::default(),
            created: Default::default(),
        })
    }

    fn open_file(path: &Path) -> Result<Sqlite> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .context("cannot open it")?;
        let mut db = Sqlite {
            conn,
            path: path.to_path_buf(),
            tally: Default::default(),
            backlog_at: Default::default(),
            seen_version: Default::default(),
            next_task_id: Default::default(),
            created: Default::default(),
        };
        db.configure()?;
        Ok(db)
    }

    fn configure(&mut self) -> Result<()> {
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        let version = self.schema_version()?;
        if version > MIGRATIONS.len() {
            bail!(
                "it was made by a newer httpat (schema version {version}; this httpat knows up \
                 to {}): upgrade httpat, the database was not changed",
                MIGRATIONS.len()
            );
        }
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if mode != "wal" {
            bail!("cannot switch it to WAL journaling (it stays in {mode} mode)");
        }
        // An acknowledged task must survive a power cut: every commit is synced.
        self.conn
            .execute_batch("PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY;")?;
        // A short-lived process need not pay for a checkpoint at exit; the WAL is checkpointed
        // automatically as it grows.
        self.conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
        if version < MIGRATIONS.len() {
            let migrated = migrate(&mut self.conn);
            // Two processes may open a new database at once: the loser's migration fails, and
            // finds the schema already brought up to date by the winner.
            if let Err(error) = migrated {
                if self.schema_version()? != MIGRATIONS.len() {
                    bail!("cannot bring its schema up to date: {error}");
                }
            }
        }
        self.conn.execute_batch("PRAGMA foreign_keys = ON;")?;
        Ok(())
    }

    /// The id for the next new task: one above any ever given, pruned ones included, so that an
    /// id in an old log line never names another task. Read once per transaction; the caller
    /// moves it on when it uses it.
    fn next_task_id(&self) -> Result<i64> {
        if let Some(id) = self.next_task_id.get() {
            return Ok(id);
        }
        let id = self
            .conn
            .prepare_cached(
                "SELECT max(high, (SELECT coalesce(max(id), 0) FROM tasks)) + 1 \
                 FROM id_marks WHERE name = 'tasks'",
            )?
            .query_row([], |row| row.get(0))
            .context("cannot read the next task id")?;
        self.keep_task_id(id);
        Ok(id)
    }

    /// Notes that a task was stored with `id`: the next one gets the id above.
    fn took_task_id(&self, id: i64) {
        self.keep_task_id(id + 1);
    }

    fn keep_task_id(&self, id: i64) {
        // Outside a transaction another process may take it next: it is read every time.
        if !self.conn.is_autocommit() {
            self.next_task_id.set(Some(id));
        }
    }

    /// The schema version the database is at.
    fn schema_version(&self) -> Result<usize> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))?;
        Ok(version.max(0) as usize)
    }
}

impl backend::Connection for Sqlite {
    fn begin(&self) -> Result<()> {
        self.tally.take();
        self.next_task_id.take();
        self.created.take();
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    fn commit(&self) -> Result<()> {
        self.next_task_id.take();
        self.write_created()?;
        self.tally
            .take()
            .add_to(&self.conn)
            .context("cannot update the kept counts")?;
        self.conn.execute_batch("COMMIT").context("cannot commit")
    }

    fn rollback(&self) {
        self.tally.take();
        self.next_task_id.take();
        self.created.take();
        // A failed COMMIT leaves the transaction open; a statement that failed inside one may
        // have ended it already. The rollback's own error would hide the one that matters.
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    fn clock(&self) -> Result<Option<(DateTime<Utc>, std::time::Instant)>> {
        Ok(None)
    }
}

/// A task's phase, as the kept counts name it (migration 5, `task_counts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Waiting,
    Retrying,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl Phase {
    const ALL: [Phase; 6] = [
        Phase::Waiting,
        Phase::Retrying,
        Phase::Running,
        Phase::Succeeded,
        Phase::Failed,
        Phase::Cancelled,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Phase::Waiting => "waiting",
            Phase::Retrying => "retrying",
            Phase::Running => "running",
            Phase::Succeeded => "succeeded",
            Phase::Failed => "failed",
            Phase::Cancelled => "cancelled",
        }
    }

    /// The phase of a task that no tick holds, as the schema's triggers reckon it.
    fn unheld(outcome: Option<&str>, attempts: u32, attempts_base: u32) -> Phase {
        match outcome {
            Some("succeeded") => Phase::Succeeded,
            Some("failed") => Phase::Failed,
            Some(_) => Phase::Cancelled,
            None if attempts > attempts_base => Phase::Retrying,
            None => Phase::Waiting,
        }
    }
}

/// Changes to the kept counts that the open transaction made where no trigger counts them
/// (migration 6): tasks inserted, and what claims, results, releases and recoveries moved.
#[derive(Debug, Default)]
struct Tally {
    /// Tasks gained (or lost) per phase, in the order of `Phase::ALL`.
    phases: [i64; 6],
    /// Attempts that got their outcome, by endpoint and outcome.
    finished: std::collections::HashMap<(String, &'static str), i64>,
}

impl Tally {
    fn moved(&mut self, from: Option<Phase>, to: Phase) {
        if let Some(from) = from {
            self.phases[from as usize] -= 1;
        }
        self.phases[to as usize] += 1;
    }

    fn finished(&mut self, endpoint: &str, outcome: &'static str) {
        *self
            .finished
            .entry((endpoint.to_string(), outcome))
            .or_default() += 1;
    }

    /// Adds the changes to the kept counts, in the open transaction.
    fn add_to(self, conn: &Connection) -> rusqlite::Result<()> {
        for (phase, n) in Phase::ALL.iter().zip(self.phases) {
            if n != 0 {
                conn.prepare_cached("UPDATE task_counts SET n = n + ?2 WHERE phase = ?1")?
                    .execute(rusqlite::params![phase.as_str(), n])?;
            }
        }
        for ((endpoint, outcome), n) in self.finished {
            conn.prepare_cached(
                "INSERT INTO attempt_counts (endpoint, outcome, n) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (endpoint, outcome) DO UPDATE SET n = n + excluded.n",
            )?
            .execute(rusqlite::params![endpoint, outcome, n])?;
        }
        Ok(())
    }
}

/// A WAL larger than this is folded back into the database when a process closes it. Every
/// short-lived process is the first connection of its life: it rebuilds the WAL index by reading
/// the whole WAL, and it cannot know what earlier processes checkpointed (that lives in the
/// index), so only a checkpoint that empties the WAL file keeps that read short.
const WAL_FOLD_BYTES: u64 = 256 * 1024;

/// How long closing waits for other processes' readers before leaving the fold to a later one.
const FOLD_PATIENCE: Duration = Duration::from_millis(50);

impl Drop for Sqlite {
    fn drop(&mut self) {
        if self.path.as_os_str().is_empty() {
            return;
        }
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        let large = std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_FOLD_BYTES);
        if large && self.conn.busy_timeout(FOLD_PATIENCE).is_ok() {
            // Errors are fine here: the fold is an optimisation, and a later process retries.
            let _ = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
    }
}

fn create_if_missing(path: &Path) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(folder)
            .with_context(|| format!("cannot create its folder {}", folder.display()))?;
    }
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        // Another process made it first: fine.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).context("cannot create it"),
    }
}

/// What a person needs from an error that came from SQLite, in plain words with the fix where
/// there is one, and SQLite's own words; None for an error of another kind.
pub fn explain(error: &anyhow::Error) -> Option<String> {
    use rusqlite::ErrorCode;
    let (code, words) =
        error
            .chain()
            .find_map(|cause| match cause.downcast_ref::<rusqlite::Error>() {
                Some(rusqlite::Error::SqliteFailure(failure, message)) => Some((
                    failure.code,
                    message.clone().unwrap_or_else(|| failure.to_string()),
                )),
                _ => None,
            })?;
    let what = match code {
        ErrorCode::DiskFull => "the disk is full: free some space and run the command again",
        ErrorCode::ReadOnly => {
            "it cannot be written (a read-only file or file system): check its permissions"
        }
        ErrorCode::SystemIoFailure => {
            "a disk I/O error (a full disk or a file size limit?): check the disk and run again"
        }
        ErrorCode::CannotOpen => "it cannot be opened: check the path and its permissions",
        ErrorCode::PermissionDenied => "permission denied: check the file's owner and mode",
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
            "another process held it for more than 30 s: run the command again"
        }
        ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
            "it is damaged or not an httpat database"
        }
        _ => return None,
    };
    Some(format!("{what}; nothing was changed ({words})"))
}

/// Milliseconds since the epoch, as stored (rounded down: for "now" and for what has happened).
fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// Milliseconds since the epoch for a time something must not happen before: rounded up, so
/// that storing it never brings it forward (a task asked for 12:00:30.0005 is not due at
/// 12:00:30.000).
fn millis_not_before(at: DateTime<Utc>) -> i64 {
    let floor = at.timestamp_millis();
    if at.timestamp_subsec_nanos() % 1_000_000 == 0 {
        floor
    } else {
        floor + 1
    }
}

/// A stored time back as a `DateTime`.
fn from_millis(ms: i64) -> DateTime<Utc> {
    // Stored times come from `millis`, so they are in range; the epoch is a safe fallback.
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::backend::Connection as _;

    #[test]
    fn a_failed_commit_is_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = Sqlite::open(&dir.path().join("httpat.db")).unwrap();
        db.begin().unwrap();
        // A deferred foreign key violation makes COMMIT itself fail, leaving the transaction
        // open unless it is rolled back.
        db.conn
            .execute_batch(
                "PRAGMA defer_foreign_keys = ON; \
                 INSERT INTO transitions (task_id, at, to_state, actor) \
                 VALUES (4242, 0, 'due', 'test')",
            )
            .unwrap();
        assert!(db.commit().is_err());
        db.rollback();
        assert!(db.conn.is_autocommit(), "the transaction was left open");
        let count: i64 = db
            .conn
            .query_row("SELECT count(*) FROM transitions", [], |row| row.get(0))
            .unwrap();
        assert_eq!(count, 0);
    }
}
