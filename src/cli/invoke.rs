//! `eltr invoke PLUGIN [ARGS…]`: one plugin with its config and environment, stdio passed
//! through, exit code passed back.

use super::Call;
use crate::pipeline::command::Invocation;
use crate::vocab::ident::RunId;
use crate::vocab::supervisor::Supervisor;
use clap::Args;
use std::ffi::OsString;
use std::process::ExitCode;

/// Flags of `eltr invoke`.
#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// The plugin to run.
    pub plugin: String,
    /// Do not install the plugin first when its virtualenv is missing.
    #[arg(long)]
    pub no_install: bool,
    /// Arguments passed to the plugin after its `--config FILE`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<OsString>,
}

/// Runs the plugin.
pub fn run(call: &Call<'_>, args: InvokeArgs) -> anyhow::Result<ExitCode> {
    let ctx = call.open()?;
    let plugin = ctx.plugin(None, &args.plugin)?;
    let how = Invocation {
        run_id: RunId::new(),
        install_missing: !args.no_install,
        supervisor: Supervisor::quiet(crate::pipeline::signals::grace()),
    };
    let status = crate::pipeline::command::invoke(&ctx, plugin, args.args, &how)?;
    Ok(match status.code() {
        Some(c) => ExitCode::from(c.clamp(0, 255) as u8),
        None => ExitCode::FAILURE,
    })
}
