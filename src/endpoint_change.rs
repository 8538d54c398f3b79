//! A change to one endpoint, as `register` and `register --file` ask for it: the checked values
//! to set, the endpoint they make, which fields changed, and the waiting tasks a new URL would
//! strand.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::endpoint::{self, Endpoint, Notify, SuccessStatuses};
use crate::error::{refused, usage};
use crate::limits::{Limits, Rate};
use crate::store::Tx;
use crate::template::UrlTemplate;
use crate::tls::{self, Role, TlsFiles};

/// What happened to an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Created,
    Updated,
    Unchanged,
    Removed,
}

/// What `register` did to one endpoint, as printed and as `--json` gives it.
#[derive(Debug, Serialize)]
pub struct Change {
    pub name: String,
    pub change: ChangeKind,
    /// The fields an update changed, in a fixed order.
    pub fields: Vec<&'static str>,
}

impl Change {
    /// The line a person reads: `created`, `updated: url, timeout`, `unchanged`.
    pub fn line(&self) -> String {
        match self.change {
            ChangeKind::Created => "created".to_string(),
            ChangeKind::Updated => format!("updated: {}", self.fields.join(", ")),
            ChangeKind::Unchanged => "unchanged".to_string(),
            ChangeKind::Removed => "removed".to_string(),
        }
    }
}

/// Checked values to set; `None` keeps the current value (or the default when created).
#[derive(Debug, Default)]
pub struct Requested {
    pub url: Option<String>,
    pub method: Option<String>,
    pub headers: Option<Vec<(String, String)>>,
    pub timeout: Option<std::time::Duration>,
    pub max_attempts: Option<u32>,
    pub success: Option<SuccessStatuses>,
    /// `Some("")` clears it.
    pub description: Option<String>,
    /// `Some(Some(reason))` deprecates (the reason may be empty), `Some(None)` lifts it.
    pub deprecated: Option<Option<String>>,
    /// The variables holding the signing secrets; `Some(vec![])` stops signing.
    pub signing_secrets: Option<Vec<String>>,
    /// Limits; `Some(None)` lifts one.
    pub max_in_flight: Option<Option<u32>>,
    pub rate: Option<Option<Rate>>,
    /// Where outcomes are reported (endpoint names); `Some(None)` stops it.
    pub on_failure: Option<Option<String>>,
    pub on_success: Option<Option<String>>,
    /// TLS files, absolute and checked; `Some(None)` removes one.
    pub ca_file: Option<Option<String>>,
    pub client_cert: Option<Option<String>>,
    pub client_key: Option<Option<String>>,
}

/// `--signing-secret` values (or `signing_secrets` of a file): each only ever a `${VAR}`;
/// the variables' names, each once.
pub fn check_signing(references: &[String]) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    for reference in references {
        let name = crate::signing::check_reference(reference)?;
        if names.contains(&name) {
            return Err(usage(format!(
                "signing secret ${{{name}}} is given twice: give each secret once"
            )));
        }
        names.push(name);
    }
    Ok(names)
}

/// A TLS file option checked and made absolute (relative to `base`, else the current
/// directory); `none` removes the file.
pub fn check_tls_path(
    role: Role,
    given: &Option<String>,
    base: Option<&std::path::Path>,
) -> Result<Option<Option<String>>> {
    given
        .as_deref()
        .map(|path| tls::check_path(role, path, base).map_err(|e| usage(format!("{e:#}"))))
        .transpose()
}

/// `--on-failure` / `--on-success` (or the file's keys): an endpoint's name, or `none`.
pub fn check_notify_target(option: &str, given: Option<&str>) -> Result<Option<Option<String>>> {
    let Some(given) = given else {
        return Ok(None);
    };
    if given == "none" {
        return Ok(Some(None));
    }
    endpoint::check_name(given).map_err(|e| usage(format!("{option}: {e:#}")))?;
    Ok(Some(Some(given.to_string())))
}

/// Every endpoint's notifications name a registered endpoint: checked at the end of the
/// transaction that changes endpoints, so that a file may name one it also creates. `removed`:
/// the endpoints this transaction removes, named in the message when one is still named.
pub fn check_notify_targets(store: &Tx, removed: &[String]) -> Result<()> {
    let endpoints = store.endpoints()?;
    let registered = |name: &str| endpoints.iter().any(|e| e.name == name);
    for endpoint in &endpoints {
        for (option, target) in endpoint.notify.targets() {
            if registered(target) {
                continue;
            }
            let name = &endpoint.name;
            let flag = option.trim_start_matches('-');
            return Err(refused(if removed.iter().any(|r| r == target) {
                format!(
                    "endpoint \"{target}\" cannot be removed: endpoint \"{name}\" reports to it \
                     ({option}); first run httpat register {name} {option} none, or name \
                     another; nothing was changed"
                )
            } else {
                format!(
                    "endpoint \"{name}\": {flag} names endpoint \"{target}\", which is not \
                     registered (see httpat endpoints); register it first; nothing was changed"
                )
            }));
        }
    }
    Ok(())
}

pub fn check_url(url: &str) -> Result<String> {
    UrlTemplate::parse(url)?;
    Ok(url.to_string())
}

/// The endpoint after the change, and which fields changed.
pub fn apply(
    name: &str,
    current: Option<Endpoint>,
    requested: Requested,
    now: DateTime<Utc>,
) -> Result<(Endpoint, Change)> {
    let created = current.is_none();
    if created && requested.url.is_none() && requested.deprecated.is_some() {
        return Err(refused(format!(
            "endpoint \"{name}\" is not registered (see httpat endpoints)"
        )));
    }
    let mut next = match current {
        Some(endpoint) => endpoint,
        None => Endpoint {
            name: name.to_string(),
            method: endpoint::DEFAULT_METHOD.to_string(),
            url: requested.url.clone().ok_or_else(|| {
                usage(format!(
                    "endpoint \"{name}\" is not registered yet: give its --url to create it"
                ))
            })?,
            headers: Vec::new(),
            timeout: endpoint::DEFAULT_TIMEOUT,
            max_attempts: endpoint::DEFAULT_MAX_ATTEMPTS,
            success: SuccessStatuses::parse(endpoint::DEFAULT_SUCCESS)?,
            tls: TlsFiles::default(),
            signing_secrets: Vec::new(),
            limits: Limits::default(),
            notify: Notify::default(),
            description: None,
            deprecated_at: None,
            deprecated_reason: None,
            damage: None,
        },
    };
    let mut fields = Vec::new();
    if let Some(damage) = next.damage.take() {
        // Keeping a damaged part would send requests without it: it must be given anew.
        if requested.headers.is_none() || requested.success.is_none() {
            return Err(refused(format!(
                "{damage}; register it again with all its --header options and --success (or \
                 from an endpoints file) to repair it"
            )));
        }
        fields.extend(["headers", "success"]);
        next.headers.clear();
    }
    macro_rules! update {
        ($field:ident, $label:literal) => {
            if let Some(value) = requested.$field {
                if next.$field != value {
                    next.$field = value;
                    if !fields.contains(&$label) {
                        fields.push($label);
                    }
                }
            }
        };
    }
    update!(url, "url");
    update!(method, "method");
    update!(headers, "headers");
    update!(timeout, "timeout");
    update!(max_attempts, "max_attempts");
    update!(success, "success");
    update!(signing_secrets, "signing_secrets");
    if let Some(max) = requested
        .max_in_flight
        .filter(|max| *max != next.limits.max_in_flight)
    {
        next.limits.max_in_flight = max;
        fields.push("max_in_flight");
    }
    if let Some(rate) = requested.rate.filter(|rate| *rate != next.limits.rate) {
        next.limits.rate = rate;
        fields.push("rate");
    }
    let notify = [
        (
            requested.on_failure,
            &mut next.notify.on_failure,
            "on_failure",
        ),
        (
            requested.on_success,
            &mut next.notify.on_success,
            "on_success",
        ),
    ];
    for (value, stored, label) in notify {
        if let Some(value) = value {
            if *stored != value {
                *stored = value;
                fields.push(label);
            }
        }
    }
    let tls_paths = [
        (requested.ca_file, &mut next.tls.ca_file, "ca_file"),
        (
            requested.client_cert,
            &mut next.tls.client_cert,
            "client_cert",
        ),
        (requested.client_key, &mut next.tls.client_key, "client_key"),
    ];
    for (value, stored, label) in tls_paths {
        if let Some(value) = value {
            if *stored != value {
                *stored = value;
                fields.push(label);
            }
        }
    }
    if fields.iter().any(|f| f.starts_with("client_")) {
        next.tls
            .check_client_pair()
            .map_err(|e| usage(format!("endpoint \"{name}\": {e:#}")))?;
    }
    if let Some(description) = requested.description {
        let description = Some(description).filter(|d| !d.is_empty());
        if next.description != description {
            next.description = description;
            fields.push("description");
        }
    }
    if let Some(deprecation) = requested.deprecated {
        let reason = deprecation.clone().filter(|r| !r.is_empty());
        let was = (next.deprecated_at.is_some(), next.deprecated_reason.clone());
        if was != (deprecation.is_some(), reason.clone()) {
            if deprecation.is_some() != was.0 {
                next.deprecated_at = deprecation.is_some().then_some(now);
            }
            next.deprecated_reason = reason;
            fields.push("deprecated");
        }
    }
    let change = match (created, fields.is_empty()) {
        (true, _) => ChangeKind::Created,
        (false, true) => ChangeKind::Unchanged,
        (false, false) => ChangeKind::Updated,
    };
    if created {
        fields.clear();
    }
    let change = Change {
        name: name.to_string(),
        change,
        fields,
    };
    Ok((next, change))
}

/// How many of the tasks a change would strand are named by id.
const STRANDED_IDS_SHOWN: u32 = 5;

/// Waiting tasks (scheduled, due, retrying) that a new URL would strand: it needs placeholders
/// their arguments cannot fill, so the executor would cancel each when its time comes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stranded {
    pub endpoint: String,
    /// The placeholders the new URL adds.
    pub placeholders: Vec<String>,
    pub tasks: u64,
    /// The first few, by id.
    pub first_ids: Vec<i64>,
}

impl Stranded {
    /// `endpoint "x": the new URL needs "line", which 3 waiting tasks lack (1, 2, 3)`.
    pub fn describe(&self) -> String {
        let needs: Vec<String> = self
            .placeholders
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect();
        let ids: Vec<String> = self.first_ids.iter().map(i64::to_string).collect();
        let (tasks, lack) = match self.tasks {
            1 => ("1 waiting task".to_string(), "lacks"),
            n => (format!("{n} waiting tasks"), "lack"),
        };
        let first = if self.tasks > self.first_ids.len() as u64 {
            "the first: "
        } else {
            ""
        };
        format!(
            "endpoint \"{}\": the new URL needs {}, which {tasks} {lack} ({first}{})",
            self.endpoint,
            needs.join(", "),
            ids.join(", ")
        )
    }

    /// Why `register NAME` refuses it, and the two ways on.
    pub fn refusal(&self) -> String {
        let name = &self.endpoint;
        format!(
            "{}; nothing was changed. Either register the new URL under a new name and deprecate \
             this one, so that the waiting tasks keep their request (httpat register {name}-v2 \
             --url URL ...; httpat register {name} --deprecate), or give --force: the executor \
             will cancel those tasks when their time comes",
            self.describe()
        )
    }

    /// What `--force` leaves on stderr.
    pub fn warning(&self) -> String {
        format!(
            "{}: the executor will cancel them when their time comes (--force)",
            self.describe()
        )
    }
}

/// Why `register --file` refuses the changes that strand tasks, and the two ways on.
pub fn file_refusal(stranded: &[Stranded]) -> String {
    let each: Vec<String> = stranded.iter().map(Stranded::describe).collect();
    format!(
        "{}; nothing was changed. Either give the new URL to a new endpoint in the file and mark \
         this one `deprecated = true`, so that the waiting tasks keep their request, or give \
         --force: the executor will cancel those tasks when their time comes",
        each.join("; ")
    )
}

/// The waiting tasks that `next` would strand: the placeholders its URL adds to `old_url` (all
/// of them for a new endpoint), that their arguments lack. Run in the transaction that saves
/// `next`, after `endpoint_to_change` read the endpoint, so that no task admitted meanwhile
/// escapes the check.
pub fn stranded_by(store: &Tx, old_url: Option<&str>, next: &Endpoint) -> Result<Option<Stranded>> {
    if old_url == Some(next.url.as_str()) {
        return Ok(None);
    }
    let old = old_url.and_then(|url| UrlTemplate::parse(url).ok());
    let old_placeholders = old
        .as_ref()
        .map(UrlTemplate::placeholders)
        .unwrap_or_default();
    let template = next.template()?;
    let added: Vec<&str> = template
        .placeholders()
        .into_iter()
        .filter(|name| !old_placeholders.contains(name))
        .collect();
    let (tasks, first_ids) = store.tasks_lacking(&next.name, &added, STRANDED_IDS_SHOWN)?;
    if tasks == 0 {
        return Ok(None);
    }
    Ok(Some(Stranded {
        endpoint: next.name.clone(),
        placeholders: added.iter().map(|name| name.to_string()).collect(),
        tasks,
        first_ids,
    }))
}
