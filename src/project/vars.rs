//! The variables a project is resolved against: the process environment and the project's
//! `.env` file, kept apart so `config list` can say which one a value came from.

use super::error::{ProjectError, Result};
use indexmap::IndexMap;
use std::path::Path;

/// Where a variable was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarOrigin {
    Process,
    DotEnv,
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
        let process = std::env::vars().collect();
        let dotenv = match dotenvy::from_path_iter(env_file) {
            Ok(iter) => iter
                .collect::<std::result::Result<IndexMap<_, _>, _>>()
                .map_err(|e| ProjectError::Invalid {
                    path: env_file.to_path_buf(),
                    message: e.to_string(),
                })?,
            Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                IndexMap::new()
            }
            Err(e) => {
                return Err(ProjectError::Invalid {
                    path: env_file.to_path_buf(),
                    message: e.to_string(),
                });
            }
        };
        Ok(Vars { process, dotenv })
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

    /// Every variable, `.env` first so process values overwrite them when collected in order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String, VarOrigin)> {
        self.dotenv
            .iter()
            .map(|(k, v)| (k, v, VarOrigin::DotEnv))
            .chain(self.process.iter().map(|(k, v)| (k, v, VarOrigin::Process)))
    }
}
