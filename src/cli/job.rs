//! `eltr job list [NAME] [--format json]`, printed as Meltano prints it; `eltr job add NAME
//! --tasks T`, `job set NAME --tasks T`, `job remove NAME` as Meltano 4.4's (`--tasks` is a
//! block string or a YAML list of them, or of lists of them).

use super::Call;
use super::output::Format;
use crate::project::error::did_you_mean;
use crate::project::model::JobDef;
use crate::vocab::pyjson::python_repr;
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
    /// Add a job (to the root file, as Meltano does, or to --file).
    Add {
        name: String,
        /// `'tap target'` or a YAML list: `'["tap target", ["tap2 target2", "dbt:run"]]'`.
        #[arg(long)]
        tasks: String,
        /// A project file include_paths reads, instead of the root file.
        #[arg(long, value_name = "FILE")]
        file: Option<std::path::PathBuf>,
    },
    /// Replace a job's tasks (in the file that defines it).
    Set {
        name: String,
        #[arg(long)]
        tasks: String,
    },
    /// Remove a job.
    Remove { name: String },
}

/// Runs `eltr job`.
pub fn run(call: &Call<'_>, args: JobArgs) -> anyhow::Result<ExitCode> {
    let ctx = call.open()?;
    let (name, format) = match args.action {
        JobAction::List { name, format } => (name, format),
        JobAction::Add { name, tasks, file } => {
            return edit(call, &ctx, "add", &name, Some(&tasks), file);
        }
        JobAction::Set { name, tasks } => {
            return edit(call, &ctx, "set", &name, Some(&tasks), None);
        }
        JobAction::Remove { name } => return edit(call, &ctx, "remove", &name, None, None),
    };
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
                call.print_line(&format!("{}: {}", j.name, python_repr(&json!(j.tasks))))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One job as `{"job_name", "tasks"}`.
pub fn job_json(job: &JobDef) -> Value {
    json!({"job_name": job.name, "tasks": job.tasks})
}

/// `job add|set|remove`.
fn edit(
    call: &Call<'_>,
    ctx: &crate::project::Context,
    action: &str,
    name: &str,
    tasks: Option<&str>,
    file: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    use crate::project::edit::ops::Editor;
    crate::vocab::ident::Name::parse(crate::vocab::ident::NameKind::Job, name)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let project = &ctx.project;
    let mut editor = Editor::new(project);
    let tasks = tasks.map(|t| parse_tasks(ctx, name, t)).transpose()?;
    match action {
        "add" => {
            if project.jobs.contains_key(name) {
                bail!("Job '{name}' already exists.");
            }
            let dest = editor.destination(file.as_deref())?;
            editor.add_named(&dest, "jobs", json!({"name": name, "tasks": tasks}))?;
            editor.commit()?;
            call.say(&format!(
                "Added job {name}: {}",
                python_repr(tasks.as_ref().expect("add has tasks"))
            ));
        }
        "set" => {
            if !project.jobs.contains_key(name) {
                call.say(&format!("Job '{name}' does not exist."));
                return Ok(ExitCode::SUCCESS);
            }
            let tasks = tasks.expect("set has tasks");
            editor.set_named_key("jobs", name, "tasks", tasks.clone())?;
            editor.commit()?;
            call.say(&format!("Updated job {name}: {}", python_repr(&tasks)));
        }
        _ => {
            editor.remove_named("jobs", name)?;
            editor.commit()?;
            call.say(&format!("Removed job '{name}'."));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--tasks` as Meltano reads it: YAML that is a string (one task) or a list of strings and
/// lists of strings; every word must name a plugin, a mapping or `plugin:command`.
fn parse_tasks(ctx: &crate::project::Context, job: &str, raw: &str) -> anyhow::Result<Value> {
    let invalid = |why: String| anyhow::anyhow!("Job '{job}' has invalid tasks. {why}");
    let parsed: Value = serde_norway::from_str(raw)
        .map_err(|e| invalid(format!("Failed to parse yaml '{raw}': {e}")))?;
    let tasks = match parsed {
        Value::String(s) => vec![Value::String(s)],
        Value::Array(items) => items,
        _ => {
            return Err(invalid(
                "Failed to validate task schema: expected a string or a list".into(),
            ));
        }
    };
    if tasks.is_empty() {
        return Err(invalid("Failed to validate task schema: no tasks".into()));
    }
    let known = |word: &str| {
        let plugin = word.split(':').next().unwrap_or(word);
        ctx.project.plugins.keys().any(|(_, n)| n == plugin)
            || ctx
                .project
                .plugins
                .values()
                .any(|p| p.item.mappings.iter().flatten().any(|m| m.name == word))
    };
    for task in &tasks {
        let blocks: Vec<&str> = match task {
            Value::String(s) => vec![s.as_str()],
            Value::Array(inner) if inner.iter().all(Value::is_string) && !inner.is_empty() => {
                inner.iter().filter_map(Value::as_str).collect()
            }
            _ => {
                return Err(invalid(
                    "Failed to validate task schema: each task is a string or a list of strings"
                        .into(),
                ));
            }
        };
        for word in blocks.iter().flat_map(|b| b.split_whitespace()) {
            if !known(word) {
                return Err(invalid(format!(
                    "'{word}' is not a plugin, mapping or plugin command of the project"
                )));
            }
        }
    }
    Ok(Value::Array(tasks))
}
