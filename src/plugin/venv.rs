//! A plugin's virtualenv: where it is (eltr's, or the one Meltano made), and the fingerprint
//! that says whether it was built from the plugin's current `pip_url` and interpreter.

use crate::project::ResolvedPlugin;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// File in the venv holding the fingerprint of what it was built from.
pub const FINGERPRINT_FILE: &str = ".eltr-fingerprint";

/// The virtualenv folder eltr installs a plugin into.
pub fn venv_dir(root: &Path, plugin: &ResolvedPlugin) -> PathBuf {
    root.join(".eltr")
        .join(plugin.plugin_type.key())
        .join(&plugin.venv_owner)
        .join("venv")
}

/// The virtualenv Meltano would have made, used when eltr has not installed the plugin.
pub fn meltano_venv_dir(root: &Path, plugin: &ResolvedPlugin) -> PathBuf {
    root.join(".meltano")
        .join(plugin.plugin_type.key())
        .join(&plugin.venv_owner)
        .join("venv")
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

/// The fingerprint of a plugin's install: its pip arguments, its interpreter and, when the
/// project pins its dependencies, the content of its pin file (`pylock.<plugin>.toml`): a
/// changed pin file is a changed install.
pub fn fingerprint(root: &Path, plugin: &ResolvedPlugin) -> String {
    let mut h = Sha256::new();
    h.update(plugin.pip_url.as_deref().unwrap_or(""));
    h.update([0]);
    h.update(python_of(plugin));
    if let Ok(pins) = super::pylock::read_bytes(&super::pylock::path(root, plugin)) {
        h.update([0]);
        h.update(Sha256::digest(&pins));
    }
    format!("{:x}", h.finalize())
}

/// True when the plugin's venv is installed from its current `pip_url` (and pin file).
pub fn is_installed(root: &Path, plugin: &ResolvedPlugin) -> bool {
    std::fs::read_to_string(venv_dir(root, plugin).join(FINGERPRINT_FILE))
        .is_ok_and(|f| f.trim() == fingerprint(root, plugin))
}
