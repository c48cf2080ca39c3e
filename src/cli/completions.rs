//! `eltr completions bash|zsh|fish`: prints the script a shell loads to complete eltr, and
//! answers the requests that script makes.
//!
//! The scripts are clap_complete's dynamic ones: on each TAB the shell runs
//! `ELTR_COMPLETE=<shell> eltr -- <words>` and eltr answers from its own command tree
//! (subcommands, options, option values) and from the project at hand (`complete_names`). So
//! the script never goes stale when commands change, and names come from the project the
//! command would open. A request reads the project files and nothing else, prints candidates
//! only, and on any failure (an invalid project, a bad word) prints nothing at all.

use super::Cli;
use super::complete_names::{self, ProjectNames};
use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::CompleteEnv;
use clap_complete::env::{Bash, EnvCompleter, Fish, Zsh};
use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

/// The variable that turns a run of eltr into a completion request. eltr's own name rather
/// than clap's default `COMPLETE`, so a variable some other tool sets cannot hijack a run.
pub const REQUEST_VAR: &str = "ELTR_COMPLETE";

/// Flags of `eltr completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print the script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The shells eltr prints completion scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    fn completer(self) -> &'static dyn EnvCompleter {
        match self {
            Shell::Bash => &Bash,
            Shell::Zsh => &Zsh,
            Shell::Fish => &Fish,
        }
    }
}

/// Prints the shell's script. It calls eltr back by the name it was started with (`eltr` from
/// PATH), or by its absolute path when it was started by a path.
pub fn run(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let started_as = std::env::args_os().next().unwrap_or_else(|| "eltr".into());
    let program = match std::path::Path::new(&started_as).components().count() {
        0 | 1 => started_as,
        _ => std::env::current_exe()?.into_os_string(),
    };
    let program = program
        .into_string()
        .map_err(|p| anyhow::anyhow!("eltr's path is not UTF-8: {}", p.to_string_lossy()))?;
    let mut script = Vec::new();
    args.shell.completer().write_registration(
        REQUEST_VAR,
        "eltr",
        "eltr",
        &program,
        &mut script,
    )?;
    std::io::stdout().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// Answers a completion request if this run is one (`ELTR_COMPLETE` set by a script); `None`
/// for an ordinary run. Nothing but candidates reaches the shell: no logging is set up, a
/// panic prints nothing, and a failure exits 1 silently (the scripts then offer nothing).
pub fn answer_request() -> Option<ExitCode> {
    let shell = std::env::var_os(REQUEST_VAR)?;
    if shell.is_empty() || shell == "0" {
        return None;
    }
    std::panic::set_hook(Box::new(|_| {}));
    let args: Vec<OsString> = std::env::args_os().collect();
    let mut words: Vec<OsString> = match args.iter().position(|a| a == "--") {
        Some(i) => args[i + 1..].to_vec(),
        None => Vec::new(),
    };
    // bash and zsh send the whole line and the index of the word under the cursor; what
    // comes after that word is not part of the request.
    let cursor = std::env::var("_CLAP_COMPLETE_INDEX").ok();
    if let Some(at) = cursor.and_then(|i| i.parse::<usize>().ok()) {
        words.truncate(at.saturating_add(1));
    }
    let cwd = std::env::current_dir().ok();
    let names = Arc::new(ProjectNames::new(&words, cwd.as_deref()));
    let answered =
        CompleteEnv::with_factory(move || complete_names::attach(Cli::command(), &names))
            .var(REQUEST_VAR)
            .bin("eltr")
            .shells(clap_complete::env::Shells(&[&Bash, &Zsh, &Fish]))
            .try_complete(args, cwd.as_deref());
    Some(match answered {
        Ok(true) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}
