//! A block that runs one plugin on its own (`utility`, `plugin:command`), and `eltr invoke`:
//! the plugin with its config and environment, stdio passed through.

use super::plan::Plan;
use super::{RunError, Session};
use crate::plugin::{PrepareOptions, describe_status, prepare};
use crate::project::{Context, ResolvedPlugin};
use crate::vocab::ident::RunId;
use crate::vocab::supervisor::Supervisor;
use serde_json::Value;
use std::ffi::OsString;
use std::process::ExitStatus;
use std::sync::Arc;

/// Runs `plugin` (or one of its `commands:`) as a block.
pub fn run(
    session: &Session,
    ctx: &Context,
    plan: &Plan,
    plugin: &ResolvedPlugin,
    command: Option<&str>,
) -> Result<(), super::BlockFailure> {
    let fail = |e: RunError| Box::new((None, e));
    let args = match command {
        Some(name) => command_args(&plugin.commands, name).ok_or_else(|| {
            fail(RunError::Blocks(super::blocks::BlockError::NoCommand {
                plugin: plugin.name.to_string(),
                command: name.to_string(),
            }))
        })?,
        None => Vec::new(),
    };
    let request = Invocation {
        run_id: plan.run_id,
        install_missing: plan.install_missing,
        supervisor: session.supervisor.clone(),
    };
    let status = invoke(ctx, plugin.clone(), args, &request).map_err(fail)?;
    if status.success() {
        Ok(())
    } else {
        Err(fail(RunError::PluginFailed {
            kind: plugin.plugin_type.singular(),
            name: plugin.name.to_string(),
            status: describe_status(status),
            tail: String::new(),
        }))
    }
}

/// How `invoke` runs a plugin.
pub struct Invocation {
    pub run_id: RunId,
    /// Install the plugin first if its virtualenv is missing.
    pub install_missing: bool,
    pub supervisor: Arc<Supervisor>,
}

/// Runs a plugin with its config file and environment, extra `args` appended, stdin, stdout
/// and stderr inherited. Returns its exit status.
pub fn invoke(
    ctx: &Context,
    plugin: ResolvedPlugin,
    args: Vec<OsString>,
    how: &Invocation,
) -> Result<ExitStatus, RunError> {
    if how.install_missing {
        super::ensure_installed(ctx, &[&plugin])?;
    }
    let opts = PrepareOptions {
        run_id: how.run_id,
        with_catalog: args.is_empty(),
        supervisor: how.supervisor.clone(),
        ..PrepareOptions::default()
    };
    let prepared = prepare(ctx, plugin, &opts)?;
    let mut cmd = std::process::Command::new(&prepared.program);
    cmd.args(&prepared.args)
        .args(&args)
        .env_clear()
        .envs(prepared.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&prepared.cwd);
    let status = cmd.status().map_err(|source| RunError::Spawn {
        kind: prepared.plugin.plugin_type.singular(),
        name: prepared.plugin.name.to_string(),
        program: prepared.program.display().to_string(),
        source,
    })?;
    Ok(status)
}

/// The arguments of a `commands:` entry (a string, or `{args: "..."}`), split like a shell.
fn command_args(commands: &indexmap::IndexMap<String, Value>, name: &str) -> Option<Vec<OsString>> {
    let spec = commands.get(name)?;
    let text = match spec {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .get("args")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        _ => return None,
    };
    shell_words::split(&text)
        .ok()
        .map(|v| v.into_iter().map(OsString::from).collect())
}
