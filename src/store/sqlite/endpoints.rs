//! Endpoints in SQLite.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};

use super::{from_millis, millis, Sqlite};
use crate::endpoint::Endpoint;
use crate::store::backend::Endpoints;
use crate::store::conditions::state_condition;
use crate::store::records::EndpointActivity;
use crate::store::rows::EndpointRow;
use crate::task::State;
use crate::tls::TlsFiles;

pub(super) const ENDPOINT_COLUMNS: &str =
    "name, method, url, headers, timeout_ms, max_attempts, success, \
     description, deprecated_at, deprecated_reason, ca_file, client_cert, client_key, signing_secrets, \
     max_in_flight, rate, on_failure, on_success";

/// How many columns `ENDPOINT_COLUMNS` names: a query's own columns follow them.
pub(super) const ENDPOINT_COLUMN_COUNT: usize = 18;

pub(super) fn endpoint_from_row(row: &Row) -> rusqlite::Result<Endpoint> {
    Ok(EndpointRow {
        name: row.get(0)?,
        method: row.get(1)?,
        url: row.get(2)?,
        headers: row.get(3)?,
        timeout_ms: row.get(4)?,
        max_attempts: row.get(5)?,
        success: row.get(6)?,
        description: row.get(7)?,
        deprecated_at: row.get::<_, Option<i64>>(8)?.map(from_millis),
        deprecated_reason: row.get(9)?,
        tls: TlsFiles {
            ca_file: row.get(10)?,
            client_cert: row.get(11)?,
            client_key: row.get(12)?,
        },
        signing_secrets: row.get(13)?,
        max_in_flight: row.get(14)?,
        rate: row.get(15)?,
        on_failure: row.get(16)?,
        on_success: row.get(17)?,
    }
    .into_endpoint())
}

impl Endpoints for Sqlite {
    /// The endpoint with this name, if registered.
    fn endpoint(&self, name: &str) -> Result<Option<Endpoint>> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE name = ?1");
        self.conn
            .prepare_cached(&sql)?
            .query_row([name], endpoint_from_row)
            .optional()
            .with_context(|| format!("cannot read endpoint \"{name}\""))
    }

    /// Every endpoint, by name.
    fn endpoints(&self) -> Result<Vec<Endpoint>> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints ORDER BY name");
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map([], endpoint_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every endpoint by name, with how many unfinished tasks it has.
    fn endpoints_with_waiting(&self) -> Result<Vec<(Endpoint, u64)>> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS}, \
                 (SELECT count(*) FROM tasks t WHERE t.endpoint = e.name AND t.outcome IS NULL) \
             FROM endpoints e ORDER BY name"
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map([], |row| {
            Ok((
                endpoint_from_row(row)?,
                row.get::<_, i64>(ENDPOINT_COLUMN_COUNT)? as u64,
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Per endpoint: its due tasks (a range of `tasks_waiting`, for all endpoints at once: named,
    /// since the planner would otherwise walk every waiting task in endpoint order), its
    /// retrying ones (`tasks_retrying`), its failures since (a range of
    /// `tasks_finished_by_endpoint`) and its latest success (that index's last entry): each
    /// bounded by what it counts, never every task.
    fn endpoint_activity(
        &self,
        now: DateTime<Utc>,
        failed_since: DateTime<Utc>,
    ) -> Result<Vec<EndpointActivity>> {
        let sql = format!(
            "SELECT e.name, coalesce(due.n, 0), coalesce(retrying.n, 0), \
                 (SELECT count(*) FROM tasks WHERE endpoint = e.name AND outcome = 'failed' \
                     AND finished_at >= :since), \
                 (SELECT finished_at FROM tasks WHERE endpoint = e.name \
                     AND outcome = 'succeeded' ORDER BY finished_at DESC LIMIT 1) \
             FROM endpoints e \
             LEFT JOIN (SELECT endpoint, count(*) AS n FROM tasks INDEXED BY tasks_waiting \
                 WHERE {due} \
                 GROUP BY endpoint) due ON due.endpoint = e.name \
             LEFT JOIN (SELECT endpoint, count(*) AS n FROM tasks WHERE {retrying} \
                 GROUP BY endpoint) retrying ON retrying.endpoint = e.name \
             ORDER BY e.name",
            due = state_condition(State::Due, ":now"),
            retrying = state_condition(State::Retrying, ":now"),
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map(
            rusqlite::named_params! {":now": millis(now), ":since": millis(failed_since)},
            |row| {
                Ok(EndpointActivity {
                    endpoint: row.get(0)?,
                    due: row.get::<_, i64>(1)? as u64,
                    retrying: row.get::<_, i64>(2)? as u64,
                    failed_since: row.get::<_, i64>(3)? as u64,
                    last_success_at: row.get::<_, Option<i64>>(4)?.map(from_millis),
                })
            },
        )?;
        rows.collect::<rusqlite::Result<_>>()
            .context("cannot read what the endpoints' tasks did")
    }

    /// The registered names, for messages that say what exists.
    fn endpoint_names(&self) -> Result<Vec<String>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT name FROM endpoints ORDER BY name")?;
        let rows = statement.query_map([], |row| row.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many unfinished tasks an endpoint has.
    fn unfinished_tasks_of(&self, name: &str) -> Result<u64> {
        let count: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM tasks WHERE endpoint = ?1 AND outcome IS NULL")?
            .query_row([name], |row| row.get(0))?;
        Ok(count as u64)
    }

    /// The write transaction already keeps every other writer out.
    fn endpoint_to_change(&self, name: &str) -> Result<Option<Endpoint>> {
        self.endpoint(name)
    }

    fn endpoint_to_admit(&self, name: &str) -> Result<Option<Endpoint>> {
        self.endpoint(name)
    }

    fn tasks_lacking(
        &self,
        endpoint: &str,
        placeholders: &[&str],
        limit: u32,
    ) -> Result<(u64, Vec<i64>)> {
        // Placeholder names are letters, digits, `_` and `-`: quoted, they are a safe JSON path.
        // Arguments that are not JSON are left out (a tick cancels such a task anyway), and CASE
        // keeps json_type from reading them.
        let mut statement = self.conn.prepare_cached(
            "SELECT id, count(*) OVER () FROM tasks t \
             WHERE endpoint = ?1 AND outcome IS NULL AND tick_id IS NULL \
                 AND CASE WHEN json_valid(t.args) THEN EXISTS (SELECT 1 FROM json_each(?2) p \
                     WHERE coalesce(json_type(t.args, '$.\"' || p.value || '\"'), 'null') \
                         IN ('null', 'array', 'object')) ELSE 0 END \
             ORDER BY id LIMIT ?3",
        )?;
        let rows = statement.query_map(
            params![endpoint, serde_json::to_string(placeholders)?, limit],
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
        )?;
        let rows = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .with_context(|| format!("cannot read the waiting tasks of endpoint \"{endpoint}\""))?;
        let total = rows.first().map_or(0, |(_, total)| *total as u64);
        Ok((total, rows.into_iter().map(|(id, _)| id).collect()))
    }

    /// Removes an endpoint; its tasks stay (a tick cancels unfinished ones, naming the cause).
    fn delete_endpoint(&self, name: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM endpoints WHERE name = ?1")?
            .execute([name])
            .with_context(|| format!("cannot remove endpoint \"{name}\""))?;
        Ok(())
    }

    /// Inserts the endpoint, or replaces the stored one of the same name.
    fn save_endpoint(&self, endpoint: &Endpoint, now: DateTime<Utc>) -> Result<()> {
        let headers = serde_json::to_string(&endpoint.headers)?;
        self.conn
            .prepare_cached(
                "INSERT INTO endpoints (name, method, url, headers, timeout_ms, max_attempts, \
                     success, description, deprecated_at, deprecated_reason, created_at, updated_at, \
                     ca_file, client_cert, client_key, signing_secrets, max_in_flight, rate, \
                     on_failure, on_success) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?13, ?14, ?15, \
                     ?16, ?17, ?18, ?19) \
                 ON CONFLICT (name) DO UPDATE SET method = ?2, url = ?3, headers = ?4, \
                     timeout_ms = ?5, max_attempts = ?6, success = ?7, description = ?8, \
                     deprecated_at = ?9, deprecated_reason = ?10, updated_at = ?11, \
                     ca_file = ?12, client_cert = ?13, client_key = ?14, signing_secrets = ?15, \
                     max_in_flight = ?16, rate = ?17, on_failure = ?18, on_success = ?19",
            )?
            .execute(params![
                endpoint.name,
                endpoint.method,
                endpoint.url,
                headers,
                endpoint.timeout.as_millis() as i64,
                endpoint.max_attempts,
                endpoint.success.as_str(),
                endpoint.description,
                endpoint.deprecated_at.map(millis),
                endpoint.deprecated_reason,
                millis(now),
                endpoint.tls.ca_file,
                endpoint.tls.client_cert,
                endpoint.tls.client_key,
                serde_json::to_string(&endpoint.signing_secrets)?,
                endpoint.limits.max_in_flight,
                endpoint.limits.rate.map(|rate| rate.to_string()),
                endpoint.notify.on_failure,
                endpoint.notify.on_success,
            ])
            .with_context(|| format!("cannot save endpoint \"{}\"", endpoint.name))?;
        Ok(())
    }
}
