//! When each venv build runs. At most `workers` uv or pip processes run at once. With uv
//! and more than one plugin, each build first asks uv which packages it would install
//! (cheap: the index, no downloads). A plugin that shares most of its packages with one
//! being installed right now then waits for it, and links those packages from uv's cache
//! instead of downloading and unpacking the same wheels a second time. Unrelated plugins
//! install side by side. Two Singer SDK taps share most of their packages; on a small
//! machine, writing those files twice is most of what an install costs.

use super::build::Build;
use super::install::{InstallResult, Installer, report_line};
use crate::project::ResolvedPlugin;
use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::sync::{Condvar, Mutex};

/// A resolved build waiting for its turn, with the packages it would install.
struct Ready<'a> {
    plugin: &'a str,
    build: Build<'a>,
    packages: Option<HashSet<String>>,
    /// Whether the wait for an overlapping install was logged already.
    waiting: bool,
}

/// An install under way.
struct Running {
    plugin: String,
    packages: Option<HashSet<String>>,
}

#[derive(Default)]
struct State<'a> {
    /// Plugins not started yet, in project order.
    pending: VecDeque<&'a ResolvedPlugin>,
    /// Builds whose venv exists and whose packages are known.
    ready: Vec<Ready<'a>>,
    /// The installs running now.
    running: Vec<Running>,
    /// Builds between `pending` and `ready`.
    resolving: usize,
    results: Vec<InstallResult>,
}

/// True when `wanted` should wait for an install of `busy`: they share at least a third
/// of `wanted`'s packages (and more than a couple).
fn overlaps(wanted: &Option<HashSet<String>>, busy: &Option<HashSet<String>>) -> bool {
    match (wanted, busy) {
        (Some(w), Some(b)) => {
            let shared = w.intersection(b).count();
            shared >= 3 && shared * 3 >= w.len()
        }
        _ => false,
    }
}

/// Builds every plugin of `plugins`; returns one result per plugin, in finishing order.
pub fn run(
    root: &Path,
    plugins: &[ResolvedPlugin],
    clean: bool,
    tool: &Installer,
    workers: usize,
) -> Vec<InstallResult> {
    let resolve_first = matches!(tool, Installer::Uv(_)) && plugins.len() > 1 && workers > 1;
    let state = Mutex::new(State {
        pending: plugins.iter().collect(),
        ..State::default()
    });
    let changed = Condvar::new();
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    std::thread::scope(|s| {
        for _ in 0..workers.max(1) {
            s.spawn(|| {
                let mut st = lock();
                loop {
                    // An install that may run now (nothing overlapping is being installed).
                    let mut runnable = None;
                    let State { ready, running, .. } = &mut *st;
                    for (i, r) in ready.iter_mut().enumerate() {
                        match running.iter().find(|b| overlaps(&r.packages, &b.packages)) {
                            None => {
                                runnable = Some(i);
                                break;
                            }
                            Some(busy) if !r.waiting => {
                                r.waiting = true;
                                tracing::debug!(
                                    "{}: waits for '{}', which installs most of the same packages",
                                    r.plugin,
                                    busy.plugin
                                );
                            }
                            Some(_) => {}
                        }
                    }
                    if let Some(i) = runnable {
                        let Ready {
                            plugin,
                            build,
                            packages,
                            ..
                        } = st.ready.remove(i);
                        st.running.push(Running {
                            plugin: plugin.to_string(),
                            packages,
                        });
                        drop(st);
                        let result = build.finish();
                        report_line(&result);
                        st = lock();
                        st.running.retain(|r| r.plugin != plugin);
                        st.results.push(result);
                        changed.notify_all();
                        continue;
                    }
                    if let Some(plugin) = st.pending.pop_front() {
                        st.resolving += 1;
                        drop(st);
                        let started = Build::start(root, plugin, clean, tool);
                        let next = started.map(|build| {
                            let packages = if resolve_first {
                                build.packages()
                            } else {
                                None
                            };
                            Ready {
                                plugin: &plugin.name,
                                build,
                                packages,
                                waiting: false,
                            }
                        });
                        st = lock();
                        st.resolving -= 1;
                        match next {
                            Ok(ready) => st.ready.push(ready),
                            Err(result) => {
                                report_line(&result);
                                st.results.push(*result);
                            }
                        }
                        changed.notify_all();
                        continue;
                    }
                    if st.resolving == 0 && st.ready.is_empty() {
                        break;
                    }
                    st = changed.wait(st).unwrap_or_else(|e| e.into_inner());
                }
            });
        }
    });
    state
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .results
}

#[cfg(test)]
mod tests {
    use super::overlaps;
    use std::collections::HashSet;

    fn set(names: &[&str]) -> Option<HashSet<String>> {
        Some(names.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn a_plugin_waits_only_for_one_sharing_a_third_of_its_packages() {
        let tap = set(&[
            "singer-sdk==1",
            "sqlalchemy==2",
            "psycopg==3",
            "requests==2",
        ]);
        let target = set(&["singer-sdk==1", "sqlalchemy==2", "psycopg==3", "faker==1"]);
        let jsonl = set(&["singer-python==5", "simplejson==3", "requests==2"]);
        assert!(overlaps(&target, &tap));
        assert!(
            !overlaps(&jsonl, &tap),
            "one shared package is not worth waiting for"
        );
        assert!(!overlaps(&None, &tap));
        assert!(!overlaps(&tap, &None));
    }
}
