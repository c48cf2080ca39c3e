//! `eltr compile`: the whole resolved project as JSON, for review and for tools.

use super::Call;
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
pub fn run(call: &Call<'_>, args: CompileArgs) -> anyhow::Result<ExitCode> {
    let ctx = call.open()?;
    let doc = project::compile::compile(&ctx, args.show_secrets)?;
    match args.show_secrets {
        true => call.print_json_unmasked(&doc)?,
        false => call.print_json(&doc)?,
    }
    Ok(ExitCode::SUCCESS)
}
