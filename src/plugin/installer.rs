//! What an install is and how it went: the installer (uv or pip), the per-plugin result and
//! its report line, the options and default width of `eltr install`.

use std::path::PathBuf;
use std::time::Duration;

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

/// The installer eltr uses: uv (a path to it), else `python -m venv` and pip.
#[derive(Debug, Clone)]
pub enum Installer {
    Uv(PathBuf),
    Pip,
}

/// uv when `ELTR_UV` names it or it is on PATH, else pip.
pub fn installer() -> Installer {
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
