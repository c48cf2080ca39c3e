//! `eltr install`: one virtualenv per plugin with a `pip_url`, built with `uv` when it is
//! available (else `python -m venv` + pip), several at once.
//!
//! A venv counts as installed only when its fingerprint file (a hash of the pip arguments
//! and the interpreter) is present and matches. With uv the venv is built relocatable in a
//! staging folder next to its final place, fingerprinted there, and renamed into place only
//! when everything succeeded (see `staging`): a failed or interrupted install leaves the
//! previous venv, if any, untouched. pip's venvs hard-code their own path in every script and
//! cannot move, so with pip the venv is built in place and the fingerprint written last.

use super::executable::venv_dir;
use crate::project::{Context, ResolvedPlugin};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// File in the venv holding the fingerprint of what it was built from.
pub const FINGERPRINT_FILE: &str = ".eltr-fingerprint";

/// How one plugin's install went.
#[derive(Debug, Clone)]
pub enum InstallStatus {
    Installed,
    UpToDate,
    NoPipUrl,
    /// Shares the venv of the plugin it inherits from.
    Shared(String),
    Failed {
        command: String,
        log: PathBuf,
        tail: Vec<String>,
    },
}

/// One line of the install report.
#[derive(Debug, Clone)]
pub struct InstallResult {
    pub plugin: String,
    pub kind: &'static str,
    pub status: InstallStatus,
    pub elapsed: Duration,
}

/// What to install and how.
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    pub clean: bool,
    pub parallelism: usize,
}

/// Installs run at once unless `--parallelism` says otherwise: twice the CPUs, at least 4.
/// An install spends most of its time waiting on the package index and on the disk (uv
/// already bounds its own CPU-heavy builds to the CPU count), so one install per CPU leaves
/// the machine idle while the slowest plugin waits for a free slot.
pub fn default_parallelism() -> usize {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    (2 * cpus).max(4)
}

/// The installer eltr uses: uv (a path to it), else `python -m venv` and pip.
#[derive(Debug, Clone)]
pub enum Installer {
    Uv(PathBuf),
    Pip,
}

/// uv when `ELTR_UV` names it or it is on PATH, else pip.
pub fn installer() -> Installer {
    if let Some(uv) = std::env::var_os("ELTR_UV").filter(|s| !s.is_empty()) {
        return Installer::Uv(PathBuf::from(uv));
    }
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("uv"))
        .find(|p| p.is_file())
        .map(Installer::Uv)
        .unwrap_or(Installer::Pip)
}

/// The interpreter a plugin's venv is built with, as an absolute path when it is found on
/// PATH (a changed `python3` then changes the fingerprint, and uv skips a shim lookup).
pub(crate) fn python_of(plugin: &ResolvedPlugin) -> String {
    let name = plugin
        .venv_python
        .clone()
        .unwrap_or_else(|| "python3".into());
    if name.contains('/') {
        return name;
    }
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(&name))
        .find(|p| p.is_file())
        .and_then(|p| std::fs::canonicalize(p).ok())
        .map(|p| p.display().to_string())
        .unwrap_or(name)
}

/// The fingerprint of a plugin's install: its pip arguments and interpreter.
pub fn fingerprint(plugin: &ResolvedPlugin) -> String {
    let mut h = Sha256::new();
    h.update(plugin.pip_url.as_deref().unwrap_or(""));
    h.update([0]);
    h.update(python_of(plugin));
    format!("{:x}", h.finalize())
}

/// True when the plugin's venv is installed from its current `pip_url`.
pub fn is_installed(root: &Path, plugin: &ResolvedPlugin) -> bool {
    std::fs::read_to_string(venv_dir(root, plugin).join(FINGERPRINT_FILE))
        .is_ok_and(|f| f.trim() == fingerprint(plugin))
}

/// Installs `plugins`, at most `parallelism` at a time; every plugin is attempted even when
/// others fail.
pub fn install(
    ctx: &Context,
    plugins: Vec<ResolvedPlugin>,
    opts: &InstallOptions,
) -> Vec<InstallResult> {
    let root = ctx.project.root.clone();
    let mut results = Vec::new();
    let mut queue = Vec::new();
    let mut owners = std::collections::HashSet::new();
    for p in plugins {
        let kind = p.plugin_type.singular();
        if p.pip_url.is_none() {
            results.push(InstallResult {
                plugin: p.name.to_string(),
                kind,
                status: InstallStatus::NoPipUrl,
                elapsed: Duration::ZERO,
            });
        } else if p.venv_owner != p.name {
            results.push(InstallResult {
                plugin: p.name.to_string(),
                kind,
                status: InstallStatus::Shared(p.venv_owner.to_string()),
                elapsed: Duration::ZERO,
            });
            if owners.insert((p.plugin_type, p.venv_owner.clone())) {
                // The owner's install as the child sees it: same venv, pip_url and python.
                let mut owner = p.clone();
                owner.name = p.venv_owner.clone();
                queue.push(owner);
            }
        } else if owners.insert((p.plugin_type, p.name.clone())) {
            queue.push(p);
        }
    }
    let tool = installer();
    results.extend(super::schedule::run(
        &root,
        &queue,
        opts.clean,
        &tool,
        opts.parallelism,
    ));
    results
}

/// Logs the progress line of one finished plugin (a JSON line under `--log-format json`);
/// a failure carries the command, the log's path and the log's last lines.
pub fn report_line(r: &InstallResult) {
    let secs = r.elapsed.as_secs_f64();
    let who = format!("{} {}", r.kind, r.plugin);
    match &r.status {
        InstallStatus::Installed => tracing::info!("{who}: installed in {secs:.1}s"),
        InstallStatus::UpToDate => tracing::info!("{who}: up to date"),
        InstallStatus::NoPipUrl => tracing::info!("{who}: no pip_url, nothing to install"),
        InstallStatus::Shared(owner) => {
            tracing::info!("{who}: uses the virtualenv of '{owner}'")
        }
        InstallStatus::Failed { command, log, tail } => {
            let mut text = format!(
                "{who}: FAILED after {secs:.1}s\n  command: {command}\n  full log: {}",
                log.display()
            );
            for l in tail {
                text.push_str("\n  | ");
                text.push_str(l);
            }
            tracing::error!("{text}");
        }
    }
}
