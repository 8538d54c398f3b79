//! `httpat schedule ENDPOINT --at TIME | --in DURATION`: store one task and print its id alone.
//! (`schedule --file` is `schedule_file.rs`; both admit tasks through `crate::admission`.)

use anyhow::Result;
use serde_json::Value;

use crate::admission::{warn_about, Admission, TaskSpec};
use crate::cli::ScheduleArgs;
use crate::context::Context;
use crate::error::usage;
use crate::render;

pub fn run(args: ScheduleArgs, context: &Context) -> Result<()> {
    let now = context.now()?;
    let args_json = args
        .task
        .args_json
        .as_deref()
        .map(|text| {
            serde_json::from_str::<Value>(text)
                .map_err(|e| usage(format!("--args is not valid JSON: {e}")))
        })
        .transpose()?;
    let spec = TaskSpec {
        endpoint: args.endpoint.unwrap_or_default(),
        at: args.at,
        in_: args.in_,
        tz: args.tz,
        args: args_json,
        arg_pairs: args.task.args,
        key: args.key,
        priority: args.task.priority,
        max_attempts: args.task.max_attempts,
        agent: args.agent,
    };
    spec.clone().check(now)?;
    let store = context.open_store()?;
    let now = context.now_for(&store)?;
    let task = spec.check(now)?;
    let actor = context.actor();
    let admitted = store.in_transaction(|tx| Admission::new(tx).admit(&task, &actor, now))?;
    warn_about(&task, &admitted, now);
    if context.json {
        return render::print_json(&admitted.scheduled(&task));
    }
    crate::outln!("{}", admitted.id);
    Ok(())
}
