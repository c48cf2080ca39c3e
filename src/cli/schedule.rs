//! `eltr schedule list [--format json]`, in Meltano's shapes: job schedules and legacy
//! extractor/loader ("elt") schedules, each with its cron expression.

use super::Call;
use super::config::py_repr;
use super::output::Format;
use crate::project::model::ScheduleDef;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::process::ExitCode;

/// Flags of `eltr schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub action: ScheduleAction,
}

/// What to do with schedules.
#[derive(Debug, Subcommand)]
pub enum ScheduleAction {
    /// List every schedule.
    List {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// Runs `eltr schedule`.
pub fn run(call: &Call<'_>, args: ScheduleArgs) -> anyhow::Result<ExitCode> {
    let ctx = call.open()?;
    let ScheduleAction::List { format } = args.action;
    let mut jobs = Vec::new();
    let mut elts = Vec::new();
    for s in ctx.project.schedules.values().map(|s| &s.item) {
        match &s.job {
            Some(job_name) => {
                let tasks = ctx
                    .project
                    .jobs
                    .get(job_name)
                    .map(|j| json!(j.item.tasks))
                    .unwrap_or(json!([]));
                jobs.push((s, json!({"name": job_name, "tasks": tasks})));
            }
            None => elts.push(s),
        }
    }
    match format {
        Format::Json => call.print_json(&json!({"schedules": {
            "job": jobs.iter().map(|(s, job)| json!({
                "name": s.name,
                "interval": s.interval,
                "cron_interval": cron_interval(s.interval.as_deref()),
                "env": s.env,
                "job": job,
            })).collect::<Vec<_>>(),
            "elt": elts.iter().map(|s| elt_json(s)).collect::<Vec<_>>(),
        }}))?,
        Format::Text => {
            for (s, job) in &jobs {
                call.print_line(&format!(
                    "[{}] job {}: {} → {}",
                    s.interval.as_deref().unwrap_or(""),
                    s.name,
                    job["name"].as_str().unwrap_or(""),
                    py_repr(&job["tasks"])
                ))?;
            }
            for s in &elts {
                call.print_line(&format!(
                    "[{}] elt {}: {} → {} x transforms",
                    s.interval.as_deref().unwrap_or(""),
                    s.name,
                    s.extractor.as_deref().unwrap_or(""),
                    s.loader.as_deref().unwrap_or("")
                ))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn elt_json(s: &ScheduleDef) -> Value {
    let transform = s.transform.clone().unwrap_or_else(|| "skip".into());
    json!({
        "name": s.name,
        "extractor": s.extractor,
        "loader": s.loader,
        "transform": transform,
        "interval": s.interval,
        "env": s.env,
        "cron_interval": cron_interval(s.interval.as_deref()),
        "last_successful_run_ended_at": null,
        "elt_args": [
            s.extractor.clone().unwrap_or_default(),
            s.loader.clone().unwrap_or_default(),
            format!("--transform={transform}"),
            format!("--state-id={}", s.name),
        ],
    })
}

/// The cron expression of an interval: Meltano's named intervals expanded, `@once` and
/// `@manual` have none, anything else is already cron.
pub fn cron_interval(interval: Option<&str>) -> Option<String> {
    let cron = match interval? {
        "@once" | "@manual" => return None,
        "@hourly" => "0 * * * *",
        "@daily" => "0 0 * * *",
        "@weekly" => "0 0 * * 0",
        "@monthly" => "0 0 1 * *",
        "@yearly" | "@annually" => "0 0 1 1 *",
        other => other,
    };
    Some(cron.to_string())
}
