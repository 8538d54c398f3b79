//! The HTTP request a task makes: built the same way for `show`, `tick --dry-run` and the real
//! send, with header values as written (`${VAR}`) until the moment of sending.

use anyhow::{Context, Result};
use serde::Serialize;

use std::borrow::Cow;
use std::sync::Arc;

use crate::endpoint::Endpoint;
use crate::secrets::{self, Secret};
use crate::signing::Key;
use crate::task::Task;

pub const USER_AGENT: &str = concat!("httpat/", env!("CARGO_PKG_VERSION"));

/// Why a task's request cannot be built when its endpoint was removed after it was scheduled.
pub fn endpoint_gone(task: &Task) -> anyhow::Error {
    anyhow::anyhow!("endpoint \"{}\" is no longer registered", task.endpoint)
}

/// Header names and values, in the order they are sent.
pub type Headers = Vec<(String, String)>;

/// Headers as they go out, borrowed from a plan's: a value is copied only where a `${VAR}` in it
/// was expanded.
pub type Expanded<'a> = Vec<(&'a str, Cow<'a, str>)>;

/// A request as stored and shown: secrets appear as `${VAR}`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RequestPlan {
    pub method: String,
    pub url: String,
    pub headers: Headers,
    pub body: Option<String>,
    /// The names of the headers whose values are the endpoint's, as written: only those read
    /// `${VAR}` (a task's key in Idempotency-Key is sent as it is, `$` and all).
    #[serde(skip)]
    templates: Vec<String>,
}

impl RequestPlan {
    /// The request for `task` to `endpoint`.
    pub fn build(endpoint: &Endpoint, task: &Task) -> Result<RequestPlan> {
        if let Some(damage) = task.damage.as_ref().or(endpoint.damage.as_ref()) {
            anyhow::bail!("{damage}");
        }
        let in_query = endpoint.sends_args_in_query();
        let url = endpoint
            .template()
            .and_then(|template| template.render(&task.args, in_query))
            .with_context(|| {
                format!("the URL of endpoint \"{}\" does not render", endpoint.name)
            })?;
        let mut headers = vec![
            ("User-Agent".to_string(), USER_AGENT.to_string()),
            ("Idempotency-Key".to_string(), task.idempotency_key()),
        ];
        let body = if in_query {
            None
        } else {
            headers.push(("Content-Type".to_string(), "application/json".to_string()));
            Some(serde_json::Value::Object(task.args.clone()).to_string())
        };
        // The endpoint's own headers come last and win over the defaults of the same name.
        for (name, value) in &endpoint.headers {
            headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
            headers.push((name.clone(), value.clone()));
        }
        Ok(RequestPlan {
            method: endpoint.method.clone(),
            url,
            headers,
            body,
            templates: endpoint
                .headers
                .iter()
                .map(|(name, _)| name.clone())
                .collect(),
        })
    }

    /// Signs the request as Standard Webhooks specifies, when the endpoint has signing secrets:
    /// adds `webhook-id` (the Idempotency-Key value), `webhook-timestamp` (`sent_at` in Unix
    /// seconds) and `webhook-signature` over the exact body; returns the secrets read (for
    /// masking a response that echoes one).
    pub fn sign(
        &mut self,
        endpoint: &Endpoint,
        task: &Task,
        sent_at: chrono::DateTime<chrono::Utc>,
        key_of: impl Fn(&str) -> Result<Arc<Key>>,
    ) -> Result<Vec<Secret>> {
        if endpoint.signing_secrets.is_empty() {
            return Ok(Vec::new());
        }
        let keys = endpoint
            .signing_secrets
            .iter()
            .map(|name| key_of(name))
            .collect::<Result<Vec<Arc<Key>>>>()?;
        let secrets = keys.iter().map(|key| key.secret.clone()).collect();
        let id = task.idempotency_key();
        let timestamp = sent_at.timestamp();
        let body = self.body.as_deref().unwrap_or_default().as_bytes();
        let signature = crate::signing::signature_of(&keys, &id, timestamp, body);
        self.headers.push(("webhook-id".to_string(), id));
        self.headers
            .push(("webhook-timestamp".to_string(), timestamp.to_string()));
        self.headers
            .push(("webhook-signature".to_string(), signature));
        Ok(secrets)
    }

    /// The headers as sent: values with `${VAR}` expanded from `lookup` (the others as they
    /// are, not copied), and the secrets found, for masking.
    pub fn expand_headers(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(Expanded<'_>, Vec<Secret>)> {
        let mut found = Vec::new();
        let headers = self
            .headers
            .iter()
            .map(|(name, value)| {
                if !self.templates.contains(name) {
                    return Ok((name.as_str(), Cow::Borrowed(value.as_str())));
                }
                let expanded = secrets::expand(value, &lookup, &mut found)
                    .with_context(|| format!("header \"{name}\""))?;
                Ok((name.as_str(), Cow::Owned(expanded)))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((headers, found))
    }
}
