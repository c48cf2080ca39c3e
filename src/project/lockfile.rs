//! Meltano lockfiles (`plugins/<type>/<name>--<variant>.lock`): the Hub definition of a plugin,
//! committed with the project. eltr never reaches the Hub, so these are the only source of a
//! variant's settings, defaults and capabilities.

use super::error::{ProjectError, Result};
use super::model::{PluginDef, PluginType};
use std::path::{Path, PathBuf};

/// Where the lockfile of `name`/`variant` lives in a project.
pub fn path(root: &Path, plugin_type: PluginType, name: &str, variant: &str) -> PathBuf {
    root.join("plugins")
        .join(plugin_type.key())
        .join(format!("{name}--{variant}.lock"))
}

/// Reads the lockfile if the project has one.
pub fn read(
    root: &Path,
    plugin_type: PluginType,
    name: &str,
    variant: &str,
    used_by: &Path,
) -> Result<Option<PluginDef>> {
    let file = path(root, plugin_type, name, variant);
    let bytes = match crate::vocab::files::read_capped(&file, crate::vocab::files::PROJECT_FILE_CAP)
    {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::debug!(
                "no lockfile {} for {plugin_type} '{name}'; using the project definition only",
                file.display()
            );
            return Ok(None);
        }
        Err(error) => return Err(ProjectError::Io { path: file, error }),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ProjectError::BadLockfile {
            path: used_by.to_path_buf(),
            lockfile: file,
            message: e.to_string(),
        })
}
