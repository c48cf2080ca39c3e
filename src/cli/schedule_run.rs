//! `eltr schedule run NAME [OPTIONS…]`: what an orchestrator calls to run one schedule, as
//! Meltano's `schedule run` does. A job schedule becomes `run [OPTIONS…] -- JOB`; a legacy
//! extractor/loader schedule becomes `elt --transform=T --state-id=NAME [OPTIONS…] --
//! EXTRACTOR LOADER` (Meltano's `elt EXTRACTOR LOADER --transform=T --state-id=NAME
//! [OPTIONS…]`, with the names behind `--`; the schedule's name is its state id). The schedule's `env:` is added to the
//! variables, raw, and the active environment is handed down as `MELTANO_ENVIRONMENT` (empty
//! when none is chosen, so the run picks the project's default, as with Meltano).
//!
//! eltr replaces itself with that command (`exec`) instead of waiting on a child: the
//! scheduler's signals (Airflow's SIGTERM on a timeout) reach the run directly, and its exit
//! code is the command's.

use super::{Call, GlobalArgs};
use crate::project::error::did_you_mean;
use crate::project::model::ScheduleDef;
use clap::ValueEnum;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::ExitCode;

/// Runs the schedule `name` with `options` added to its command line.
pub fn run(call: &Call<'_>, name: &str, options: &[OsString]) -> anyhow::Result<ExitCode> {
    let ctx = call.open()?;
    let Some(schedule) = ctx.project.schedules.get(name) else {
        let hint = did_you_mean(name, ctx.project.schedules.keys().map(String::as_str));
        let shown = crate::vocab::ident::shown(name);
        anyhow::bail!("Schedule '{shown}' was not found.{hint}");
    };
    let schedule = &schedule.item;
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command
        .args(global_args(call.global))
        .args(command_line(schedule, options))
        .env("MELTANO_PROJECT_ROOT", &ctx.project.root)
        .env("MELTANO_ENVIRONMENT", explicit_environment(call.global))
        .envs(&schedule.env);
    // `exec` returns only when the command could not start.
    let err = command.exec();
    Err(anyhow::anyhow!("cannot start the schedule's run: {err}"))
}

/// The command a schedule stands for, with `options` where Meltano puts them. The names from
/// the project come last, after `--`: a job or plugin named `--dry-run` or `--help` is then
/// run as the name it is, never read as an option that turns the scheduled run into something
/// else (a dry run, or help text and exit code 0 that a scheduler takes for success).
fn command_line(schedule: &ScheduleDef, options: &[OsString]) -> Vec<OsString> {
    let mut line: Vec<OsString> = Vec::new();
    match &schedule.job {
        Some(job) => {
            line.push("run".into());
            line.extend(options.iter().cloned());
            line.push("--".into());
            line.push(job.into());
        }
        None => {
            let transform = schedule.transform.as_deref().unwrap_or("skip");
            line.push("elt".into());
            line.push(format!("--transform={transform}").into());
            line.push(format!("--state-id={}", schedule.name).into());
            line.extend(options.iter().cloned());
            line.push("--".into());
            line.push(schedule.extractor.clone().unwrap_or_default().into());
            line.push(schedule.loader.clone().unwrap_or_default().into());
        }
    }
    line
}

/// The environment named on this command line (`--environment`), else none: like Meltano, a
/// schedule does not apply the default environment itself; the run it starts does.
fn explicit_environment(global: &GlobalArgs) -> String {
    global.environment.clone().unwrap_or_default()
}

/// The global options that describe how to open the project and log, for the run started.
fn global_args(global: &GlobalArgs) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::new();
    let mut pair = |flag: &str, value: Option<OsString>| {
        if let Some(v) = value {
            out.push(flag.into());
            out.push(v);
        }
    };
    pair(
        "--project-root",
        global.project_root.clone().map(Into::into),
    );
    pair("--env-file", global.env_file.clone().map(Into::into));
    pair("--log-level", global.log_level.clone().map(Into::into));
    pair("--log-config", global.log_config.clone().map(Into::into));
    pair(
        "--database-uri",
        global.database_uri.clone().map(Into::into),
    );
    if let Some(value) = global.log_format.and_then(|f| f.to_possible_value()) {
        out.push(format!("--log-format={}", value.get_name()).into());
    }
    // Meltano hands `--no-environment` down as an empty MELTANO_ENVIRONMENT, which the run
    // reads as "the default environment"; eltr keeps what the user asked for.
    for (flag, on) in [
        ("--strict-env", global.strict_env),
        ("--no-environment", global.no_environment),
    ] {
        if on {
            out.push(flag.into());
        }
    }
    out
}
