//! One plugin's venv build, in the phases the install scheduler interleaves: `start` (take
//! the plugin's build lock, make an empty venv), `packages` (ask uv what it would install,
//! without installing), `finish` (install, fingerprint, move into place).

use super::installer::{InstallResult, InstallStatus, Installer};
use super::staging::{self, BuildLock};
use super::venv::{FINGERPRINT_FILE, fingerprint, is_installed, python_of, venv_dir};
use crate::project::ResolvedPlugin;
use crate::vocab::confine;
use crate::vocab::lines::{BoundedLines, LOG_LINE_CAP};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Lines of the installer's log shown when it fails.
const LOG_TAIL: usize = 30;

/// A venv build under way: the plugin's build lock is held until it is dropped. It owns
/// what it reads, so the scheduler can move it to whichever thread runs its next phase.
pub struct Build {
    root: PathBuf,
    plugin: ResolvedPlugin,
    tool: Installer,
    started: Instant,
    venv: PathBuf,
    /// Where the venv is built: a staging folder (uv) or the venv itself (pip).
    build_dir: PathBuf,
    log: PathBuf,
    lock: BuildLock,
}

impl Build {
    /// Takes the plugin's build lock and creates an empty venv to install into; the result
    /// instead when there is nothing to build (up to date) or the venv cannot be made.
    pub fn start(
        root: &Path,
        plugin: &ResolvedPlugin,
        clean: bool,
        tool: &Installer,
    ) -> Result<Build, Box<InstallResult>> {
        let started = Instant::now();
        let venv = venv_dir(root, plugin);
        let home = venv.parent().unwrap_or(root).to_path_buf();
        let owner = crate::project::eltr_dir(root);
        let log = root
            .join(".eltr")
            .join("logs")
            .join("install")
            .join(format!(
                "{}-{}.log",
                plugin.plugin_type.singular(),
                plugin.name
            ));
        let result = |status| {
            Box::new(InstallResult {
                plugin: plugin.name.to_string(),
                kind: plugin.plugin_type.singular(),
                status,
                elapsed: started.elapsed(),
            })
        };
        if let Some(problem) = pip_url_problem(plugin) {
            return Err(result(InstallStatus::Failed {
                command: "read pip_url".into(),
                log: log.clone(),
                tail: vec![problem],
            }));
        }
        if !clean && is_installed(root, plugin) {
            staging::sweep_if_idle(&owner, &home);
            return Err(result(InstallStatus::UpToDate));
        }
        let lock = BuildLock::acquire(&owner, &home).map_err(|e| {
            result(InstallStatus::Failed {
                command: format!("lock {}", home.display()),
                log: log.clone(),
                tail: vec![e.to_string()],
            })
        })?;
        // Another eltr may have finished this very install while we waited for the lock.
        if !clean && is_installed(root, plugin) {
            return Err(result(InstallStatus::UpToDate));
        }
        lock.sweep();
        let _ = confine::remove_file(&owner, &log);
        if let Some(dir) = log.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        // uv builds in a staging folder; pip, whose venvs cannot move, in place.
        let build_dir = match tool {
            Installer::Uv(_) => lock.new_dir(),
            Installer::Pip => {
                if let Err(e) = confine::remove_tree(&owner, &venv) {
                    return Err(result(InstallStatus::Failed {
                        command: format!("delete {}", venv.display()),
                        log: log.clone(),
                        tail: vec![e.to_string()],
                    }));
                }
                venv.clone()
            }
        };
        let build = Build {
            root: root.to_path_buf(),
            plugin: plugin.clone(),
            tool: tool.clone(),
            started,
            venv,
            build_dir,
            log,
            lock,
        };
        let create = build.create_step();
        if !run_logged(&create, &build.log, root) {
            return Err(Box::new(build.failed(shell_words::join(&create))));
        }
        Ok(build)
    }

    /// The `name==version` of every package the install would add, resolved by uv without
    /// installing anything (`uv pip install --dry-run`); `None` with pip, or when uv's
    /// answer cannot be read. The resolution is cached, so the install that follows does
    /// not pay for it again.
    pub fn packages(&self) -> Option<HashSet<String>> {
        let Installer::Uv(_) = self.tool else {
            return None;
        };
        let mut step = self.install_step();
        // After `uv pip install`; no colour codes in the lines to read.
        step.splice(
            3..3,
            ["--dry-run".to_string(), "--color".into(), "never".into()],
        );
        let mut child = Command::new(&step[0])
            .args(&step[1..])
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .ok()?;
        let stderr = child.stderr.take()?;
        let from_stderr = std::thread::spawn(move || listed_packages(stderr));
        let mut packages = child.stdout.take().map(listed_packages).unwrap_or_default();
        packages.extend(from_stderr.join().unwrap_or_default());
        if !child.wait().ok()?.success() {
            return None;
        }
        (!packages.is_empty()).then_some(packages)
    }

    /// Installs the plugin, writes the fingerprint and puts the venv in place.
    pub fn finish(self) -> InstallResult {
        let install = self.install_step();
        if !run_logged(&install, &self.log, &self.root) {
            return self.failed(shell_words::join(&install));
        }
        let fingerprinted = std::fs::write(
            self.build_dir.join(FINGERPRINT_FILE),
            fingerprint(&self.plugin),
        );
        if let Err(e) = fingerprinted {
            return self.failed_with("write fingerprint".into(), vec![e.to_string()]);
        }
        if self.build_dir != self.venv {
            if let Err(e) = staging::publish(&self.lock, &self.build_dir, &self.venv) {
                let command = format!(
                    "move {} to {}",
                    self.build_dir.display(),
                    self.venv.display()
                );
                return self.failed_with(command, vec![e.to_string()]);
            }
        }
        self.result(InstallStatus::Installed)
    }

    fn result(&self, status: InstallStatus) -> InstallResult {
        InstallResult {
            plugin: self.plugin.name.to_string(),
            kind: self.plugin.plugin_type.singular(),
            status,
            elapsed: self.started.elapsed(),
        }
    }

    /// A failed step: the half-built venv goes, the log's tail is kept for the report.
    fn failed(&self, command: String) -> InstallResult {
        // The log may be huge (a build dumping megabytes): it is read in bounded lines.
        let mut tail = std::collections::VecDeque::with_capacity(LOG_TAIL);
        if let Ok(file) = std::fs::File::open(&self.log) {
            let mut lines = BoundedLines::new(std::io::BufReader::new(file), LOG_LINE_CAP);
            while let Ok(Some(line)) = lines.next_line() {
                if tail.len() == LOG_TAIL {
                    tail.pop_front();
                }
                tail.push_back(line.to_text());
            }
        }
        self.failed_with(command, tail.into())
    }

    fn failed_with(&self, command: String, tail: Vec<String>) -> InstallResult {
        if let Err(e) = confine::remove_tree(&crate::project::eltr_dir(&self.root), &self.build_dir)
        {
            tracing::warn!("{e}");
        }
        self.result(InstallStatus::Failed {
            command,
            log: self.log.clone(),
            tail,
        })
    }

    /// The command that makes an empty venv in the build folder.
    fn create_step(&self) -> Vec<String> {
        let python = python_of(&self.plugin);
        let dir = self.build_dir.display().to_string();
        match &self.tool {
            Installer::Uv(uv) => words(&[
                &uv.display().to_string(),
                "venv",
                "--quiet",
                "--relocatable",
                "--python",
                &python,
                &dir,
            ]),
            Installer::Pip => words(&[&python, "-m", "venv", &dir]),
        }
    }

    /// The command that installs the plugin's `pip_url` into the build folder's venv.
    fn install_step(&self) -> Vec<String> {
        let pip_url = self.plugin.pip_url.as_deref().unwrap_or("");
        // Checked in `start`: a pip_url that cannot be split never gets this far.
        let pip_args = shell_words::split(pip_url).unwrap_or_default();
        let python = self
            .build_dir
            .join("bin")
            .join("python")
            .display()
            .to_string();
        let head = match &self.tool {
            Installer::Uv(uv) => {
                let uv = uv.display().to_string();
                words(&[&uv, "pip", "install", "--python", &python])
            }
            Installer::Pip => words(&[
                &python,
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
            ]),
        };
        [head, pip_args].concat()
    }
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

/// The packages uv's `--dry-run` lists ("Would install N packages", then " + name==version"
/// per package), read in bounded lines.
fn listed_packages(out: impl std::io::Read) -> HashSet<String> {
    let mut lines = BoundedLines::new(std::io::BufReader::new(out), LOG_LINE_CAP);
    let mut packages = HashSet::new();
    while let Ok(Some(line)) = lines.next_line() {
        let text = line.to_text();
        if let Some(p) = text.trim_start().strip_prefix("+ ") {
            packages.insert(p.trim().to_ascii_lowercase());
        }
    }
    packages
}

/// Runs one installer step with its output appended to `log`.
fn run_logged(step: &[String], log: &Path, cwd: &Path) -> bool {
    use std::io::Write;
    let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    else {
        return false;
    };
    let _ = writeln!(file, "$ {}", shell_words::join(step));
    let Ok(out) = file.try_clone() else {
        return false;
    };
    let Ok(err) = file.try_clone() else {
        return false;
    };
    let status = Command::new(&step[0])
        .args(&step[1..])
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status();
    match status {
        Ok(s) => s.success(),
        Err(e) => {
            let _ = writeln!(file, "cannot start {}: {e}", step[0]);
            false
        }
    }
}

/// Why the plugin's `pip_url` cannot be split into pip arguments (an unbalanced quote), with
/// the file and line that set it; `None` when it can.
fn pip_url_problem(plugin: &ResolvedPlugin) -> Option<String> {
    let url = plugin.pip_url.as_deref()?;
    let error = shell_words::split(url).err()?;
    let text = std::fs::read_to_string(&plugin.source).unwrap_or_default();
    let place = match crate::project::position::locate_key_value(&text, "pip_url", "") {
        Some((line, column)) => format!("{}:{line}:{column}", plugin.source.display()),
        None => plugin.source.display().to_string(),
    };
    Some(format!(
        "{place}: pip_url of {} '{}' cannot be split into pip arguments ({error}); check its quotes",
        plugin.plugin_type.singular(),
        plugin.name
    ))
}
