//! The variables a plugin process receives: its settings under every name Meltano exports
//! them with, the project's compatibility variables, and its `env:` blocks.

use crate::project::ResolvedPlugin;
use crate::project::settings::env_stem;
pub use crate::project::settings::env_text;
use serde_json::Value;

/// `(variable, value, hidden)` for every setting with a value (`hidden`: a secret whose value is
/// true to Python, what Meltano redacts), in declaration order, as
/// Meltano exports them (`SettingsService.as_env`, `SettingDefinition.env_vars` for writing):
/// the setting's own `env:` name (dbt's `DBT_PROFILES_DIR`), `<PREFIX>_<SETTING>` for each of
/// the plugin's prefixes, `MELTANO_<VERB>_<SETTING>`, then its `env_aliases`.
pub fn setting_vars(plugin: &ResolvedPlugin) -> Vec<(String, String, bool)> {
    setting_vars_with(plugin, &|s| (!s.value.is_null()).then(|| setting_text(s)))
}

/// The same variables as `config print --format env` shows them: with `redact`, a sensitive
/// setting inherited as a `$VAR` shows as the mask even when the variable is unset, as
/// Meltano masks the parent's value before expanding it.
pub fn printed_setting_vars(plugin: &ResolvedPlugin, redact: bool) -> Vec<(String, String, bool)> {
    setting_vars_with(plugin, &|s| match s.value.is_null() {
        false => Some(setting_text(s)),
        true if redact && s.masked_when_printed() => Some(crate::project::REDACTED.to_string()),
        true => None,
    })
}

fn setting_vars_with(
    plugin: &ResolvedPlugin,
    text_of: &dyn Fn(&crate::project::ResolvedSetting) -> Option<String>,
) -> Vec<(String, String, bool)> {
    let stems = plugin.export_stems();
    let mut out = Vec::new();
    for (key, setting) in &plugin.config {
        let Some(text) = text_of(setting) else {
            continue;
        };
        let name = env_stem(key);
        let decl = plugin.settings.iter().find(|s| &s.name == key);
        let custom = decl.and_then(|d| d.env.clone());
        let aliases = decl
            .and_then(|d| d.other.get("env_aliases"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            // `!VAR` aliases are read negated and never written.
            .filter(|a| !a.starts_with('!'))
            .map(String::from);
        let mut names: Vec<String> = custom.into_iter().collect();
        names.extend(stems.iter().map(|stem| format!("{stem}_{name}")));
        names.extend(aliases);
        // Meltano hides a secret only when its value is true to Python (`if value:`).
        let hidden = setting.sensitive && crate::vocab::truth::python_truthy(&setting.value);
        let mut seen = std::collections::HashSet::new();
        for var in names {
            if seen.insert(var.clone()) {
                out.push((var, text.clone(), hidden));
            }
        }
    }
    out
}

/// A setting's value as its variable's text (Meltano's `SettingDefinition.stringify_value`):
/// text as it is; a declared setting without a kind, or of kind `string` or `decimal`, as
/// Python's `str` writes it (`False`, `{'k': 'v'}`); everything else as JSON. An undeclared
/// key takes its kind from its value, so it is always JSON.
pub fn setting_text(setting: &crate::project::ResolvedSetting) -> String {
    let pythonic =
        setting.declared && matches!(setting.kind.as_deref(), None | Some("string" | "decimal"));
    match pythonic {
        true => crate::vocab::pyjson::python_str(&setting.value),
        false => env_text(&setting.value),
    }
}

/// `(variable, value)` for every extra with a value, Meltano's defaults included:
/// `<PREFIX>__<EXTRA>` for each prefix and `MELTANO_<VERB>__<EXTRA>`. Loaders read the
/// extractor's ones (`MELTANO_EXTRACT__LOAD_SCHEMA` names target-postgres's schema).
pub fn extra_vars(plugin: &ResolvedPlugin) -> Vec<(String, String)> {
    let stems = plugin.export_stems();
    let mut out = Vec::new();
    for (extra, value) in plugin.extras_with_defaults() {
        if value.is_null() {
            continue;
        }
        let text = env_text(&value);
        let extra = env_stem(&extra);
        for stem in &stems {
            out.push((format!("{stem}__{extra}"), text.clone()));
        }
    }
    out
}
