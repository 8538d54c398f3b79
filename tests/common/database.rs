//! Reading the database behind the commands' backs, for what no command shows in bulk: a
//! logical dump, one number, rows as text, on either backend; an SQLite connection for what is
//! about the file. Nothing here writes.

use std::path::Path;

use postgres::SimpleQueryMessage;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::Env;

/// A connection used only to read. Opened read-write without create: a read-only open of a WAL
/// database may fail for want of its shared-memory file, and opening changes no row.
pub fn open_db(db: &Path) -> Connection {
    Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open the database to read it")
}

/// One number from the database (a `SELECT` returning one integer; NULL reads as 0), by SQL
/// that both backends speak.
pub fn count(env: &Env, sql: &str) -> i64 {
    rows(env, sql)
        .first()
        .and_then(|row| row.first().cloned())
        .flatten()
        .map_or(0, |value| {
            value
                .parse()
                .unwrap_or_else(|_| panic!("{sql}: {value:?} is not a number"))
        })
}

/// Every row of a query, each value as text (None for NULL), by SQL both backends speak.
pub fn rows(env: &Env, sql: &str) -> Vec<Vec<Option<String>>> {
    if let Some(pg) = &env.pg {
        let messages = pg
            .client()
            .simple_query(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        return messages
            .iter()
            .filter_map(|message| match message {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                ),
                _ => None,
            })
            .collect();
    }
    let conn = open_db(&env.db);
    let mut statement = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let columns = statement.column_count();
    let mut rows = statement.query([]).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut out = Vec::new();
    while let Some(row) = rows.next().unwrap_or_else(|e| panic!("{sql}: {e}")) {
        out.push(
            (0..columns)
                .map(|i| match row.get_ref(i).expect("a value") {
                    ValueRef::Null => None,
                    ValueRef::Integer(n) => Some(n.to_string()),
                    ValueRef::Real(f) => Some(f.to_string()),
                    ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
                })
                .collect(),
        );
    }
    out
}

/// A logical dump of `env`'s database, on either backend.
pub fn dump(env: &Env) -> String {
    let Some(pg) = &env.pg else {
        return dump_database(&env.db);
    };
    let mut client = pg.client();
    let tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'httpat' ORDER BY table_name",
            &[],
        )
        .expect("list tables")
        .iter()
        .map(|row| row.get(0))
        .collect();
    if tables.is_empty() {
        return "<no database>".to_string();
    }
    let mut out = String::new();
    for table in tables {
        out.push_str(&format!("table {table}\n"));
        let rows = client
            .query(
                &format!("SELECT row_to_json(t)::text FROM httpat.{table} t ORDER BY 1"),
                &[],
            )
            .expect("dump a table");
        for row in rows {
            out.push_str(&format!("  {}\n", row.get::<_, String>(0)));
        }
    }
    out
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
