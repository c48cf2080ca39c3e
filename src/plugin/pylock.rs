//! A plugin's pinned dependencies (PEP 751): `plugins/<type>/pylock.<plugin>.toml`, next to
//! the plugin's Meltano lockfile. The file name is the one Meltano's dependency-locking
//! proposal used (meltano/meltano pull request 9548), so a project can move between the
//! tools with its pins.
//!
//! `eltr lock` writes the file with `uv pip compile --format pylock.toml --universal` (one
//! file for every platform a team runs on); `eltr install` installs exactly its packages
//! (uv: `-r pylock.<plugin>.toml`, hashes checked; pip, which cannot read the format, and uv
//! when eltr gives it PyPI's caching headers and every file is PyPI's (see
//! `build::install_pinned`): a requirements file of the same pins with `--require-hashes
//! --no-deps`). The file's content is part of the venv's fingerprint.

use crate::project::ResolvedPlugin;
use crate::project::position::line_col;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The pin file of the venv `plugin` installs into (its venv owner's: an inherited plugin
/// without a `pip_url` of its own shares its parent's).
pub fn path(root: &Path, plugin: &ResolvedPlugin) -> PathBuf {
    root.join("plugins")
        .join(plugin.plugin_type.key())
        .join(format!("pylock.{}.toml", plugin.venv_owner))
}

/// The bytes of a pin file: a regular file of at most the size eltr reads for a project file
/// (a named pipe or a link to `/dev/zero` planted there is an error, not a hang).
pub fn read_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    crate::vocab::files::read_capped(path, crate::vocab::files::PROJECT_FILE_CAP)
}

/// One package of a pin file.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub version: Option<String>,
    marker: Option<String>,
    /// `--hash=algo:digest` of every artifact (wheels and sdist).
    hashes: Vec<String>,
    /// Set when it comes from a VCS, a directory or an archive URL rather than an index.
    other_source: Option<&'static str>,
    /// Every `path` and `url` the package is fetched from.
    locations: Vec<String>,
    line: usize,
}

/// A pin file, read and checked.
#[derive(Debug, Clone)]
pub struct Pylock {
    pub path: PathBuf,
    pub packages: Vec<Package>,
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(rename = "lock-version")]
    lock_version: toml::Spanned<String>,
    #[serde(default)]
    packages: Vec<toml::Spanned<RawPackage>>,
}

#[derive(Deserialize)]
struct RawPackage {
    name: String,
    version: Option<String>,
    marker: Option<String>,
    sdist: Option<Artifact>,
    #[serde(default)]
    wheels: Vec<Artifact>,
    archive: Option<Artifact>,
    vcs: Option<toml::Value>,
    directory: Option<toml::Value>,
}

#[derive(Deserialize)]
struct Artifact {
    #[serde(default)]
    hashes: BTreeMap<String, String>,
    path: Option<String>,
    url: Option<String>,
}

impl Pylock {
    /// Reads and checks the pin file at `path`; errors name the file, line and column.
    pub fn read(path: &Path) -> Result<Pylock, String> {
        let text = read_bytes(path)
            .and_then(|b| {
                String::from_utf8(b).map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text")
                })
            })
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let at = |offset: usize| {
            let (line, col) = line_col(text.as_bytes(), offset);
            format!("{}:{line}:{col}", path.display())
        };
        let raw: RawFile = toml::from_str(&text).map_err(|e| {
            let place = e
                .span()
                .map(|s| at(s.start))
                .unwrap_or(path.display().to_string());
            format!(
                "{place}: not a valid PEP 751 pin file: {}",
                e.message().trim()
            )
        })?;
        if !raw.lock_version.get_ref().starts_with("1.") {
            return Err(format!(
                "{}: lock-version '{}' is not supported (eltr reads 1.x)",
                at(raw.lock_version.span().start),
                raw.lock_version.get_ref()
            ));
        }
        let packages = raw
            .packages
            .into_iter()
            .map(|p| {
                let start = p.span().start;
                let package = package(p.into_inner(), line_col(text.as_bytes(), start).0);
                match package.problem() {
                    Some(problem) => Err(format!("{}: package {problem}", at(start))),
                    None => Ok(package),
                }
            })
            .collect::<Result<Vec<Package>, String>>()?;
        Ok(Pylock {
            path: path.to_path_buf(),
            packages,
        })
    }

    /// Fails when the `pip_url` asks for a version of a package (`name==version`) that the
    /// pin file does not hold: the file was locked for another `pip_url`.
    pub fn check_against(&self, pip_url: &str) -> Result<(), String> {
        for arg in shell_words::split(pip_url).unwrap_or_default() {
            let Some((name, version)) = arg.split_once("==") else {
                continue;
            };
            let name = normalized(name.split('[').next().unwrap_or(name));
            let locked = self.packages.iter().find(|p| normalized(&p.name) == name);
            let locked_version = locked.and_then(|p| p.version.as_deref());
            if locked_version != Some(version.trim()) {
                return Err(format!(
                    "{}: pip_url asks for {arg} but the file pins {}; run `eltr lock --update` to lock the pip_url again",
                    self.path.display(),
                    locked_version.map_or("no such package".to_string(), |v| format!("{name} {v}"))
                ));
            }
        }
        Ok(())
    }

    /// True when every file of every package is one PyPI serves (`files.pythonhosted.org`):
    /// a hash-checked requirements file of the pins then names the very files the pin file
    /// does, fetched through the index.
    pub fn all_from_pypi(&self) -> bool {
        self.packages.iter().all(|p| {
            p.other_source.is_none()
                && !p.locations.is_empty()
                && p.locations
                    .iter()
                    .all(|l| l.starts_with("https://files.pythonhosted.org/"))
        })
    }

    /// The pins as a pip requirements file (`name==version ; marker --hash=…`), for
    /// `pip install --require-hashes --no-deps -r`. pip cannot check a package from a VCS or
    /// a folder against a hash, so such a package is an error naming it.
    pub fn requirements(&self) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.packages {
            let where_ = format!("{}:{}", self.path.display(), p.line);
            if let Some(source) = p.other_source {
                return Err(format!(
                    "{where_}: package '{}' comes from a {source}: pip cannot install it with checked hashes; install uv (eltr then installs the file as it is)",
                    p.name
                ));
            }
            let Some(version) = &p.version else {
                return Err(format!("{where_}: package '{}' has no version", p.name));
            };
            if p.hashes.is_empty() {
                return Err(format!("{where_}: package '{}' has no hashes", p.name));
            }
            out.push_str(&format!("{}=={version}", p.name));
            if let Some(marker) = &p.marker {
                out.push_str(&format!(" ; {marker}"));
            }
            for h in &p.hashes {
                out.push_str(&format!(" --hash={h}"));
            }
            out.push('\n');
        }
        Ok(out)
    }
}

impl Package {
    /// What makes a value of the package unfit for the requirement line pip is given (a
    /// newline would start a line of its own, such as `--index-url`), if anything.
    fn problem(&self) -> Option<String> {
        let bad = |field: &str, value: &str, why: &str| {
            Some(format!(
                "{field} '{}' is not valid: {why}",
                crate::vocab::ident::shown(value)
            ))
        };
        let plain = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
        if self.name.is_empty() || !self.name.chars().all(plain) || self.name.starts_with('-') {
            return bad(
                "name",
                &self.name,
                "a package name holds letters, digits, '.', '_' and '-'",
            );
        }
        if let Some(v) = self.version.as_deref() {
            if v.is_empty()
                || v.starts_with('-')
                || !v.chars().all(|c| plain(c) || c == '+' || c == '!')
            {
                return bad(
                    "version",
                    v,
                    "a version holds letters, digits, '.', '+', '!', '_' and '-'",
                );
            }
        }
        if let Some(m) = self.marker.as_deref() {
            if m.chars().any(char::is_control) {
                return bad("marker", m, "it holds a control character (a newline, …)");
            }
        }
        if let Some(place) = self.locations.iter().find(|l| !inside_project(l)) {
            return bad(
                "location",
                place,
                "a pin file installs from an index or from inside the project, not from a \
                 file: URL, an absolute path or a path with '..'",
            );
        }
        for h in &self.hashes {
            let (algo, digest) = h.split_once(':').unwrap_or_default();
            let ok = !algo.is_empty()
                && algo.chars().all(|c| c.is_ascii_alphanumeric())
                && !digest.is_empty()
                && digest.chars().all(|c| c.is_ascii_hexdigit());
            if !ok {
                return bad("hash", h, "a hash is an algorithm and hexadecimal digits");
            }
        }
        None
    }
}

/// True for an index URL (`https://…`) or a relative path that stays below the project.
fn inside_project(location: &str) -> bool {
    let lower = location.to_ascii_lowercase();
    if lower.starts_with("file:") || lower.contains("+file:") {
        return false;
    }
    if location.contains("://") {
        return true;
    }
    let path = Path::new(location);
    !path.is_absolute()
        && path
            .components()
            .all(|c| !matches!(c, std::path::Component::ParentDir))
}

/// Every `path` and `url` of a package's artifacts and sources.
fn locations(raw: &RawPackage) -> Vec<String> {
    let artifacts = raw.wheels.iter().chain(&raw.sdist).chain(&raw.archive);
    let mut out: Vec<String> = artifacts
        .flat_map(|a| a.path.iter().chain(&a.url))
        .cloned()
        .collect();
    for source in raw.vcs.iter().chain(&raw.directory) {
        for key in ["path", "url"] {
            if let Some(v) = source.get(key).and_then(toml::Value::as_str) {
                out.push(v.to_string());
            }
        }
    }
    out
}

fn package(raw: RawPackage, line: usize) -> Package {
    let other_source = if raw.vcs.is_some() {
        Some("VCS")
    } else if raw.directory.is_some() {
        Some("directory")
    } else if raw.archive.is_some() && raw.sdist.is_none() && raw.wheels.is_empty() {
        Some("archive URL")
    } else {
        None
    };
    let hashes = raw
        .wheels
        .iter()
        .chain(raw.sdist.iter())
        .flat_map(|a| a.hashes.iter())
        .map(|(algo, digest)| format!("{algo}:{digest}"))
        .collect();
    Package {
        locations: locations(&raw),
        name: raw.name,
        version: raw.version,
        marker: raw.marker,
        hashes,
        other_source,
        line,
    }
}

/// A package name as indexes compare them (PEP 503).
fn normalized(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace(['_', '.'], "-")
}

/// Resolves `pip_url` for `python` with uv into a pin file's text (PEP 751, every platform,
/// hashes included). Runs in `root`, so relative paths in the `pip_url` mean what they mean
/// to `install`.
pub fn compile(uv: &Path, python: &str, pip_url: &str, root: &Path) -> Result<String, String> {
    let args = shell_words::split(pip_url).map_err(|e| format!("pip_url: {e}"))?;
    let input = requirement_lines(&args);
    let mut child = Command::new(uv)
        .args([
            "pip",
            "compile",
            "-",
            "--format",
            "pylock.toml",
            "--universal",
        ])
        .args([
            "--no-header",
            "--quiet",
            "--color",
            "never",
            "--python",
            python,
        ])
        .args(super::uv_config::args(root, uv))
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", uv.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| format!("writing to uv: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for uv: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "uv pip compile failed ({}):\n  | {}",
            super::describe_status(out.status),
            tail.join("\n  | ")
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| "uv printed a pin file that is not UTF-8".into())
}

/// The `pip_url`'s words as requirement lines: an option that takes a value
/// (`--extra-index-url URL`, `-e PATH`) stays on the line of its value.
fn requirement_lines(args: &[String]) -> String {
    const TAKES_VALUE: [&str; 10] = [
        "-e",
        "--editable",
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "-c",
        "--constraint",
        "-r",
    ];
    let mut out = String::new();
    let mut words = args.iter();
    while let Some(w) = words.next() {
        out.push_str(w);
        if TAKES_VALUE.contains(&w.as_str()) {
            if let Some(v) = words.next() {
                out.push(' ');
                out.push_str(v);
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PYLOCK: &str = r#"lock-version = "1.0"
created-by = "uv"
requires-python = ">=3.11"

[[packages]]
name = "backoff"
version = "1.8.0"
sdist = { url = "https://example.com/backoff-1.8.0.tar.gz", upload-time = 2018-12-21T05:37:29Z, size = 13984, hashes = { sha256 = "aa" } }
wheels = [{ url = "https://example.com/backoff-1.8.0-py2.py3-none-any.whl", hashes = { sha256 = "bb" } }]

[[packages]]
name = "colorama"
version = "0.4.6"
marker = "sys_platform == 'win32'"
wheels = [{ url = "https://example.com/colorama.whl", hashes = { sha256 = "cc" } }]
"#;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("pylock.x.toml");
        std::fs::write(&path, text).unwrap();
        (tmp, path)
    }

    #[test]
    fn pins_become_hash_checked_requirements_with_their_markers() {
        let (_tmp, path) = write(PYLOCK);
        let lock = Pylock::read(&path).unwrap();
        assert_eq!(
            lock.requirements().unwrap(),
            "backoff==1.8.0 --hash=sha256:bb --hash=sha256:aa\n\
             colorama==0.4.6 ; sys_platform == 'win32' --hash=sha256:cc\n"
        );
        lock.check_against("backoff==1.8.0").unwrap();
        let stale = lock.check_against("Backoff==2.0").unwrap_err();
        assert!(stale.contains("pins backoff 1.8.0"), "{stale}");
    }

    #[test]
    fn a_broken_file_is_an_error_with_its_line_and_column() {
        let (_tmp, path) = write(&PYLOCK.replace("version = \"0.4.6\"", "version = 0.4.6"));
        let err = Pylock::read(&path).unwrap_err();
        let place = format!("{}:13:", path.display());
        assert!(err.starts_with(&place), "{err}");
        let (_tmp, path) = write(&PYLOCK.replace("1.0", "2.0"));
        let err = Pylock::read(&path).unwrap_err();
        assert!(err.contains(":1:16: lock-version '2.0'"), "{err}");
    }

    #[test]
    fn options_keep_their_values_on_one_line() {
        let args: Vec<String> = ["a==1", "--extra-index-url", "https://x", "b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            requirement_lines(&args),
            "a==1\n--extra-index-url https://x\nb\n"
        );
    }
}
