//! `httpat schedule --file FILE|-`: JSON Lines, one task per line, in one transaction: all are
//! stored, or none. Prints one id per line, in input order.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Deserialize;
use serde_json::Value;

use crate::admission::{warn_about, Admission, TaskSpec};
use crate::context::Context;
use crate::error::{kind_of, usage, Failure};
use crate::render;
use crate::store::Location;

/// One line of the file: the same fields as the flags.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    endpoint: String,
    at: Option<String>,
    #[serde(rename = "in")]
    in_: Option<String>,
    tz: Option<String>,
    args: Option<Value>,
    key: Option<String>,
    priority: Option<i64>,
    max_attempts: Option<u32>,
    agent: Option<String>,
}

pub fn run(file: &Path, context: &Context) -> Result<()> {
    let now = context.now()?;
    let reader: Box<dyn BufRead> = if file == Path::new("-") {
        Box::new(BufReader::new(std::io::stdin().lock()))
    } else {
        let opened = std::fs::File::open(file)
            .with_context(|| format!("cannot read {}", file.display()))
            .map_err(|e| usage(format!("{e:#}")))?;
        Box::new(BufReader::new(opened))
    };
    let mut tasks = Vec::new();
    let mut specs = Vec::new();
    let by_server_clock = matches!(context.location()?, Location::Postgres(_));
    for (index, line) in reader.lines().enumerate() {
        let number = index + 1;
        let line = line.map_err(|e| usage(format!("line {number}: cannot be read: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line =
            serde_json::from_str(&line).map_err(|e| usage(format!("line {number}: {e}")))?;
        let spec = TaskSpec {
            endpoint: parsed.endpoint,
            at: parsed.at,
            in_: parsed.in_,
            tz: parsed.tz,
            args: parsed.args,
            arg_pairs: Vec::new(),
            key: parsed.key,
            priority: parsed.priority,
            max_attempts: parsed.max_attempts,
            agent: parsed.agent,
        };
        if by_server_clock {
            // Checked now; made again once the server's clock is read.
            specs.push(spec.clone());
        }
        let task = spec.check(now).map_err(|e| at_line(number, e))?;
        tasks.push((number, task));
    }
    let store = context.open_store()?;
    let db_now = context.now_for(&store)?;
    if by_server_clock && db_now != now {
        // The database's clock is another's: times are counted from it.
        for ((number, task), spec) in tasks.iter_mut().zip(specs) {
            *task = spec.check(db_now).map_err(|e| at_line(*number, e))?;
        }
    }
    let now = db_now;
    let actor = context.actor();
    let admitted = store.in_transaction(|tx| {
        let mut admission = Admission::new(tx);
        admission.lock_in_order(tasks.iter().map(|(_, task)| task.endpoint.as_str()))?;
        tasks
            .iter()
            .map(|(number, task)| {
                admission
                    .admit(task, &actor, now)
                    .map_err(|e| at_line(*number, e))
            })
            .collect::<Result<Vec<_>>>()
    })?;
    for ((_, task), admitted) in tasks.iter().zip(&admitted) {
        warn_about(task, admitted, now);
    }
    if context.json {
        let scheduled: Vec<_> = tasks
            .iter()
            .zip(&admitted)
            .map(|((_, task), admitted)| admitted.scheduled(task))
            .collect();
        return render::print_json(&scheduled);
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for admitted in &admitted {
        writeln!(out, "{}", admitted.id)?;
    }
    out.flush()?;
    Ok(())
}

/// Prefixes an error with its line number, keeping its kind (and so its exit code).
fn at_line(number: usize, error: anyhow::Error) -> anyhow::Error {
    match kind_of(&error) {
        Some(kind) => anyhow::Error::new(Failure {
            kind,
            message: format!("line {number}: {error:#}"),
        }),
        None => error.context(format!("line {number}")),
    }
}
