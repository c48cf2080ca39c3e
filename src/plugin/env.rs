//! The variables a plugin process receives: its settings under every name Meltano exports
//! them with, the project's compatibility variables, and its `env:` blocks.

use crate::project::ResolvedPlugin;
pub use crate::project::settings::env_text;
use crate::project::settings::{env_stem, flatten};
use serde_json::Value;

/// `(variable, value, sensitive)` for every setting with a value: `<PREFIX>_<SETTING>` for
/// each of the plugin's prefixes, then `MELTANO_<VERB>_<SETTING>`, in Meltano's order.
pub fn setting_vars(plugin: &ResolvedPlugin) -> Vec<(String, String, bool)> {
    let stems = plugin.export_stems();
    let mut out = Vec::new();
    let mut keys: Vec<&String> = plugin.config.keys().collect();
    keys.sort();
    for key in keys {
        let setting = &plugin.config[key];
        if setting.value.is_null() {
            continue;
        }
        let text = env_text(&setting.value);
        let name = env_stem(key);
        for stem in &stems {
            out.push((format!("{stem}_{name}"), text.clone(), setting.sensitive));
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
