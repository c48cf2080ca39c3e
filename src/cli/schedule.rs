//! `eltr schedule list [--format json]`, in Meltano's shapes: job schedules and legacy
//! extractor/loader ("elt") schedules, each with its cron expression. `schedule add|set|remove`
//! edit them with Meltano 4.4's options.

use super::Call;
use super::output::Format;
use crate::project::model::ScheduleDef;
use crate::vocab::pyjson::python_repr;
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
    /// Add a schedule of a job (or, legacy, an extractor/loader pair), to the root file as
    /// Meltano does, or to --file.
    Add {
        name: String,
        /// `@daily`, `@hourly`… or a cron expression.
        #[arg(long)]
        interval: String,
        #[arg(long, conflicts_with_all = ["extractor", "loader"])]
        job: Option<String>,
        #[arg(long)]
        extractor: Option<String>,
        #[arg(long)]
        loader: Option<String>,
        #[arg(long, value_parser = ["skip", "only", "run"], default_value = "skip")]
        transform: String,
        #[arg(long, value_name = "FILE")]
        file: Option<std::path::PathBuf>,
    },
    /// Change a schedule's interval, job, extractor, loader or transform.
    Set {
        name: String,
        #[arg(long)]
        interval: Option<String>,
        #[arg(long)]
        job: Option<String>,
        #[arg(long)]
        extractor: Option<String>,
        #[arg(long)]
        loader: Option<String>,
        #[arg(long, value_parser = ["skip", "only", "run"])]
        transform: Option<String>,
    },
    /// Remove a schedule.
    Remove { name: String },
    /// Run a schedule: its job (`run [OPTIONS…] JOB`), or its extractor and loader (`elt …
    /// --state-id=NAME [OPTIONS…]`), with its `env:`; the run's exit code is this command's.
    Run {
        name: String,
        /// Options for `run` / `elt` (`--full-refresh`, `--state-id-suffix`…).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        options: Vec<std::ffi::OsString>,
    },
}

/// Runs `eltr schedule`.
pub fn run(call: &Call<'_>, args: ScheduleArgs) -> anyhow::Result<ExitCode> {
    if let ScheduleAction::Run { name, options } = &args.action {
        return super::schedule_run::run(call, name, options);
    }
    let ctx = call.open()?;
    let format = match args.action {
        ScheduleAction::List { format } => format,
        other => return edit(call, &ctx, other),
    };
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
                    python_repr(&job["tasks"])
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

/// `schedule add|set|remove`.
fn edit(
    call: &Call<'_>,
    ctx: &crate::project::Context,
    action: ScheduleAction,
) -> anyhow::Result<ExitCode> {
    use crate::project::edit::ops::Editor;
    let project = &ctx.project;
    let mut editor = Editor::new(project);
    match action {
        ScheduleAction::List { .. } | ScheduleAction::Run { .. } => {
            unreachable!("listed and run by `run`")
        }
        ScheduleAction::Add {
            name,
            interval,
            job,
            extractor,
            loader,
            transform,
            file,
        } => {
            crate::vocab::ident::Name::parse(crate::vocab::ident::NameKind::Schedule, &name)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            check_interval(&interval)?;
            if project.schedules.contains_key(&name) {
                call.say(&format!("Schedule '{name}' already exists."));
                return Ok(ExitCode::SUCCESS);
            }
            let item = match (job, extractor, loader) {
                (Some(job), _, _) => json!({"name": name, "job": job, "interval": interval}),
                (None, Some(e), Some(l)) => json!({
                    "name": name, "extractor": e, "loader": l,
                    "transform": transform, "interval": interval,
                }),
                (None, None, _) => anyhow::bail!("Missing --extractor"),
                (None, Some(_), None) => anyhow::bail!("Missing --loader"),
            };
            let dest = editor.destination(file.as_deref())?;
            editor.add_named(&dest, "schedules", item)?;
            editor.commit()?;
            call.say(&format!("Scheduled '{name}' at {interval}"));
        }
        ScheduleAction::Set {
            name,
            interval,
            job,
            extractor,
            loader,
            transform,
        } => {
            let Some(current) = project.schedules.get(&name) else {
                anyhow::bail!("Schedule '{name}' does not exist");
            };
            let is_job = current.item.job.is_some();
            if is_job && (extractor.is_some() || loader.is_some() || transform.is_some()) {
                anyhow::bail!("Cannot mix --job with --extractor/--loader/--transform");
            }
            if !is_job && job.is_some() {
                anyhow::bail!("Cannot mix --job with --extractor/--loader/--transform");
            }
            if let Some(i) = &interval {
                check_interval(i)?;
            }
            for (key, value) in [
                ("interval", interval),
                ("job", job),
                ("extractor", extractor),
                ("loader", loader),
                ("transform", transform),
            ] {
                if let Some(v) = value {
                    editor.set_named_key("schedules", &name, key, json!(v))?;
                }
            }
            editor.commit()?;
            call.say(&format!("Updated schedule '{name}'"));
        }
        ScheduleAction::Remove { name } => {
            editor.remove_named("schedules", &name)?;
            editor.commit()?;
            call.say(&format!("Removed schedule '{name}'"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Meltano's check: a named interval or a five-field cron expression.
fn check_interval(interval: &str) -> anyhow::Result<()> {
    const NAMED: [&str; 10] = [
        "@once",
        "@manual",
        "@none",
        "@hourly",
        "@daily",
        "@weekly",
        "@monthly",
        "@yearly",
        "@annually",
        "@midnight",
    ];
    let lower = interval.trim().to_ascii_lowercase();
    let fields: Vec<&str> = lower.split_whitespace().collect();
    let field_ok = |f: &str| {
        !f.is_empty()
            && f.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | ',' | '-' | '/' | '?'))
    };
    if NAMED.contains(&lower.as_str()) || (fields.len() == 5 && fields.iter().all(|f| field_ok(f)))
    {
        Ok(())
    } else {
        anyhow::bail!(
            "'{interval}' is not a valid interval: use one of {} or a cron expression",
            NAMED.join(", ")
        )
    }
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
