//! Turning a resolved plugin into something runnable: its process environment, its config
//! file, its executable and virtualenv, and (for extractors) its catalog.
//!
//! Takes `ResolvedPlugin`s from `project`; hands `PreparedPlugin`s to `pipeline`.

pub mod build;
pub mod catalog;
pub mod env;
pub mod executable;
pub mod glue;
pub mod install;
pub mod installer;
pub mod manifest;
pub mod prepare;
pub mod pylock;
pub mod resolutions;
pub mod run_dir;
pub mod schedule;
pub mod staging;
pub mod uv_config;
pub mod venv;

pub use prepare::{PrepareOptions, PreparedPlugin, prepare};

/// Why a plugin cannot be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// A step Meltano runs before Airflow or Superset (`plugin::glue`) failed.
    #[error("{plugin}: {message}")]
    Glue { plugin: String, message: String },
    #[error(
        "cannot find the executable '{executable}' of {kind} '{plugin}' (looked in {venv}/bin and on PATH); run `eltr install {plugin}` or set `executable:`"
    )]
    NotFound {
        kind: String,
        plugin: String,
        executable: String,
        venv: String,
    },
    #[error("catalog of extractor '{plugin}': {message}")]
    Catalog { plugin: String, message: String },
    #[error(
        "{plugin}: the state file {path} named by its `state` extra is not valid JSON: {message}"
    )]
    BadStateFile {
        plugin: String,
        path: String,
        message: String,
    },
    /// The project's `venv.backend` setting cannot be followed.
    #[error("{message}")]
    VenvBackend { message: String },
    #[error("{plugin}: cannot write its run files in {path}: {error}")]
    RunFiles {
        plugin: String,
        path: String,
        error: std::io::Error,
    },
}

/// "exit code N" or "killed by signal S".
pub fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "unknown status".into(),
    }
}
