//! Printing data on stdout: pretty JSON with a trailing newline, stable key order, and every
//! line through the project's masker (a secret is shown only when the user asked for it with
//! `--unsafe`). Used through `Call`, which knows the console and so the masker.

use super::Call;
use serde::Serialize;
use std::io::Write;

impl Call<'_> {
    /// Writes `value` as indented JSON to stdout, secrets masked.
    pub fn print_json<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        write_line(&self.console.mask(&serde_json::to_string_pretty(value)?))
    }

    /// Writes `value` as indented JSON to stdout as it is: for `--unsafe`, where the user
    /// asked to see the secrets.
    pub fn print_json_unmasked<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        write_line(&serde_json::to_string_pretty(value)?)
    }

    /// Writes `text` and a newline to stdout, secrets masked.
    pub fn print_line(&self, text: &str) -> anyhow::Result<()> {
        write_line(&self.console.mask(text))
    }

    /// Writes `text` to stdout, secrets masked, without adding a newline.
    pub fn print_masked(&self, text: &str) -> anyhow::Result<()> {
        self.print_raw(&self.console.mask(text))
    }

    /// Tells the person at the terminal what a command did (`Removed job 'x'.`), on stderr:
    /// masked, and a JSON log line under `--log-format json`.
    pub fn say(&self, text: &str) {
        if self.console.json_lines() {
            let line = super::logging::json_line(
                self.console,
                None,
                "info",
                None,
                text.to_string(),
                serde_json::Map::new(),
            );
            self.console.println(&line.to_string());
        } else {
            self.console.println(text);
        }
    }

    /// Writes `text` as it is, without adding a newline: for `--unsafe`.
    pub fn print_raw(&self, text: &str) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
        Ok(())
    }
}

fn write_line(text: &str) -> anyhow::Result<()> {
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
