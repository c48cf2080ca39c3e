//! `eltr init DIR`: a new project in the modular layout teams keep in git (root file with
//! `include_paths`, environments, plugins and pipelines in their own folders).

use anyhow::{Context as _, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Flags of `eltr init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Folder to create (it may exist, but not hold a project already).
    pub dir: PathBuf,
    /// Replace the folder's `eltr.yml`. Every other file already there is kept as it is.
    #[arg(long)]
    pub force: bool,
    /// Accepted for Meltano compatibility: eltr sends no usage statistics.
    #[arg(long)]
    pub no_usage_stats: bool,
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
    if dir.join("meltano.yml").exists() {
        bail!(
            "{} is a Meltano project already; eltr runs it as it is (no init needed)",
            dir.display()
        );
    }
    if dir.join("eltr.yml").exists() && !args.force {
        bail!(
            "{} already holds eltr.yml; use --force to replace it (other files are kept)",
            dir.display()
        );
    }
    let mut kept = 0;
    for (rel, text) in FILES {
        let path = dir.join(rel);
        if path.exists() && *rel != "eltr.yml" {
            kept += 1;
            continue;
        }
        write(dir, &path, text)?;
    }
    if kept > 0 {
        eprintln!("kept {kept} file(s) already in {}", dir.display());
    }
    eprintln!(
        "created project {}; add plugins under plugins/, then run `eltr compile` there",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes one file of the new project; one already there (`--force`) is replaced whole,
/// never written through a link out of the project folder.
fn write(dir: &Path, path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    crate::vocab::confine::write_replacing(dir, path, text.as_bytes(), false)
        .with_context(|| format!("cannot write {}", path.display()))
}
