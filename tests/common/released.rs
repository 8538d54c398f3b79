//! The SQLite schema as each release of httpat left it, made by applying its migrations by
//! hand (not by httpat), so that an upgrade test can fill an old database with old rows and then
//! let the binary migrate it.

use std::ops::RangeInclusive;

use rusqlite::Connection;

/// Every SQLite migration in order: the first brings a database to version 1.
const SQLITE: [&str; 7] = [
    include_str!("../../migrations/sqlite/0001_initial.sql"),
    include_str!("../../migrations/sqlite/0002_recurring.sql"),
    include_str!("../../migrations/sqlite/0003_claim_index.sql"),
    include_str!("../../migrations/sqlite/0004_first_deployment.sql"),
    include_str!("../../migrations/sqlite/0005_operators.sql"),
    include_str!("../../migrations/sqlite/0006_tick_counts.sql"),
    include_str!("../../migrations/sqlite/0007_lean_tasks.sql"),
];

/// Applies the migrations to these schema versions (`1..=4`: a new file to version 4; `5..=5`:
/// a version-4 database to 5), each with the `user_version` it leaves, as that release did.
pub fn migrate_sqlite_by_hand(conn: &Connection, versions: RangeInclusive<usize>) {
    for version in versions {
        conn.execute_batch(SQLITE[version - 1])
            .unwrap_or_else(|e| panic!("SQLite migration {version}: {e}"));
        conn.pragma_update(None, "user_version", version as i64)
            .unwrap();
    }
}
