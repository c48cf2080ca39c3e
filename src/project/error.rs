//! Errors raised while reading and resolving a project. Each variant carries the file (and,
//! where YAML gives one, the line and column) so the message tells the user where to look.

use std::path::PathBuf;

/// Everything that can be wrong with a project's files or their resolution.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error(
        "no eltr.yml or meltano.yml found in {searched} or any parent folder (run `eltr init DIR` to create a project, or pass --project-root)"
    )]
    RootNotFound { searched: PathBuf },

    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },

    #[error("{path}:{line}:{column}: {message}")]
    Yaml {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },

    #[error("{path}: include pattern '{pattern}' is not a valid glob: {message}")]
    BadGlob {
        path: PathBuf,
        pattern: String,
        message: String,
    },

    #[error(
        "{path}: included file '{included}' is outside the project root {root} (include_paths must stay inside the project)"
    )]
    IncludeOutsideRoot {
        path: PathBuf,
        included: PathBuf,
        root: PathBuf,
    },

    #[error("{what} '{name}' is defined twice: in {first} and in {second}")]
    Duplicate {
        what: &'static str,
        name: String,
        first: PathBuf,
        second: PathBuf,
    },

    #[error("'{key}' is set to different values in {first} and in {second}; set it in one file")]
    ConflictingScalar {
        key: String,
        first: PathBuf,
        second: PathBuf,
    },

    #[error("{path}: {kind} '{name}' inherits from '{parent}', which is not defined{hint}")]
    MissingParent {
        path: PathBuf,
        kind: String,
        name: String,
        parent: String,
        hint: String,
    },

    #[error("{path}: inherit_from cycle: {chain}")]
    InheritCycle { path: PathBuf, chain: String },

    #[error("unknown {what} '{name}'{hint}")]
    Unknown {
        what: &'static str,
        name: String,
        hint: String,
    },

    #[error("{path}: lockfile {lockfile} is not valid JSON: {message}")]
    BadLockfile {
        path: PathBuf,
        lockfile: PathBuf,
        message: String,
    },

    #[error("variable {var}{origin}: {message}")]
    BadVariable {
        var: String,
        /// " (from .env)" and the like.
        origin: String,
        message: String,
    },

    #[error(
        "environment variable '{var}' used in {context} is not set (strict env mode: set it, or give a default with ${{{var}:-default}})"
    )]
    MissingVar { var: String, context: String },

    #[error(transparent)]
    Number(#[from] crate::vocab::number::NumberError),
}

impl ProjectError {
    /// An error in `path`, at `position` (line, column) when it is known.
    pub fn at(
        path: &std::path::Path,
        position: Option<(usize, usize)>,
        message: String,
    ) -> ProjectError {
        match position {
            Some((line, column)) => ProjectError::Yaml {
                path: path.to_path_buf(),
                line,
                column,
                message,
            },
            None => ProjectError::Invalid {
                path: path.to_path_buf(),
                message,
            },
        }
    }

    /// An error about the line of `path` that starts with `key` (found after parsing, when
    /// the YAML library no longer knows positions).
    pub fn at_key(path: &std::path::Path, key: &str, message: String) -> ProjectError {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        ProjectError::at(path, super::position::locate(&text, key), message)
    }
}

/// Shorthand for results of the project layer.
pub type Result<T, E = ProjectError> = std::result::Result<T, E>;

/// Builds the " (did you mean 'x'?)" suffix from the closest candidate, if any is close enough
/// to be a plausible typo.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let best = candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, c)) => format!(" (did you mean '{c}'?)"),
        None => String::new(),
    }
}
