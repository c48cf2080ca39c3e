//! When each venv build runs. At most `workers` uv or pip processes run at once.
//!
//! No plugin waits without a measured reason. A plugin whose packages are pinned (a pin
//! file, or pins remembered from an earlier install) starts at once. With uv and more than
//! one plugin, a plugin that must resolve first asks uv what it would install (`--dry-run`,
//! which also says how many packages uv would download). When uv's cache holds them all it
//! starts at once; when it would download some and shares most of its packages with a
//! plugin being installed right now, it waits for that one and then links the shared
//! packages from uv's cache instead of downloading and unpacking the same wheels a second
//! time (two Singer SDK taps share most of their packages; on a small machine, writing
//! those files twice is most of what a cold install costs).
//!
//! Each plugin is one task on a runtime local to [`run`]. A permit of one semaphore is the
//! slot a build needs for each of its phases (`Build::start`, `packages`, `finish`), which
//! run on tokio's blocking threads since each waits on a uv or pip process. The installs
//! under way are listed on a board; a plugin sharing their packages waits on a watch
//! channel that ticks whenever one of them ends.

use super::build::{Build, Planned};
use super::installer::{InstallResult, InstallStatus, Installer, report_line};
use crate::project::ResolvedPlugin;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

/// What `packages` found: what a build would install and download, if uv said.
type Packages = Option<Planned>;

/// An install under way.
struct Running {
    id: usize,
    plugin: String,
    packages: Packages,
}

/// What the builds need to know of each other.
#[derive(Default)]
struct Board {
    running: Vec<Running>,
    /// Packages finished installs put in uv's cache: nobody needs to wait for those.
    cached: HashSet<String>,
}

/// What every build's task shares.
struct Shared {
    root: PathBuf,
    tool: Installer,
    clean: bool,
    /// Whether builds ask uv for their packages before installing.
    resolve_first: bool,
    /// One permit per uv or pip process allowed at once.
    slots: Arc<Semaphore>,
    /// Locked only between awaits, never across one, so a std mutex does.
    board: Mutex<Board>,
    /// Ticks when an install ends. That is the only change that can end a wait: the
    /// installs under way get fewer, or uv's cache holds more.
    ended: watch::Sender<()>,
}

/// True when `wanted` should wait for an install of `busy`: uv would download some of its
/// packages, and of those not yet in uv's cache they share at least a third (and more
/// than a couple). With everything in uv's cache, waiting only makes a chain.
fn overlaps(wanted: &Packages, busy: &Packages, cached: &HashSet<String>) -> bool {
    match (wanted, busy) {
        (Some(w), Some(b)) if w.downloads > 0 => {
            let (w, b) = (&w.packages, &b.packages);
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

/// The result of a build whose phase panicked. tokio caught the panic on its blocking
/// thread, so it stays this plugin's failure: the other builds, and the plugins waiting on
/// this one, carry on.
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

/// Builds every plugin of `plugins`; returns one result per plugin, in finishing order.
pub fn run(
    root: &Path,
    plugins: &[ResolvedPlugin],
    clean: bool,
    tool: &Installer,
    workers: usize,
) -> Vec<InstallResult> {
    let shared = Arc::new(Shared::new(root, tool, clean, plugins.len(), workers));
    // One thread is enough to drive the tasks: the work is in the blocking phases.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime without I/O or timer drivers always builds");
    runtime.block_on(async {
        let mut tasks = JoinSet::new();
        for (id, plugin) in plugins.iter().enumerate() {
            // Plugins start in project order, each as soon as a slot is free.
            let slot = shared.slot().await;
            tasks.spawn(build_one(Arc::clone(&shared), id, plugin.clone(), slot));
        }
        // `join_all` hands the results back in the order the tasks completed.
        tasks.join_all().await
    })
}

/// One plugin from start to result: the venv and uv's list of packages on the slot it was
/// spawned with, the wait for overlapping installs, the install, the report line.
async fn build_one(
    shared: Arc<Shared>,
    id: usize,
    plugin: ResolvedPlugin,
    slot: OwnedSemaphorePermit,
) -> InstallResult {
    let plugin = Arc::new(plugin);
    let result = match start(&shared, &plugin).await {
        Ok((build, packages)) => {
            let _slot = shared.turn(id, &plugin.name, packages, slot).await;
            let finished = tokio::task::spawn_blocking(move || build.finish()).await;
            let result = finished.unwrap_or_else(|_| internal_error(&plugin));
            shared.end_turn(id, &result);
            result
        }
        Err(result) => *result,
    };
    report_line(&result);
    result
}

/// `Build::start`, then (when it pays) `packages`, on a blocking thread; the result
/// instead when there is nothing to install, or a phase failed or panicked.
async fn start(
    shared: &Arc<Shared>,
    plugin: &Arc<ResolvedPlugin>,
) -> Result<(Build, Packages), Box<InstallResult>> {
    let (shared, owned) = (Arc::clone(shared), Arc::clone(plugin));
    let phases = tokio::task::spawn_blocking(move || {
        let build = Build::start(&shared.root, &owned, shared.clean, &shared.tool)?;
        let packages = shared.resolve_first.then(|| build.packages()).flatten();
        Ok((build, packages))
    });
    phases
        .await
        .unwrap_or_else(|_| Err(Box::new(internal_error(plugin))))
}

impl Shared {
    /// `workers` slots, at most one per plugin (more would never be used).
    fn new(root: &Path, tool: &Installer, clean: bool, plugins: usize, workers: usize) -> Self {
        let workers = workers.clamp(1, plugins.max(1));
        Shared {
            root: root.to_path_buf(),
            tool: tool.clone(),
            clean,
            // Only worth a uv call when another install may run at the same time.
            resolve_first: matches!(tool, Installer::Uv(_)) && plugins > 1 && workers > 1,
            slots: Arc::new(Semaphore::new(workers)),
            board: Mutex::default(),
            ended: watch::Sender::new(()),
        }
    }

    /// A slot for one blocking phase. Nobody closes the semaphore, so one always comes.
    async fn slot(&self) -> OwnedSemaphorePermit {
        Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .expect("the install slots are never closed")
    }

    fn board(&self) -> MutexGuard<'_, Board> {
        // Poisoned only by a panic between two consistent states: the board is usable.
        self.board.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until no install under way shares most of `packages` (see `overlaps`), then
    /// puts this plugin's install on the board and hands back a slot to run it in. While it
    /// waits the plugin holds no slot, so that an unrelated plugin can start meanwhile.
    async fn turn(
        &self,
        id: usize,
        plugin: &str,
        packages: Packages,
        mut slot: OwnedSemaphorePermit,
    ) -> OwnedSemaphorePermit {
        let mut logged = false;
        loop {
            let mut ended = {
                let mut board = self.board();
                let busy = board
                    .running
                    .iter()
                    .find(|b| overlaps(&packages, &b.packages, &board.cached));
                let Some(busy) = busy else {
                    let plugin = plugin.to_string();
                    board.running.push(Running {
                        id,
                        plugin,
                        packages,
                    });
                    return slot;
                };
                if !logged {
                    logged = true;
                    tracing::debug!(
                        "{plugin}: waits for '{}', which installs most of the same packages",
                        busy.plugin
                    );
                }
                // Under the lock: an install ending after this look is not missed.
                self.ended.subscribe()
            };
            drop(slot);
            // The sender lives in `self`, so this only returns when an install ended; then
            // the plugin queues for a slot like any other phase, and looks again.
            let _ = ended.changed().await;
            slot = self.slot().await;
        }
    }

    /// Takes this plugin's install off the board and wakes the plugins waiting. An install
    /// that worked left its packages in uv's cache: nobody waits for those any more.
    fn end_turn(&self, id: usize, result: &InstallResult) {
        let mut board = self.board();
        if let Some(at) = board.running.iter().position(|r| r.id == id) {
            let done = board.running.remove(at);
            if matches!(result.status, InstallStatus::Installed) {
                board
                    .cached
                    .extend(done.packages.into_iter().flat_map(|p| p.packages));
            }
        }
        self.ended.send_replace(());
    }
}

#[cfg(test)]
mod tests {
    use super::{InstallResult, InstallStatus, Installer, Planned, Shared, overlaps};
    use std::collections::HashSet;
    use std::path::Path;
    use std::sync::Arc;

    /// A plan where uv would download every package (an empty cache).
    fn set(names: &[&str]) -> Option<Planned> {
        let packages: HashSet<String> = names.iter().map(|s| s.to_string()).collect();
        let downloads = packages.len();
        Some(Planned {
            packages,
            downloads,
        })
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
        let cached: HashSet<String> = tap.clone().unwrap().packages;
        assert!(!overlaps(&target, &tap, &cached));
        // uv says its cache already holds every package: no wait, whatever they share.
        let warm = target.clone().map(|p| Planned { downloads: 0, ..p });
        assert!(!overlaps(&warm, &tap, &nothing));
    }

    /// Lets the other tasks of the single-threaded runtime run until they wait.
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[test]
    fn a_waiting_plugin_gives_its_slot_back_until_the_overlapping_install_ends() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let shared = Arc::new(Shared::new(Path::new("."), &Installer::Pip, false, 3, 2));
            let stack = set(&["singer-sdk==1", "sqlalchemy==2", "psycopg==3"]);
            let slot = shared.slot().await;
            let tap = shared.turn(0, "tap", stack.clone(), slot).await;
            let slot = shared.slot().await;
            let waiting = tokio::spawn({
                let (shared, stack) = (Arc::clone(&shared), stack.clone());
                async move { shared.turn(1, "target", stack, slot).await }
            });
            settle().await;
            assert!(!waiting.is_finished(), "target did not wait for tap");
            assert_eq!(shared.slots.available_permits(), 1);
            let installed = InstallResult {
                plugin: "tap".into(),
                kind: "extractor",
                status: InstallStatus::Installed,
                elapsed: Default::default(),
            };
            shared.end_turn(0, &installed);
            drop(tap);
            settle().await;
            assert!(waiting.is_finished(), "target still waits for tap");
            // The stack is in uv's cache now: the next plugin sharing it does not wait.
            let slot = shared.slot().await;
            let other = tokio::spawn({
                let shared = Arc::clone(&shared);
                async move { shared.turn(2, "other", stack, slot).await }
            });
            settle().await;
            assert!(other.is_finished(), "other waits for target");
        });
    }
}
