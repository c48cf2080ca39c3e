//! Remembered resolutions: the exact `name==version` set a `pip_url` resolved to on this
//! machine, kept in eltr's user cache so that the next venv of the same `pip_url` (in any
//! project) installs those pins from uv's cache with `--offline --no-deps`, without asking
//! the package index again. Asking the index is most of what a warm install costs.
//!
//! An entry is keyed by the `pip_url`, the interpreter (version and implementation, from the
//! new venv's `pyvenv.cfg`), the platform, and the variables that choose an index; the key is
//! a hash, so a `pip_url` holding a token is never written out. An entry is a plain list of
//! pins, one a line. Anything unexpected (a missing or foreign file, a line that is not a pin)
//! is a miss, and the install resolves as usual.
//!
//! An entry is used for a day (`ELTR_RESOLUTION_MAX_AGE`, in seconds; 0 never uses one): a
//! `pip_url` whose versions are open (`tap-foo`, `tap-foo>=1`, or a pinned plugin with open
//! dependencies) then picks up new releases as a fresh resolution would, at most a day late,
//! while the installs of one working day skip the index. uv's own `UV_REFRESH` (fresh
//! package data wanted) skips entries too.

use crate::vocab::confine;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// First line of every entry; a file without it is not one of ours.
const HEADER: &str = "# eltr resolution 1";

/// How long an entry is used when `ELTR_RESOLUTION_MAX_AGE` does not say.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// Variables that change which packages uv or pip can see: an entry made under other values
/// would pin what another index offered.
const INDEX_VARS: [&str; 10] = [
    "UV_INDEX",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
    "UV_PRERELEASE",
    "UV_EXCLUDE_NEWER",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
];

/// eltr's user cache: `ELTR_CACHE_DIR`, else `$XDG_CACHE_HOME/eltr`, else `~/.cache/eltr`.
pub fn cache_root() -> Option<PathBuf> {
    let var = |n: &str| {
        std::env::var_os(n)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("ELTR_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("eltr")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("eltr")))
        .filter(|d| d.is_absolute())
}

/// Where one resolution is remembered.
#[derive(Debug, Clone)]
pub struct Key {
    root: PathBuf,
    file: PathBuf,
}

/// Why no remembered pins were used (logged at debug level).
pub type Miss = String;

impl Key {
    /// The key of `pip_url` installed into the venv at `venv`; `None` when there is no user
    /// cache, or the `pip_url` passes options (an index, an editable path): options change
    /// what a pin means.
    pub fn new(pip_url: &str, venv: &Path) -> Result<Key, Miss> {
        let root = cache_root().ok_or("no user cache folder (HOME is not set)")?;
        let args = shell_words::split(pip_url).map_err(|e| e.to_string())?;
        if let Some(option) = args.iter().find(|a| a.starts_with('-')) {
            return Err(format!("its pip_url passes the option {option}"));
        }
        let interpreter = interpreter(venv).ok_or("the venv's pyvenv.cfg names no version")?;
        let mut h = Sha256::new();
        for part in [
            pip_url,
            &interpreter,
            std::env::consts::OS,
            std::env::consts::ARCH,
        ] {
            h.update(part);
            h.update([0]);
        }
        for var in INDEX_VARS {
            h.update(std::env::var(var).unwrap_or_default());
            h.update([0]);
        }
        let file = root
            .join("resolutions")
            .join(format!("{:x}.txt", h.finalize()));
        Ok(Key { root, file })
    }

    /// The remembered pins, or why there are none.
    pub fn recall(&self) -> Result<Vec<String>, Miss> {
        if !confine::owned_by_me(&self.root) {
            return Err(format!(
                "{} is missing, not yours, or writable by others",
                self.root.display()
            ));
        }
        if std::env::var("UV_REFRESH").is_ok_and(|v| crate::vocab::truth::truthy(&v)) {
            return Err("UV_REFRESH asks for fresh package data".into());
        }
        let max_age = max_age();
        if max_age.is_zero() {
            return Err("ELTR_RESOLUTION_MAX_AGE is 0: remembered pins are not used".into());
        }
        let modified = std::fs::metadata(&self.file)
            .and_then(|m| m.modified())
            .map_err(|e| format!("{}: {e}", self.file.display()))?;
        // A time in the future (a clock set back) counts as new.
        let age = SystemTime::now()
            .duration_since(modified)
            .unwrap_or(Duration::ZERO);
        if age > max_age {
            return Err(format!(
                "{} was remembered {} s ago, more than ELTR_RESOLUTION_MAX_AGE ({} s)",
                self.file.display(),
                age.as_secs(),
                max_age.as_secs()
            ));
        }
        let text = std::fs::read_to_string(&self.file)
            .map_err(|e| format!("{}: {e}", self.file.display()))?;
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err(format!("{} is not an eltr resolution", self.file.display()));
        }
        let pins: Vec<String> = lines.map(str::to_string).collect();
        match pins.iter().find(|p| !is_pin(p)) {
            Some(bad) => Err(format!("{}: '{bad}' is not a pin", self.file.display())),
            None if pins.is_empty() => Err(format!("{} is empty", self.file.display())),
            None => Ok(pins),
        }
    }

    /// Remembers `freeze` (what `uv pip freeze` printed for the new venv) when every line is
    /// a pin from an index; a package from a URL or a path cannot be installed offline by
    /// name, so such a venv is not remembered.
    pub fn remember(&self, freeze: &str) -> Result<(), Miss> {
        let mut pins: Vec<&str> = freeze
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if let Some(other) = pins.iter().find(|p| !is_pin(p)) {
            return Err(format!("'{other}' is not a pin from an index"));
        }
        if pins.is_empty() {
            return Err("the venv holds no package".into());
        }
        pins.sort_unstable();
        let text = format!("{HEADER}\n{}\n", pins.join("\n"));
        confine::write_replacing_owned(&self.root, &self.file, text.as_bytes())
            .map_err(|e| e.to_string())
    }
}

/// How long an entry is used: `ELTR_RESOLUTION_MAX_AGE` (whole seconds), else a day. A value
/// that is not a number is warned about and then means 0: when unsure, ask the index.
fn max_age() -> Duration {
    let Ok(text) = std::env::var("ELTR_RESOLUTION_MAX_AGE") else {
        return DEFAULT_MAX_AGE;
    };
    text.trim()
        .parse::<u64>()
        .map(Duration::from_secs)
        .unwrap_or_else(|_| {
            tracing::warn!(
                "ELTR_RESOLUTION_MAX_AGE is '{text}', not a number of seconds: remembered pins are not used"
            );
            Duration::ZERO
        })
}

/// `name==version` with the characters package names and versions use, and nothing else.
fn is_pin(line: &str) -> bool {
    let Some((name, version)) = line.split_once("==") else {
        return false;
    };
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let version_ok = !version.is_empty()
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '!' | '-' | '_'));
    name_ok && version_ok
}

/// The interpreter a venv was made from, from its `pyvenv.cfg`: uv writes `version_info` and
/// `implementation`, `python -m venv` writes `version`.
fn interpreter(venv: &Path) -> Option<String> {
    let cfg = std::fs::read_to_string(venv.join("pyvenv.cfg")).ok()?;
    let value = |key: &str| {
        cfg.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
    };
    let version = value("version_info").or_else(|| value("version"))?;
    let implementation = value("implementation").unwrap_or_else(|| "CPython".into());
    Some(format!("{implementation} {version}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_pins_count() {
        assert!(is_pin("singer-sdk==0.40.0"));
        assert!(is_pin("tzdata==2026.6"));
        assert!(is_pin("foo==1.0+local"));
        assert!(!is_pin("foo @ git+https://example.com/foo"));
        assert!(!is_pin("foo>=1"));
        assert!(!is_pin("-e /src/foo"));
        assert!(!is_pin("foo==1; rm -rf /"));
    }

    #[test]
    fn the_interpreter_comes_from_either_kind_of_pyvenv_cfg() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("pyvenv.cfg"),
            "home = /usr/bin\nimplementation = CPython\nversion_info = 3.11.7\n",
        )
        .unwrap();
        assert_eq!(interpreter(tmp.path()).as_deref(), Some("CPython 3.11.7"));
        std::fs::write(tmp.path().join("pyvenv.cfg"), "version = 3.12.1\n").unwrap();
        assert_eq!(interpreter(tmp.path()).as_deref(), Some("CPython 3.12.1"));
    }
}
