//! Finding the program to start for a plugin: its virtualenv (eltr's, or one Meltano already
//! installed), a project-relative path, or the PATH.

use super::venv::{FINGERPRINT_FILE, meltano_venv_dir, venv_dir};
use crate::project::ResolvedPlugin;
use std::path::{Path, PathBuf};

/// Where the plugin's program is, if it can be found.
pub fn find(root: &Path, plugin: &ResolvedPlugin, path_var: Option<&str>) -> Option<PathBuf> {
    find_named(root, plugin, &plugin.executable, path_var)
}

/// Where the program `exe` of the plugin is (its own executable, or one of its commands'):
/// the plugin's virtualenv, a project-relative path, or the PATH.
pub fn find_named(
    root: &Path,
    plugin: &ResolvedPlugin,
    exe: &str,
    path_var: Option<&str>,
) -> Option<PathBuf> {
    // eltr's own venv counts only once its install finished (it has a fingerprint);
    // a venv Meltano installed is used as it is.
    let ours = venv_dir(root, plugin);
    if ours.join(FINGERPRINT_FILE).is_file() && is_executable(&ours.join("bin").join(exe)) {
        return Some(ours.join("bin").join(exe));
    }
    let meltanos = meltano_venv_dir(root, plugin).join("bin").join(exe);
    if is_executable(&meltanos) {
        return Some(meltanos);
    }
    if exe.contains('/') {
        let candidate = root.join(exe);
        return is_executable(&candidate).then_some(candidate);
    }
    let path_var = path_var
        .map(String::from)
        .or_else(|| std::env::var("PATH").ok())?;
    std::env::split_paths(&path_var)
        .map(|dir| dir.join(exe))
        .find(|c| is_executable(c))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
