//! The `eltr` binary: parse arguments, set up logging, dispatch to the command.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = eltr::cli::Cli::parse();
    eltr::cli::logging::init(&cli.global);
    match eltr::cli::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            eltr::cli::report(&err);
            ExitCode::FAILURE
        }
    }
}
