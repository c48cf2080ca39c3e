//! `eltr schema`: prints the JSON Schema of project files, for editors to validate and
//! complete `meltano.yml`, `eltr.yml` and the files they include.

use std::io::Write;
use std::process::ExitCode;

/// Prints the schema (`project::schema`), pretty, on stdout.
pub fn run() -> anyhow::Result<ExitCode> {
    let text = serde_json::to_string_pretty(&crate::project::schema::document())?;
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(ExitCode::SUCCESS)
}
