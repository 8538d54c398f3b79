//! Endpoints in PostgreSQL.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use postgres::Row;

use super::{at, count, Postgres};
use crate::endpoint::Endpoint;
use crate::store::backend::Endpoints;
use crate::store::conditions::state_condition;
use crate::store::records::EndpointActivity;
use crate::store::rows::EndpointRow;
use crate::task::State;
use crate::tls::TlsFiles;

pub(super) const ENDPOINT_COLUMNS: &str =
    "name, method, url, headers::text, timeout_ms, max_attempts, \
     success, description, deprecated_at, deprecated_reason, ca_file, client_cert, client_key, \
     signing_secrets::text, max_in_flight, rate, on_failure, on_success";

/// How many columns `ENDPOINT_COLUMNS` names: a query's own columns follow them.
pub(super) const ENDPOINT_COLUMN_COUNT: usize = 18;

pub(super) fn endpoint_from_row(row: &Row) -> Result<Endpoint> {
    Ok(EndpointRow {
        name: row.try_get(0)?,
        method: row.try_get(1)?,
        url: row.try_get(2)?,
        headers: row.try_get(3)?,
        timeout_ms: row.try_get(4)?,
        max_attempts: row.try_get::<_, i32>(5)?.max(0) as u32,
        success: row.try_get(6)?,
        description: row.try_get(7)?,
        deprecated_at: row.try_get(8)?,
        deprecated_reason: row.try_get(9)?,
        tls: TlsFiles {
            ca_file: row.try_get(10)?,
            client_cert: row.try_get(11)?,
            client_key: row.try_get(12)?,
        },
        signing_secrets: row.try_get(13)?,
        max_in_flight: row.try_get::<_, Option<i32>>(14)?.map(i64::from),
        rate: row.try_get(15)?,
        on_failure: row.try_get(16)?,
        on_success: row.try_get(17)?,
    }
    .into_endpoint())
}

impl Endpoints for Postgres {
    fn endpoint(&self, name: &str) -> Result<Option<Endpoint>> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE name = $1");
        self.query_opt(&sql, &[&name])
            .with_context(|| format!("cannot read endpoint \"{name}\""))?
            .map(|row| endpoint_from_row(&row))
            .transpose()
    }

    fn endpoints(&self) -> Result<Vec<Endpoint>> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints ORDER BY name");
        self.query(&sql, &[])?
            .iter()
            .map(endpoint_from_row)
            .collect()
    }

    fn endpoints_with_waiting(&self) -> Result<Vec<(Endpoint, u64)>> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS}, \
                 (SELECT count(*) FROM tasks t WHERE t.endpoint = e.name AND t.outcome IS NULL) \
             FROM endpoints e ORDER BY name"
        );
        self.query(&sql, &[])?
            .iter()
            .map(|row| {
                Ok((
                    endpoint_from_row(row)?,
                    count(row.try_get(ENDPOINT_COLUMN_COUNT)?),
                ))
            })
            .collect()
    }

    /// Per endpoint: its due tasks (a range of `tasks_waiting`, for all endpoints at once), its
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
                     AND finished_at >= $2), \
                 (SELECT finished_at FROM tasks WHERE endpoint = e.name \
                     AND outcome = 'succeeded' ORDER BY finished_at DESC LIMIT 1) \
             FROM endpoints e \
             LEFT JOIN (SELECT endpoint, count(*) AS n FROM tasks WHERE {due} \
                 GROUP BY endpoint) due ON due.endpoint = e.name \
             LEFT JOIN (SELECT endpoint, count(*) AS n FROM tasks WHERE {retrying} \
                 GROUP BY endpoint) retrying ON retrying.endpoint = e.name \
             ORDER BY e.name",
            due = state_condition(State::Due, "$1"),
            retrying = state_condition(State::Retrying, "$1"),
        );
        self.query(&sql, &[&at(now), &at(failed_since)])
            .context("cannot read what the endpoints' tasks did")?
            .iter()
            .map(|row| {
                Ok(EndpointActivity {
                    endpoint: row.try_get(0)?,
                    due: count(row.try_get(1)?),
                    retrying: count(row.try_get(2)?),
                    failed_since: count(row.try_get(3)?),
                    last_success_at: row.try_get(4)?,
                })
            })
            .collect()
    }

    fn endpoint_names(&self) -> Result<Vec<String>> {
        self.query("SELECT name FROM endpoints ORDER BY name", &[])?
            .iter()
            .map(|row| Ok(row.try_get(0)?))
            .collect()
    }

    fn unfinished_tasks_of(&self, name: &str) -> Result<u64> {
        let row = self.query_one(
            "SELECT count(*) FROM tasks WHERE endpoint = $1 AND outcome IS NULL",
            &[&name],
        )?;
        Ok(count(row.try_get(0)?))
    }

    /// FOR UPDATE: it waits for admissions holding the row (`endpoint_to_admit`) to commit,
    /// and they wait for it; claims (FOR NO KEY UPDATE) take turns with it too.
    fn endpoint_to_change(&self, name: &str) -> Result<Option<Endpoint>> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE name = $1 FOR UPDATE");
        self.query_opt(&sql, &[&name])
            .with_context(|| format!("cannot read endpoint \"{name}\""))?
            .map(|row| endpoint_from_row(&row))
            .transpose()
    }

    /// FOR KEY SHARE: admissions share it, and claims (FOR NO KEY UPDATE) do not wait for it;
    /// only a change (FOR UPDATE) does.
    fn endpoint_to_admit(&self, name: &str) -> Result<Option<Endpoint>> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE name = $1 FOR KEY SHARE");
        self.query_opt(&sql, &[&name])
            .with_context(|| format!("cannot read endpoint \"{name}\""))?
            .map(|row| endpoint_from_row(&row))
            .transpose()
    }

    fn tasks_lacking(
        &self,
        endpoint: &str,
        placeholders: &[&str],
        limit: u32,
    ) -> Result<(u64, Vec<i64>)> {
        let rows = self
            .query(
                "SELECT id, count(*) OVER () FROM tasks t \
                 WHERE endpoint = $1 AND outcome IS NULL AND tick_id IS NULL \
                     AND EXISTS (SELECT 1 FROM unnest($2::text[]) p (name) \
                         WHERE coalesce(jsonb_typeof(t.args -> p.name), 'null') \
                             IN ('null', 'array', 'object')) \
                 ORDER BY id LIMIT $3",
                &[&endpoint, &placeholders, &i64::from(limit)],
            )
            .with_context(|| format!("cannot read the waiting tasks of endpoint \"{endpoint}\""))?;
        let total = match rows.first() {
            Some(row) => count(row.try_get(1)?),
            None => 0,
        };
        let ids = rows
            .iter()
            .map(|row| Ok(row.try_get(0)?))
            .collect::<Result<_>>()?;
        Ok((total, ids))
    }

    fn save_endpoint(&self, endpoint: &Endpoint, now: DateTime<Utc>) -> Result<()> {
        let headers = serde_json::to_string(&endpoint.headers)?;
        let timeout_ms = endpoint.timeout.as_millis() as i64;
        let max_attempts = endpoint.max_attempts as i32;
        self.execute(
            "INSERT INTO endpoints (name, method, url, headers, timeout_ms, max_attempts, \
                 success, description, deprecated_at, deprecated_reason, ca_file, client_cert, \
                 client_key, created_at, updated_at, signing_secrets, max_in_flight, rate, \
                 on_failure, on_success) \
             VALUES ($1, $2, $3, $4::text::jsonb, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
                 $14, $15::text::jsonb, $16, $17, $18, $19) \
             ON CONFLICT (name) DO UPDATE SET method = $2, url = $3, headers = $4::text::jsonb, \
                 timeout_ms = $5, max_attempts = $6, success = $7, description = $8, \
                 deprecated_at = $9, deprecated_reason = $10, ca_file = $11, \
                 client_cert = $12, client_key = $13, updated_at = $14, \
                 signing_secrets = $15::text::jsonb, max_in_flight = $16, rate = $17, \
                 on_failure = $18, on_success = $19",
            &[
                &endpoint.name,
                &endpoint.method,
                &endpoint.url,
                &headers,
                &timeout_ms,
                &max_attempts,
                &endpoint.success.as_str(),
                &endpoint.description,
                &endpoint.deprecated_at.map(at),
                &endpoint.deprecated_reason,
                &endpoint.tls.ca_file,
                &endpoint.tls.client_cert,
                &endpoint.tls.client_key,
                &at(now),
                &serde_json::to_string(&endpoint.signing_secrets)?,
                &endpoint.limits.max_in_flight.map(|n| n as i32),
                &endpoint.limits.rate.map(|rate| rate.to_string()),
                &endpoint.notify.on_failure,
                &endpoint.notify.on_success,
            ],
        )
        .with_context(|| format!("cannot save endpoint \"{}\"", endpoint.name))?;
        Ok(())
    }

    fn delete_endpoint(&self, name: &str) -> Result<()> {
        self.execute("DELETE FROM endpoints WHERE name = $1", &[&name])
            .with_context(|| format!("cannot remove endpoint \"{name}\""))?;
        Ok(())
    }
}
