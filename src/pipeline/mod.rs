//! Running blocks: spawning the plugins of each block, piping them together through eltr,
//! supervising them (exit codes, signals, timeouts) and checkpointing the target's STATE.
//!
//! `plan::plan` turns a `Context` and a `RunRequest` into a `Plan` without running anything;
//! `execute` runs a plan with a `Session` (the console and the run's supervisor, passed down,
//! never found in globals) and hands back a `RunOutcome`. The command layer only formats it.

pub mod blocks;
pub mod checkpoint;
pub mod command;
pub mod console;
pub mod container;
pub mod dump;
pub mod extract_load;
pub mod metrics;
pub mod parallel;
pub mod plan;
pub mod probe;
pub mod process;
pub mod progress;
pub mod pump;
pub mod run_record;
pub mod signals;
pub mod split;
pub mod summary;

use crate::project::Context;
use crate::state::{StateError, Store};
use crate::vocab::ident::RunId;
use crate::vocab::supervisor::{Supervisor, signal_name};
use console::Console;
use plan::{Plan, PlannedBlock};
use std::sync::Arc;
use std::time::Duration;

/// What a run executes with, handed down to everything that prints or spawns.
#[derive(Clone)]
pub struct Session {
    /// Where lines go (stderr and the block's run log), masked.
    pub console: Arc<Console>,
    /// The run's children and how the run was stopped.
    pub supervisor: Arc<Supervisor>,
}

impl Session {
    /// A session whose supervisor handles SIGINT and SIGTERM, with the checked grace period.
    pub fn listening(console: Arc<Console>) -> Result<Session, RunError> {
        let grace = signals::grace_setting()?;
        Ok(Session {
            console,
            supervisor: Supervisor::listening(grace),
        })
    }
}

/// How to treat the states a target confirms (ARCHITECTURE.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum StateStrategy {
    #[default]
    Auto,
    Merge,
    Overwrite,
}

/// Everything `eltr run` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub words: Vec<String>,
    pub dry_run: bool,
    pub full_refresh: bool,
    pub refresh_catalog: bool,
    pub no_state_update: bool,
    pub force: bool,
    pub state_id_suffix: Option<String>,
    pub state_strategy: StateStrategy,
    pub run_id: RunId,
    pub timeout: Option<Duration>,
    /// Do not install plugins whose virtualenv is missing.
    pub no_install: bool,
    /// When to draw the live progress line.
    pub progress: progress::ProgressMode,
    /// Run up to this many blocks at once (`--parallel`); `None`: one after another.
    pub parallel: Option<usize>,
    /// Split each extract-load block's streams over this many extractor copies
    /// (`--split-streams`).
    pub split_streams: Option<usize>,
    /// `eltr el` / `elt`: one extractor → loader pair with Meltano's `el` options, run
    /// instead of `words`.
    pub el: Option<ElRequest>,
}

/// What `eltr el EXTRACTOR LOADER` (and `elt`) asks beyond `run`'s flags, as Meltano's `el`
/// has it.
#[derive(Debug, Clone, Default)]
pub struct ElRequest {
    pub extractor: String,
    pub loader: String,
    /// The state id, used as it is: Meltano's `el` neither prefixes the environment nor adds
    /// a suffix (`--state-id`, or the ephemeral `{UTC time}--{extractor}--{loader}`).
    pub state_id: String,
    /// `--catalog FILE`: the extractor's `catalog` extra (relative to the project root).
    pub catalog: Option<String>,
    /// `--state FILE`: the extractor's `state` extra (relative to the project root).
    pub state: Option<String>,
    /// `--select` and `--exclude` (as `!entity`): the extractor's `select_filter`.
    pub select_filter: Vec<String>,
    /// `elt --transform`: also (or only) run the `dbt` transformer.
    pub transform: Transform,
}

/// `elt --transform`: Meltano's legacy transformation step (`clean`, `deps`, then `run` of
/// the transformer called `dbt`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Transform {
    #[default]
    Skip,
    Only,
    Run,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Blocks(#[from] blocks::BlockError),
    #[error(transparent)]
    Project(#[from] crate::project::error::ProjectError),
    #[error(transparent)]
    Plugin(#[from] crate::plugin::PluginError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Number(#[from] crate::vocab::number::NumberError),
    #[error("cannot start {kind} '{name}' ({program}): {source}")]
    Spawn {
        kind: &'static str,
        name: String,
        program: String,
        source: std::io::Error,
    },
    #[error("{kind} '{name}' failed with {status}{tail}")]
    PluginFailed {
        kind: &'static str,
        name: String,
        status: String,
        tail: String,
    },
    #[error(
        "loader '{name}' exited ({status}) before the extractor finished sending data; the extractor was stopped{tail}"
    )]
    LoaderExitedEarly {
        name: String,
        status: String,
        tail: String,
    },
    #[error(
        "interrupted by {signal}; the plugins were stopped and the last confirmed state was kept"
    )]
    Interrupted { signal: &'static str, code: u8 },
    #[error(
        "timed out after {0:?}; the plugins were stopped and the last confirmed state was kept"
    )]
    TimedOut(Duration),
    #[error("cannot split the streams of {block}: {reason}; run it without --split-streams")]
    SplitRefused { block: String, reason: String },
    #[error("the run finished but its state could not be saved to {store}: {message}")]
    StateSave { store: String, message: String },
    #[error(
        "transformer 'dbt' not found: `--transform` runs the legacy transformer called 'dbt' (as Meltano does); add it, or run an adapter-specific dbt plugin with `eltr run EXTRACTOR LOADER dbt-postgres:run`"
    )]
    NoDbtTransformer,
    #[error("could not find {0} file for this pipeline")]
    NoDumpFile(&'static str),
    #[error("command '{command}' could not be found: {kind} '{plugin}' {supported}")]
    UnknownCommand {
        command: String,
        kind: &'static str,
        plugin: String,
        supported: String,
    },
    #[error(
        "command '{command}' referenced unset environment variable '{word}' in an argument; set the variable or update the command definition"
    )]
    UnsetCommandVariable { command: String, word: String },
    #[error("command '{command}': cannot split its args ({message}): {args}")]
    CommandArgs {
        command: String,
        message: String,
        args: String,
    },
}

impl RunError {
    /// The error of a command stopped by the signal `sig`.
    pub fn interrupted_by(sig: i32) -> RunError {
        RunError::Interrupted {
            signal: signal_name(sig),
            code: (128 + sig) as u8,
        }
    }

    /// The exit code eltr ends with: 130 / 143 for SIGINT / SIGTERM, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Interrupted { code, .. } => *code,
            _ => 1,
        }
    }
}

/// A failed block: its summary (when it got as far as running) and the error.
pub type BlockFailure = Box<(Option<summary::BlockSummary>, RunError)>;

/// The result of a whole run: each finished block's summary, and the error that stopped it.
#[derive(Debug, Default)]
pub struct RunOutcome {
    pub blocks: Vec<summary::BlockSummary>,
    pub error: Option<RunError>,
    /// Wall time of the whole run.
    pub seconds: f64,
}

impl RunOutcome {
    /// A run that stopped before its first block.
    pub fn failed(error: RunError) -> RunOutcome {
        RunOutcome {
            error: Some(error),
            ..RunOutcome::default()
        }
    }
}

/// What one block ends with: its summary (extract-load blocks), or how it failed.
pub type BlockResult = Result<Option<summary::BlockSummary>, BlockFailure>;

/// Runs the blocks of `plan`: in order, the first failure stopping the run; or, with
/// `--parallel`, side by side as `parallel::execute` says.
pub fn execute(session: &Session, ctx: &Context, plan: &Plan) -> RunOutcome {
    if plan.side_by_side() {
        return parallel::execute(session, ctx, plan);
    }
    let started = std::time::Instant::now();
    let mut outcome = RunOutcome::default();
    for block in &plan.blocks {
        if let Some(e) = interrupted(session) {
            outcome.error = Some(e);
            break;
        }
        let offset = started.elapsed().as_secs_f64();
        let result = run_block(session, ctx, plan, block);
        match result {
            Ok(Some(summary)) => outcome.blocks.push(summary.at(offset)),
            Ok(None) => {}
            Err(failure) => {
                let (summary, e) = *failure;
                let e = interrupted(session).unwrap_or(e);
                outcome.blocks.extend(summary.map(|s| s.at(offset)));
                outcome.error = Some(e);
                break;
            }
        }
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    outcome
}

/// Runs one block of the plan.
pub fn run_block(
    session: &Session,
    ctx: &Context,
    plan: &Plan,
    block: &PlannedBlock,
) -> BlockResult {
    match block {
        PlannedBlock::ExtractLoad(el) => extract_load::run(session, ctx, plan, el),
        PlannedBlock::Command { plugin, command } => {
            command::run(session, ctx, plan, plugin, command.as_deref()).map(|_| None)
        }
    }
}

/// The error of a run stopped by a signal, if one arrived.
pub fn interrupted(session: &Session) -> Option<RunError> {
    session.supervisor.received().map(RunError::interrupted_by)
}

/// Installs, before a block runs, the plugins it needs whose virtualenv is missing or out of
/// date (what `eltr install` would do for them), unless the run says `--no-install`.
pub fn ensure_installed(
    ctx: &Context,
    plugins: &[&crate::project::ResolvedPlugin],
) -> Result<(), RunError> {
    use crate::plugin::install::{InstallOptions, InstallStatus, install, is_installed};
    let root = &ctx.project.root;
    let missing: Vec<_> = plugins
        .iter()
        .filter(|p| p.pip_url.is_some())
        .filter(|p| {
            !is_installed(root, p)
                && crate::plugin::executable::find(root, p, None)
                    .is_none_or(|exe| exe.starts_with(root.join(".eltr")))
        })
        .map(|p| (*p).clone())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let results = install(
        ctx,
        missing,
        &InstallOptions {
            clean: false,
            parallelism: crate::plugin::install::default_parallelism(),
        },
    )?;
    for r in results {
        if let InstallStatus::Failed { command, log, .. } = r.status {
            return Err(RunError::PluginFailed {
                kind: r.kind,
                name: r.plugin,
                status: format!("install failure ({command}; log: {})", log.display()),
                tail: String::new(),
            });
        }
    }
    Ok(())
}

/// The store the project's state backend settings name.
pub fn open_store(ctx: &Context) -> Result<Arc<dyn Store>, RunError> {
    let settings = crate::project::backend::StateBackendSettings::resolve(ctx)?;
    Ok(Arc::from(crate::state::open(&settings, &ctx.project.root)?))
}

/// The lock timeout the project sets (Meltano's default: 10 s).
pub fn lock_policy(ctx: &Context, force: bool) -> Result<crate::state::LockPolicy, RunError> {
    let settings = crate::project::backend::StateBackendSettings::resolve(ctx)?;
    let timeout = settings
        .seconds(ctx, "lock_timeout_seconds")?
        .unwrap_or(Duration::from_secs(
            crate::state::lock::DEFAULT_LOCK_TIMEOUT_SECONDS,
        ));
    Ok(crate::state::LockPolicy { timeout, force })
}
