//! Reading the database behind the commands' backs, for what no command shows in bulk: a
//! logical dump, one number, a connection for the rest. Nothing here writes.

use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

/// A connection used only to read. Opened read-write without create: a read-only open of a WAL
/// database may fail for want of its shared-memory file, and opening changes no row.
pub fn open_db(db: &Path) -> Connection {
    Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open the database to read it")
}

/// One number from the database (a `SELECT` returning one integer).
pub fn count(db: &Path, sql: &str) -> i64 {
    open_db(db)
        .query_row(sql, [], |row| row.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A logical dump of the database: every table by name, every row by rowid, every value.
/// Two equal dumps mean nothing a user could see has changed.
pub fn dump_database(db: &Path) -> String {
    if !db.exists() {
        return "<no database>".to_string();
    }
    let conn = open_db(db);
    let mut out = String::new();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .expect("read user_version");
    out.push_str(&format!("user_version {version}\n"));
    let mut tables = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )
        .expect("list tables");
    let names: Vec<String> = tables
        .query_map([], |row| row.get(0))
        .expect("list tables")
        .collect::<Result<_, _>>()
        .expect("read table names");
    for name in names {
        out.push_str(&format!("table {name}\n"));
        dump_table(&conn, &name, &mut out);
    }
    out
}

fn dump_table(conn: &Connection, table: &str, out: &mut String) {
    let quoted = format!("\"{}\"", table.replace('"', "\"\""));
    // WITHOUT ROWID tables have no rowid; their natural order is their primary key.
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM {quoted} ORDER BY rowid"))
        .or_else(|_| conn.prepare(&format!("SELECT * FROM {quoted}")))
        .expect("select rows");
    let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
    let mut rows = stmt.query([]).expect("query rows");
    while let Some(row) = rows.next().expect("read row") {
        let values: Vec<String> = (0..columns.len())
            .map(|i| {
                format!(
                    "{}={}",
                    columns[i],
                    show_value(row.get_ref(i).expect("value"))
                )
            })
            .collect();
        out.push_str(&format!("  {}\n", values.join(", ")));
    }
}

fn show_value(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "NULL".to_string(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => {
            let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
            format!("x'{hex}'")
        }
    }
}
