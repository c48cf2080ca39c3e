//! What an install is and how it went: the installer (uv or pip), the per-plugin result and
//! its report line, the options and default width of `eltr install`.

use crate::project::Context;
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
    find_uv().map(Installer::Uv).unwrap_or(Installer::Pip)
}

fn find_uv() -> Option<PathBuf> {
    if let Some(uv) = std::env::var_os("ELTR_UV").filter(|s| !s.is_empty()) {
        return Some(PathBuf::from(uv));
    }
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("uv"))
        .find(|p| p.is_file())
}

/// The installer the project asks for with Meltano's `venv.backend` setting (variable
/// `MELTANO_VENV_BACKEND` or `ELTR_VENV_BACKEND` from the process, `.env` or the root `env:`
/// block, else `venv: {backend: …}` in the root file): `virtualenv` is a venv made by Python
/// and pip, `uv` is uv and an error when no uv is found. Unset, eltr takes uv when it finds
/// one (Meltano's default is `uv`, which its own install always ships) and pip otherwise.
pub fn installer_for(ctx: &Context) -> Result<Installer, String> {
    let Some((value, origin)) = backend_setting(ctx)? else {
        return Ok(installer());
    };
    match value.as_str() {
        "virtualenv" => Ok(Installer::Pip),
        "uv" => find_uv().map(Installer::Uv).ok_or_else(|| {
            format!(
                "{origin} asks for uv, but no uv was found (ELTR_UV, then PATH): install uv, or set venv.backend to virtualenv to install with pip"
            )
        }),
        other => Err(format!(
            "{origin}: unknown venv backend '{other}'{} (expected uv or virtualenv)",
            crate::project::error::did_you_mean(other, ["uv", "virtualenv"])
        )),
    }
}

/// The `venv.backend` value and where it was set, if anywhere.
fn backend_setting(ctx: &Context) -> Result<Option<(String, String)>, String> {
    let env = ctx.project_env().map_err(|e| e.to_string())?;
    for var in ["ELTR_VENV_BACKEND", "MELTANO_VENV_BACKEND"] {
        if let Some(e) = env.get(var).filter(|e| !e.value.is_empty()) {
            return Ok(Some((e.value.trim().to_string(), var.to_string())));
        }
    }
    let project = &ctx.project;
    let nested = project.venv.as_ref().and_then(|v| v.get("backend"));
    let Some(value) = nested.or_else(|| project.settings.get("venv.backend")) else {
        return Ok(None);
    };
    let file = &project.root_file;
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let place = match crate::project::position::locate_key(&text, "backend")
        .or_else(|| crate::project::position::locate_key(&text, "venv.backend"))
    {
        Some((line, col)) => format!("{}:{line}:{col}", file.display()),
        None => file.display().to_string(),
    };
    let value = match value {
        serde_json::Value::String(s) => s.trim().to_string(),
        other => other.to_string(),
    };
    Ok(Some((value, format!("venv.backend in {place}"))))
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
