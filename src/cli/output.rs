//! Printing data on stdout: pretty JSON with a trailing newline, stable key order, and every
//! line through the project's masker (a secret is shown only when the user asked for it with
//! `--unsafe`).

use crate::pipeline::console;
use serde::Serialize;
use std::io::Write;

/// Writes `value` as indented JSON to stdout, secrets masked.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    write_stdout(&console::mask(&serde_json::to_string_pretty(value)?))
}

/// Writes `value` as indented JSON to stdout as it is: for `--unsafe`, where the user asked to
/// see the secrets.
pub fn print_json_unmasked<T: Serialize>(value: &T) -> anyhow::Result<()> {
    write_stdout(&serde_json::to_string_pretty(value)?)
}

/// Writes `text` and a newline to stdout, secrets masked.
pub fn print_line(text: &str) -> anyhow::Result<()> {
    write_stdout(&console::mask(text))
}

/// Writes `text` as it is (it may end with a newline; none is added): for `--unsafe`.
pub fn print_raw(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Writes `text` to stdout, secrets masked, without adding a newline.
pub fn print_masked(text: &str) -> anyhow::Result<()> {
    print_raw(&console::mask(text))
}

fn write_stdout(text: &str) -> anyhow::Result<()> {
    // One buffered write: stdout flushes per line otherwise, one syscall per line of JSON.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    out.write_all(text.as_bytes())?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// `--format` for listing commands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}
