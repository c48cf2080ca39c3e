//! The variables a project is resolved against: the process environment and the project's
//! `.env` file, kept apart so `config list` can say which one a value came from.

use super::error::{ProjectError, Result};
use crate::vocab::files::{PROJECT_FILE_CAP, read_capped};
use indexmap::IndexMap;
use std::path::Path;

/// Where a variable was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarOrigin {
    Process,
    DotEnv,
}

/// A `.env` error that names the file, line and key but never echoes the line: its value may
/// be a secret.
fn dotenv_error(env_file: &Path, error: dotenvy::Error) -> ProjectError {
    let dotenvy::Error::LineParse(line, index) = &error else {
        let message = match error {
            dotenvy::Error::Io(e) => e.to_string(),
            _ => "cannot be read as a .env file".to_string(),
        };
        return ProjectError::Invalid {
            path: env_file.to_path_buf(),
            message,
        };
    };
    // The key is shown only when it is one: a line without `=`, or with something else
    // before it, may be a pasted secret.
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_start_matches("export ").trim())
        .filter(|k| {
            !k.is_empty()
                && k.len() <= 80
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        });
    let text = std::fs::read_to_string(env_file).unwrap_or_default();
    let first_line = line.lines().next().unwrap_or("");
    let line_no = text
        .lines()
        .position(|l| !first_line.is_empty() && l == first_line)
        .map(|i| i + 1);
    let what = match key {
        Some(k) => format!("the line that sets '{k}'"),
        None => "a line that is not `KEY=value`".to_string(),
    };
    let message = format!(
        "cannot parse {what} (at character {}): check its quotes and escapes (the value is not shown)",
        index + 1
    );
    ProjectError::at(env_file, line_no.map(|l| (l, 1)), message)
}

/// True when a value is long and specific enough to be masked on a guess.
fn worth_masking(value: &str) -> bool {
    value.len() >= 6
        && value.parse::<f64>().is_err()
        && !matches!(
            value.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "none" | "null"
        )
}

/// A snapshot of the process environment plus the `.env` file; the process wins.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    process: IndexMap<String, String>,
    dotenv: IndexMap<String, String>,
}

impl Vars {
    /// Snapshots the process environment and reads `env_file` if it exists (a missing default
    /// `.env` is normal; a missing file named with `--env-file` is an error).
    pub fn load(env_file: &Path, required: bool) -> Result<Vars> {
        // `std::env::vars` panics on a variable that is not UTF-8; such a variable cannot be
        // named in a project file anyway, so it is left out.
        let process = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let bytes = match read_capped(env_file, PROJECT_FILE_CAP) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Vars {
                    process,
                    dotenv: IndexMap::new(),
                });
            }
            Err(e) => return Err(dotenv_error(env_file, dotenvy::Error::Io(e))),
        };
        let dotenv = dotenvy::from_read_iter(&bytes[..])
            .collect::<std::result::Result<IndexMap<_, _>, _>>()
            .map_err(|e| dotenv_error(env_file, e))?;
        Ok(Vars { process, dotenv })
    }

    /// Values of variables whose names say they hold a secret (`*_PASSWORD`, `*_TOKEN`…),
    /// for the masker before any plugin is resolved. Short values and plain words (`true`,
    /// `5432`) are left out: masking them would garble output and protect nothing.
    pub fn secret_looking_values(&self) -> impl Iterator<Item = &str> {
        self.iter()
            .filter(|(k, v, _)| super::settings::looks_secret(k) && worth_masking(v))
            .map(|(_, v, _)| v.as_str())
    }

    /// Builds from explicit maps (tests and embedding).
    pub fn from_maps(process: IndexMap<String, String>, dotenv: IndexMap<String, String>) -> Vars {
        Vars { process, dotenv }
    }

    /// Looks a variable up: process first, then `.env`.
    pub fn get(&self, name: &str) -> Option<(&str, VarOrigin)> {
        self.process
            .get(name)
            .map(|v| (v.as_str(), VarOrigin::Process))
            .or_else(|| {
                self.dotenv
                    .get(name)
                    .map(|v| (v.as_str(), VarOrigin::DotEnv))
            })
    }

    /// A variable of the process environment (not `.env`).
    pub fn process(&self, name: &str) -> Option<&str> {
        self.process.get(name).map(String::as_str)
    }

    /// Every variable, `.env` first so process values overwrite them when collected in order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String, VarOrigin)> {
        self.dotenv
            .iter()
            .map(|(k, v)| (k, v, VarOrigin::DotEnv))
            .chain(self.process.iter().map(|(k, v)| (k, v, VarOrigin::Process)))
    }
}
