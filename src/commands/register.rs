//! `httpat register NAME --url URL ...`: create or update one endpoint, and say which.

use anyhow::Result;
use serde::Serialize;

use crate::cli::RegisterArgs;
use crate::context::Context;
use crate::endpoint::{self, Endpoint, SuccessStatuses};
use crate::error::usage;
use crate::render;
use crate::template::UrlTemplate;

/// What `register` did, as printed and as `--json` gives it.
#[derive(Debug, Serialize)]
pub struct Change {
    pub name: String,
    /// `created`, `updated` or `unchanged`.
    pub change: &'static str,
    /// The fields an update changed, in a fixed order.
    pub fields: Vec<&'static str>,
}

/// The flags as checked values; `None` keeps the current value (or the default when created).
struct Requested {
    url: Option<String>,
    method: Option<String>,
    headers: Option<Vec<(String, String)>>,
    timeout: Option<std::time::Duration>,
    max_attempts: Option<u32>,
    success: Option<SuccessStatuses>,
    description: Option<String>,
}

pub fn run(args: RegisterArgs, context: &Context) -> Result<()> {
    let requested = check(&args)?;
    let now = context.now()?;
    let store = context.open_store()?;
    let change = store.in_transaction(|store| {
        let current = store.endpoint(&args.name)?;
        let (next, change) = apply(&args.name, current, requested)?;
        if change.change != "unchanged" {
            store.save_endpoint(&next, now)?;
        }
        Ok(change)
    })?;
    if context.json {
        return render::print_json(&change);
    }
    match change.change {
        "updated" => println!("updated: {}", change.fields.join(", ")),
        other => println!("{other}"),
    }
    Ok(())
}

/// Checks every flag before the database is touched: bad input changes nothing.
fn check(args: &RegisterArgs) -> Result<Requested> {
    endpoint::check_name(&args.name)?;
    if let Some(url) = &args.url {
        UrlTemplate::parse(url)?;
    }
    let headers = if args.headers.is_empty() {
        None
    } else {
        Some(
            args.headers
                .iter()
                .map(|h| endpoint::parse_header(h))
                .collect::<Result<Vec<_>>>()?,
        )
    };
    Ok(Requested {
        url: args.url.clone(),
        method: args
            .method
            .as_deref()
            .map(endpoint::parse_method)
            .transpose()?,
        headers,
        timeout: args
            .timeout
            .as_deref()
            .map(endpoint::parse_timeout)
            .transpose()?,
        max_attempts: args
            .max_attempts
            .map(endpoint::check_max_attempts)
            .transpose()?,
        success: args
            .success
            .as_deref()
            .map(SuccessStatuses::parse)
            .transpose()?,
        description: args.description.clone(),
    })
}

/// The endpoint after the change, and which fields changed.
fn apply(
    name: &str,
    current: Option<Endpoint>,
    requested: Requested,
) -> Result<(Endpoint, Change)> {
    let created = current.is_none();
    let base = match current {
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
            description: None,
            deprecated_at: None,
            deprecated_reason: None,
        },
    };
    let mut next = base.clone();
    let mut fields = Vec::new();
    macro_rules! update {
        ($field:ident, $label:literal) => {
            if let Some(value) = requested.$field {
                if next.$field != value {
                    next.$field = value;
                    fields.push($label);
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
    if let Some(description) = requested.description {
        let description = Some(description).filter(|d| !d.is_empty());
        if next.description != description {
            next.description = description;
            fields.push("description");
        }
    }
    let change = match (created, fields.is_empty()) {
        (true, _) => "created",
        (false, true) => "unchanged",
        (false, false) => "updated",
    };
    if created {
        fields.clear();
    }
    Ok((
        next,
        Change {
            name: name.to_string(),
            change,
            fields,
        },
    ))
}
