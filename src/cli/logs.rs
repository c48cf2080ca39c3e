//! `eltr logs list|show|dir`: Meltano 4.4's log commands over eltr's own records. Meltano
//! reads its system database's job table; eltr keeps, beside each block's full log
//! (`.eltr/logs/<log id>/<run id>.log`), a record of the run (`pipeline::run_record`), so the
//! commands work whatever the state backend. The log id is the run id, as in Meltano.

use super::Call;
use super::output::{Format, simple_table};
use crate::pipeline::run_record::{self, RunRecord};
use crate::vocab::confine::ConfineError;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::process::ExitCode;

/// Flags of `eltr logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(subcommand)]
    pub action: LogsAction,
}

/// What to show.
#[derive(Debug, Subcommand)]
pub enum LogsAction {
    /// List the most recent block runs, newest first.
    List {
        /// How many runs.
        #[arg(long, short = 'l', default_value_t = 10)]
        limit: usize,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show one run's record and log (LOG_ID is its run id, from `logs list`).
    Show {
        log_id: String,
        /// Only the last N lines of the log.
        #[arg(long, short = 'n', value_name = "N")]
        tail: Option<usize>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print the folder holding the logs.
    Dir,
}

/// Runs `eltr logs`.
pub fn run(call: &Call<'_>, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let ctx = call.open()?;
    let root = &ctx.project.root;
    match args.action {
        LogsAction::Dir => call.print_line(&run_record::logs_dir(root).display().to_string())?,
        LogsAction::List { limit, format } => {
            ctx.learn_all_secrets();
            let mut records = run_record::all(root);
            records.truncate(limit);
            list(call, &records, limit, format)?;
        }
        LogsAction::Show {
            log_id,
            tail,
            format,
        } => {
            ctx.learn_all_secrets();
            let Some(record) = run_record::all(root)
                .into_iter()
                .find(|r| r.run_id == log_id)
            else {
                let shown = crate::vocab::ident::shown(&log_id);
                anyhow::bail!("No job found with log ID '{shown}'");
            };
            show(call, root, &record, tail, format)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list(
    call: &Call<'_>,
    records: &[RunRecord],
    limit: usize,
    format: Format,
) -> anyhow::Result<()> {
    if records.is_empty() {
        return call.print_line("No job runs found.");
    }
    if format == Format::Json {
        let runs: Vec<Value> = records.iter().map(run_json).collect();
        return call.print_json(&json!({"runs": runs, "total": runs.len()}));
    }
    let rows: Vec<[String; 6]> = records
        .iter()
        .map(|r| {
            [
                match r.state.as_str() {
                    "SUCCESS" => "\u{2713} PASS".to_string(),
                    "FAIL" => "\u{2717} FAIL".to_string(),
                    "RUNNING" => "\u{2192} RUN".to_string(),
                    other => format!("  {other}"),
                },
                format!("{:<36}", r.run_id),
                r.job_name.clone(),
                r.started_at
                    .split('.')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                duration(r),
                r.trigger.clone().unwrap_or_else(|| "manual".into()),
            ]
        })
        .collect();
    let header = [
        "STATUS", "LOG ID", "JOB NAME", "STARTED", "DURATION", "TRIGGER",
    ];
    let table = simple_table(&header, &rows, &[]);
    let title = format!(
        "Recent job runs (showing {} of last {limit})",
        records.len()
    );
    call.print_line(&format!("{title}\n{table}"))?;
    call.print_line("\nUse 'eltr logs show <LOG_ID>' to view a specific log.")
}

/// Meltano's duration: seconds under a minute, minutes under an hour, else hours.
fn duration(r: &RunRecord) -> String {
    match r.duration_seconds {
        Some(s) if s < 60.0 => format!("{s:.1}s"),
        Some(s) if s < 3600.0 => format!("{:.1}m", s / 60.0),
        Some(s) => format!("{:.1}h", s / 3600.0),
        None if r.state == "RUNNING" => "running".into(),
        None => "unknown".into(),
    }
}

fn run_json(r: &RunRecord) -> Value {
    json!({
        "log_id": r.run_id,
        "job_name": r.job_name,
        "state": r.state,
        "started_at": r.started_at.replace(' ', "T"),
        "ended_at": r.ended_at.as_ref().map(|t| t.replace(' ', "T")),
        "duration_seconds": r.duration_seconds,
        "trigger": r.trigger,
    })
}

fn show(
    call: &Call<'_>,
    root: &std::path::Path,
    r: &RunRecord,
    tail: Option<usize>,
    format: Format,
) -> anyhow::Result<()> {
    match format {
        Format::Json => call.print_json(&json!({
            "job_name": r.job_name,
            "run_id": r.run_id,
            "state": r.state,
            "started_at": r.started_at.replace(' ', "T"),
            "ended_at": r.ended_at.as_ref().map(|t| t.replace(' ', "T")),
            "trigger": r.trigger,
        }))?,
        Format::Text => call.print_line(&format!(
            "Job: {}\nRun ID: {}\nState: {}\nStarted: {}\nEnded: {}\nTrigger: {}",
            r.job_name,
            r.run_id,
            r.state,
            r.started_at,
            r.ended_at.as_deref().unwrap_or("Running"),
            r.trigger.as_deref().unwrap_or("Manual")
        ))?,
    }
    call.print_line("")?;
    let bytes = run_record::read_log(root, r).map_err(|e| match e {
        ConfineError::Io { .. } => anyhow::anyhow!(
            "Log file not found for job run '{}'. The log may have been cleaned up or the job may not have generated logs.",
            r.run_id
        ),
        other => anyhow::Error::new(other),
    })?;
    let text = String::from_utf8_lossy(&bytes);
    match tail {
        Some(n) => {
            let lines: Vec<&str> = text.lines().collect();
            let last = &lines[lines.len().saturating_sub(n)..];
            call.print_line(&format!("Last {} lines:", last.len()))?;
            call.print_line(&last.join("\n"))
        }
        None => call.print_line(text.trim_end_matches('\n')),
    }
}
