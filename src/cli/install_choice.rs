//! Whether a command installs its plugins first: Meltano's `--install` / `--no-install` /
//! `--only-install`, and without either flag its `auto_install` project setting
//! (`MELTANO_AUTO_INSTALL`, or `auto_install:` in the root file; true by default).

use crate::project::{Context, meltano_env};
use crate::vocab::truth;

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
