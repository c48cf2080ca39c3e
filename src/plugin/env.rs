//! The variables a plugin process receives: its settings under every name Meltano exports
//! them with, the project's compatibility variables, and its `env:` blocks.

use crate::project::ResolvedPlugin;
use crate::project::settings::env_stem;
use serde_json::Value;

/// Meltano's verb for a plugin type (`MELTANO_EXTRACT_…`): the plural minus its last three
/// letters, which is how Meltano derives it (so mappers give `MAPP`).
pub fn type_verb(plugin: &ResolvedPlugin) -> String {
    let key = plugin.plugin_type.key();
    match plugin.plugin_type {
        crate::project::model::PluginType::Transforms => "transform".to_ascii_uppercase(),
        _ => key[..key.len() - 3].to_ascii_uppercase(),
    }
}

/// `(variable, value, sensitive)` for every setting with a value: `<NAME>_<SETTING>`,
/// `<NAMESPACE>_<SETTING>` and `MELTANO_<VERB>_<SETTING>`, in Meltano's order.
pub fn setting_vars(plugin: &ResolvedPlugin) -> Vec<(String, String, bool)> {
    let verb = type_verb(plugin);
    let mut out = Vec::new();
    let mut keys: Vec<&String> = plugin.config.keys().collect();
    keys.sort();
    for key in keys {
        let setting = &plugin.config[key];
        if setting.value.is_null() {
            continue;
        }
        let text = env_text(&setting.value);
        let stem = env_stem(key);
        let mut names = vec![
            format!("{}_{stem}", env_stem(&plugin.name)),
            format!("{}_{stem}", env_stem(&plugin.namespace)),
            format!("MELTANO_{verb}_{stem}"),
        ];
        names.dedup();
        for name in names {
            out.push((name, text.clone(), setting.sensitive));
        }
    }
    out
}

/// A setting value as an environment variable's text: strings as they are, everything else
/// as Python's `json.dumps` writes it (Meltano's format, which plugins parse).
pub fn env_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => crate::pyjson::to_string(other),
    }
}
