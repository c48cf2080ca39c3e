//! The `eltr` binary: parse arguments, set up logging, dispatch to the command.

use clap::Parser;
use eltr::pipeline::console::Console;
use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    if let Some(code) = eltr::cli::completions::answer_request() {
        return code;
    }
    let cli = eltr::cli::Cli::parse();
    let console = Arc::new(Console::new(eltr::cli::logging::wants_json(&cli.global)));
    eltr::cli::logging::init(&cli.global, console.clone());
    match eltr::cli::dispatch(cli, &console) {
        Ok(code) => code,
        Err(err) => {
            eltr::cli::report(&err, &console);
            ExitCode::FAILURE
        }
    }
}
