//! The schema's migrations: `migrations/postgres/*.sql`, applied in order, each in a
//! transaction with its version recorded in `httpat.schema_migrations`, all under an advisory
//! lock so that hosts starting together migrate once. A small runner of its own rather than a
//! migration library: what it must do (one schema, one lock, refuse a newer version untouched)
//! is a few statements, and SQLite keeps rusqlite_migration.

use anyhow::{bail, Context, Result};
use postgres::error::SqlState;
use postgres::Client;

/// The schema, one file per version, applied in order and never edited once released.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_initial.sql"),
    include_str!("../../../migrations/postgres/0002_operators.sql"),
];

/// The advisory lock's key: httpat's migrations of this database, whoever runs them.
const LOCK_KEY: i64 = 0x6874_7470_6174; // "httpat"

/// Brings the schema `httpat` up to date. A schema newer than this httpat is refused and left
/// as it is.
pub fn bring_up_to_date(client: &mut Client) -> Result<()> {
    // The common case costs one query and takes no lock.
    if let Some(version) = current_version(client)? {
        if version == MIGRATIONS.len() {
            return Ok(());
        }
        refuse_newer(version)?;
    }
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .context("cannot take the migration lock")?;
    let migrated = migrate_locked(client);
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY]);
    migrated?;
    unlocked.context("cannot release the migration lock")?;
    Ok(())
}

/// The schema's version, None when there is no schema yet.
fn current_version(client: &mut Client) -> Result<Option<usize>> {
    match client.query_one(
        "SELECT coalesce(max(version), 0) FROM httpat.schema_migrations",
        &[],
    ) {
        Ok(row) => Ok(Some(row.get::<_, i32>(0).max(0) as usize)),
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(None),
        Err(e) if e.code() == Some(&SqlState::INVALID_SCHEMA_NAME) => Ok(None),
        Err(e) => Err(e).context("cannot read the schema's version"),
    }
}

fn refuse_newer(version: usize) -> Result<()> {
    if version > MIGRATIONS.len() {
        bail!(
            "its schema httpat was made by a newer httpat (schema version {version}; this \
             httpat knows up to {}): upgrade httpat, the database was not changed",
            MIGRATIONS.len()
        );
    }
    Ok(())
}

fn migrate_locked(client: &mut Client) -> Result<()> {
    client
        .batch_execute(
            "CREATE SCHEMA IF NOT EXISTS httpat; \
             CREATE TABLE IF NOT EXISTS httpat.schema_migrations ( \
                 version integer PRIMARY KEY, \
                 applied_at timestamptz NOT NULL DEFAULT clock_timestamp())",
        )
        .context("cannot create the schema httpat")?;
    // Another host may have migrated while this one waited for the lock.
    let version = current_version(client)?.unwrap_or(0);
    refuse_newer(version)?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let number = index as i32 + 1;
        let mut tx = client.transaction()?;
        tx.batch_execute("SET LOCAL search_path TO httpat")?;
        tx.batch_execute(sql)
            .with_context(|| format!("cannot apply schema version {number}"))?;
        tx.execute(
            "INSERT INTO httpat.schema_migrations (version) VALUES ($1)",
            &[&number],
        )?;
        tx.commit()
            .with_context(|| format!("cannot apply schema version {number}"))?;
    }
    Ok(())
}
