//! When each venv build runs: at most `workers` builds at once, started in project order as
//! slots free up, none waiting for another.
//!
//! An earlier scheduler first asked uv what each plugin would install (`--dry-run`) and made
//! a plugin sharing most of its uncached packages with one being installed wait for it. With
//! a warm cache that only made a chain; with empty caches it was measured against starting
//! everything at once on the benchmark's project (scripts/bench-install.sh, 2 CPUs shared
//! with other work): starting at once was faster in 8 alternating pairs out of 8 (mean 15.0 s
//! against 17.1 s). The dry run put a resolution in front of every install, the slowest
//! plugin's included, and uv already keeps two processes from unpacking the same wheel into
//! its cache at once (a lock per cache entry). Pinned plugins (a pin file, remembered pins)
//! have nothing to resolve at all.

use super::build::Build;
use super::installer::{InstallResult, InstallStatus, Installer, report_line};
use crate::project::ResolvedPlugin;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Builds every plugin of `plugins`, at most `workers` at a time; returns one result per
/// plugin, in finishing order. Each result's report line is logged as it comes.
pub fn run(
    root: &Path,
    plugins: &[ResolvedPlugin],
    clean: bool,
    tool: &Installer,
    workers: usize,
) -> Vec<InstallResult> {
    let workers = workers.clamp(1, plugins.len().max(1));
    let next = Mutex::new(plugins.iter());
    let results = Mutex::new(Vec::with_capacity(plugins.len()));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                // The queue's lock is released before the build starts.
                while let Some(plugin) = { locked(&next).next() } {
                    let result = build_one(root, plugin, clean, tool);
                    report_line(&result);
                    locked(&results).push(result);
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// A mutex held only between consistent states: usable even if a holder panicked.
fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One plugin from start to result. A panic in its build stays this plugin's failure: the
/// other builds carry on.
fn build_one(root: &Path, plugin: &ResolvedPlugin, clean: bool, tool: &Installer) -> InstallResult {
    let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        match Build::start(root, plugin, clean, tool) {
            Ok(build) => build.finish(),
            Err(result) => *result,
        }
    }));
    attempt.unwrap_or_else(|_| internal_error(plugin))
}

/// The result of a build that panicked.
fn internal_error(plugin: &ResolvedPlugin) -> InstallResult {
    InstallResult {
        plugin: plugin.name.to_string(),
        kind: plugin.plugin_type.singular(),
        status: InstallStatus::Failed {
            command: "eltr's install of this plugin stopped on an internal error".into(),
            log: Default::default(),
            tail: Vec::new(),
        },
        elapsed: Default::default(),
    }
}
