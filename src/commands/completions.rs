//! `httpat completions SHELL`: a completion script generated from the clap definitions.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: CompletionsArgs) -> Result<()> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "httpat", &mut std::io::stdout());
    Ok(())
}
