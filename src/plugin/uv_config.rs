//! PyPI's own caching headers for eltr's uv runs, restored where the network strips them.
//!
//! PyPI sends its files as `immutable` for ten years and its index pages as fresh for ten
//! minutes. A proxy that drops `Cache-Control` (TLS-inspecting company proxies do, and so does
//! the network this project is measured on) leaves uv with responses it must revalidate every
//! time, and every revalidation comes back "modified". Two plugins that need the same source
//! distribution then both build it: the second waits on uv's lock while the first builds, then
//! finds the build stale and builds it again (tap-postgres and target-postgres share
//! simplejson 3.17.2, a C extension: about 1.5 s of the seed project's empty-cache install,
//! on its critical path). uv takes per-index `cache-control` from a configuration file only,
//! so eltr writes one, `.eltr/uv-pypi-headers.toml`, and passes it with `--config-file`.
//!
//! Three rules keep that from changing anything but caching:
//! - The file names PyPI as an *explicit* index: `uv pip` never picks packages from an explicit
//!   index, but matches PyPI's responses to it for their cache headers. An index the user
//!   chose (`--index-url` in a `pip_url` or its requirements file, `UV_DEFAULT_INDEX`) keeps
//!   precedence; a file marking PyPI the default index would have overridden a requirements
//!   file's `--index-url` (tried: uv then installed from PyPI).
//! - `--config-file` replaces uv's own search for configuration, so eltr passes it only when
//!   that search would find nothing: no `UV_CONFIG_FILE` or `UV_NO_CONFIG`, no user or system
//!   `uv.toml`, and no `uv.toml` or `pyproject.toml` in the project folder or above it (any
//!   `pyproject.toml`, with or without a `[tool.uv]` table: eltr does not read it). Otherwise
//!   the user's configuration is in charge, as it is for uv run by hand.
//! - Only a uv that applies the setting (0.8.0 or later, `FIRST_UV`) gets the file; an older one would
//!   refuse it.
//!
//! A pin file's packages are fetched by URL, which an index's headers do not reach; see
//! `build::install_pinned` for how eltr hands uv such pins.

use crate::vocab::confine;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The configuration eltr gives uv: the `Cache-Control` values PyPI itself sends with its
/// index pages (`api`) and its files (`files`).
pub const PYPI_HEADERS: &str = r#"# Written by eltr for the uv it runs (install, lock): PyPI's own caching headers, for
# networks that strip them. PyPI is listed as an explicit index, so no package is taken from
# it that would not have been anyway. eltr writes it again whenever it differs; see eltr's
# src/plugin/uv_config.rs.
[[index]]
name = "eltr-pypi-headers"
url = "https://pypi.org/simple"
explicit = true
cache-control = { api = "max-age=600, public", files = "max-age=365000000, immutable, public" }
"#;

/// The file's name, in the project's `.eltr/` (not `uv.toml`: uv must never find it by itself).
pub const FILE_NAME: &str = "uv-pypi-headers.toml";

/// The first uv that applies an index's `cache-control` to responses (0.7.21 added the
/// setting, applied to requests by mistake; 0.8.0 has the fix). An older uv refuses the file
/// as an unknown field, which would fail every install.
const FIRST_UV: (u64, u64, u64) = (0, 8, 0);

/// The words to add to a `uv pip install` or `uv pip compile` that `uv` runs in the project at
/// `root`: `--config-file <.eltr/uv-pypi-headers.toml>`, or none when uv has configuration of
/// its own, is older than `FIRST_UV`, or the file cannot be written (uv then runs as it
/// would by hand; only speed is lost).
pub fn args(root: &Path, uv: &Path) -> Vec<String> {
    let var = |name: &str| std::env::var_os(name);
    if let Some(reason) = uv_has_configuration(root, &var) {
        tracing::debug!("uv runs without eltr's caching headers: {reason}");
        return Vec::new();
    }
    if !understands_cache_control(uv) {
        tracing::debug!(
            "uv runs without eltr's caching headers: {} is older than {}.{}.{} or does not say its version",
            uv.display(),
            FIRST_UV.0,
            FIRST_UV.1,
            FIRST_UV.2
        );
        return Vec::new();
    }
    match write(root) {
        Ok(path) => vec!["--config-file".into(), path.display().to_string()],
        Err(e) => {
            tracing::debug!("uv runs without eltr's caching headers: {e}");
            Vec::new()
        }
    }
}

/// Whether `uv --version` names [`FIRST_UV`] or later. Asked at each call: a few
/// milliseconds, against the seconds of the resolution that follows (a warm install from
/// remembered pins never gets here).
fn understands_cache_control(uv: &Path) -> bool {
    let out = std::process::Command::new(uv)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    out.ok()
        .filter(|o| o.status.success())
        .and_then(|o| version(&String::from_utf8_lossy(&o.stdout)))
        .is_some_and(|v| v >= FIRST_UV)
}

/// The version in `uv --version`'s line (`uv 0.13.9 (…)`), as numbers.
fn version(line: &str) -> Option<(u64, u64, u64)> {
    let word = line.strip_prefix("uv ")?.split_whitespace().next()?;
    let mut parts = word.split('.').map(|p| {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u64>().ok()
    });
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

/// Writes the file into the project's `.eltr/` unless it already holds exactly that text.
fn write(root: &Path) -> Result<PathBuf, confine::ConfineError> {
    let owner = crate::project::eltr_dir(root);
    let path = owner.join(FILE_NAME);
    let current = confine::read_inside(&owner, &path, 64 * 1024).unwrap_or_default();
    if current != PYPI_HEADERS.as_bytes() {
        std::fs::create_dir_all(&owner).map_err(|error| confine::ConfineError::Io {
            action: "create",
            target: owner.clone(),
            error,
        })?;
        confine::write_replacing(&owner, &path, PYPI_HEADERS.as_bytes(), false)?;
    }
    Ok(path)
}

/// Why uv would read configuration of its own when run in `root` (a variable or a file that
/// exists), or `None` when it would read none. `var` reads the environment.
fn uv_has_configuration(root: &Path, var: &dyn Fn(&str) -> Option<OsString>) -> Option<String> {
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    for name in ["UV_CONFIG_FILE", "UV_NO_CONFIG"] {
        if set(name).is_some() {
            return Some(format!("{name} is set"));
        }
    }
    let absolute = |name: &str| set(name).map(PathBuf::from).filter(|p| p.is_absolute());
    let mut files: Vec<PathBuf> = Vec::new();
    // The user's: $XDG_CONFIG_HOME/uv/uv.toml, else ~/.config/uv/uv.toml.
    if let Some(dir) =
        absolute("XDG_CONFIG_HOME").or_else(|| absolute("HOME").map(|h| h.join(".config")))
    {
        files.push(dir.join("uv").join("uv.toml"));
    }
    // The system's: every $XDG_CONFIG_DIRS folder (default /etc/xdg), then /etc.
    let dirs = set("XDG_CONFIG_DIRS").unwrap_or_else(|| "/etc/xdg".into());
    files.extend(std::env::split_paths(&dirs).map(|d| d.join("uv").join("uv.toml")));
    files.push(PathBuf::from("/etc/uv/uv.toml"));
    // The project's: the project folder and every folder above it (uv runs there).
    let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    for dir in root.ancestors() {
        files.push(dir.join("uv.toml"));
        files.push(dir.join("pyproject.toml"));
    }
    files
        .into_iter()
        .find(|f| f.symlink_metadata().is_ok())
        .map(|f| format!("{} exists", f.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn decide(root: &Path, vars: &[(&str, &Path)]) -> Option<String> {
        let vars: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_os_str().to_owned()))
            .collect();
        uv_has_configuration(root, &|name| vars.get(name).cloned())
    }

    /// A project two folders down in a fresh folder, and an empty home.
    fn tree() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("work").join("project");
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        (tmp, root, home)
    }

    #[test]
    fn no_configuration_anywhere_means_eltr_supplies_its_own() {
        let (tmp, root, home) = tree();
        let etc = tmp.path().join("etc-xdg");
        let found = decide(&root, &[("HOME", &home), ("XDG_CONFIG_DIRS", &etc)]);
        // The machine's own /etc/uv/uv.toml is the one file the test cannot move.
        let expected = Path::new("/etc/uv/uv.toml")
            .exists()
            .then(|| "/etc/uv/uv.toml exists".to_string());
        assert_eq!(found, expected);
    }

    #[test]
    fn any_configuration_uv_would_read_leaves_uv_alone() {
        let (tmp, root, home) = tree();
        let etc = tmp.path().join("etc-xdg");
        let base = [("HOME", home.as_path()), ("XDG_CONFIG_DIRS", etc.as_path())];
        let with = |extra: &[(&str, &Path)]| decide(&root, &[&base[..], extra].concat());
        let write = |p: PathBuf| {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "").unwrap();
            p
        };
        let config_file = tmp.path().join("mine.toml");
        assert_eq!(
            with(&[("UV_CONFIG_FILE", &config_file)]).as_deref(),
            Some("UV_CONFIG_FILE is set")
        );
        assert_eq!(
            with(&[("UV_NO_CONFIG", Path::new("1"))]).as_deref(),
            Some("UV_NO_CONFIG is set")
        );
        for file in [
            home.join(".config/uv/uv.toml"),
            etc.join("uv/uv.toml"),
            tmp.path().join("work/pyproject.toml"),
            root.join("uv.toml"),
        ] {
            let file = write(file);
            let found = with(&[]).unwrap_or_default();
            assert!(found.contains(&file.display().to_string()), "{found}");
            std::fs::remove_file(&file).unwrap();
        }
        // XDG_CONFIG_HOME replaces ~/.config.
        let xdg = tmp.path().join("xdg");
        let file = write(xdg.join("uv/uv.toml"));
        let found = with(&[("XDG_CONFIG_HOME", &xdg)]).unwrap_or_default();
        assert!(found.contains(&file.display().to_string()), "{found}");
    }

    #[test]
    fn only_a_uv_that_applies_cache_control_gets_the_file() {
        let ok = |line: &str| version(line).is_some_and(|v| v >= FIRST_UV);
        assert!(ok("uv 0.13.9 (x86_64-unknown-linux-gnu)\n"));
        assert!(ok("uv 0.8.0"));
        assert!(ok("uv 1.0.0-rc1 (abc 2027-01-01)"));
        assert!(!ok("uv 0.7.22 (78d6d1134 2025-07-17)"));
        assert!(!ok("uv 0.4.30"));
        assert!(!ok("not uv 1.2.3"));
        assert!(!ok(""));
    }

    #[test]
    fn the_file_lists_pypi_as_an_explicit_index_only() {
        let parsed: toml::Value = toml::from_str(PYPI_HEADERS).unwrap();
        let index = &parsed["index"][0];
        assert_eq!(index["url"].as_str(), Some("https://pypi.org/simple"));
        assert_eq!(index["explicit"].as_bool(), Some(true));
        assert!(index.get("default").is_none());
        assert_eq!(parsed.as_table().map(|t| t.len()), Some(1));
    }
}
