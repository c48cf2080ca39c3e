//! Shared helpers for the integration tests: copy a fixture project into a temporary folder,
//! run the built `eltr` binary in it with a clean environment, and read what it printed.
//!
//! Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use serde_json::Value;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The `eltr` binary Cargo built for this test run.
pub fn eltr_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_eltr"))
}

/// `tests/fixtures/<name>` in the source tree (read-only: goldens live here).
pub fn fixture_source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A fixture copied into a temporary folder that is removed when this value is dropped.
pub struct TempProject {
    tmp: TempDir,
    /// The copy of the fixture folder (`<tmp>/<last part of the fixture name>`).
    pub dir: PathBuf,
}

impl TempProject {
    /// The temporary folder that holds the copy (its parent), for running from outside it.
    pub fn tmp(&self) -> &Path {
        self.tmp.path()
    }

    /// A path inside the copy.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }
}

/// Copies `tests/fixtures/<name>` (without its `golden/` folder, which is Meltano's output and
/// not part of the project) into a new temporary folder.
pub fn fixture(name: &str) -> TempProject {
    let src = fixture_source(name);
    assert!(src.is_dir(), "no fixture folder {}", src.display());
    let tmp = tempfile::tempdir().expect("create temp dir");
    let leaf = src.file_name().expect("fixture name has a last part");
    let dir = tmp.path().join(leaf);
    copy_dir(&src, &dir);
    TempProject { tmp, dir }
}

/// An empty temporary folder.
pub fn empty_dir() -> TempDir {
    tempfile::tempdir().expect("create temp dir")
}

/// A temporary folder holding an empty `project` folder, and that folder's path.
pub fn project_dir() -> (TempDir, PathBuf) {
    let tmp = empty_dir();
    let dir = tmp.path().join("project");
    std::fs::create_dir_all(&dir).expect("create the project folder");
    (tmp, dir)
}

/// The folder of the virtualenvs `scripts/test-env.sh` builds (`ELTR_TEST_VENV`, set by
/// `scripts/test.sh`, else `target/test-tools/venvs`); panics (never skips) when `target-jsonl`
/// is not installed there.
pub fn test_venvs() -> PathBuf {
    let dir = std::env::var_os("ELTR_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/venvs")
        });
    assert!(
        dir.join("target-jsonl/bin/target-jsonl").is_file(),
        "the PyPI plugins are not installed in {}; run the suite with scripts/test.sh",
        dir.display()
    );
    dir.canonicalize().expect("venv folder")
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("create fixture copy");
    for entry in std::fs::read_dir(src).expect("read fixture folder") {
        let entry = entry.expect("read fixture entry");
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let kind = entry.file_type().expect("fixture entry type");
        if kind.is_dir() {
            if entry.file_name() == "golden" {
                continue;
            }
            copy_dir(&from, &to);
        } else {
            // std::fs::copy keeps the permission bits, so fake plugin scripts stay executable.
            std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
        }
    }
}

/// Every file under `dir`, recursively (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Waits for an event another process causes (a file appears, a line is printed, a process
/// ends): polls `cond` every 20 ms until it holds, and panics naming `what` once `within` has
/// passed. Tests wait with this, never with a fixed sleep: a fixed sleep is too short on a
/// loaded machine and wasted time on an idle one.
#[track_caller]
pub fn wait_until(within: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < within,
            "gave up waiting for {what} after {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What one run of `eltr` did.
#[derive(Debug)]
#[must_use = "a test checks what the run did"]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// The command line, for failure messages.
    pub command: String,
}

impl Run {
    /// Asserts the run exited 0 and returns it.
    #[track_caller]
    pub fn success(&self) -> &Self {
        assert!(
            self.status.success(),
            "expected success: {}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
            self.command,
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts the run exited non-zero and returns it.
    #[track_caller]
    pub fn failure(&self) -> &Self {
        assert!(
            !self.status.success(),
            "expected failure: {}\nstdout:\n{}\nstderr:\n{}",
            self.command,
            self.stdout,
            self.stderr
        );
        self
    }

    /// The exit code (`None` when a signal ended the process).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Asserts the run exited with `code` and returns it.
    #[track_caller]
    pub fn exits(&self, code: i32) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(code),
            "expected exit code {code}: {}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
            self.command,
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// The `error:` lines of stderr.
    pub fn error_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect()
    }

    /// Asserts the process died of signal `sig` (it did not exit on its own).
    #[track_caller]
    pub fn killed_by(&self, sig: i32) -> &Self {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            self.status.signal(),
            Some(sig),
            "expected death by signal {sig}: {}\nstatus: {}\nstderr:\n{}",
            self.command,
            self.status,
            self.stderr
        );
        self
    }

    /// Asserts the run failed cleanly (exit 1: an error, not a panic's 101 or a usage error)
    /// with every one of `needles` in stderr.
    #[track_caller]
    pub fn clean_error(&self, needles: &[&str]) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(1),
            "{}\n{}",
            self.command,
            self.stderr
        );
        for needle in needles {
            self.stderr_has(needle);
        }
        self
    }

    /// Asserts stderr contains `needle`.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr of `{}` lacks {needle:?}; stderr:\n{}",
            self.command,
            self.stderr
        );
        self
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout of `{}` is not JSON ({e}):\n{}\nstderr:\n{}",
                self.command, self.stdout, self.stderr
            )
        })
    }
}

/// eltr's user cache for the tests' runs (`ELTR_CACHE_DIR`), so that no test reads or
/// writes the machine user's `~/.cache/eltr`; `vars` may name another.
pub fn test_user_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("eltr-user-cache")
}

/// Runs `eltr ARGS` in `cwd` with an environment holding only `PATH`, `HOME`,
/// `ELTR_CACHE_DIR` ([`test_user_cache`]) and `vars`.
pub fn eltr<I, S>(cwd: &Path, args: I, vars: &[(&str, &str)]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let mut cmd = Command::new(eltr_bin());
    cmd.current_dir(cwd).args(&args).env_clear();
    for keep in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(keep) {
            cmd.env(keep, v);
        }
    }
    cmd.env("ELTR_CACHE_DIR", test_user_cache());
    cmd.envs(vars.iter().copied());
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", eltr_bin().display()));
    let shown_vars: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        command: format!(
            "(cd {} && {} eltr {})",
            cwd.display(),
            shown_vars.join(" "),
            args.iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

/// Reads a golden file as text.
pub fn golden_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Reads a golden file as JSON.
pub fn golden_json(path: &Path) -> Value {
    serde_json::from_str(&golden_text(path))
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Variables of the test process that installs need to reach the package index here
/// (certificates, proxies, pip/uv settings), to pass on to eltr.
pub fn network_vars() -> Vec<(String, String)> {
    const NAMES: [&str; 10] = [
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
    ];
    std::env::vars()
        .filter(|(k, _)| {
            NAMES.contains(&k.as_str()) || k.starts_with("PIP_") || k.starts_with("UV_")
        })
        .collect()
}
