//! The per-run folder of a plugin (`.eltr/run/<plugin>/<run_id>/`) holding its config,
//! catalog and state files. Config files hold secrets: they are created 0600 and the folder
//! is removed when the guard drops, on success, failure or panic alike.

use crate::vocab::confine;
use crate::vocab::ident::{Name, RunId};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A run folder that deletes itself.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    /// The project's `.eltr/`, which the removal must stay inside.
    owner: PathBuf,
}

impl RunDir {
    /// Creates `.eltr/run/<plugin>/<run_id>/` (0700), or `<run_id>-<copy>` for one of several
    /// copies of the plugin in a run.
    pub fn create(
        root: &Path,
        plugin: &Name,
        run_id: RunId,
        copy: Option<usize>,
    ) -> std::io::Result<RunDir> {
        let owner = crate::project::eltr_dir(root);
        sweep_dead_runs(&owner);
        let folder = match copy {
            Some(k) => format!("{run_id}-{k}"),
            None => run_id.to_string(),
        };
        let path = plugin_dir(root, plugin).join(folder);
        // Config files with secrets go here: a folder on the way that is a link out of
        // `.eltr/` must not take them elsewhere (where the removal would then refuse to go).
        confine::create_dir_inside(&owner, &path).map_err(std::io::Error::other)?;
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o700))?;
        fs::write(path.join(OWNER_FILE), std::process::id().to_string())?;
        Ok(RunDir { path, owner })
    }

    /// Writes a file readable by this user only.
    pub fn write_private(&self, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
        let file = self.path.join(name);
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&file)?;
        f.write_all(bytes)?;
        Ok(file)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if let Err(e) = confine::remove_tree(&self.owner, &self.path) {
            tracing::warn!("{e}");
        }
    }
}

/// Names the process that owns a run folder.
const OWNER_FILE: &str = "owner.pid";

/// Removes the run folders (of every plugin) of processes that no longer exist: an eltr
/// killed with -9 cannot clean up after itself, so the next command that prepares a plugin
/// does, and config files never linger.
fn sweep_dead_runs(owner: &Path) {
    let Ok(plugins) = fs::read_dir(owner.join("run")) else {
        return;
    };
    for plugin in plugins.filter_map(|e| e.ok()) {
        sweep_plugin(owner, &plugin.path());
    }
}

fn sweep_plugin(owner: &Path, dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let owner_file = entry.path().join(OWNER_FILE);
        let Some(pid) = fs::read_to_string(&owner_file)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        else {
            continue;
        };
        if !crate::vocab::supervisor::pid_alive(pid) {
            if let Err(e) = confine::remove_tree(owner, &entry.path()) {
                tracing::warn!("{e}");
            }
        }
    }
}

/// The plugin's folder under `.eltr/run/`, which also holds its catalog cache.
pub fn plugin_dir(root: &Path, plugin: &Name) -> PathBuf {
    crate::project::eltr_dir(root).join("run").join(plugin)
}
