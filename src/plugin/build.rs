//! One plugin's venv build, in two phases: `start` (take the plugin's build lock, make an
//! empty venv, choose where its packages come from) and `finish` (install, fingerprint, move
//! into place).
//!
//! Packages come, first found: from the project's pin file (`pylock.<plugin>.toml`, see
//! `pylock`); with uv, from pins remembered for the same `pip_url` on this machine (see
//! `resolutions`), installed from uv's cache without asking the index, falling back to a
//! resolution when the cache lacks one; else from resolving the `pip_url`, whose result uv
//! then remembers for the next install.

use super::installer::{InstallResult, InstallStatus, Installer};
use super::pylock::Pylock;
use super::resolutions::Key;
use super::staging::{self, BuildLock};
use super::venv::{FINGERPRINT_FILE, fingerprint, is_installed, python_of, venv_dir};
use crate::project::ResolvedPlugin;
use crate::vocab::confine;
use crate::vocab::lines::{BoundedLines, LOG_LINE_CAP};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Lines of the installer's log shown when it fails.
const LOG_TAIL: usize = 30;

/// The most of `uv pip freeze`'s output read (a venv lists a few hundred lines at most).
const FREEZE_CAP: u64 = 1 << 20;

/// Where a build's packages come from.
enum Source {
    /// The project's pin file, read and checked against the `pip_url`.
    Pylock(Pylock),
    /// Pins this machine resolved the same `pip_url` to before (uv only).
    Remembered { key: Key, pins: Vec<String> },
    /// A resolution of the `pip_url`, remembered under `key` afterwards when there is one.
    Resolve { key: Option<Key> },
}

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
    source: Source,
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
        let pinned = read_pins(root, plugin).map_err(|problem| {
            result(InstallStatus::Failed {
                command: "read the pin file".into(),
                log: log.clone(),
                tail: vec![problem],
            })
        })?;
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
        // The log's folder must really be inside `.eltr/`: a link planted there would have
        // the installer's commands written elsewhere.
        let log_dir = log.parent().unwrap_or(&owner);
        if let Err(e) = confine::create_dir_inside(&owner, log_dir) {
            return Err(result(InstallStatus::Failed {
                command: format!("create {}", log_dir.display()),
                log: log.clone(),
                tail: vec![e.to_string()],
            }));
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
        let mut build = Build {
            root: root.to_path_buf(),
            plugin: plugin.clone(),
            tool: tool.clone(),
            started,
            venv,
            build_dir,
            log,
            lock,
            source: Source::Resolve { key: None },
        };
        let create = build.create_step();
        if !run_logged(&create, &build.log, root) {
            return Err(Box::new(build.failed(shell_words::join(&create))));
        }
        build.source = match pinned {
            Some(lock) => Source::Pylock(lock),
            None => build.remembered_or_resolve(clean),
        };
        Ok(build)
    }

    /// Remembered pins when uv can install them (uv only; not under `--clean`, which
    /// resolves afresh and remembers the new result), else a resolution.
    fn remembered_or_resolve(&self, clean: bool) -> Source {
        let who = self.who();
        let Installer::Uv(_) = self.tool else {
            return Source::Resolve { key: None };
        };
        let pip_url = self.plugin.pip_url.as_deref().unwrap_or("");
        let key = match Key::new(pip_url, &self.build_dir) {
            Ok(key) => key,
            Err(why) => {
                tracing::debug!("{who}: resolves its pip_url (not remembered: {why})");
                return Source::Resolve { key: None };
            }
        };
        if clean {
            tracing::debug!("{who}: resolves its pip_url again (--clean)");
            return Source::Resolve { key: Some(key) };
        }
        match key.recall() {
            Ok(pins) => Source::Remembered { key, pins },
            Err(why) => {
                tracing::debug!("{who}: resolves its pip_url (no remembered pins: {why})");
                Source::Resolve { key: Some(key) }
            }
        }
    }

    fn who(&self) -> String {
        format!(
            "{} {}",
            self.plugin.plugin_type.singular(),
            self.plugin.name
        )
    }

    /// Installs the plugin, writes the fingerprint and puts the venv in place.
    pub fn finish(self) -> InstallResult {
        let installed = match &self.source {
            Source::Pylock(lock) => self.install_pinned(lock),
            Source::Remembered { key, pins } => {
                let offline = self.offline_pins_step(pins);
                if run_logged(&offline, &self.log, &self.root) {
                    Ok(())
                } else {
                    tracing::debug!(
                        "{}: remembered pins are not all in uv's cache (see {}); resolving again",
                        self.who(),
                        self.log.display()
                    );
                    self.resolve(Some(key))
                }
            }
            Source::Resolve { key } => self.resolve(key.as_ref()),
        };
        if let Err(command) = installed {
            return self.failed(command);
        }
        let fingerprinted = std::fs::write(
            self.build_dir.join(FINGERPRINT_FILE),
            fingerprint(&self.root, &self.plugin),
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

    /// Installs the resolution of the `pip_url`, then remembers it under `key` (a failure to
    /// remember only costs the next install its shortcut). The failed command on error.
    fn resolve(&self, key: Option<&Key>) -> Result<(), String> {
        let install = self.install_step();
        if !run_logged(&install, &self.log, &self.root) {
            return Err(shell_words::join(&install));
        }
        if let (Some(key), Installer::Uv(uv)) = (key, &self.tool) {
            let freeze = self.capture(&[uv.display().to_string(), "pip".into(), "freeze".into()]);
            let remembered = freeze.ok_or_else(|| "uv pip freeze failed".to_string());
            if let Err(why) = remembered.and_then(|text| key.remember(&text)) {
                tracing::debug!("{}: resolution not remembered: {why}", self.who());
            }
        }
        Ok(())
    }

    /// Installs exactly the pin file's packages, hashes checked, from uv's cache alone when it
    /// can. pip, which cannot read the format, gets the same pins as a hash-checked
    /// requirements file. So does uv when eltr gives it PyPI's caching headers and every file
    /// of the pins is PyPI's: uv then fetches them as the index's files, which the headers
    /// cover, and not by their URLs, which they do not (two plugins sharing a source
    /// distribution would otherwise both build it, see `uv_config`); should that fail, uv
    /// installs the pin file itself. The failed command on error.
    fn install_pinned(&self, lock: &Pylock) -> Result<(), String> {
        let file = lock.path.display().to_string();
        match &self.tool {
            Installer::Uv(uv_path) => {
                let config = super::uv_config::args(&self.root, uv_path);
                let config: Vec<&str> = config.iter().map(String::as_str).collect();
                let pins = if config.is_empty() || !lock.all_from_pypi() {
                    None
                } else {
                    self.write_pins(lock).ok()
                };
                let uv = uv_path.display().to_string();
                let python = self.python();
                let step = |extra: &[&str], pins: Option<&str>| {
                    let head = [uv.as_str(), "pip", "install", "--python", &python];
                    let input = match pins {
                        Some(reqs) => ["--require-hashes", "--no-deps", "-r", reqs].to_vec(),
                        None => ["-r", file.as_str()].to_vec(),
                    };
                    words(&[&head[..], extra, &input].concat())
                };
                let offline = step(&["--offline"], pins.as_deref());
                if run_logged(&offline, &self.log, &self.root) {
                    return Ok(());
                }
                let online = step(&config, pins.as_deref());
                if run_logged(&online, &self.log, &self.root) {
                    return Ok(());
                }
                if pins.is_none() {
                    return Err(shell_words::join(&online));
                }
                self.note("the pins as a requirements file failed; installing the pin file itself");
                let online = step(&config, None);
                run_logged(&online, &self.log, &self.root)
                    .then_some(())
                    .ok_or_else(|| shell_words::join(&online))
            }
            Installer::Pip => {
                let reqs = self.write_pins(lock).inspect_err(|e| self.note(e))?;
                let python = self.python();
                let step = words(&[
                    &python,
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "--require-hashes",
                    "--no-deps",
                    "-r",
                    &reqs,
                ]);
                run_logged(&step, &self.log, &self.root)
                    .then_some(())
                    .ok_or_else(|| shell_words::join(&step))
            }
        }
    }

    /// Writes the pin file's pins as a hash-checked requirements file into the build folder;
    /// its path, or why the pins cannot be one (a package from a VCS or a folder).
    fn write_pins(&self, lock: &Pylock) -> Result<String, String> {
        let text = lock.requirements()?;
        let reqs = self.build_dir.join("eltr-pins.txt");
        std::fs::write(&reqs, text).map_err(|e| format!("write {}: {e}", reqs.display()))?;
        Ok(reqs.display().to_string())
    }

    /// `uv pip install --offline --no-deps` of remembered pins: from uv's cache or not at all.
    fn offline_pins_step(&self, pins: &[String]) -> Vec<String> {
        let Installer::Uv(uv) = &self.tool else {
            return Vec::new();
        };
        let uv = uv.display().to_string();
        let python = self.python();
        let head = words(&[
            &uv,
            "pip",
            "install",
            "--python",
            &python,
            "--offline",
            "--no-deps",
        ]);
        [head, pins.to_vec()].concat()
    }

    /// The venv's interpreter, in the build folder.
    fn python(&self) -> String {
        self.build_dir
            .join("bin")
            .join("python")
            .display()
            .to_string()
    }

    /// Appends a line to the install log (a reason the log's commands do not show).
    fn note(&self, text: &str) {
        use std::io::Write;
        if let Ok(mut f) = open_log(&self.log) {
            let _ = writeln!(f, "{text}");
        }
    }

    /// The stdout of `step` run against the build's venv (`--python` appended), at most
    /// `FREEZE_CAP` bytes; `None` when it fails.
    fn capture(&self, step: &[String]) -> Option<String> {
        use std::io::Read;
        let mut child = Command::new(&step[0])
            .args(&step[1..])
            .args(["--python", &self.python()])
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut text = String::new();
        child
            .stdout
            .take()?
            .take(FREEZE_CAP)
            .read_to_string(&mut text)
            .ok()?;
        child.wait().ok()?.success().then_some(text)
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
        let python = self.python();
        let head = match &self.tool {
            Installer::Uv(uv) => {
                let config = super::uv_config::args(&self.root, uv);
                let head = words(&[
                    &uv.display().to_string(),
                    "pip",
                    "install",
                    "--python",
                    &python,
                ]);
                [head, config].concat()
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

/// The project's pin file for the plugin's venv, read and checked against its `pip_url`;
/// `None` when the project has none.
fn read_pins(root: &Path, plugin: &ResolvedPlugin) -> Result<Option<Pylock>, String> {
    let path = super::pylock::path(root, plugin);
    if !path.exists() {
        return Ok(None);
    }
    let lock = Pylock::read(&path)?;
    lock.check_against(plugin.pip_url.as_deref().unwrap_or(""))?;
    Ok(Some(lock))
}

/// The install log, for appending; never opened through a link.
fn open_log(log: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(log)
}

/// Runs one installer step with its output appended to `log`.
fn run_logged(step: &[String], log: &Path, cwd: &Path) -> bool {
    use std::io::Write;
    let Ok(mut file) = open_log(log) else {
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
