//! httpat: at(1) for HTTP requests. Endpoints and scheduled requests live in SQLite;
//! `httpat tick`, run by cron every minute, sends the requests whose time has come.

/// `println!` that never panics: a closed or full stdout must not become a panic (exit 101).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that never panics: with stderr on a full disk, the exit code must still be ours.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod admission;
pub mod agents;
pub mod attempt;
pub mod cli;
pub mod commands;
pub mod context;
pub mod endpoint;
pub mod endpoint_change;
pub mod error;
pub mod executor;
pub mod limits;
pub mod logfile;
pub mod manpages;
pub mod metrics;
pub mod notification;
pub mod origin;
pub mod proxy;
pub mod recurring;
pub mod render;
pub mod request;
pub mod secrets;
pub mod signing;
pub mod store;
pub mod task;
pub mod template;
pub mod tick;
pub mod tls;
pub mod tls_failure;
pub mod when;
pub mod zone;

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::Cli;
use crate::context::Context;

/// Parses a command line. The parser's tree is left for the process's exit to reclaim: freeing
/// it node by node was 8% of a `schedule`'s instructions, work a short command need not do.
fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Cli, clap::Error> {
    let mut command = std::mem::ManuallyDrop::new(Cli::command());
    let mut matches = command.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches_mut(&mut matches).map_err(|error| error.format(&mut command))
}

/// Runs one httpat command line and returns the process exit code (SPEC.md: 0 done, 1 could not
/// do its work, 2 bad usage, 3 refused).
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match parse(args) {
        Ok(cli) => cli,
        Err(error) => {
            // clap prints help and version on stdout with code 0, usage errors with code 2.
            let _ = error.print();
            return error.exit_code();
        }
    };
    init_logging(cli.global.verbose, cli.global.quiet);
    let context = Context::new(&cli.global);
    match commands::run(cli.command, &context) {
        Ok(()) => 0,
        Err(error) => {
            let code = error::exit_code(&error);
            let explained = context
                .location()
                .ok()
                .and_then(|location| store::explain(&error, location));
            match explained {
                Some(line) => errln!("httpat: {line}"),
                None if error::kind_of(&error) == Some(error::Kind::Reported) => {}
                None => errln!("httpat: {error:#}"),
            }
            if code == 1 {
                if let Some(log_path) = context.log_path() {
                    logfile::append(&log_path, None, &error);
                }
            }
            code
        }
    }
}

/// The most verbose level a filter string asks for anywhere.
fn max_level(filters: &str) -> log::LevelFilter {
    let mut most = log::LevelFilter::Off;
    for directive in filters.split(',') {
        let name = directive.rsplit('=').next().unwrap_or("").trim();
        let found = name
            .parse::<log::LevelFilter>()
            .unwrap_or(log::LevelFilter::Error);
        most = most.max(found);
    }
    most
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|_| verbose == 0 && !quiet);
    let filters = from_env.as_deref().unwrap_or(level);
    // At trace level the HTTP client dumps the bytes it sends, secrets included: never more
    // than debug (where it masks header values) for it, whatever RUST_LOG asks.
    let http_client = log::LevelFilter::Debug.min(max_level(filters));
    // The platform verifier logs each certificate it refuses as an error, in rustls' words: the
    // tick says it once, in its own words (see tls_failure), so those lines wait for -vv.
    let verifier = if verbose >= 2 {
        http_client
    } else {
        log::LevelFilter::Off
    };
    env_logger::Builder::new()
        .parse_filters(filters)
        .filter_module("ureq", http_client)
        .filter_module("ureq_proto", http_client)
        .filter_module("rustls_platform_verifier", verifier)
        .format(|out, record| {
            use std::io::Write;
            let level = match record.level() {
                log::Level::Warn => "warning".to_string(),
                other => other.as_str().to_ascii_lowercase(),
            };
            writeln!(out, "httpat: {level}: {}", record.args())
        })
        .init();
}
