//! `eltr config test PLUGIN` (also `eltr config PLUGIN test`): whether a plugin's settings
//! work, as Meltano 4.4's `meltano config test` decides it (`pipeline::probe`): an extractor
//! must write one record, a loader must take a small test stream.

use super::Call;
use crate::pipeline::RunError;
use crate::pipeline::command::Invocation;
use crate::pipeline::probe::{self, ProbeError, Verdict};
use crate::project::model::PluginType;
use crate::vocab::ident::RunId;
use crate::vocab::supervisor::Supervisor;
use std::process::ExitCode;

/// Tests `name`'s configuration; prints "Plugin configuration is valid" or fails with why.
pub fn run(
    call: &Call<'_>,
    plugin_type: Option<PluginType>,
    name: &str,
    install: super::install_choice::InstallFlags,
) -> anyhow::Result<ExitCode> {
    let ctx = call.open()?;
    let plugin = match ctx.plugin(plugin_type, name) {
        Ok(p) => p,
        // Meltano's word for the project's own settings, which it cannot test either.
        Err(_) if name == "meltano" => {
            anyhow::bail!("Testing of the Meltano project configuration is not supported")
        }
        Err(e) => return Err(e.into()),
    };
    if install.only_install {
        crate::pipeline::ensure_installed(&ctx, &[&plugin])?;
        return Ok(ExitCode::SUCCESS);
    }
    // Listening: a SIGINT or SIGTERM stops the plugin under test and eltr then cleans up its
    // run folder (the config file holds the plugin's secrets) instead of dying at once.
    let how = Invocation {
        run_id: RunId::new(),
        install_missing: install.installs(&ctx)?,
        supervisor: Supervisor::listening(crate::pipeline::signals::grace_setting()?),
        refresh_catalog: false,
    };
    let verdict = probe::test_plugin(&ctx, plugin, &how);
    if let Some(sig) = how.supervisor.received() {
        let stopped = RunError::interrupted_by(sig);
        let code = stopped.exit_code();
        super::report(&anyhow::Error::new(stopped), call.console);
        return Ok(ExitCode::from(code));
    }
    match verdict {
        Ok(Verdict::Valid) => {
            call.print_line("Plugin configuration is valid")?;
            Ok(ExitCode::SUCCESS)
        }
        Ok(Verdict::Invalid(detail)) => anyhow::bail!(
            "Plugin configuration is invalid\n{detail}\nRun 'eltr config list {name}' to review \
             the plugin settings."
        ),
        Err(e @ ProbeError::NotSupported { .. }) => Err(e.into()),
        Err(ProbeError::Run(e)) => Err(e.into()),
    }
}
