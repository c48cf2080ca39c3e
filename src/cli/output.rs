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

/// A table as Meltano's listings print it (rich's SIMPLE_HEAD box, no colour): a blank edge
/// line, the header, a rule, the rows, a blank edge line; each cell padded to its column,
/// columns three spaces apart inside a one-space edge. Columns in `centred` are centred
/// (rich puts the odd space on the right).
pub fn simple_table<const N: usize>(
    header: &[&str; N],
    rows: &[[String; N]],
    centred: &[usize],
) -> String {
    let width = |s: &str| s.chars().count();
    let widths: Vec<usize> = (0..N)
        .map(|i| {
            rows.iter()
                .map(|r| width(&r[i]))
                .chain([width(header[i])])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; N]| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let gap = widths[i] - width(c);
                match centred.contains(&i) {
                    true => format!("{}{c}{}", " ".repeat(gap / 2), " ".repeat(gap - gap / 2)),
                    false => format!("{c}{}", " ".repeat(gap)),
                }
            })
            .collect();
        format!(" {} ", padded.join("   "))
    };
    let total = widths.iter().sum::<usize>() + 3 * (N - 1) + 2;
    let mut out = vec![" ".repeat(total), line(*header)];
    out.push(format!(" {} ", "\u{2500}".repeat(total - 2)));
    for r in rows {
        out.push(line(std::array::from_fn(|i| r[i].as_str())));
    }
    out.push(" ".repeat(total));
    out.join("\n")
}
