//! `eltr lock [NAME…] [--plugin-type T] [--update]`: Meltano 4.4's `lock`: fetch each Hub
//! plugin's definition and write `plugins/<type>/<name>--<variant>.lock`. Custom and inherited
//! plugins are skipped with a warning; an existing lockfile is kept unless `--update`.

use super::Call;
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
    Ok(ExitCode::SUCCESS)
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
