//! Rows as a backend reads them, made into domain types in one place for both backends: a
//! column that does not parse is kept as the row's damage (so that the row can be listed and
//! shown) and never sent with that part missing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::endpoint::{Endpoint, SuccessStatuses};
use crate::limits::{Limits, Rate};
use crate::tls::TlsFiles;

/// An endpoint's columns, as text where they hold JSON or a list.
pub struct EndpointRow {
    pub name: String,
    pub method: String,
    pub url: String,
    /// JSON array of `["Name", "value as written"]`.
    pub headers: String,
    pub timeout_ms: i64,
    pub max_attempts: u32,
    pub success: String,
    pub description: Option<String>,
    pub deprecated_at: Option<DateTime<Utc>>,
    pub deprecated_reason: Option<String>,
    pub tls: TlsFiles,
    /// JSON array of variable names.
    pub signing_secrets: String,
    pub max_in_flight: Option<i64>,
    /// `N/s`, `N/m` or `N/h`.
    pub rate: Option<String>,
    pub on_failure: Option<String>,
    pub on_success: Option<String>,
}

impl EndpointRow {
    pub fn into_endpoint(self) -> Endpoint {
        let name = self.name;
        let mut damage = Vec::new();
        let headers = serde_json::from_str(&self.headers).unwrap_or_else(|e| {
            damage.push(format!(
                "its stored headers (column headers) are damaged: {e}"
            ));
            Vec::new()
        });
        let signing_secrets = serde_json::from_str(&self.signing_secrets).unwrap_or_else(|e| {
            damage.push(format!(
                "its stored signing secrets (column signing_secrets) are damaged: {e}"
            ));
            Vec::new()
        });
        let rate = self.rate.as_deref().and_then(|text| {
            Rate::parse(text)
                .map_err(|e| damage.push(format!("its stored rate (column rate) is damaged: {e}")))
                .ok()
        });
        let max_in_flight = self.max_in_flight.and_then(|n| {
            u32::try_from(n).ok().filter(|n| *n > 0).or_else(|| {
                damage.push(format!(
                    "its stored limit (column max_in_flight) is damaged: {n}"
                ));
                None
            })
        });
        let success = SuccessStatuses::parse(&self.success).unwrap_or_else(|e| {
            damage.push(format!(
                "its stored success statuses (column success) are damaged: {e}"
            ));
            SuccessStatuses::default()
        });
        Endpoint {
            damage: (!damage.is_empty())
                .then(|| format!("endpoint \"{name}\": {}", damage.join("; "))),
            name,
            method: self.method,
            url: self.url,
            headers,
            timeout: Duration::from_millis(self.timeout_ms.max(0) as u64),
            max_attempts: self.max_attempts,
            success,
            description: self.description,
            deprecated_at: self.deprecated_at,
            deprecated_reason: self.deprecated_reason,
            tls: self.tls,
            signing_secrets,
            limits: Limits {
                max_in_flight,
                rate,
            },
            notify: crate::endpoint::Notify {
                on_failure: self.on_failure,
                on_success: self.on_success,
            },
        }
    }
}

/// A task's arguments from their stored JSON, and the damage when it does not parse.
pub fn task_args(id: i64, text: &str) -> (Map<String, Value>, Option<String>) {
    match serde_json::from_str::<Map<String, Value>>(text) {
        Ok(args) => (args, None),
        Err(e) => (
            Map::new(),
            Some(format!(
                "task {id}: its stored arguments (column args) are damaged: {e}"
            )),
        ),
    }
}

/// A schedule's arguments from their stored JSON (checked when the schedule was made).
pub fn schedule_args(text: &str) -> Map<String, Value> {
    serde_json::from_str(text).unwrap_or_default()
}
