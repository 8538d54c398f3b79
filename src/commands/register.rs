//! `httpat register NAME ...`: create or update one endpoint, deprecate it or lift that, and say
//! what changed. (`register --file` is `register_file.rs`; both change endpoints through
//! `crate::endpoint_change`.)

use anyhow::Result;

use crate::cli::RegisterArgs;
use crate::context::Context;
use crate::endpoint::{self, SuccessStatuses};
use crate::endpoint_change::{
    apply, check_notify_target, check_notify_targets, check_signing, check_tls_path, check_url,
    stranded_by, ChangeKind, Requested,
};
use crate::error::{refused, usage};
use crate::limits;
use crate::render;
use crate::tls::Role;

pub fn run(args: RegisterArgs, context: &Context) -> Result<()> {
    let Some(name) = args.name.clone() else {
        return Err(usage("give an endpoint NAME, or --file FILE"));
    };
    let requested = check(&args)?;
    let store = context.open_store()?;
    let now = context.now_for(&store)?;
    let (change, stranded) = store.in_transaction(|store| {
        let current = store.endpoint_to_change(&name)?;
        let old_url = current.as_ref().map(|e| e.url.clone());
        let (next, change) = apply(&name, current, requested, now)?;
        if change.change == ChangeKind::Unchanged {
            return Ok((change, None));
        }
        let stranded = stranded_by(store, old_url.as_deref(), &next)?;
        match &stranded {
            Some(stranded) if !args.force => return Err(refused(stranded.refusal())),
            _ => store.save_endpoint(&next, now)?,
        }
        check_notify_targets(store, &[])?;
        Ok((change, stranded))
    })?;
    if let Some(stranded) = stranded {
        log::warn!("{}", stranded.warning());
    }
    if context.json {
        return render::print_json(&change);
    }
    crate::outln!("{}", change.line());
    Ok(())
}

/// Checks every flag before the database is touched: bad input changes nothing.
fn check(args: &RegisterArgs) -> Result<Requested> {
    if let Some(name) = &args.name {
        endpoint::check_name(name)?;
    }
    let headers = if args.headers.is_empty() {
        None
    } else {
        let headers = args
            .headers
            .iter()
            .map(|h| endpoint::parse_header(h))
            .collect::<Result<Vec<_>>>()?;
        let name = args.name.as_deref().unwrap_or_default();
        for header in &headers {
            endpoint::warn_if_literal_credential(name, header);
        }
        Some(headers)
    };
    let deprecated = match (args.deprecate, args.undeprecate) {
        (true, _) => Some(Some(args.reason.clone().unwrap_or_default())),
        (false, true) => Some(None),
        (false, false) => None,
    };
    Ok(Requested {
        url: args.url.as_deref().map(check_url).transpose()?,
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
        deprecated,
        signing_secrets: match (args.no_signing, args.signing_secrets.is_empty()) {
            (true, _) => Some(Vec::new()),
            (false, true) => None,
            (false, false) => Some(check_signing(&args.signing_secrets)?),
        },
        max_in_flight: args
            .max_in_flight
            .as_deref()
            .map(limits::parse_max_in_flight)
            .transpose()?,
        rate: args.rate.as_deref().map(limits::parse_rate).transpose()?,
        on_failure: check_notify_target("--on-failure", args.on_failure.as_deref())?,
        on_success: check_notify_target("--on-success", args.on_success.as_deref())?,
        ca_file: check_tls_path(Role::CaFile, &args.ca_file, None)?,
        client_cert: check_tls_path(Role::ClientCert, &args.client_cert, None)?,
        client_key: check_tls_path(Role::ClientKey, &args.client_key, None)?,
    })
}
