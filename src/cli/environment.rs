//! `eltr environment add|list|remove NAME`, as Meltano 4.4's. A new environment goes in the
//! root file (where Meltano puts it) unless `--file` names another project file.

use super::Call;
use crate::project::edit::ops::Editor;
use clap::{Args, Subcommand};
use serde_json::json;
use std::process::ExitCode;

/// Flags of `eltr environment`.
#[derive(Debug, Args)]
pub struct EnvironmentArgs {
    #[command(subcommand)]
    pub action: EnvironmentAction,
}

/// What to do with environments.
#[derive(Debug, Subcommand)]
pub enum EnvironmentAction {
    /// Add an environment.
    Add {
        name: String,
        /// A project file include_paths reads (e.g. envs_config.yml), instead of the root file.
        #[arg(long, value_name = "FILE")]
        file: Option<std::path::PathBuf>,
    },
    /// List the environments.
    List,
    /// Remove an environment.
    Remove { name: String },
}

/// Runs `eltr environment`.
pub fn run(call: &Call<'_>, args: EnvironmentArgs) -> anyhow::Result<ExitCode> {
    // Editing environments must work when the default one is broken or being removed.
    let mut global = call.global.clone();
    global.no_environment = true;
    global.environment = None;
    let ctx = Call {
        global: &global,
        console: call.console,
    }
    .open()?;
    let project = &ctx.project;
    match args.action {
        EnvironmentAction::List => {
            for name in project.environments.keys() {
                call.print_line(name)?;
            }
        }
        EnvironmentAction::Add { name, file } => {
            crate::vocab::ident::Name::parse(crate::vocab::ident::NameKind::Environment, &name)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if project.environments.contains_key(&name) {
                anyhow::bail!("Environment '{name}' already exists");
            }
            let mut editor = Editor::new(project);
            let dest = editor.destination(file.as_deref())?;
            editor.add_named(&dest, "environments", json!({ "name": name }))?;
            editor.commit()?;
            call.say(&format!("Created new environment '{name}'"));
        }
        EnvironmentAction::Remove { name } => {
            let mut editor = Editor::new(project);
            editor.remove_named("environments", &name)?;
            editor.commit()?;
            call.say(&format!("Removed environment '{name}'"));
        }
    }
    Ok(ExitCode::SUCCESS)
}
