//! `eltr install`: one virtualenv per plugin with a `pip_url`, built with `uv` when it is
//! available (else `python -m venv` + pip), several at once.
//!
//! A venv counts as installed only when its fingerprint file (a hash of the pip arguments
//! and the interpreter) is present and matches. With uv the venv is built relocatable in a
//! staging folder next to its final place, fingerprinted there, and renamed into place only
//! when everything succeeded (see `staging`): a failed or interrupted install leaves the
//! previous venv, if any, untouched. pip's venvs hard-code their own path in every script and
//! cannot move, so with pip the venv is built in place and the fingerprint written last.

use super::executable::venv_dir;
use super::staging;
use crate::project::{Context, ResolvedPlugin};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// File in the venv holding the fingerprint of what it was built from.
pub const FINGERPRINT_FILE: &str = ".eltr-fingerprint";
/// Lines of the installer's log shown when it fails.
const LOG_TAIL: usize = 30;

/// How one plugin's install went.
#[derive(Debug, Clone)]
pub enum InstallStatus {
    Installed,
    UpToDate,
    NoPipUrl,
    /// Shares the venv of the plugin it inherits from.
    Shared(String),
    Failed {
        command: String,
        log: PathBuf,
        tail: Vec<String>,
    },
}

/// One line of the install report.
#[derive(Debug, Clone)]
pub struct InstallResult {
    pub plugin: String,
    pub kind: &'static str,
    pub status: InstallStatus,
    pub elapsed: Duration,
}

/// What to install and how.
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    pub clean: bool,
    pub parallelism: usize,
}

/// Installs run at once unless `--parallelism` says otherwise: twice the CPUs, at least 4.
/// An install spends most of its time waiting on the package index and on the disk (uv
/// already bounds its own CPU-heavy builds to the CPU count), so one install per CPU leaves
/// the machine idle while the slowest plugin waits for a free slot.
pub fn default_parallelism() -> usize {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    (2 * cpus).max(4)
}

/// The installer eltr uses.
#[derive(Debug, Clone)]
enum Installer {
    Uv(PathBuf),
    Pip,
}

fn installer() -> Installer {
    if let Some(uv) = std::env::var_os("ELTR_UV").filter(|s| !s.is_empty()) {
        return Installer::Uv(PathBuf::from(uv));
    }
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("uv"))
        .find(|p| p.is_file())
        .map(Installer::Uv)
        .unwrap_or(Installer::Pip)
}

/// The interpreter a plugin's venv is built with, as an absolute path when it is found on
/// PATH (a changed `python3` then changes the fingerprint, and uv skips a shim lookup).
fn python_of(plugin: &ResolvedPlugin) -> String {
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

/// The fingerprint of a plugin's install: its pip arguments and interpreter.
pub fn fingerprint(plugin: &ResolvedPlugin) -> String {
    let mut h = Sha256::new();
    h.update(plugin.pip_url.as_deref().unwrap_or(""));
    h.update([0]);
    h.update(python_of(plugin));
    format!("{:x}", h.finalize())
}

/// True when the plugin's venv is installed from its current `pip_url`.
pub fn is_installed(root: &Path, plugin: &ResolvedPlugin) -> bool {
    std::fs::read_to_string(venv_dir(root, plugin).join(FINGERPRINT_FILE))
        .is_ok_and(|f| f.trim() == fingerprint(plugin))
}

/// Installs `plugins`, at most `parallelism` at a time; every plugin is attempted even when
/// others fail.
pub fn install(
    ctx: &Context,
    plugins: Vec<ResolvedPlugin>,
    opts: &InstallOptions,
) -> Vec<InstallResult> {
    let root = ctx.project.root.clone();
    let mut results = Vec::new();
    let mut queue = Vec::new();
    let mut owners = std::collections::HashSet::new();
    for p in plugins {
        let kind = p.plugin_type.singular();
        if p.pip_url.is_none() {
            results.push(InstallResult {
                plugin: p.name.clone(),
                kind,
                status: InstallStatus::NoPipUrl,
                elapsed: Duration::ZERO,
            });
        } else if p.venv_owner != p.name {
            results.push(InstallResult {
                plugin: p.name.clone(),
                kind,
                status: InstallStatus::Shared(p.venv_owner.clone()),
                elapsed: Duration::ZERO,
            });
            if owners.insert((p.plugin_type, p.venv_owner.clone())) {
                // The owner's install as the child sees it: same venv, pip_url and python.
                let mut owner = p.clone();
                owner.name = p.venv_owner.clone();
                queue.push(owner);
            }
        } else if owners.insert((p.plugin_type, p.name.clone())) {
            queue.push(p);
        }
    }
    let tool = installer();
    // Workers pop from the end: reverse so plugins start in project order.
    queue.reverse();
    let queue = Mutex::new(queue);
    let done = Mutex::new(Vec::new());
    let workers = opts.parallelism.max(1);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                    let Some(p) = next else { break };
                    let r = install_one(&root, &p, opts.clean, &tool);
                    report_line(&r);
                    done.lock().unwrap_or_else(|e| e.into_inner()).push(r);
                }
            });
        }
    });
    results.extend(done.into_inner().unwrap_or_default());
    results
}

/// Logs the progress line of one finished plugin (a JSON line under `--log-format json`);
/// a failure carries the command, the log's path and the log's last lines.
pub fn report_line(r: &InstallResult) {
    let secs = r.elapsed.as_secs_f64();
    let who = format!("{} {}", r.kind, r.plugin);
    match &r.status {
        InstallStatus::Installed => tracing::info!("{who}: installed in {secs:.1}s"),
        InstallStatus::UpToDate => tracing::info!("{who}: up to date"),
        InstallStatus::NoPipUrl => tracing::info!("{who}: no pip_url, nothing to install"),
        InstallStatus::Shared(owner) => {
            tracing::info!("{who}: uses the virtualenv of '{owner}'")
        }
        InstallStatus::Failed { command, log, tail } => {
            let mut text = format!(
                "{who}: FAILED after {secs:.1}s\n  command: {command}\n  full log: {}",
                log.display()
            );
            for l in tail {
                text.push_str("\n  | ");
                text.push_str(l);
            }
            tracing::error!("{text}");
        }
    }
}

fn install_one(root: &Path, p: &ResolvedPlugin, clean: bool, tool: &Installer) -> InstallResult {
    let started = Instant::now();
    let result = |status| InstallResult {
        plugin: p.name.clone(),
        kind: p.plugin_type.singular(),
        status,
        elapsed: started.elapsed(),
    };
    let venv = venv_dir(root, p);
    let home = venv.parent().unwrap_or(root).to_path_buf();
    if !clean && is_installed(root, p) {
        staging::sweep_if_idle(&home);
        return result(InstallStatus::UpToDate);
    }
    let log = root
        .join(".eltr")
        .join("logs")
        .join("install")
        .join(format!("{}-{}.log", p.plugin_type.singular(), p.name));
    let lock = match staging::BuildLock::acquire(&home) {
        Ok(lock) => lock,
        Err(e) => {
            return result(InstallStatus::Failed {
                command: format!("lock {}", home.display()),
                log,
                tail: vec![e.to_string()],
            });
        }
    };
    // Another eltr may have finished this very install while we waited for the lock.
    if !clean && is_installed(root, p) {
        return result(InstallStatus::UpToDate);
    }
    lock.sweep();
    let _ = std::fs::remove_file(&log);
    if let Some(dir) = log.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // uv builds in a staging folder; pip, whose venvs cannot move, in place.
    let build_dir = match tool {
        Installer::Uv(_) => lock.new_dir(),
        Installer::Pip => {
            let _ = std::fs::remove_dir_all(&venv);
            venv.clone()
        }
    };
    let failed = |command: String, tail: Vec<String>| {
        let _ = std::fs::remove_dir_all(&build_dir);
        result(InstallStatus::Failed {
            command,
            log: log.clone(),
            tail,
        })
    };
    for step in install_steps(tool, &python_of(p), &build_dir, p) {
        if !run_logged(&step, &log, root) {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<String> = text.lines().map(String::from).collect();
            let tail = lines[lines.len().saturating_sub(LOG_TAIL)..].to_vec();
            return failed(shell_words::join(&step), tail);
        }
    }
    if let Err(e) = std::fs::write(build_dir.join(FINGERPRINT_FILE), fingerprint(p)) {
        return failed("write fingerprint".into(), vec![e.to_string()]);
    }
    if build_dir != venv {
        if let Err(e) = staging::publish(&lock, &build_dir, &venv) {
            return failed(
                format!("move {} to {}", build_dir.display(), venv.display()),
                vec![e.to_string()],
            );
        }
    }
    result(InstallStatus::Installed)
}

/// The commands that build a venv in `dir` and install the plugin's `pip_url` into it.
fn install_steps(
    tool: &Installer,
    python: &str,
    dir: &Path,
    p: &ResolvedPlugin,
) -> Vec<Vec<String>> {
    let pip_args = shell_words::split(p.pip_url.as_deref().unwrap_or("")).unwrap_or_default();
    let dir_s = dir.display().to_string();
    let venv_python = dir.join("bin").join("python").display().to_string();
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match tool {
        Installer::Uv(uv) => {
            let uv = uv.display().to_string();
            vec![
                words(&[
                    &uv,
                    "venv",
                    "--quiet",
                    "--relocatable",
                    "--python",
                    python,
                    &dir_s,
                ]),
                [
                    words(&[&uv, "pip", "install", "--python", &venv_python]),
                    pip_args,
                ]
                .concat(),
            ]
        }
        Installer::Pip => vec![
            words(&[python, "-m", "venv", &dir_s]),
            [
                words(&[
                    &venv_python,
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                ]),
                pip_args,
            ]
            .concat(),
        ],
    }
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
