//! `eltr init DIR`: a new project in the modular layout teams keep in git (root file with
//! `include_paths`, environments, plugins and pipelines in their own folders).

use anyhow::{Context as _, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Flags of `eltr init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Folder to create (must not exist, or be empty).
    pub dir: PathBuf,
}

/// The files of a new project, relative to its folder.
const FILES: &[(&str, &str)] = &[
    (
        "eltr.yml",
        "version: 1\n\
         include_paths:\n  \
           - ./envs_config.yml\n  \
           - ./plugins/**/*.yml\n  \
           - ./pipelines/**/*.yml\n\
         # state_backend:\n\
         #   uri: s3://my-bucket/eltr-state\n",
    ),
    (
        "envs_config.yml",
        "default_environment: dev\n\
         environments:\n  \
           - name: dev\n    \
             env: {}\n  \
           - name: prod\n    \
             env: {}\n",
    ),
    (
        "plugins/extractors/extractors_config.yml",
        "plugins:\n  extractors: []\n",
    ),
    (
        "plugins/loaders/loaders_config.yml",
        "plugins:\n  loaders: []\n",
    ),
    (
        "plugins/mappers/mappers_config.yml",
        "plugins:\n  mappers: []\n",
    ),
    (
        "plugins/custom/custom_config.yml",
        "plugins:\n  extractors: []\n",
    ),
    (
        "pipelines/example_pipeline/example_config.yml",
        "jobs: []\n",
    ),
    (".gitignore", ".eltr/\n.meltano/\n.env\n"),
    (
        ".env",
        "# Secrets and per-machine variables; never committed.\n",
    ),
];

/// Creates the project.
pub fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.dir;
    if dir.exists() && dir.read_dir()?.next().is_some() {
        bail!(
            "{} already exists and is not empty; pick a new folder",
            dir.display()
        );
    }
    for (rel, text) in FILES {
        write(&dir.join(rel), text)?;
    }
    eprintln!(
        "created project {}; add plugins under plugins/, then run `eltr compile` there",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
