//! A block that runs one plugin on its own (`utility`, `plugin:command`), and `eltr invoke`:
//! the plugin with its config and environment, stdio passed through.

use super::{RunError, RunRequest};
use crate::plugin::{PrepareOptions, describe_status, prepare};
use crate::project::Context;
use crate::vocab::ident::RunId;
use serde_json::Value;
use std::ffi::OsString;
use std::process::ExitStatus;

/// Runs `plugin` (or one of its `commands:`) as a block.
pub fn run(
    ctx: &Context,
    req: &RunRequest,
    plugin: &str,
    command: Option<&str>,
) -> Result<(), super::BlockFailure> {
    let fail = |e: RunError| Box::new((None, e));
    let resolved = ctx.plugin(None, plugin).map_err(|e| fail(e.into()))?;
    let args = match command {
        Some(name) => command_args(&resolved.commands, name).ok_or_else(|| {
            fail(RunError::Blocks(super::blocks::BlockError(format!(
                "plugin '{plugin}' has no command '{name}'"
            ))))
        })?,
        None => Vec::new(),
    };
    let status = invoke(ctx, plugin, args, req.run_id, req.no_install).map_err(fail)?;
    if status.success() {
        Ok(())
    } else {
        Err(fail(RunError::PluginFailed {
            kind: resolved.plugin_type.singular(),
            name: plugin.to_string(),
            status: describe_status(status),
            tail: String::new(),
        }))
    }
}

/// Runs a plugin with its config file and environment, extra `args` appended, stdin, stdout
/// and stderr inherited. Returns its exit status.
pub fn invoke(
    ctx: &Context,
    plugin: &str,
    args: Vec<OsString>,
    run_id: RunId,
    no_install: bool,
) -> Result<ExitStatus, RunError> {
    let resolved = ctx.plugin(None, plugin)?;
    super::ensure_installed(ctx, &[&resolved], no_install)?;
    let opts = PrepareOptions {
        run_id,
        with_catalog: args.is_empty(),
        ..PrepareOptions::default()
    };
    let prepared = prepare(ctx, resolved, &opts)?;
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
