//! When each venv build runs. At most `workers` uv or pip processes run at once. With uv
//! and more than one plugin, each build first asks uv which packages it would install
//! (cheap: the index, no downloads). A plugin that shares most of its packages with one
//! being installed right now then waits for it, and links those packages from uv's cache
//! instead of downloading and unpacking the same wheels a second time. Unrelated plugins
//! install side by side. Two Singer SDK taps share most of their packages; on a small
//! machine, writing those files twice is most of what an install costs.

use super::build::Build;
use super::installer::{InstallResult, InstallStatus, Installer, report_line};
use crate::project::ResolvedPlugin;
use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::sync::{Condvar, Mutex};

/// A resolved build waiting for its turn, with the packages it would install.
struct Ready<'a> {
    id: usize,
    plugin: &'a ResolvedPlugin,
    build: Build<'a>,
    packages: Option<HashSet<String>>,
    /// Whether the wait for an overlapping install was logged already.
    waiting: bool,
}

/// An install under way.
struct Running<'a> {
    id: usize,
    plugin: &'a str,
    packages: Option<HashSet<String>>,
}

#[derive(Default)]
struct State<'a> {
    /// Plugins not started yet, with their position, in project order.
    pending: VecDeque<(usize, &'a ResolvedPlugin)>,
    /// Builds whose venv exists and whose packages are known.
    ready: Vec<Ready<'a>>,
    running: Vec<Running<'a>>,
    /// Builds between `pending` and `ready`.
    resolving: usize,
    /// Packages finished installs put in uv's cache: nobody needs to wait for those.
    cached: HashSet<String>,
    results: Vec<InstallResult>,
}

/// True when `wanted` should wait for an install of `busy`: of its packages not yet in
/// uv's cache, they share at least a third (and more than a couple).
fn overlaps(
    wanted: &Option<HashSet<String>>,
    busy: &Option<HashSet<String>>,
    cached: &HashSet<String>,
) -> bool {
    match (wanted, busy) {
        (Some(w), Some(b)) => {
            let fresh = w.iter().filter(|p| !cached.contains(*p)).count();
            let shared = w
                .iter()
                .filter(|p| !cached.contains(*p) && b.contains(*p))
                .count();
            shared >= 3 && shared * 3 >= fresh
        }
        _ => false,
    }
}

/// Runs one phase of a build; a panic in it becomes a failed result, so the other builds
/// (and the threads waiting on this one) carry on.
fn guarded<T>(plugin: &ResolvedPlugin, phase: impl FnOnce() -> T) -> Result<T, Box<InstallResult>> {
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(phase));
    caught.map_err(|_| {
        Box::new(InstallResult {
            plugin: plugin.name.to_string(),
            kind: plugin.plugin_type.singular(),
            status: InstallStatus::Failed {
                command: "eltr's install of this plugin stopped on an internal error".into(),
                log: Default::default(),
                tail: Vec::new(),
            },
            elapsed: Default::default(),
        })
    })
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
        pending: plugins.iter().enumerate().collect(),
        ..State::default()
    });
    let changed = Condvar::new();
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    std::thread::scope(|s| {
        // More workers than plugins would only idle (and each is a thread).
        for _ in 0..workers.clamp(1, plugins.len().max(1)) {
            s.spawn(|| {
                let mut st = lock();
                loop {
                    // An install that may run now (nothing overlapping is being installed).
                    let mut runnable = None;
                    let State {
                        ready,
                        running,
                        cached,
                        ..
                    } = &mut *st;
                    for (i, r) in ready.iter_mut().enumerate() {
                        let busy = running
                            .iter()
                            .find(|b| overlaps(&r.packages, &b.packages, cached));
                        match busy {
                            None => {
                                runnable = Some(i);
                                break;
                            }
                            Some(busy) if !r.waiting => {
                                r.waiting = true;
                                tracing::debug!(
                                    "{}: waits for '{}', which installs most of the same packages",
                                    r.plugin.name,
                                    busy.plugin
                                );
                            }
                            Some(_) => {}
                        }
                    }
                    if let Some(i) = runnable {
                        let Ready {
                            id,
                            plugin,
                            build,
                            packages,
                            ..
                        } = st.ready.remove(i);
                        st.running.push(Running {
                            id,
                            plugin: &plugin.name,
                            packages,
                        });
                        drop(st);
                        let result = guarded(plugin, || build.finish()).unwrap_or_else(|e| *e);
                        report_line(&result);
                        st = lock();
                        if let Some(at) = st.running.iter().position(|r| r.id == id) {
                            let done = st.running.remove(at);
                            if matches!(result.status, InstallStatus::Installed) {
                                st.cached.extend(done.packages.into_iter().flatten());
                            }
                        }
                        st.results.push(result);
                        changed.notify_all();
                        continue;
                    }
                    if let Some((id, plugin)) = st.pending.pop_front() {
                        st.resolving += 1;
                        drop(st);
                        let next = guarded(plugin, || {
                            Build::start(root, plugin, clean, tool).map(|build| {
                                let packages = resolve_first.then(|| build.packages()).flatten();
                                Ready {
                                    id,
                                    plugin,
                                    build,
                                    packages,
                                    waiting: false,
                                }
                            })
                        });
                        st = lock();
                        st.resolving -= 1;
                        match next {
                            Ok(Ok(ready)) => st.ready.push(ready),
                            Ok(Err(result)) | Err(result) => {
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
    fn a_plugin_waits_only_for_one_sharing_a_third_of_its_uncached_packages() {
        let tap = set(&[
            "singer-sdk==1",
            "sqlalchemy==2",
            "psycopg==3",
            "requests==2",
        ]);
        let target = set(&["singer-sdk==1", "sqlalchemy==2", "psycopg==3", "faker==1"]);
        let jsonl = set(&["singer-python==5", "simplejson==3", "requests==2"]);
        let nothing = HashSet::new();
        assert!(overlaps(&target, &tap, &nothing));
        assert!(
            !overlaps(&jsonl, &tap, &nothing),
            "one shared package is not worth a wait"
        );
        assert!(!overlaps(&None, &tap, &nothing));
        assert!(!overlaps(&tap, &None, &nothing));
        // Once a finished install put the shared stack in the cache, nobody waits for it.
        let cached: HashSet<String> = tap.clone().unwrap();
        assert!(!overlaps(&target, &tap, &cached));
    }
}
