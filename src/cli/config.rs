//! `eltr config print PLUGIN` / `eltr config list PLUGIN` (also `eltr config PLUGIN print`, the
//! older Meltano word order): a plugin's resolved settings, secrets masked.

use super::GlobalArgs;
use super::output::print_json;
use crate::project::model::PluginType;
use crate::project::{REDACTED, ResolvedPlugin, SettingSource};
use anyhow::bail;
use clap::{Args, ValueEnum};
use serde_json::{Map, Value, json};
use std::process::ExitCode;

/// Flags of `eltr config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// `print` or `list` followed by the plugin name (or the plugin name, then the action).
    #[arg(num_args = 1..=2, value_name = "ACTION|PLUGIN")]
    pub words: Vec<String>,
    /// Limit the lookup to one plugin type when two types share a name.
    #[arg(long, value_name = "TYPE")]
    pub plugin_type: Option<String>,
    /// Print extras (`_select`, `_metadata`…) instead of settings.
    #[arg(long)]
    pub extras: bool,
    /// Show sensitive values.
    #[arg(long = "unsafe")]
    pub show_secrets: bool,
    /// `list`: also show settings that only have their default value.
    #[arg(long)]
    pub all: bool,
    /// Output shape.
    #[arg(long, value_enum, default_value_t)]
    pub format: ConfigFormat,
}

/// Output shapes of `eltr config`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ConfigFormat {
    #[default]
    Json,
    Env,
    Text,
}

/// Runs `eltr config`.
pub fn run(global: &GlobalArgs, args: ConfigArgs) -> anyhow::Result<ExitCode> {
    let (action, name) = match args.words.as_slice() {
        [a, p] if a == "print" || a == "list" => (a.as_str(), p.as_str()),
        [p, a] if a == "print" || a == "list" => (a.as_str(), p.as_str()),
        [p] if p != "print" && p != "list" => ("print", p.as_str()),
        _ => bail!("usage: eltr config print PLUGIN | eltr config list PLUGIN"),
    };
    let plugin_type = match &args.plugin_type {
        Some(t) => {
            Some(PluginType::parse(t).ok_or_else(|| anyhow::anyhow!("unknown plugin type '{t}'"))?)
        }
        None => None,
    };
    let ctx = global.open()?;
    let plugin = ctx.plugin(plugin_type, name)?;
    match action {
        "list" => print!("{}", render_list(&plugin, args.all, args.show_secrets)),
        _ if args.extras => print_json(&extras_json(&plugin))?,
        _ if args.format == ConfigFormat::Env => {
            print!("{}", render_env(&plugin, args.show_secrets))
        }
        _ => {
            let config = if args.show_secrets {
                plugin.config_object()
            } else {
                plugin.redacted_config_object()
            };
            print_json(&Value::Object(config))?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Extras as Meltano prints them with `--extras`: `_`-prefixed, every known extra present.
fn extras_json(p: &ResolvedPlugin) -> Value {
    let x = &p.extras;
    let mut o = Map::new();
    match p.plugin_type {
        PluginType::Extractors => {
            o.insert("_catalog".into(), json!(x.catalog));
            o.insert("_state".into(), json!(x.state));
            o.insert(
                "_select".into(),
                json!(x.select.clone().unwrap_or_default()),
            );
            o.insert("_metadata".into(), x.metadata.clone().unwrap_or(json!({})));
            o.insert("_schema".into(), x.schema.clone().unwrap_or(json!({})));
            o.insert(
                "_select_filter".into(),
                json!(x.select_filter.clone().unwrap_or_default()),
            );
            o.insert(
                "_use_cached_catalog".into(),
                json!(x.use_cached_catalog.unwrap_or(true)),
            );
        }
        PluginType::Mappers => {
            o.insert(
                "_mappings".into(),
                json!(x.mappings.clone().unwrap_or_default()),
            );
        }
        _ => {}
    }
    Value::Object(o)
}

/// `NAME='value'` lines for every variable that carries a setting to the plugin.
fn render_env(p: &ResolvedPlugin, show_secrets: bool) -> String {
    let mut out = String::new();
    for (var, value, sensitive) in crate::plugin::env::setting_vars(p) {
        let text = if sensitive && !show_secrets {
            REDACTED.to_string()
        } else {
            value
        };
        out.push_str(&format!("{var}='{text}'\n"));
    }
    out
}

/// The `config list` text: each setting with its value, the layer it came from and the
/// variable that overrides it.
fn render_list(p: &ResolvedPlugin, all: bool, show_secrets: bool) -> String {
    let mut configured = Vec::new();
    let mut defaults = Vec::new();
    let mut custom = Vec::new();
    for s in &p.settings {
        let line = match p.config.get(&s.name) {
            Some(r) => setting_line(p, &s.name, Some(r), s.value.as_ref(), show_secrets),
            None => setting_line(p, &s.name, None, None, show_secrets),
        };
        match p.config.get(&s.name) {
            Some(r) if r.source != SettingSource::Default => configured.push(line),
            _ => defaults.push(line),
        }
    }
    for (name, r) in p.config.iter().filter(|(_, r)| !r.declared) {
        custom.push(setting_line(p, name, Some(r), None, show_secrets));
    }
    let mut out = String::new();
    if !configured.is_empty() {
        out.push_str("Configured:\n");
        configured.iter().for_each(|l| out.push_str(l));
        out.push('\n');
    }
    if all && !defaults.is_empty() {
        out.push_str("Optional:\n");
        defaults.iter().for_each(|l| out.push_str(l));
        out.push('\n');
    }
    if !custom.is_empty() {
        out.push_str("Custom, possibly unsupported by the plugin:\n");
        custom.iter().for_each(|l| out.push_str(l));
        out.push('\n');
    }
    if !all && !defaults.is_empty() {
        out.push_str(&format!(
            "Optional settings with default values: {} hidden. Use --all to show all.\n",
            defaults.len()
        ));
    }
    out
}

fn setting_line(
    p: &ResolvedPlugin,
    name: &str,
    resolved: Option<&crate::project::ResolvedSetting>,
    default: Option<&Value>,
    show_secrets: bool,
) -> String {
    let env_var = resolved
        .map(|r| r.env_var.clone())
        .unwrap_or_else(|| crate::project::settings::setting_env_var(&p.name, name));
    let mut line = format!("{name} [env: {env_var}]");
    if let Some(d) = default.filter(|d| !d.is_null()) {
        line.push_str(&format!(" (default: {})", py_repr(d)));
    }
    let Some(r) = resolved else {
        line.push_str(" current value: None (default)\n");
        return line;
    };
    let value = if r.sensitive && !show_secrets && !r.value.is_null() {
        "(redacted)".to_string()
    } else {
        py_repr(&r.value)
    };
    let origin = match r.source {
        SettingSource::Env => format!("from the {} variable in the environment", r.env_var),
        SettingSource::Dotenv => format!("from the {} variable in `.env`", r.env_var),
        SettingSource::Environment => "from the active environment".to_string(),
        SettingSource::Project => format!("from `{}`", relative(p)),
        SettingSource::Inherited => {
            format!(
                "inherited from '{}'",
                p.inherit_from.as_deref().unwrap_or("?")
            )
        }
        SettingSource::Default => "default".to_string(),
    };
    let raw = match (&r.raw, r.sensitive && !show_secrets) {
        (Some(raw), false) => format!(": {}", py_repr(raw)),
        _ => String::new(),
    };
    line.push_str(&format!(" current value: {value} ({origin}{raw})\n"));
    line
}

fn relative(p: &ResolvedPlugin) -> String {
    p.source
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Python's repr of a JSON value, as Meltano prints setting values.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(py_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("'{k}': {}", py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
