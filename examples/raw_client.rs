//! The baseline of `bench/run`'s drain figure: the HTTP work of a tick without its database.
//! Sends N POST requests at concurrency C to one URL with httpat's own agent
//! (`httpat::executor::agent()`: same keep-alive pool, timeouts and headers) from a pool of C
//! threads, reads each response body as a tick does, and prints requests per second.
//!
//! ```sh
//! cargo build --release --example raw_client
//! target/release/examples/raw_client http://127.0.0.1:8080/hook 10000 16
//! ```
//!
//! Output, one line on stdout: `REQUESTS_PER_SECOND` (a number); `-v` after the three arguments
//! adds a summary on stderr. Exits 1 when any request fails or gets a non-2xx status.
//!
//! `--stock` sends with a plain ureq agent instead: the same timeouts, statuses as results and no
//! redirects, but ureq's own resolver (a thread per request when a timeout is set) and its
//! default keep-alive pool (10 connections in all). That is the "raw ureq client" a user would
//! write; httpat's agent remembers resolved addresses and keeps a connection per worker.

use std::io::Read;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: raw_client URL REQUESTS CONCURRENCY [-v]");
        return ExitCode::from(2);
    }
    let url = args[1].clone();
    let (Ok(requests), Ok(concurrency)) = (args[2].parse::<u64>(), args[3].parse::<u64>()) else {
        eprintln!("raw_client: REQUESTS and CONCURRENCY must be whole numbers");
        return ExitCode::from(2);
    };
    let verbose = args[4..].iter().any(|a| a == "-v");
    let agent = if args[4..].iter().any(|a| a == "--stock") {
        stock_agent()
    } else {
        httpat::executor::agent()
    };
    // Workers take the next request number from one counter, as a tick's workers take the
    // next job from one queue.
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let agent = agent.clone();
            let next = Arc::clone(&next);
            let failures = Arc::clone(&failures);
            let url = url.clone();
            std::thread::spawn(move || loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= requests {
                    break;
                }
                if !send(&agent, &url, n) {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let failed = failures.load(Ordering::Relaxed);
    let rate = requests as f64 / elapsed;
    println!("{rate:.0}");
    if verbose {
        eprintln!(
            "raw_client: {requests} requests at concurrency {concurrency} in {elapsed:.3}s \
             ({rate:.0}/s), {failed} failed"
        );
    }
    if failed > 0 {
        eprintln!("raw_client: {failed} of {requests} requests failed");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// A ureq agent as ureq's documentation builds one, with httpat's settings that change what a
/// request does (timeouts, statuses as results, no redirects) and nothing that makes it faster.
fn stock_agent() -> ureq::Agent {
    let timeout = httpat::endpoint::DEFAULT_TIMEOUT;
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .timeout_connect(Some(timeout))
        .build()
        .into()
}

/// One request shaped like a tick's: a JSON body, its Content-Type and an Idempotency-Key; the
/// body of the response read up to httpat's limit. True on a 2xx status.
fn send(agent: &ureq::Agent, url: &str, n: u64) -> bool {
    let body = format!("{{\"roll\":\"R{n}\"}}");
    let sent = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", format!("raw-{n}"))
        .send(body.as_bytes());
    let Ok(mut response) = sent else {
        return false;
    };
    let mut received = Vec::new();
    let read = response
        .body_mut()
        .as_reader()
        .take(httpat::executor::BODY_LIMIT as u64 + 1)
        .read_to_end(&mut received);
    read.is_ok() && response.status().is_success()
}
