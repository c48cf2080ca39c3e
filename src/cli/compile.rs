//! `eltr compile`: the whole resolved project as JSON, for review and for tools.

use super::GlobalArgs;
use super::output::print_json;
use crate::project;
use clap::Args;
use std::process::ExitCode;

/// Flags of `eltr compile`.
#[derive(Debug, Args)]
pub struct CompileArgs {
    /// Print sensitive values instead of masking them.
    #[arg(long = "unsafe")]
    pub show_secrets: bool,
}

/// Prints the resolved project.
pub fn run(global: &GlobalArgs, args: CompileArgs) -> anyhow::Result<ExitCode> {
    let ctx = global.open()?;
    print_json(&project::compile::compile(&ctx, args.show_secrets)?)?;
    Ok(ExitCode::SUCCESS)
}
