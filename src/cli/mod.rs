//! The command line: one module per command, each turning flags into a call on the library.
//! Nothing here spawns processes or reads project files itself.

pub mod add;
pub mod compile;
pub mod complete_names;
pub mod completions;
pub mod config;
pub mod config_list;
pub mod config_test;
pub mod el;
pub mod environment;
pub mod hub;
pub mod init;
pub mod install;
pub mod install_choice;
pub mod invoke;
pub mod job;
pub mod lock;
pub mod logging;
pub mod logs;
pub mod output;
pub mod plugin_list;
pub mod remove;
pub mod run;
pub mod schedule;
pub mod schedule_run;
pub mod schema;
pub mod select;
pub mod state;
pub mod test;

use crate::pipeline::console::Console;
use crate::project::{self, Context, OpenOptions};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// eltr runs Singer taps and targets from a Meltano-style project, fast, and keeps their state.
#[derive(Debug, Parser)]
#[command(name = "eltr", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts, before or after its name.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Project folder (default: the nearest folder up from here with eltr.yml or meltano.yml).
    #[arg(long, global = true, value_name = "DIR")]
    pub project_root: Option<PathBuf>,
    /// Environment to activate (default: ELTR_ENVIRONMENT / MELTANO_ENVIRONMENT, then the
    /// project's default_environment).
    #[arg(
        long,
        global = true,
        value_name = "ENV",
        conflicts_with = "no_environment"
    )]
    pub environment: Option<String>,
    /// Do not activate any environment, not even the default one.
    #[arg(long, global = true)]
    pub no_environment: bool,
    /// Read variables from this file instead of the project's .env.
    #[arg(long, global = true, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Fail when a ${VAR} reference names a variable that is not set.
    #[arg(long, global = true)]
    pub strict_env: bool,
    /// Log level: debug, info, warning, error, critical or disabled (Meltano's names; trace
    /// and warn also work).
    #[arg(long, global = true, value_name = "LEVEL", value_parser = log_level)]
    pub log_level: Option<String>,
    /// Log line format on stderr (Meltano's colored, uncolored, plain and key_value are text).
    #[arg(long, global = true, value_enum, env = "MELTANO_CLI_LOG_FORMAT")]
    pub log_format: Option<logging::LogFormat>,
    /// A Python logging config (YAML, as Meltano's `--log-config`): its root level and
    /// whether it formats JSON are honoured (also `MELTANO_CLI_LOG_CONFIG`).
    #[arg(long, global = true, value_name = "FILE")]
    pub log_config: Option<PathBuf>,
    /// Run as if started in this folder.
    #[arg(long, global = true, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Meltano's system database (`sqlite:///…`, `postgresql://…`), over
    /// `MELTANO_DATABASE_URI` and the project's `database_uri`: where the `systemdb` state
    /// home lives, and what plugins see as `MELTANO_DATABASE_URI`.
    #[arg(long, global = true, value_name = "URI")]
    pub database_uri: Option<String>,
}

impl GlobalArgs {
    /// The project options these flags describe.
    pub fn open_options(&self) -> OpenOptions {
        OpenOptions {
            project_root: self.project_root.clone(),
            environment: self.environment.clone(),
            no_environment: self.no_environment,
            env_file: self.env_file.clone(),
            strict_env: self.strict_env,
            database_uri: self.database_uri.clone(),
        }
    }
}

/// What a command runs with: the global options and the console everything it prints goes
/// through (made by `main`, handed down; never a global).
pub struct Call<'a> {
    pub global: &'a GlobalArgs,
    pub console: &'a Arc<Console>,
}

impl Call<'_> {
    /// Opens the project for the command; from here on every line printed is masked with
    /// what the project's masker learns.
    pub fn open(&self) -> anyhow::Result<Context> {
        let cwd = std::env::current_dir()?;
        let ctx = project::open(&self.global.open_options(), &cwd)?;
        self.console.set_masker(ctx.masker.clone());
        Ok(ctx)
    }
}

/// The environment an editing command writes to: only one chosen explicitly
/// (`--environment`, `ELTR_ENVIRONMENT` / `MELTANO_ENVIRONMENT`), never `default_environment`,
/// because Meltano's `config`, `select`, `job` and `schedule` ignore the default too and a
/// project's files must come out the same whichever tool edits them.
pub fn edit_environment(global: &GlobalArgs, ctx: &Context) -> anyhow::Result<Option<String>> {
    if global.no_environment {
        return Ok(None);
    }
    let chosen = global.environment.clone().or_else(|| {
        ["ELTR_ENVIRONMENT", "MELTANO_ENVIRONMENT"]
            .iter()
            .find_map(|v| ctx.vars.get(v).map(|(s, _)| s.to_string()))
            .filter(|s| !s.is_empty() && s != "null")
    });
    if let Some(name) = &chosen {
        if !ctx.project.environments.contains_key(name) {
            anyhow::bail!("environment '{name}' is not defined in the project");
        }
    }
    Ok(chosen)
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add a plugin to the project (from Meltano Hub, --custom, or --from-ref).
    Add(add::AddArgs),
    /// Write Meltano's manifests (`--print`: the whole resolved project as JSON).
    Compile(compile::CompileArgs),
    /// Show a plugin's resolved configuration.
    Config(config::ConfigArgs),
    /// Add, list or remove environments.
    Environment(environment::EnvironmentArgs),
    /// List, add, change or remove the project's jobs.
    Job(job::JobArgs),
    /// List, add, change or remove the project's schedules.
    Schedule(schedule::ScheduleArgs),
    /// List what Meltano Hub offers, or check that it answers.
    Hub(hub::HubArgs),
    /// Create a new project in the modular layout.
    Init(init::InitArgs),
    /// Build the virtualenvs of the project's plugins.
    Install(install::InstallArgs),
    /// Run blocks: `extractor [mapper…] loader`, jobs, `plugin:command`.
    Run(run::RunArgs),
    /// Run one extractor → loader pair with Meltano's `el` options (`--state-id`, `--dump`…).
    El(el::ElArgs),
    /// `el` with Meltano's legacy `--transform` (deprecated in Meltano, as here).
    Elt(el::EltArgs),
    /// Run one plugin with its config and environment.
    Invoke(invoke::InvokeArgs),
    /// Fetch Hub plugins' definitions into plugins/<type>/<name>--<variant>.lock.
    Lock(lock::LockArgs),
    /// List the project's plugins (Meltano's `plugin list`).
    Plugin(plugin_list::PluginArgs),
    /// List block runs and show their logs (Meltano's `logs`).
    Logs(logs::LogsArgs),
    /// Remove plugins from the project.
    Remove(remove::RemoveArgs),
    /// Show which streams and properties an extractor selects.
    Select(select::SelectArgs),
    /// Read and change stored state.
    State(state::StateArgs),
    /// Run plugins' tests (their commands named `test…`).
    Test(test::TestArgs),
    /// Print the script that makes a shell complete eltr's commands and the project's names.
    Completions(completions::CompletionsArgs),
    /// Print the JSON Schema of project files, for editors.
    Schema,
}

/// `--log-level`: one of the names `logging::tracing_level` knows.
fn log_level(raw: &str) -> Result<String, String> {
    match logging::tracing_level(raw) {
        Some(_) => Ok(raw.to_string()),
        None => Err(
            "expected debug, info, warning, error, critical or disabled (or trace, warn)".into(),
        ),
    }
}

/// Runs the parsed command, printing through `console`.
pub fn dispatch(cli: Cli, console: &Arc<Console>) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &cli.global.cwd {
        std::env::set_current_dir(dir)
            .map_err(|e| anyhow::anyhow!("unable to run from {}: {e}", dir.display()))?;
    }
    let call = &Call {
        global: &cli.global,
        console,
    };
    match cli.command {
        Command::Add(args) => add::run(call, args),
        Command::Compile(args) => compile::run(call, args),
        Command::Config(args) => config::run(call, args),
        Command::Environment(args) => environment::run(call, args),
        Command::Job(args) => job::run(call, args),
        Command::Schedule(args) => schedule::run(call, args),
        Command::Hub(args) => hub::run(call, args),
        Command::Init(args) => init::run(args),
        Command::Install(args) => install::run(call, args),
        Command::Run(args) => run::run(call, args),
        Command::El(args) => el::run_el(call, args),
        Command::Elt(args) => el::run_elt(call, args),
        Command::Invoke(args) => invoke::run(call, args),
        Command::Lock(args) => lock::run(call, args),
        Command::Plugin(args) => plugin_list::run(call, args),
        Command::Logs(args) => logs::run(call, args),
        Command::Remove(args) => remove::run(call, args),
        Command::Select(args) => select::run(call, args),
        Command::State(args) => state::run(call, args),
        Command::Test(args) => test::run(call, args),
        Command::Completions(args) => completions::run(args),
        Command::Schema => schema::run(),
    }
}

/// Prints a failed command's error chain on stderr, one cause per line, or as one JSON log
/// line (causes under `caused_by`) when logs are JSON, so log shippers see the failure too.
pub fn report(err: &anyhow::Error, console: &Console) {
    let masked = |e: &dyn std::fmt::Display| console.mask(&e.to_string());
    if console.json_lines() {
        let causes: Vec<serde_json::Value> = err
            .chain()
            .skip(1)
            .map(|c| serde_json::Value::String(masked(c)))
            .collect();
        let mut other = serde_json::Map::new();
        if !causes.is_empty() {
            other.insert("caused_by".into(), serde_json::Value::Array(causes));
        }
        eprintln!(
            "{}",
            logging::json_line(console, None, "error", None, masked(err), other)
        );
        return;
    }
    eprintln!("error: {}", masked(err));
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {}", masked(cause));
    }
}
