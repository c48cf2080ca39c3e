//! `eltr hub list [PATTERN]` and `eltr hub ping`: what Meltano Hub (or the project's own Hub,
//! `hub_url` / `hub_api_root`) offers, as Meltano 4.4's `hub` commands print it. Each plugin
//! type's index is fetched; a plugin's default variant is listed first, the others (with
//! `--all`) in name order. eltr keeps no index cache, so every listing is fresh and
//! `--refresh` changes nothing.

use super::Call;
use super::output::Format;
use crate::project::hub::{Hub, HubConfig};
use crate::project::model::PluginType;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::process::ExitCode;

/// Flags of `eltr hub`.
#[derive(Debug, Args)]
pub struct HubArgs {
    #[command(subcommand)]
    pub action: HubAction,
}

/// What to ask the Hub.
#[derive(Debug, Subcommand)]
pub enum HubAction {
    /// List the plugins the Hub offers, or those whose name or variant contains PATTERN.
    List {
        pattern: Option<String>,
        #[arg(long, value_name = "TYPE")]
        plugin_type: Option<String>,
        /// Every variant of each plugin, not only the default one.
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Accepted for Meltano compatibility: eltr always fetches a fresh index.
        #[arg(long)]
        refresh: bool,
    },
    /// Check that the Hub answers.
    Ping,
}

/// One variant of one plugin.
struct Offer {
    plugin_type: &'static str,
    name: String,
    variant: String,
    default: bool,
}

/// Runs `eltr hub`.
pub fn run(call: &Call<'_>, args: HubArgs) -> anyhow::Result<ExitCode> {
    let ctx = call.open()?;
    let config = HubConfig::of_project(&ctx);
    let api = config.api.clone();
    let hub = Hub::new(config)?;
    match args.action {
        HubAction::Ping => {
            hub.index(PluginType::Orchestrators)
                .map_err(|e| anyhow::anyhow!("Failed to connect to the Hub at '{api}': {e}"))?;
            call.print_line(&format!("Successfully connected to the Hub at '{api}'"))?;
        }
        HubAction::List {
            pattern,
            plugin_type,
            all,
            format,
            refresh: _,
        } => {
            let only = match plugin_type.as_deref() {
                Some(t) => Some(
                    PluginType::parse(t)
                        .ok_or_else(|| anyhow::anyhow!("unknown plugin type '{t}'"))?,
                ),
                None => None,
            };
            list(call, &hub, only, pattern.as_deref(), all, format)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `hub list`: fetches, filters, says how many, prints.
fn list(
    call: &Call<'_>,
    hub: &Hub,
    only: Option<PluginType>,
    pattern: Option<&str>,
    all: bool,
    format: Format,
) -> anyhow::Result<()> {
    let types: Vec<PluginType> =
        only.map_or_else(|| PluginType::MELTANO_ORDER.to_vec(), |t| vec![t]);
    let mut offers = Vec::new();
    for plugin_type in types {
        offers.extend(offers_of(hub, plugin_type)?);
    }
    if let Some(p) = pattern {
        let needle = p.to_lowercase();
        offers.retain(|o| {
            o.name.to_lowercase().contains(&needle) || o.variant.to_lowercase().contains(&needle)
        });
    }
    let before = offers.len();
    if !all {
        offers.retain(|o| o.default);
    }
    let summary = summary(only, pattern, all, offers.len(), before - offers.len());
    match offers.is_empty() {
        true => tracing::warn!("{summary}"),
        false => tracing::info!("{summary}"),
    }
    match format {
        Format::Json => {
            let rows: Vec<Value> = offers
                .iter()
                .map(|o| json!({"type": o.plugin_type, "name": o.name, "variant": o.variant, "default": o.default}))
                .collect();
            call.print_line(&crate::vocab::pyjson::ascii_only(
                &serde_json::to_string_pretty(&rows)?,
            ))?;
        }
        Format::Text if !offers.is_empty() => call.print_line(&table(&offers))?,
        Format::Text => {}
    }
    Ok(())
}

/// Every variant of every plugin of one type, plugins by name, each default variant first.
fn offers_of(hub: &Hub, plugin_type: PluginType) -> anyhow::Result<Vec<Offer>> {
    let index = hub.index(plugin_type)?;
    let mut names: Vec<&String> = index.keys().collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let entry = &index[name];
        let default = entry["default_variant"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut others: Vec<String> = entry["variants"]
            .as_object()
            .map(|v| v.keys().filter(|k| **k != default).cloned().collect())
            .unwrap_or_default();
        others.sort();
        for variant in std::iter::once(default.clone()).chain(others) {
            out.push(Offer {
                plugin_type: plugin_type.descriptor(),
                name: name.clone(),
                default: variant == default,
                variant,
            });
        }
    }
    Ok(out)
}

/// Meltano's count line: `12 plugins`, `3 extractor variants match 'git' (2 variants
/// hidden, show with '--all')`.
fn summary(
    only: Option<PluginType>,
    pattern: Option<&str>,
    all: bool,
    shown: usize,
    hidden: usize,
) -> String {
    let mut noun = only.map_or("plugin".to_string(), |t| t.singular().to_string());
    if all {
        noun.push_str(" variant");
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut out = format!("{shown} {noun}{}", plural(shown));
    if let Some(p) = pattern {
        let verb = if shown == 1 { "matches" } else { "match" };
        out.push_str(&format!(
            " {verb} {}",
            crate::vocab::pyjson::python_repr(&Value::String(p.to_string()))
        ));
        if hidden > 0 {
            out.push_str(&format!(
                " ({hidden} variant{} hidden, show with '--all')",
                plural(hidden)
            ));
        }
    }
    out
}

/// Meltano's table (rich's SIMPLE_HEAD box, no colour): a plugin with several variants is
/// named once, its default marked `(default)` when others are shown.
fn table(offers: &[Offer]) -> String {
    let mut counts = std::collections::HashMap::new();
    for o in offers {
        *counts.entry((o.plugin_type, o.name.as_str())).or_insert(0) += 1;
    }
    let mut rows: Vec<[String; 3]> = Vec::new();
    let mut previous: Option<(&str, &str)> = None;
    for o in offers {
        let key = (o.plugin_type, o.name.as_str());
        let repeated = previous == Some(key);
        previous = Some(key);
        let marked = o.default && counts[&key] > 1;
        rows.push([
            if repeated {
                String::new()
            } else {
                o.plugin_type.to_string()
            },
            if repeated {
                String::new()
            } else {
                o.name.clone()
            },
            if marked {
                format!("{} (default)", o.variant)
            } else {
                o.variant.clone()
            },
        ]);
    }
    super::output::simple_table(&["TYPE", "NAME", "VARIANT"], &rows, &[])
}
