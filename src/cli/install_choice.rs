//! Whether a command installs its plugins first: Meltano's `--install` / `--no-install` /
//! `--only-install`, and without either flag its `auto_install` project setting
//! (`MELTANO_AUTO_INSTALL`, or `auto_install:` in the root file; true by default).

use crate::project::{Context, meltano_env};
use crate::vocab::truth;
use clap::Args;

/// Installs when `--install` is given, not when `--no-install` is, else as `auto_install`
/// says.
pub fn installs(ctx: &Context, install: bool, no_install: bool) -> anyhow::Result<bool> {
    if install || no_install {
        return Ok(install);
    }
    auto_install(ctx)
}

/// Meltano's `auto_install` project setting.
pub fn auto_install(ctx: &Context) -> anyhow::Result<bool> {
    let env = ctx.project_env()?;
    Ok(meltano_env::project_setting_vars(ctx, &env)
        .into_iter()
        .find(|(name, _)| name == "MELTANO_AUTO_INSTALL")
        .is_none_or(|(_, value)| truth::truthy(&value)))
}

/// Meltano's `--install` / `--no-install` / `--only-install`, for every command that starts a
/// plugin (`el`, `invoke`, `select`, `config test`, `test`; `run` has its own, which also reads
/// `ELTR_RUN_NO_INSTALL`).
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct InstallFlags {
    /// Install missing plugins first, whatever the project's `auto_install` says.
    #[arg(long, conflicts_with_all = ["no_install", "only_install"])]
    pub install: bool,
    /// Do not install missing plugins first.
    #[arg(long, conflicts_with = "only_install")]
    pub no_install: bool,
    /// Install missing plugins, then stop.
    #[arg(long)]
    pub only_install: bool,
}

impl InstallFlags {
    /// Whether to install missing plugins first (always, with `--only-install`).
    pub fn installs(&self, ctx: &Context) -> anyhow::Result<bool> {
        Ok(self.only_install || installs(ctx, self.install, self.no_install)?)
    }
}
