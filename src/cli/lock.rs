//! `eltr lock [NAME…] [--plugin-type T] [--update] [--no-lock-dependencies]`: Meltano 4.4's
//! `lock`: fetch each Hub plugin's definition and write `plugins/<type>/<name>--<variant>.lock`
//! (custom and inherited plugins are skipped with a warning). Then pin each plugin's
//! dependencies (PEP 751) in `plugins/<type>/pylock.<name>.toml` with uv, the file Meltano's
//! dependency-locking proposal writes; an inherited plugin without a `pip_url` of its own uses
//! its parent's. Existing files are kept unless `--update`.

use super::Call;
use crate::plugin::install::{Installer, installer};
use crate::plugin::pylock;
use crate::plugin::venv::python_of;
use crate::project::edit::Changeset;
use crate::project::hub::{Hub, HubConfig, lockfile_text};
use crate::project::lockfile;
use crate::project::model::PluginType;
use anyhow::{anyhow, bail};
use clap::Args;
use std::process::ExitCode;

/// Flags of `eltr lock`.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// Only these plugins (default: all).
    pub plugins: Vec<String>,
    #[arg(long, value_name = "TYPE")]
    pub plugin_type: Option<String>,
    /// Replace lockfiles that exist.
    #[arg(long, short = 'u')]
    pub update: bool,
    /// Accepted for Meltano compatibility (every plugin is the default).
    #[arg(long, hide = true)]
    pub all: bool,
    /// Only lock plugin definitions; do not write `pylock.<plugin>.toml` pin files.
    #[arg(long)]
    pub no_lock_dependencies: bool,
}

/// Runs `eltr lock`.
pub fn run(call: &Call<'_>, args: LockArgs) -> anyhow::Result<ExitCode> {
    let ptype = match &args.plugin_type {
        Some(t) => Some(PluginType::parse(t).ok_or_else(|| anyhow!("unknown plugin type '{t}'"))?),
        None => None,
    };
    let ctx = call.open()?;
    let project = &ctx.project;
    let plugins: Vec<_> = project
        .plugins
        .iter()
        .filter(|((t, n), _)| {
            (args.plugins.is_empty() || args.plugins.contains(n)) && ptype.is_none_or(|p| p == *t)
        })
        .collect();
    if plugins.is_empty() {
        bail!("No matching plugin(s) found");
    }
    let hub = Hub::new(HubConfig::of_project(&ctx))?;
    let mut cs = Changeset::new(&project.root);
    let mut locked = Vec::new();
    for ((t, name), def) in plugins {
        let def = &def.item;
        let what = format!("{} {name}", t.singular());
        if def.inherit_from.is_some() {
            tracing::warn!("{} is an inherited plugin", capitalized(&what));
            continue;
        }
        if def.variant.is_none() && def.namespace.is_some() {
            tracing::warn!("{} is a custom plugin", capitalized(&what));
            continue;
        }
        let fetched = hub.definition(*t, name, def.variant.as_deref())?;
        let path = lockfile::path(&project.root, *t, name, &fetched.variant);
        if path.exists() && !args.update {
            tracing::error!(
                "Lockfile exists for {what} at {}",
                path.strip_prefix(&project.root).unwrap_or(&path).display()
            );
            continue;
        }
        cs.put(
            &path,
            Some(lockfile_text(*t, &fetched.definition).into_bytes()),
            0o644,
        );
        locked.push(what);
    }
    cs.commit()?;
    for what in locked {
        call.say(&format!("Locked definition for {what}"));
    }
    if !args.no_lock_dependencies {
        // Opened again: a Hub plugin's pip_url may come from the lockfile just written.
        lock_dependencies(call, &args, ptype)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the pin file of every selected plugin with a `pip_url` of its own, resolved by uv
/// for the interpreter its venv is built with. Without uv, or for a plugin uv cannot
/// resolve, a warning says so and the command still succeeds (the definitions are locked).
fn lock_dependencies(
    call: &Call<'_>,
    args: &LockArgs,
    ptype: Option<PluginType>,
) -> anyhow::Result<()> {
    let ctx = call.open()?;
    let root = &ctx.project.root;
    let Installer::Uv(uv) = installer() else {
        tracing::warn!(
            "Dependencies not locked: eltr pins them with uv, and no uv was found (ELTR_UV, then PATH); install uv, or pass --no-lock-dependencies"
        );
        return Ok(());
    };
    let mut cs = Changeset::new(root);
    let mut pinned = Vec::new();
    for (t, name) in ctx.project.plugins.keys() {
        if !(args.plugins.is_empty() || args.plugins.contains(name))
            || ptype.is_some_and(|p| p != *t)
        {
            continue;
        }
        let plugin = ctx.plugin(Some(*t), name)?;
        let what = format!("{} {name}", t.singular());
        let Some(pip_url) = plugin.pip_url.as_deref() else {
            tracing::info!(
                "{}: no pip_url, no dependencies to lock",
                capitalized(&what)
            );
            continue;
        };
        if plugin.venv_owner != plugin.name {
            tracing::info!(
                "{} shares the venv of '{}' and its pinned dependencies",
                capitalized(&what),
                plugin.venv_owner
            );
            continue;
        }
        let path = pylock::path(root, &plugin);
        let shown = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        if path.exists() && !args.update {
            tracing::warn!("Pin file exists for {what} at {shown} (--update replaces it)");
            continue;
        }
        // As in Meltano's proposal, a plugin whose dependencies cannot be locked (a private
        // index out of reach, a build that fails) keeps its definition lock and is warned about.
        match pylock::compile(&uv, &python_of(&plugin), pip_url, root) {
            Ok(text) => cs.put(&path, Some(text.into_bytes()), 0o644),
            Err(e) => {
                tracing::warn!("Cannot lock the dependencies of {what}: {e}");
                continue;
            }
        }
        pinned.push((what, shown));
    }
    cs.commit()?;
    for (what, shown) in pinned {
        call.say(&format!("Locked dependencies for {what} in {shown}"));
    }
    Ok(())
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
