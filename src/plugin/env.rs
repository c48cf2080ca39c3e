//! The variables a plugin process receives: its settings under every name Meltano exports
//! them with, the project's compatibility variables, and its `env:` blocks.

use crate::project::ResolvedPlugin;
pub use crate::project::settings::env_text;
use crate::project::settings::{env_stem, flatten};
use serde_json::Value;

/// `(variable, value, sensitive)` for every setting with a value, in declaration order, as
/// Meltano exports them (`SettingsService.as_env`, `SettingDefinition.env_vars` for writing):
/// the setting's own `env:` name (dbt's `DBT_PROFILES_DIR`), `<PREFIX>_<SETTING>` for each of
/// the plugin's prefixes, `MELTANO_<VERB>_<SETTING>`, then its `env_aliases`.
pub fn setting_vars(plugin: &ResolvedPlugin) -> Vec<(String, String, bool)> {
    let stems = plugin.export_stems();
    let mut out = Vec::new();
    for (key, setting) in &plugin.config {
        if setting.value.is_null() {
            continue;
        }
        let text = env_text(&setting.value);
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
        let mut seen = std::collections::HashSet::new();
        for var in names {
            if seen.insert(var.clone()) {
                out.push((var, text.clone(), setting.sensitive));
            }
        }
        // An object's leaves go out one by one too (`x_nested: {a: 1}` also sets
        // `…_X_NESTED_A`), as Meltano flattens them into settings of their own.
        if let Value::Object(inner) = &setting.value {
            for (path, leaf) in flatten(inner, &[]) {
                if leaf.is_null() {
                    continue;
                }
                let text = env_text(&leaf);
                let name = env_stem(&format!("{key}.{path}"));
                for stem in &stems {
                    out.push((format!("{stem}_{name}"), text.clone(), setting.sensitive));
                }
            }
        }
    }
    out
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
        let extra = env_stem(extra);
        for stem in &stems {
            out.push((format!("{stem}__{extra}"), text.clone()));
        }
    }
    out
}
