//! `eltr invoke PLUGIN[:COMMAND] [ARGS…]`: one plugin (or one of its `commands:`) with its
//! config and environment, stdio passed through, exit code passed back. As in Meltano, every
//! word after the plugin's name is the plugin's: `eltr invoke tap-x --help` asks the tap.

use super::Call;
use crate::pipeline::RunError;
use crate::pipeline::command::{CommandSpec, Invocation, invocation_supervisor, ready};
use crate::pipeline::container::has_spec;
use crate::plugin::{PluginError, PrepareOptions};
use crate::project::model::PluginType;
use crate::vocab::ident::RunId;
use clap::Args;
use serde_json::Value;
use std::ffi::OsString;
use std::process::ExitCode;

/// Flags of `eltr invoke` (Meltano 4.4's). They go before the plugin's name.
#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// Print `NAME=value` of a variable of the plugin's environment first; repeatable.
    #[arg(long, value_name = "NAME")]
    pub print_var: Vec<String>,
    /// Look the plugin up among plugins of this type only.
    #[arg(long, value_name = "TYPE")]
    pub plugin_type: Option<String>,
    /// Print the plugin's config file or (extractors) its catalog instead of running it.
    #[arg(long, value_enum, value_name = "FILE")]
    pub dump: Option<InvokeDump>,
    /// Discover the extractor's catalog again instead of using the cached one.
    #[arg(long)]
    pub refresh_catalog: bool,
    /// List the plugin's commands and stop.
    #[arg(long)]
    pub list_commands: bool,
    #[command(flatten)]
    pub installing: super::install_choice::InstallFlags,
    /// Run `PLUGIN:COMMAND` in a container when the command has a `container_spec` (with
    /// `docker`, else `podman`).
    #[arg(long)]
    pub containers: bool,
    /// `--dump`: show sensitive values instead of masking them.
    #[arg(long = "unsafe")]
    pub show_secrets: bool,
    /// `PLUGIN` or `PLUGIN:COMMAND`, then the arguments passed to it, all of them (`--help`
    /// included).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PLUGIN[:COMMAND] [ARGS]"
    )]
    pub words: Vec<OsString>,
}

/// What `invoke --dump` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InvokeDump {
    Catalog,
    Config,
}

/// Runs the plugin.
pub fn run(call: &Call<'_>, args: InvokeArgs) -> anyhow::Result<ExitCode> {
    let mut words = args.words.into_iter();
    let first = words.next().unwrap_or_default();
    let first = first
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("the plugin name is not valid UTF-8"))?;
    // `plugin:command`; a name with more colons is taken whole, as Meltano does.
    let (name, command) = match first.split(':').collect::<Vec<_>>().as_slice() {
        [plugin, command] => (plugin.to_string(), Some(command.to_string())),
        _ => (first.to_string(), None),
    };
    let plugin_args: Vec<OsString> = words.collect();
    let ctx = call.open()?;
    let plugin_type = match &args.plugin_type {
        Some(t) => {
            Some(PluginType::parse(t).ok_or_else(|| anyhow::anyhow!("unknown plugin type '{t}'"))?)
        }
        None => None,
    };
    let plugin = ctx.plugin(plugin_type, &name)?;
    if args.list_commands {
        call.print_masked(&list_commands(&plugin))?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.installing.only_install {
        crate::pipeline::ensure_installed(&ctx, &[&plugin])?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.dump == Some(InvokeDump::Config) {
        return dump_config(call, &plugin, args.show_secrets);
    }
    let how = Invocation {
        run_id: RunId::new(),
        install_missing: args.installing.installs(&ctx)?,
        supervisor: invocation_supervisor(crate::pipeline::signals::grace()),
        refresh_catalog: args.refresh_catalog,
    };
    if let Some(c) = command
        .as_deref()
        .filter(|c| args.containers && has_spec(&plugin, c))
    {
        let status = crate::pipeline::container::run(&ctx, plugin, c, &how)?;
        return Ok(exit_code(status));
    }
    let extractor = plugin.plugin_type == PluginType::Extractors;
    let wanted = (!args.print_var.is_empty()).then(|| plugin.clone());
    let ready = match ready(&ctx, plugin, command.as_deref(), plugin_args, &how) {
        Ok(ready) => ready,
        // Meltano prints the variables before it looks for the executable (an extractor's
        // discovery needs it first): a plugin not installed yet still shows them.
        Err(e @ RunError::Plugin(PluginError::NotFound { .. })) => {
            if let Some(plugin) = wanted.filter(|_| !extractor) {
                let opts = PrepareOptions {
                    run_id: how.run_id,
                    ..PrepareOptions::default()
                };
                let env = crate::plugin::prepare::process_env(&ctx, &plugin, &opts);
                print_vars(call, &args.print_var, &env)?;
            }
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    print_vars(call, &args.print_var, ready.env())?;
    if args.dump == Some(InvokeDump::Catalog) {
        let catalog = ready
            .args
            .iter()
            .skip_while(|a| *a != "--catalog" && *a != "--properties")
            .nth(1)
            .filter(|_| extractor)
            .ok_or_else(|| anyhow::anyhow!("could not find catalog"))?;
        let text = std::fs::read_to_string(catalog)?;
        let value: Value = serde_json::from_str(&text)?;
        let pretty = serde_json::to_string_pretty(&value)?;
        return print_dump(call, &pretty, args.show_secrets);
    }
    Ok(exit_code(ready.run(&how.supervisor)?))
}

/// `--print-var NAME`: `NAME=value` as the plugin sees it, `None` when it is not set.
fn print_vars(call: &Call<'_>, names: &[String], env: &[(String, String)]) -> anyhow::Result<()> {
    for var in names {
        let value = env.iter().rev().find(|(k, _)| k == var);
        let value = value.map_or("None", |(_, v)| v.as_str());
        call.print_line(&format!("{var}={value}"))?;
    }
    Ok(())
}

/// The plugin's exit code as eltr's (a signal: 1).
fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    match status.code() {
        Some(c) => ExitCode::from(c.clamp(0, 255) as u8),
        None => ExitCode::FAILURE,
    }
}

/// `--dump=config`: the config file a Singer plugin is given (others have none: Meltano
/// says it cannot find it).
fn dump_config(
    call: &Call<'_>,
    plugin: &crate::project::ResolvedPlugin,
    show_secrets: bool,
) -> anyhow::Result<ExitCode> {
    let singer = matches!(
        plugin.plugin_type,
        PluginType::Extractors | PluginType::Loaders | PluginType::Mappers
    );
    if !singer {
        anyhow::bail!("could not find config");
    }
    let text = serde_json::to_string_pretty(&Value::Object(plugin.config_object()))?;
    print_dump(call, &text, show_secrets)
}

fn print_dump(call: &Call<'_>, text: &str, show_secrets: bool) -> anyhow::Result<ExitCode> {
    match show_secrets {
        true => call.print_raw(&format!("{text}\n"))?,
        false => call.print_line(text)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `--list-commands`, as Meltano prints it: `plugin:command` padded to the longest name plus
/// two, then the description.
fn list_commands(plugin: &crate::project::ResolvedPlugin) -> String {
    if plugin.commands.is_empty() {
        return format!("Plugin '{}' does not define any commands.\n", plugin.name);
    }
    let rows: Vec<(String, String)> = plugin
        .commands
        .iter()
        .map(|(name, spec)| {
            let desc = CommandSpec::parse(spec)
                .and_then(|s| s.description)
                .unwrap_or_default();
            (format!("{}:{name}", plugin.name), desc)
        })
        .collect();
    let width = rows
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    rows.iter()
        .map(|(n, d)| format!("{n:<width$}{d}\n"))
        .collect()
}
