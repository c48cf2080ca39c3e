//! `eltr install`: one virtualenv per plugin with a `pip_url`, built with `uv` when it is
//! available (else `python -m venv` + pip; the project's `venv.backend` can insist on
//! either), several at once. Packages come from the plugin's pin file, else pins remembered
//! for its `pip_url`, else a resolution (see `build`).
//!
//! A venv counts as installed only when its fingerprint file (a hash of the pip arguments,
//! the interpreter and the pin file) is present and matches. With uv the venv is built relocatable in a
//! staging folder next to its final place, fingerprinted there, and renamed into place only
//! when everything succeeded (see `staging`): a failed or interrupted install leaves the
//! previous venv, if any, untouched. pip's venvs hard-code their own path in every script and
//! cannot move, so with pip the venv is built in place and the fingerprint written last.

pub use super::installer::{
    InstallOptions, InstallResult, InstallStatus, Installer, default_parallelism, installer,
    installer_for, report_line,
};
pub use super::venv::{FINGERPRINT_FILE, fingerprint, is_installed};
use crate::project::{Context, ResolvedPlugin};
use std::time::Duration;

/// Installs `plugins`, at most `parallelism` at a time, with the installer the project's
/// `venv.backend` asks for; every plugin is attempted even when others fail.
pub fn install(
    ctx: &Context,
    plugins: Vec<ResolvedPlugin>,
    opts: &InstallOptions,
) -> Result<Vec<InstallResult>, super::PluginError> {
    let tool = installer_for(ctx).map_err(|message| super::PluginError::VenvBackend { message })?;
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
    results.extend(super::schedule::run(
        &root,
        &queue,
        opts.clean,
        &tool,
        opts.parallelism,
    ));
    Ok(results)
}
