//! `httpat register --file endpoints.toml|- [--prune] [--force]`: make the registry match a file
//! (or standard input), in one transaction, all or nothing; a new URL that would strand waiting
//! tasks is refused, as `register` refuses it, unless `--force`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Deserialize;

use crate::context::Context;
use crate::endpoint::{self, SuccessStatuses};
use crate::endpoint_change::{
    apply, check_notify_target, check_notify_targets, check_signing, check_tls_path, check_url,
    file_refusal, stranded_by, Change, ChangeKind, Requested,
};
use crate::error::{refused, usage};
use crate::limits;
use crate::render;
use crate::tls::Role;

/// The file: `[endpoints.NAME]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointsFile {
    /// Each entry is checked on its own, so that an error names its endpoint.
    #[serde(default)]
    endpoints: BTreeMap<String, toml::Value>,
}

/// One endpoint as the file gives it; what it leaves out takes the default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointEntry {
    url: String,
    method: Option<String>,
    #[serde(default)]
    headers: Vec<String>,
    timeout: Option<String>,
    max_attempts: Option<u32>,
    success: Option<String>,
    description: Option<String>,
    #[serde(default)]
    deprecated: bool,
    deprecated_reason: Option<String>,
    /// `${VAR}` references to the secrets requests are signed with.
    #[serde(default)]
    signing_secrets: Vec<String>,
    /// Limits: at most N in flight; at most `N/s`, `N/m` or `N/h` started. Absent: no limit.
    max_in_flight: Option<u32>,
    rate: Option<String>,
    /// TLS files; a relative path is relative to the endpoints file's folder.
    ca_file: Option<String>,
    client_cert: Option<String>,
    client_key: Option<String>,
    /// Where outcomes are reported: endpoints' names (absent: none).
    on_failure: Option<String>,
    on_success: Option<String>,
}

pub fn run(file: &Path, prune: bool, force: bool, context: &Context) -> Result<()> {
    let (source, text) = read_file(file)?;
    // Relative TLS paths start from the file's folder (from the current one for stdin).
    let base = (file != Path::new("-")).then(|| file.parent()).flatten();
    let parsed: EndpointsFile = toml::from_str(&text)
        .map_err(|e| usage(format!("{source} is not a valid endpoints file: {e}")))?;
    let mut wanted = Vec::new();
    for (name, entry) in parsed.endpoints {
        let requested = entry
            .try_into::<EndpointEntry>()
            .map_err(anyhow::Error::from)
            .and_then(|entry| check_entry(&name, entry, base))
            .map_err(|e| usage(format!("{source}: endpoint \"{name}\": {e:#}")))?;
        wanted.push((name, requested));
    }
    let store = context.open_store()?;
    let now = context.now_for(&store)?;
    let (changes, stranded) = store.in_transaction(|store| {
        let mut changes = Vec::new();
        let mut named = Vec::new();
        let mut removed = Vec::new();
        let mut stranded = Vec::new();
        for (name, requested) in wanted {
            let current = store.endpoint_to_change(&name)?;
            let old_url = current.as_ref().map(|e| e.url.clone());
            let (next, change) = apply(&name, current, requested, now)?;
            if change.change != ChangeKind::Unchanged {
                stranded.extend(stranded_by(store, old_url.as_deref(), &next)?);
                store.save_endpoint(&next, now)?;
            }
            named.push(name);
            changes.push(change);
        }
        // Every endpoint is checked first, so that the refusal names them all.
        if !stranded.is_empty() && !force {
            return Err(refused(file_refusal(&stranded)));
        }
        if prune {
            for endpoint in store.endpoints()? {
                if named.contains(&endpoint.name) {
                    continue;
                }
                let waiting = store.unfinished_tasks_of(&endpoint.name)?;
                if waiting > 0 && endpoint.deprecated_at.is_none() {
                    return Err(refused(format!(
                        "endpoint \"{}\" still has {waiting} unfinished task(s): deprecate it \
                         first (httpat register {} --deprecate), or cancel them; nothing was changed",
                        endpoint.name, endpoint.name
                    )));
                }
                store.delete_endpoint(&endpoint.name)?;
                removed.push(endpoint.name.clone());
                changes.push(Change {
                    name: endpoint.name,
                    change: ChangeKind::Removed,
                    fields: Vec::new(),
                });
            }
        }
        check_notify_targets(store, &removed)?;
        Ok((changes, stranded))
    })?;
    for stranded in &stranded {
        log::warn!("{}", stranded.warning());
    }
    if context.json {
        return render::print_json(&changes);
    }
    for change in &changes {
        crate::outln!("{}: {}", change.name, change.line());
    }
    Ok(())
}

/// What messages call the file, and its text. `-` is standard input, so that a program that
/// generates the endpoints (httpat-django's `register_schedulable_paths`) can pipe them in.
fn read_file(file: &Path) -> Result<(String, String)> {
    let (source, read) = if file == Path::new("-") {
        let source = "standard input".to_string();
        (source, std::io::read_to_string(std::io::stdin().lock()))
    } else {
        (file.display().to_string(), std::fs::read_to_string(file))
    };
    let text = read
        .with_context(|| format!("cannot read {source}"))
        .map_err(|e| usage(format!("{e:#}")))?;
    Ok((source, text))
}

/// Checks one entry into a full request: every field is set, so the endpoint matches the file.
/// `base`: the folder relative TLS paths start from.
fn check_entry(name: &str, entry: EndpointEntry, base: Option<&Path>) -> Result<Requested> {
    endpoint::check_name(name)?;
    let headers = entry
        .headers
        .iter()
        .map(|h| endpoint::parse_header(h))
        .collect::<Result<Vec<_>>>()?;
    for header in &headers {
        endpoint::warn_if_literal_credential(name, header);
    }
    let timeout = match &entry.timeout {
        Some(text) => endpoint::parse_timeout(text)?,
        None => endpoint::DEFAULT_TIMEOUT,
    };
    let max_attempts =
        endpoint::check_max_attempts(entry.max_attempts.unwrap_or(endpoint::DEFAULT_MAX_ATTEMPTS))?;
    let success = SuccessStatuses::parse(
        entry
            .success
            .as_deref()
            .unwrap_or(endpoint::DEFAULT_SUCCESS),
    )?;
    let method =
        endpoint::parse_method(entry.method.as_deref().unwrap_or(endpoint::DEFAULT_METHOD))?;
    if entry.deprecated_reason.is_some() && !entry.deprecated {
        return Err(usage(
            "deprecated_reason is given but deprecated is not true",
        ));
    }
    Ok(Requested {
        url: Some(check_url(&entry.url)?),
        method: Some(method),
        headers: Some(headers),
        timeout: Some(timeout),
        max_attempts: Some(max_attempts),
        success: Some(success),
        description: Some(entry.description.unwrap_or_default()),
        deprecated: Some(
            entry
                .deprecated
                .then(|| entry.deprecated_reason.unwrap_or_default()),
        ),
        signing_secrets: Some(check_signing(&entry.signing_secrets)?),
        max_in_flight: Some(
            entry
                .max_in_flight
                .map(|n| limits::parse_max_in_flight(&n.to_string()))
                .transpose()?
                .flatten(),
        ),
        rate: Some(
            entry
                .rate
                .as_deref()
                .map(limits::parse_rate)
                .transpose()?
                .flatten(),
        ),
        ca_file: Some(check_tls_path(Role::CaFile, &entry.ca_file, base)?.flatten()),
        client_cert: Some(check_tls_path(Role::ClientCert, &entry.client_cert, base)?.flatten()),
        client_key: Some(check_tls_path(Role::ClientKey, &entry.client_key, base)?.flatten()),
        on_failure: Some(check_notify_target("on_failure", entry.on_failure.as_deref())?.flatten()),
        on_success: Some(check_notify_target("on_success", entry.on_success.as_deref())?.flatten()),
    })
}
