//! A plugin's extras seen as settings, as Meltano lists them (`config list --extras`, and the
//! "Custom extras" of `config list`): each `_`-prefixed name with its value, where the value
//! came from, the variables that set it, its declared default and whether it is custom (a key
//! the project writes that neither the plugin's class nor its lockfile knows). Values come
//! from `ResolvedPlugin::extras_with_defaults`; this module only describes them.

use super::model::PluginType;
use super::resolved::{ResolvedPlugin, SettingSource};
use super::settings::env_stem;
use serde_json::{Value, json};

/// One extra as `config list` shows it.
#[derive(Debug, Clone)]
pub struct ExtraSetting {
    /// With its leading underscore (`_select`, `_metadata.orders.replication-key`).
    pub name: String,
    pub value: Value,
    pub source: SettingSource,
    /// The variable that set it, for the `Env` and `Dotenv` sources.
    pub env_var: Option<String>,
    /// The value as written, when expansion changed it.
    pub raw: Option<Value>,
    /// The declared default (the class's, or the lockfile's value).
    pub default: Option<Value>,
    /// The variables that override it, as Meltano names them.
    pub env_names: Vec<String>,
    pub custom: bool,
}

/// An extra Meltano's plugin class declares (`EXTRA_SETTINGS`).
struct ClassExtra {
    name: &'static str,
    aliases: &'static [&'static str],
    default: Value,
}

const fn class_extra(
    name: &'static str,
    aliases: &'static [&'static str],
    default: Value,
) -> ClassExtra {
    ClassExtra {
        name,
        aliases,
        default,
    }
}

/// The extras the plugin's Meltano class declares, with their aliases and defaults.
fn class_extras(p: &ResolvedPlugin) -> Vec<ClassExtra> {
    let text = |s: &str| Value::String(s.to_string());
    let singer = matches!(
        p.plugin_type,
        PluginType::Extractors | PluginType::Loaders | PluginType::Mappers
    );
    let mut out = Vec::new();
    if singer {
        out.push(class_extra("log_parser", &[], text("singer-sdk")));
    }
    match p.plugin_type {
        PluginType::Extractors => out.extend([
            class_extra("catalog", &[], Value::Null),
            class_extra("state", &[], Value::Null),
            class_extra("load_schema", &[], text("$MELTANO_EXTRACTOR_NAMESPACE")),
            class_extra("select", &[], json!(["*.*"])),
            class_extra("metadata", &["metadata"], json!({})),
            class_extra("schema", &[], json!({})),
            class_extra("select_filter", &[], json!([])),
            class_extra("use_cached_catalog", &[], Value::Bool(true)),
        ]),
        PluginType::Loaders => out.push(class_extra(
            "dialect",
            &[],
            text("$MELTANO_LOADER_NAMESPACE"),
        )),
        PluginType::Mappers => out.extend([
            class_extra("mappings", &["mappings"], json!({})),
            class_extra("mapping_name", &["mapping_name"], Value::Null),
        ]),
        PluginType::Files => out.push(class_extra("update", &["update"], json!({}))),
        PluginType::Transforms => out.extend([
            class_extra("package_name", &[], text("$MELTANO_TRANSFORM_NAMESPACE")),
            class_extra("vars", &[], json!({})),
        ]),
        PluginType::Utilities if p.name.as_str() == "superset" => {
            out.push(class_extra("config_path", &[], Value::Null))
        }
        _ => {}
    }
    out
}

impl ResolvedPlugin {
    /// Every extra Meltano defines for the plugin, as settings: the class's, the lockfile's
    /// and every key the project writes under an extra (an object's leaves by dotted name).
    pub fn extra_settings(&self) -> Vec<ExtraSetting> {
        let declared = class_extras(self);
        let mut out = Vec::new();
        for (key, value) in self.extras_with_defaults() {
            let class = declared.iter().find(|c| c.name == key);
            let origin = self.extras.origins.get(&key);
            // A leaf no definition writes (one a variable's object brought) has no setting
            // of its own in Meltano.
            if class.is_none() && origin.is_none() {
                continue;
            }
            let locked = origin.and_then(|o| o.locked.clone());
            let default = locked
                .clone()
                .or_else(|| class.map(|c| c.default.clone()))
                .filter(|d| !d.is_null());
            let source = origin.map_or(SettingSource::Default, |o| o.source);
            // Meltano shows the text as written when expanding its variables changed it; an
            // object written here may also hold leaves merged from below, so it is not
            // compared.
            let raw = match (source, origin) {
                (SettingSource::Env | SettingSource::Dotenv, _) => None,
                (SettingSource::Default, _) => default
                    .clone()
                    .filter(|d| d.as_str().is_some_and(|s| s.contains('$'))),
                (_, o) => o.map(|o| o.raw.clone()).filter(|w| !w.is_object()),
            }
            .filter(|w| *w != value && !w.is_null());
            out.push(ExtraSetting {
                name: format!("_{key}"),
                env_names: self.extra_env_names(&key, class.map_or(&[], |c| c.aliases)),
                custom: class.is_none() && locked.is_none(),
                env_var: origin.and_then(|o| o.env_var.clone()),
                value,
                source,
                raw,
                default,
            });
        }
        out
    }

    /// `<PREFIX>__<EXTRA>` for the plugin's name and namespace, then `<PREFIX>_<ALIAS>` for
    /// each alias (Meltano's `SettingDefinition.env_vars` of `_extra`, read side).
    fn extra_env_names(&self, key: &str, aliases: &[&str]) -> Vec<String> {
        let stems = [env_stem(&self.name), env_stem(&self.namespace)];
        let mut names: Vec<String> = Vec::new();
        let words = std::iter::once(format!("_{key}")).chain(aliases.iter().map(|a| a.to_string()));
        for word in words {
            for stem in &stems {
                let var = format!("{stem}_{}", env_stem(&word));
                if !names.contains(&var) {
                    names.push(var);
                }
            }
        }
        names
    }
}
