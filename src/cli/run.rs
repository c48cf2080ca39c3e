//! `eltr run BLOCK…`: flags into a `RunRequest`, the outcome into an exit code.

use super::Call;
use super::output::Format;
use crate::pipeline::{self, RunOutcome, RunRequest, Session, StateStrategy};
use crate::vocab::ident::RunId;
use crate::vocab::number;
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args};
use std::process::ExitCode;
use std::time::Duration;

/// Flags of `eltr run` (each also readable from `ELTR_RUN_*` / `MELTANO_RUN_*`).
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Plugins, mapping names, `plugin:command`s and job names, in order.
    #[arg(required = true, value_name = "BLOCK")]
    pub words: Vec<String>,
    /// Print what would run and stop.
    #[arg(long, env = "ELTR_RUN_DRY_RUN", value_parser = BoolishValueParser::new(), action = ArgAction::SetTrue)]
    pub dry_run: bool,
    /// Ignore stored state: extract everything again (bookmarks of streams not refreshed are
    /// kept).
    #[arg(long, env = "ELTR_RUN_FULL_REFRESH", value_parser = BoolishValueParser::new(), action = ArgAction::SetTrue)]
    pub full_refresh: bool,
    /// Discover the catalog again instead of using the cached one.
    #[arg(long, env = "ELTR_RUN_REFRESH_CATALOG", value_parser = BoolishValueParser::new(), action = ArgAction::SetTrue)]
    pub refresh_catalog: bool,
    /// Neither read nor save state for this run.
    #[arg(long, env = "ELTR_RUN_NO_STATE_UPDATE", value_parser = BoolishValueParser::new(), action = ArgAction::SetTrue)]
    pub no_state_update: bool,
    /// Break the lock of a run that holds this pipeline's state.
    #[arg(long, short = 'f', env = "ELTR_RUN_FORCE", value_parser = BoolishValueParser::new(), action = ArgAction::SetTrue)]
    pub force: bool,
    /// Appended to the state id (`dev:tap-to-target:SUFFIX`).
    #[arg(long, env = "ELTR_RUN_STATE_ID_SUFFIX")]
    pub state_id_suffix: Option<String>,
    /// How confirmed states combine with the stored one.
    #[arg(long, value_enum, default_value_t, env = "ELTR_RUN_STATE_STRATEGY")]
    pub state_strategy: StateStrategy,
    /// Identifier of this run, a UUID as in Meltano (default: a new one).
    #[arg(long, env = "ELTR_RUN_ID", value_parser = parse_run_id)]
    pub run_id: Option<RunId>,
    /// Stop the run after this many seconds (more than 0, at most a year).
    #[arg(
        long,
        value_name = "SECONDS",
        env = "ELTR_RUN_TIMEOUT",
        allow_negative_numbers = true,
        value_parser = timeout_seconds
    )]
    pub timeout: Option<Duration>,
    /// Live progress on stderr: when it is a terminal (auto), always or never.
    #[arg(long, value_enum, default_value_t, env = "ELTR_RUN_PROGRESS")]
    pub progress: crate::pipeline::progress::ProgressMode,
    /// How `--dry-run` prints the plan.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Write the run summary (records per stream, timings, bottleneck, state) as JSON here.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<std::path::PathBuf>,
    /// Install missing plugins first, whatever the project's `auto_install` says.
    #[arg(long, conflicts_with_all = ["no_install", "only_install"])]
    pub install: bool,
    /// Do not install missing plugins first.
    #[arg(long, env = "ELTR_RUN_NO_INSTALL", value_parser = BoolishValueParser::new(), action = ArgAction::SetTrue, conflicts_with = "only_install")]
    pub no_install: bool,
    /// Install the blocks' missing plugins, then stop.
    #[arg(long)]
    pub only_install: bool,
    /// Merge confirmed states into the stored one (Meltano's deprecated spelling of
    /// `--state-strategy merge`).
    #[arg(long, hide = true)]
    pub merge_state: bool,
    /// Run up to N blocks at once; blocks sharing a plugin or a state id still wait for each
    /// other, and a plugin:command block waits for everything before it (1 to 64).
    #[arg(long, value_name = "N", env = "ELTR_RUN_PARALLEL", value_parser = parallel_count)]
    pub parallel: Option<usize>,
    /// Run N copies of each extractor, each given a share of the selected streams and a loader
    /// of its own; bookmarks merge per stream into the one state (1 to 64).
    #[arg(long, value_name = "N", env = "ELTR_RUN_SPLIT_STREAMS", value_parser = split_count)]
    pub split_streams: Option<usize>,
}

/// Plans the run, prints the plan (`--dry-run`) or executes it.
pub fn run(call: &Call<'_>, mut args: RunArgs) -> anyhow::Result<ExitCode> {
    args.state_strategy = strategy(args.merge_state, args.state_strategy)?;
    let ctx = call.open()?;
    let only_install = args.only_install;
    args.no_install = !only_install
        && (args.no_install || !super::install_choice::installs(&ctx, args.install, false)?);
    let summary_json = args.summary_json.clone();
    let format = args.format;
    let req = request(args)?;
    if only_install {
        let plan = pipeline::plan::plan(&ctx, &req)?;
        pipeline::ensure_installed(&ctx, &plan.plugins())?;
        return Ok(ExitCode::SUCCESS);
    }
    plan_and_execute(call, &ctx, &req, format, summary_json.as_deref())
}

/// The state strategy of `--state-strategy` and Meltano's deprecated `--merge-state` (which
/// it refuses beside an explicit strategy).
pub(super) fn strategy(merge_state: bool, chosen: StateStrategy) -> anyhow::Result<StateStrategy> {
    if !merge_state {
        return Ok(chosen);
    }
    if chosen != StateStrategy::Auto {
        anyhow::bail!("Cannot use both --merge-state and --state-strategy");
    }
    tracing::warn!(
        "The --merge-state option is deprecated and will be removed in a future version. \
         Use --state-strategy=merge instead."
    );
    Ok(StateStrategy::Merge)
}

/// Plans `req`, prints the plan (`--dry-run`) or executes it, writes the summary file, and
/// turns the outcome into an exit code (`run`, `el` and `elt` share it).
pub(super) fn plan_and_execute(
    call: &Call<'_>,
    ctx: &crate::project::Context,
    req: &RunRequest,
    format: Format,
    summary_json: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let outcome = match pipeline::plan::plan(ctx, req) {
        Ok(plan) if req.dry_run => {
            match format {
                Format::Json => call.print_json(&plan.to_json())?,
                Format::Text => call.print_masked(&plan.render())?,
            }
            return Ok(ExitCode::SUCCESS);
        }
        Ok(plan) => match Session::listening(call.console.clone()) {
            Ok(session) => pipeline::execute(&session, ctx, &plan),
            Err(e) => RunOutcome::failed(e),
        },
        Err(e) => RunOutcome::failed(e),
    };
    if let Some(path) = summary_json {
        let doc = serde_json::json!({
            "run_id": req.run_id,
            "success": outcome.error.is_none(),
            "error": outcome.error.as_ref().map(|e| e.to_string()),
            "seconds": outcome.seconds,
            "blocks": outcome.blocks,
        });
        let text = call.console.mask(&serde_json::to_string_pretty(&doc)?);
        std::fs::write(path, text)
            .map_err(|e| anyhow::anyhow!("cannot write the summary to {}: {e}", path.display()))?;
    }
    match outcome.error {
        None => Ok(ExitCode::SUCCESS),
        Some(e) => {
            let code = e.exit_code();
            super::report(&anyhow::Error::new(e), call.console);
            Ok(ExitCode::from(code))
        }
    }
}

/// The request the flags (and Meltano's `MELTANO_RUN_*` variables) describe.
fn request(args: RunArgs) -> anyhow::Result<RunRequest> {
    let meltano_flag = |name: &str| {
        std::env::var(format!("MELTANO_RUN_{name}")).is_ok_and(|v| crate::vocab::truth::truthy(&v))
    };
    Ok(RunRequest {
        words: args.words,
        dry_run: args.dry_run || meltano_flag("DRY_RUN"),
        full_refresh: args.full_refresh || meltano_flag("FULL_REFRESH"),
        refresh_catalog: args.refresh_catalog || meltano_flag("REFRESH_CATALOG"),
        no_state_update: args.no_state_update || meltano_flag("NO_STATE_UPDATE"),
        force: args.force || meltano_flag("FORCE"),
        state_id_suffix: args
            .state_id_suffix
            .or_else(|| std::env::var("MELTANO_RUN_STATE_ID_SUFFIX").ok()),
        state_strategy: match std::env::var("MELTANO_RUN_STATE_STRATEGY") {
            Ok(v) if args.state_strategy == StateStrategy::Auto && !v.is_empty() => {
                <StateStrategy as clap::ValueEnum>::from_str(&v, true).map_err(|_| {
                    anyhow::anyhow!(
                        "MELTANO_RUN_STATE_STRATEGY: expected auto, merge or overwrite, not '{v}'"
                    )
                })?
            }
            _ => args.state_strategy,
        },
        run_id: match args.run_id {
            Some(id) => id,
            None => match std::env::var("MELTANO_RUN_ID") {
                Ok(v) if !v.is_empty() => {
                    RunId::parse(&v).map_err(|e| anyhow::anyhow!("MELTANO_RUN_ID: {e}"))?
                }
                _ => RunId::default(),
            },
        },
        timeout: match args.timeout {
            Some(t) => Some(t),
            // Meltano's variable takes whole seconds; fractions are accepted here as on the flag.
            None => std::env::var("MELTANO_RUN_TIMEOUT")
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(|v| number::positive_seconds("MELTANO_RUN_TIMEOUT", &v))
                .transpose()?,
        },
        no_install: args.no_install || meltano_flag("NO_INSTALL"),
        progress: args.progress,
        parallel: args.parallel,
        split_streams: args.split_streams,
        el: None,
    })
}

/// `--run-id` is checked where it enters: it names folders, so only a UUID is accepted.
pub(super) fn parse_run_id(raw: &str) -> Result<RunId, String> {
    RunId::parse(raw).map_err(|e| e.to_string())
}

/// The most blocks, or extractor copies, one run starts at once: each is a few processes
/// and threads, and more than this is a mistake rather than a plan.
const MAX_AT_ONCE: u64 = 64;

/// `--parallel` (or `ELTR_RUN_PARALLEL`): a whole number from 1 to 64.
fn parallel_count(raw: &str) -> Result<usize, number::Problem> {
    number::count("--parallel", raw, MAX_AT_ONCE)
        .map(|n| n as usize)
        .map_err(|e| e.problem)
}

/// `--split-streams` (or `ELTR_RUN_SPLIT_STREAMS`): a whole number from 1 to 64.
fn split_count(raw: &str) -> Result<usize, number::Problem> {
    number::count("--split-streams", raw, MAX_AT_ONCE)
        .map(|n| n as usize)
        .map_err(|e| e.problem)
}

/// `--timeout` (or `ELTR_RUN_TIMEOUT`): clap prints the error, after the flag and the value,
/// and exits 2.
pub(super) fn timeout_seconds(raw: &str) -> Result<Duration, number::Problem> {
    number::positive_seconds("--timeout", raw).map_err(|e| e.problem)
}
