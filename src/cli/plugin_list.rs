//! `eltr plugin list [--format text|json]`: the project's plugins as Meltano 4.4 lists them,
//! in its type order: type, name, variant, parent, whether the project file carries the
//! plugin's own definition (`custom`: a `namespace` and no `inherit_from`), and the pip_url in
//! JSON, as written (Meltano shows it with its `$VAR`s unexpanded). Mappings are their mapper's configuration, not plugins, so they are not listed.
//! `update` is always false: Meltano only checks for updates when logged in to Meltano Cloud,
//! which no longer exists.

use super::Call;
use super::output::Format;
use crate::project::model::PluginType;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::process::ExitCode;

/// Flags of `eltr plugin`.
#[derive(Debug, Args)]
pub struct PluginArgs {
    #[command(subcommand)]
    pub action: PluginAction,
}

/// What to do with the project's plugins.
#[derive(Debug, Subcommand)]
pub enum PluginAction {
    /// List the plugins of the project.
    List {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// One plugin as listed.
struct Listing {
    plugin_type: &'static str,
    name: String,
    variant: String,
    inherit_from: Option<String>,
    custom: bool,
    pip_url: Option<String>,
}

/// Runs `eltr plugin list`.
pub fn run(call: &Call<'_>, args: PluginArgs) -> anyhow::Result<ExitCode> {
    let PluginAction::List { format } = args.action;
    let ctx = call.open()?;
    let mut listings = Vec::new();
    for plugin_type in PluginType::MELTANO_ORDER {
        for ((t, name), def) in &ctx.project.plugins {
            if *t != plugin_type {
                continue;
            }
            let resolved = ctx.plugin(Some(plugin_type), name)?;
            let inherit_from = def.item.inherit_from.clone().filter(|p| p != name);
            listings.push(Listing {
                plugin_type: plugin_type.descriptor(),
                name: name.clone(),
                variant: resolved.variant.clone().unwrap_or_else(|| "default".into()),
                custom: inherit_from.is_none() && def.item.namespace.is_some(),
                inherit_from,
                pip_url: resolved.pip_url_as_written.clone(),
            });
        }
    }
    match format {
        Format::Json => {
            let rows: Vec<Value> = listings.iter().map(listing_json).collect();
            call.print_line(&crate::vocab::pyjson::ascii_only(
                &serde_json::to_string_pretty(&rows)?,
            ))?;
        }
        Format::Text if listings.is_empty() => {
            call.print_line("No plugins are defined in this project.")?;
            call.print_line("Add one with 'eltr add'.")?;
        }
        Format::Text => call.print_line(&table(&listings))?,
    }
    Ok(ExitCode::SUCCESS)
}

fn listing_json(l: &Listing) -> Value {
    json!({
        "type": l.plugin_type,
        "name": l.name,
        "variant": l.variant,
        "inherit_from": l.inherit_from,
        "custom": l.custom,
        "update": false,
        "pip_url": l.pip_url,
    })
}

/// Meltano's table: an inheriting plugin shows `(inherited)` for its variant, a custom one
/// a centred check mark.
fn table(listings: &[Listing]) -> String {
    let rows: Vec<[String; 5]> = listings
        .iter()
        .map(|l| {
            [
                l.plugin_type.to_string(),
                l.name.clone(),
                match &l.inherit_from {
                    Some(_) => "(inherited)".to_string(),
                    None => l.variant.clone(),
                },
                l.inherit_from.clone().unwrap_or_default(),
                if l.custom { "\u{2713}" } else { "" }.to_string(),
            ]
        })
        .collect();
    let header = ["TYPE", "NAME", "VARIANT", "INHERIT FROM", "CUSTOM"];
    super::output::simple_table(&header, &rows, &[4])
}
