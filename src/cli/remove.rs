//! `eltr remove NAME… [--plugin-type T]`: Meltano 4.4's `remove`: the plugin's definition
//! from the file that holds it, its lockfiles, and its eltr virtualenv.

use super::Call;
use crate::project::edit::add;
use crate::project::edit::ops::Editor;
use crate::project::model::PluginType;
use anyhow::{anyhow, bail};
use clap::Args;
use std::process::ExitCode;

/// Flags of `eltr remove`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Plugin names (type from the name as for `add`, or --plugin-type). `eltr remove
    /// extractor tap-x` also works.
    #[arg(required = true, num_args = 1..)]
    pub plugins: Vec<String>,
    #[arg(long, value_name = "TYPE")]
    pub plugin_type: Option<String>,
}

/// Runs `eltr remove`.
pub fn run(call: &Call<'_>, args: RemoveArgs) -> anyhow::Result<ExitCode> {
    let mut names = args.plugins.clone();
    let mut plugin_type = match &args.plugin_type {
        Some(t) => Some(PluginType::parse(t).ok_or_else(|| anyhow!("unknown plugin type '{t}'"))?),
        None => None,
    };
    if names.len() >= 2 && plugin_type.is_none() {
        if let Some(t) = PluginType::parse(&names[0]) {
            plugin_type = Some(t);
            names.remove(0);
        }
    }
    let ctx = call.open()?;
    let project = &ctx.project;
    let mut editor = Editor::new(project);
    let mut removed = Vec::new();
    for name in &names {
        // Without --plugin-type, a plugin of the project with that name is meant, whatever
        // its type; else Meltano's rule from the name.
        let ptype = plugin_type
            .or_else(|| {
                project
                    .plugins
                    .keys()
                    .find(|(_, n)| n == name)
                    .map(|(t, _)| *t)
            })
            .unwrap_or_else(|| add::infer_type(name));
        if !project.plugins.contains_key(&(ptype, name.clone())) {
            bail!("{ptype} '{name}' is not in the project; nothing was removed");
        }
        // Its own virtualenv (not a parent's it shares) goes with it.
        let owns_venv = ctx
            .plugin(Some(ptype), name)
            .map(|p| p.venv_owner.as_str() == name.as_str())
            .unwrap_or(true);
        editor.remove_plugin(ptype, name)?;
        for lock in add::lockfiles_of(&project.root, ptype, name) {
            editor.changeset().put(&lock, None, 0o644);
        }
        removed.push((ptype, name.clone(), owns_venv));
    }
    editor.commit()?;
    for (ptype, name, owns_venv) in removed {
        let venv = crate::project::eltr_dir(&project.root)
            .join(ptype.key())
            .join(&name);
        if owns_venv && venv.exists() {
            crate::vocab::confine::remove_tree(&crate::project::eltr_dir(&project.root), &venv)?;
        }
        call.say(&format!("Removed {ptype} '{name}' from your project"));
    }
    Ok(ExitCode::SUCCESS)
}
