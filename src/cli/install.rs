//! `eltr install [PLUGIN…]`: build the virtualenvs of the project's plugins.

use super::Call;
use crate::plugin::install::{InstallOptions, InstallStatus, install};
use crate::project::model::PluginType;
use anyhow::anyhow;
use clap::Args;
use std::process::ExitCode;

/// Flags of `eltr install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Only these plugins (default: all).
    pub plugins: Vec<String>,
    /// Only plugins of this type.
    #[arg(long, value_name = "TYPE")]
    pub plugin_type: Option<String>,
    /// Rebuild venvs even when they are up to date.
    #[arg(long)]
    pub clean: bool,
    /// Installs run at once (default: twice the CPUs, at least 4; at most 1024).
    #[arg(long, short = 'p', value_name = "N", value_parser = parallelism)]
    pub parallelism: Option<usize>,
    /// Only the plugins a schedule runs: its job's tasks, or its extractor and loader.
    #[arg(long, short = 's', value_name = "NAME")]
    pub schedule: Option<String>,
    /// Accepted for Meltano compatibility (it ignores the Python version a plugin declares):
    /// eltr never checks that version, so every install already does what it asks.
    #[arg(long, short = 'f')]
    pub force: bool,
}

/// The most installs run at once: each is a thread and a process.
const MAX_PARALLELISM: u64 = 1024;

/// `--parallelism`: clap prints the error and exits 2.
fn parallelism(raw: &str) -> Result<usize, crate::vocab::number::Problem> {
    crate::vocab::number::count("--parallelism", raw, MAX_PARALLELISM)
        .map(|n| n as usize)
        .map_err(|e| e.problem)
}

/// Installs the plugins; fails if any plugin failed.
pub fn run(call: &Call<'_>, args: InstallArgs) -> anyhow::Result<ExitCode> {
    let ctx = call.open()?;
    let ptype = match &args.plugin_type {
        Some(t) => Some(PluginType::parse(t).ok_or_else(|| anyhow!("unknown plugin type '{t}'"))?),
        None => None,
    };
    let mut plugins: Vec<_> = if args.plugins.is_empty() {
        ctx.all_plugins()?
            .into_iter()
            .filter(|p| ptype.is_none_or(|t| t == p.plugin_type))
            .collect()
    } else {
        args.plugins
            .iter()
            .map(|n| ctx.plugin(ptype, n))
            .collect::<Result<Vec<_>, _>>()?
    };
    if let Some(schedule) = &args.schedule {
        let wanted = schedule_plugins(&ctx, schedule)?;
        plugins.retain(|p| wanted.iter().any(|w| w == p.name.as_str()));
    }
    // A Hub plugin that names only a variant has its pip_url in its lockfile; without one
    // there is nothing to install from, and the run would fail far from the cause.
    let unlocked: Vec<String> = plugins
        .iter()
        .filter(|p| p.pip_url.is_none() && p.inherit_from.is_none())
        .filter_map(|p| {
            let variant = p.variant.as_deref()?;
            let lock = crate::project::lockfile::path(&ctx.project.root, p.plugin_type, &p.name, variant);
            (!lock.exists()).then(|| {
                format!(
                    "{} '{}' names variant '{variant}' but has no pip_url and no lockfile {}: run `eltr lock {}` to fetch its definition from Meltano Hub (or set its pip_url)",
                    p.plugin_type.singular(),
                    p.name,
                    lock.strip_prefix(&ctx.project.root).unwrap_or(&lock).display(),
                    p.name
                )
            })
        })
        .collect();
    if !unlocked.is_empty() {
        return Err(anyhow!("{}", unlocked.join("\n")));
    }
    let parallelism = args
        .parallelism
        .unwrap_or_else(crate::plugin::install::default_parallelism);
    let results = install(
        &ctx,
        plugins,
        &InstallOptions {
            clean: args.clean,
            parallelism,
        },
    )?;
    for r in results
        .iter()
        .filter(|r| matches!(r.status, InstallStatus::NoPipUrl | InstallStatus::Shared(_)))
    {
        crate::plugin::install::report_line(r);
    }
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| matches!(r.status, InstallStatus::Failed { .. }))
        .map(|r| r.plugin.as_str())
        .collect();
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(anyhow!(
            "{} plugin(s) failed to install: {}",
            failed.len(),
            failed.join(", ")
        ))
    }
}

/// The names of the plugins a schedule runs (Meltano's `install --schedule`): a job
/// schedule's tasks (`plugin:command` counts as its plugin), or a legacy schedule's extractor
/// and loader.
fn schedule_plugins(ctx: &crate::project::Context, name: &str) -> anyhow::Result<Vec<String>> {
    let Some(schedule) = ctx.project.schedules.get(name) else {
        let names = ctx.project.schedules.keys().map(String::as_str);
        let hint = crate::project::error::did_you_mean(name, names);
        anyhow::bail!("Schedule '{name}' was not found.{hint}");
    };
    let schedule = &schedule.item;
    let Some(job_name) = &schedule.job else {
        return Ok(schedule
            .extractor
            .iter()
            .chain(&schedule.loader)
            .cloned()
            .collect());
    };
    let Some(job) = ctx.project.jobs.get(job_name) else {
        anyhow::bail!("schedule '{name}' runs job '{job_name}', which the project does not define");
    };
    Ok(job
        .item
        .tasks
        .iter()
        .flat_map(|task| task.blocks())
        .flat_map(|block| block.split_whitespace())
        .map(|word| word.split(':').next().unwrap_or(word).to_string())
        .collect())
}
