//! `eltr job list [NAME] [--format json]`, printed as Meltano prints it.

use super::Call;
use super::config::py_repr;
use super::output::Format;
use crate::project::error::did_you_mean;
use crate::project::model::JobDef;
use anyhow::bail;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::process::ExitCode;

/// Flags of `eltr job`.
#[derive(Debug, Args)]
pub struct JobArgs {
    #[command(subcommand)]
    pub action: JobAction,
}

/// What to do with jobs.
#[derive(Debug, Subcommand)]
pub enum JobAction {
    /// List every job, or one.
    List {
        /// Only this job.
        name: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// Runs `eltr job`.
pub fn run(call: &Call<'_>, args: JobArgs) -> anyhow::Result<ExitCode> {
    let ctx = call.open()?;
    let JobAction::List { name, format } = args.action;
    let jobs: Vec<&JobDef> = match &name {
        Some(n) => match ctx.project.jobs.get(n) {
            Some(j) => vec![&j.item],
            None => bail!(
                "unknown job '{n}'{}",
                did_you_mean(n, ctx.project.jobs.keys().map(String::as_str))
            ),
        },
        None => ctx.project.jobs.values().map(|j| &j.item).collect(),
    };
    match (format, name.is_some()) {
        (Format::Json, true) => call.print_json(&job_json(jobs[0]))?,
        (Format::Json, false) => call.print_json(&json!({
            "jobs": jobs.iter().map(|j| job_json(j)).collect::<Vec<_>>()
        }))?,
        (Format::Text, _) => {
            for j in jobs {
                call.print_line(&format!("{}: {}", j.name, py_repr(&json!(j.tasks))))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One job as `{"job_name", "tasks"}`.
pub fn job_json(job: &JobDef) -> Value {
    json!({"job_name": job.name, "tasks": job.tasks})
}
