//! `eltr state list|get|set|merge|copy|move|clear`, printed as Meltano prints them.

use super::Call;
use crate::pipeline::{lock_policy, open_store};
use crate::state::{StateId, ops};
use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `eltr state`.
#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(subcommand)]
    pub action: StateAction,
}

/// What to do with stored state.
#[derive(Debug, Subcommand)]
pub enum StateAction {
    /// List state ids.
    List {
        /// Only ids matching this glob.
        #[arg(long)]
        pattern: Option<String>,
    },
    /// Print the effective state of an id.
    Get {
        state_id: String,
        #[arg(long, value_enum, default_value_t)]
        format: GetFormat,
    },
    /// Replace the state of an id.
    Set {
        state_id: String,
        /// The state, as JSON with a top-level `singer_state`.
        state: Option<String>,
        #[arg(long)]
        input_file: Option<PathBuf>,
        /// Accept state without a top-level `singer_state`.
        #[arg(long)]
        no_validate: bool,
        /// Break the lock of a run holding this state.
        #[arg(long)]
        force: bool,
    },
    /// Merge state into an id's state.
    Merge {
        state_id: String,
        state: Option<String>,
        #[arg(long)]
        input_file: Option<PathBuf>,
        /// Merge the state of this id instead.
        #[arg(long)]
        from_state_id: Option<String>,
        #[arg(long)]
        force: bool,
    },
    /// Copy the state of one id to another.
    Copy {
        src: String,
        dst: String,
        #[arg(long)]
        force: bool,
    },
    /// Move the state of one id to another.
    Move {
        src: String,
        dst: String,
        #[arg(long)]
        force: bool,
    },
    /// Remove the state of an id (or of all ids).
    Clear {
        state_id: Option<String>,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        force: bool,
    },
}

/// `state get` output shapes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum GetFormat {
    #[default]
    Json,
    Pretty,
}

/// Runs `eltr state`.
pub fn run(call: &Call<'_>, args: StateArgs) -> anyhow::Result<ExitCode> {
    let ctx = call.open()?;
    let store = open_store(&ctx)?;
    let store = store.as_ref();
    let id = |s: &str| StateId::parse(s);
    match args.action {
        StateAction::List { pattern } => {
            let ids = ops::list(store, pattern.as_deref())?;
            if ids.is_empty() {
                tracing::info!("No state IDs found.");
            }
            for i in ids {
                call.print_line(i.as_str())?;
            }
        }
        StateAction::Get { state_id, format } => {
            let state = ops::get(store, &id(&state_id)?)?;
            match format {
                GetFormat::Json => call.print_line(&serde_json::to_string(&state)?)?,
                GetFormat::Pretty => call.print_json(&state)?,
            }
        }
        StateAction::Set {
            state_id,
            state,
            input_file,
            no_validate,
            force,
        } => {
            let value = read_state(state, input_file)?;
            if !no_validate && value.get("singer_state").is_none() {
                bail!(
                    "invalid state: no top-level 'singer_state' key; state must be JSON like {{\"singer_state\": {{...}}}} (use --no-validate to store it anyway)"
                );
            }
            ops::set(store, &id(&state_id)?, value, &lock_policy(&ctx, force)?)?;
            tracing::info!("state for {state_id} was set");
        }
        StateAction::Merge {
            state_id,
            state,
            input_file,
            from_state_id,
            force,
        } => {
            let value = match from_state_id {
                Some(src) => ops::get(store, &id(&src)?)?,
                None => read_state(state, input_file)?,
            };
            ops::merge_into(store, &id(&state_id)?, value, &lock_policy(&ctx, force)?)?;
            tracing::info!("state for {state_id} was merged");
        }
        StateAction::Copy { src, dst, force } => {
            ops::copy(store, &id(&src)?, &id(&dst)?, &lock_policy(&ctx, force)?)?;
            tracing::info!("state {src} was copied to {dst}");
        }
        StateAction::Move { src, dst, force } => {
            ops::move_state(store, &id(&src)?, &id(&dst)?, &lock_policy(&ctx, force)?)?;
            tracing::info!("state {src} was moved to {dst}");
        }
        StateAction::Clear {
            state_id,
            all,
            force,
        } => {
            let policy = lock_policy(&ctx, force)?;
            let ids = match (state_id, all) {
                (Some(s), false) => vec![id(&s)?],
                (None, true) => ops::list(store, None)?,
                _ => bail!("give a state id or --all"),
            };
            for i in &ids {
                ops::clear(store, i, &policy)?;
            }
            if all {
                tracing::info!("{} state(s) were successfully cleared", ids.len());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_state(inline: Option<String>, file: Option<PathBuf>) -> anyhow::Result<Value> {
    let text = match (inline, file) {
        (Some(s), None) => s,
        (None, Some(f)) => {
            let bytes = crate::vocab::files::read_capped(&f, crate::vocab::files::DOCUMENT_CAP)
                .with_context(|| format!("cannot read {}", f.display()))?;
            String::from_utf8(bytes)
                .with_context(|| format!("{} is not UTF-8 text", f.display()))?
        }
        _ => bail!("give the state as an argument or with --input-file (not both)"),
    };
    serde_json::from_str(&text).context("the state is not valid JSON")
}
