//! `eltr el EXTRACTOR LOADER` and `eltr elt …`: Meltano 4.4's `el` / `elt` options turned into
//! a `RunRequest` (its `el` part), run by the same planner and executor as `eltr run`.

use super::Call;
use super::output::Format;
use crate::pipeline::dump::{Dumpable, dump};
use crate::pipeline::{self, ElRequest, RunRequest, Session, StateStrategy, Transform};
use crate::vocab::ident::RunId;
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args};
use std::process::ExitCode;
use std::time::Duration;

/// Flags of `eltr el` (Meltano's, with its variables).
#[derive(Debug, Args)]
pub struct ElArgs {
    /// The extractor.
    pub extractor: String,
    /// The loader.
    pub loader: String,
    /// Print what would run and stop (Meltano: "do not actually run").
    #[arg(long)]
    pub dry: bool,
    /// Ignore the stored state: extract everything again.
    #[arg(long, env = "MELTANO_RUN_FULL_REFRESH", value_parser = BoolishValueParser::new(), action = ArgAction::SetTrue)]
    pub full_refresh: bool,
    /// Discover the catalog again instead of using the cached one.
    #[arg(long)]
    pub refresh_catalog: bool,
    /// Extract only these entities (`stream` or `stream.property` patterns); repeatable.
    #[arg(long, short = 's', value_name = "ENTITY")]
    pub select: Vec<String>,
    /// Do not extract these entities; repeatable.
    #[arg(long, short = 'e', value_name = "ENTITY")]
    pub exclude: Vec<String>,
    /// Hand the extractor this catalog file (relative to the project root) instead of
    /// discovering one.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<String>,
    /// Start the extractor from this state file (relative to the project root) instead of
    /// the stored state.
    #[arg(long, value_name = "FILE")]
    pub state: Option<String>,
    /// Print a file of the pipeline instead of running it.
    #[arg(long, value_enum, value_name = "FILE")]
    pub dump: Option<Dumpable>,
    /// The state id, used as it is (default: an ephemeral id, so no state is reused).
    #[arg(long, env = "MELTANO_STATE_ID", value_name = "ID")]
    pub state_id: Option<String>,
    /// Break the lock of a run that holds this state id.
    #[arg(long, short = 'f')]
    pub force: bool,
    /// Merge confirmed states into the stored one (Meltano's deprecated spelling of
    /// `--state-strategy merge`).
    #[arg(long, hide = true)]
    pub merge_state: bool,
    /// How confirmed states combine with the stored one.
    #[arg(long, value_enum, default_value_t)]
    pub state_strategy: StateStrategy,
    #[command(flatten)]
    pub installing: super::install_choice::InstallFlags,
    /// Identifier of this run, a UUID (default: a new one).
    #[arg(long, value_parser = super::run::parse_run_id)]
    pub run_id: Option<RunId>,
    /// Stop the run after this many seconds.
    #[arg(
        long,
        value_name = "SECONDS",
        allow_negative_numbers = true,
        value_parser = super::run::timeout_seconds
    )]
    pub timeout: Option<Duration>,
    /// Live progress on stderr: when it is a terminal (auto), always or never.
    #[arg(long, value_enum, default_value_t)]
    pub progress: crate::pipeline::progress::ProgressMode,
    /// How `--dry` prints the plan.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// `--dump`: show sensitive values instead of masking them.
    #[arg(long = "unsafe")]
    pub show_secrets: bool,
}

/// Flags of `eltr elt`: `el`'s and `--transform`.
#[derive(Debug, Args)]
pub struct EltArgs {
    #[command(flatten)]
    pub el: ElArgs,
    /// Also run the legacy `dbt` transformer (`run`), run only it (`only`), or not (`skip`).
    #[arg(long, value_enum)]
    pub transform: Option<Transform>,
}

/// `eltr el`.
pub fn run_el(call: &Call<'_>, args: ElArgs) -> anyhow::Result<ExitCode> {
    run(call, args, Transform::Skip)
}

/// `eltr elt` (Meltano deprecates it in favour of `el`, and says so).
pub fn run_elt(call: &Call<'_>, args: EltArgs) -> anyhow::Result<ExitCode> {
    tracing::warn!("the `elt` command is deprecated in favor of `el`");
    run(call, args.el, args.transform.unwrap_or_default())
}

fn run(call: &Call<'_>, args: ElArgs, transform: Transform) -> anyhow::Result<ExitCode> {
    let state_strategy = super::run::strategy(args.merge_state, args.state_strategy)?;
    let ctx = call.open()?;
    let state_id = match &args.state_id {
        Some(id) if !id.is_empty() => id.clone(),
        _ => {
            let id = ephemeral_state_id(&args.extractor, &args.loader);
            tracing::warn!(
                "No state ID provided. Using an ephemeral state ID '{id}'. Incremental \
                 replication state will not be reused between runs. To persist state across \
                 runs, pass `--state-id=<your_id>`."
            );
            id
        }
    };
    let mut select_filter = args.select.clone();
    select_filter.extend(args.exclude.iter().map(|e| format!("!{e}")));
    let req = RunRequest {
        dry_run: args.dry,
        full_refresh: args.full_refresh,
        refresh_catalog: args.refresh_catalog,
        force: args.force,
        state_strategy,
        run_id: args.run_id.unwrap_or_default(),
        timeout: args.timeout,
        no_install: !args.installing.installs(&ctx)?,
        progress: args.progress,
        el: Some(ElRequest {
            extractor: args.extractor.clone(),
            loader: args.loader.clone(),
            state_id,
            catalog: args.catalog.clone(),
            state: args.state.clone(),
            select_filter,
            transform,
        }),
        ..RunRequest::default()
    };
    if args.installing.only_install || args.dump.is_some() {
        let plan = pipeline::plan::plan(&ctx, &req)?;
        let session = Session::listening(call.console.clone())?;
        if args.installing.only_install {
            pipeline::ensure_installed(&ctx, &plan.plugins())?;
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(what) = args.dump {
            let text = dump(&session, &ctx, &plan, what)?;
            match args.show_secrets {
                true => call.print_raw(&format!("{text}\n"))?,
                false => call.print_line(&text)?,
            }
            return Ok(ExitCode::SUCCESS);
        }
    }
    super::run::plan_and_execute(call, &ctx, &req, args.format, None)
}

/// Meltano's id for an `el` run without `--state-id`: `{UTC %Y-%m-%dT%H%M%S}--{extractor}--
/// {loader}`, so its state is never reused.
fn ephemeral_state_id(extractor: &str, loader: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{}--{extractor}--{loader}", utc_stamp(secs))
}

/// `%Y-%m-%dT%H%M%S` of a Unix time, in UTC.
fn utc_stamp(secs: u64) -> String {
    let rem = secs % 86_400;
    let (year, month, day) = crate::vocab::clock::civil_from_days((secs / 86_400) as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamp_is_meltanos_format() {
        assert_eq!(utc_stamp(0), "1970-01-01T000000");
        // 2024-02-29 12:34:56 UTC, a leap day.
        assert_eq!(utc_stamp(1_709_210_096), "2024-02-29T123456");
        assert_eq!(utc_stamp(1_798_761_599), "2026-12-31T235959");
    }
}
