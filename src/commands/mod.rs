//! One module per subcommand, each a `run(args, context)` that reads like the SPEC.md paragraph
//! it implements.

mod cancel;
mod completions;
mod endpoints;
mod list;
mod metrics;
mod prune;
mod recur;
mod recurring;
mod register;
mod register_file;
mod retry;
mod schedule;
mod schedule_file;
mod show;
mod status;
mod tick;
mod transfer;

use anyhow::Result;

use crate::cli::Command;
use crate::context::Context;

pub fn run(command: Command, context: &Context) -> Result<()> {
    match command {
        Command::Register(args) => match &args.file {
            Some(file) => register_file::run(file, args.prune, args.force, context),
            None => register::run(args, context),
        },
        Command::Endpoints(args) => endpoints::run(args, context),
        Command::Schedule(args) => match &args.file {
            Some(file) => schedule_file::run(file, context),
            None => schedule::run(args, context),
        },
        Command::List(args) => list::run(args, context),
        Command::Show(args) => show::run(args, context),
        Command::Cancel(args) => cancel::run(args, context),
        Command::Retry(args) => retry::run(args, context),
        Command::Status(args) => status::run(args, context),
        Command::Metrics(args) => metrics::run(args, context),
        Command::Recur(args) => recur::run(args, context),
        Command::Recurring(args) => recurring::run(args, context),
        Command::Prune(args) => prune::run(args, context),
        Command::Tick(args) => tick::run(args, context),
        Command::Transfer(args) => transfer::run(args, context),
        Command::Completions(args) => completions::run(args),
    }
}
