//! A resolved plugin: what every command downstream works from (its settings with their
//! layers, environment, extras, venv and executable), and the small types it is made of.
//! `resolve` builds it; this file only holds it.

use super::EnvMap;
use super::model::{MappingDef, Name, Object, PluginType, SettingDef};
use super::settings::{env_stem, nest_into};
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;
use std::path::PathBuf;
/// The layer a setting's value came from, highest first in precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingSource {
    /// A variable of the process environment or an `env:` block.
    Env,
    /// The project's `.env` file.
    Dotenv,
    /// The active environment's `config.plugins` overlay.
    Environment,
    /// The plugin's own `config:`.
    Project,
    /// The `inherit_from` parent's resolved value.
    Inherited,
    /// The setting's declared `value`.
    Default,
}

impl SettingSource {
    /// The label shown by `config list`.
    pub fn label(self) -> &'static str {
        match self {
            SettingSource::Env => "environment variable",
            SettingSource::Dotenv => ".env file",
            SettingSource::Environment => "active environment",
            SettingSource::Project => "project file",
            SettingSource::Inherited => "inherited",
            SettingSource::Default => "default",
        }
    }
}

/// One setting's resolved value.
#[derive(Debug, Clone)]
pub struct ResolvedSetting {
    pub value: Value,
    pub source: SettingSource,
    /// The variable a user sets to override this value.
    pub env_var: String,
    pub sensitive: bool,
    /// False for config keys the plugin does not declare as settings (custom keys).
    pub declared: bool,
    pub kind: Option<String>,
    /// The value as written, before `${VAR}` expansion, when it differs (for `config list`).
    pub raw: Option<Value>,
}

/// Catalog and state extras of an extractor (and `mappings` of a mapper), after inheritance
/// and the environment overlay.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Extras {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub select: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub select_filter: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_cached_catalog: Option<bool>,
    /// Extractors: the schema loaders write to (default: the extractor's namespace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_schema: Option<String>,
    /// Loaders: the SQL dialect transforms use (default: the loader's namespace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialect: Option<String>,
    /// Loaders: the schema transforms read (Hub definitions set it from a setting, like
    /// `$TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA`), kept unexpanded until the settings are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_schema: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_parser: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mappings: Option<Vec<MappingDef>>,
    /// Mappers resolved for one of their mappings: its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping_name: Option<String>,
}

/// What `MELTANO_EXTRACTOR_NAME`-style variables say about a plugin.
pub struct PluginFacts<'a> {
    pub plugin_type: PluginType,
    pub name: &'a str,
    pub namespace: &'a str,
    pub variant: Option<&'a str>,
}

impl PluginFacts<'_> {
    /// `MELTANO_<NOUN>_NAME`, `_NAMESPACE` and `_VARIANT` (`ProjectPlugin.info_env`; Meltano
    /// calls a plugin without a variant `default`). The plugin's own config may use them, and
    /// plugins downstream in a block read the upstream ones (some targets derive their schema
    /// from them).
    pub fn describe_vars(&self) -> Vec<(String, String)> {
        let noun = super::settings::env_stem(self.plugin_type.singular());
        vec![
            (format!("MELTANO_{noun}_NAME"), self.name.to_string()),
            (
                format!("MELTANO_{noun}_NAMESPACE"),
                self.namespace.to_string(),
            ),
            (
                format!("MELTANO_{noun}_VARIANT"),
                self.variant.unwrap_or("default").to_string(),
            ),
        ]
    }
}

/// The parser Meltano assumes for a plugin's log lines when none is set.
pub const DEFAULT_LOG_PARSER: &str = "singer-sdk";

/// A plugin with everything resolved: the value downstream modules run.
#[derive(Debug, Clone)]
pub struct ResolvedPlugin {
    pub plugin_type: PluginType,
    pub name: Name,
    /// The file that defines it.
    pub source: PathBuf,
    pub inherit_from: Option<String>,
    pub variant: Option<String>,
    pub namespace: String,
    /// Prefixes the plugin's settings and extras are exported under (`<PREFIX>_<SETTING>`,
    /// `<PREFIX>__<EXTRA>`): its name, its namespace, then its parent's prefixes, as Meltano
    /// exports them (a tap built on the parent's code reads the parent's names).
    pub env_prefixes: EnvPrefixes,
    pub executable: String,
    pub pip_url: Option<String>,
    pub python: Option<String>,
    /// The plugin whose virtualenv this one runs from (itself, or the parent it inherits from
    /// when it has no `pip_url` of its own).
    pub venv_owner: Name,
    /// The `python` that virtualenv is built with: the owner's, so a child sharing its
    /// parent's venv fingerprints it exactly as the parent does.
    pub venv_python: Option<String>,
    pub capabilities: Vec<String>,
    pub settings: Vec<SettingDef>,
    /// Alternative sets of settings, one of which must be set (`settings_group_validation`),
    /// shown by `config list` as its required settings.
    pub settings_group_validation: Vec<Vec<String>>,
    /// Where the plugin's documentation lives (`docs`), pointed to by `config list`.
    pub docs: Option<String>,
    /// Every setting with a value, by dotted name, in declaration order.
    pub config: IndexMap<String, ResolvedSetting>,
    /// The plugin's environment: `.env`, process, and every `env:` block, expanded.
    pub env: EnvMap,
    pub extras: Extras,
    pub commands: IndexMap<String, Value>,
    /// `requires:` (`{files: [{name: files-dbt-postgres, variant: meltano}]}`): plugins
    /// Meltano adds along with this one.
    pub requires: Value,
}

impl ResolvedPlugin {
    /// The config as the plugin receives it: dotted names nested, nulls left out.
    pub fn config_object(&self) -> Object {
        let mut out = Object::new();
        for (key, setting) in &self.config {
            if !setting.value.is_null() {
                nest_into(&mut out, key, setting.value.clone());
            }
        }
        out
    }

    /// Same, with sensitive values replaced by a mask (for printing).
    pub fn redacted_config_object(&self) -> Object {
        let mut out = Object::new();
        for (key, setting) in &self.config {
            if setting.value.is_null() {
                continue;
            }
            let value = if setting.sensitive {
                Value::String(super::REDACTED.into())
            } else {
                setting.value.clone()
            };
            nest_into(&mut out, key, value);
        }
        out
    }

    /// The plugin's extras with Meltano's defaults filled in, in Meltano's order, keyed
    /// without the leading underscore: what `config print --extras` shows and what the
    /// plugin process receives as `<PREFIX>__<EXTRA>` variables.
    pub fn extras_with_defaults(&self) -> Vec<(&'static str, Value)> {
        let x = &self.extras;
        let text = |v: &Option<String>, default: &str| {
            Value::String(v.clone().unwrap_or_else(|| default.to_string()))
        };
        // `_log_parser` is an extra of Singer plugins only (`SingerPlugin.EXTRA_SETTINGS`);
        // a utility or transformer has none unless its definition sets it.
        let singer = matches!(
            self.plugin_type,
            PluginType::Extractors | PluginType::Loaders | PluginType::Mappers
        );
        let mut out = Vec::new();
        if singer || x.log_parser.is_some() {
            out.push(("log_parser", text(&x.log_parser, DEFAULT_LOG_PARSER)));
        }
        match self.plugin_type {
            PluginType::Extractors => out.extend([
                (
                    "catalog",
                    x.catalog.clone().map_or(Value::Null, Value::String),
                ),
                ("state", x.state.clone().map_or(Value::Null, Value::String)),
                ("load_schema", text(&x.load_schema, &self.namespace)),
                (
                    "select",
                    serde_json::json!(x.select.clone().unwrap_or_else(|| vec!["*.*".into()])),
                ),
                (
                    "metadata",
                    x.metadata.clone().unwrap_or(serde_json::json!({})),
                ),
                ("schema", x.schema.clone().unwrap_or(serde_json::json!({}))),
                (
                    "select_filter",
                    serde_json::json!(x.select_filter.clone().unwrap_or_default()),
                ),
                (
                    "use_cached_catalog",
                    Value::Bool(x.use_cached_catalog.unwrap_or(true)),
                ),
            ]),
            PluginType::Loaders => {
                out.push(("dialect", text(&x.dialect, &self.namespace)));
                if let Some(raw) = &x.target_schema {
                    out.push((
                        "target_schema",
                        Value::String(self.expand_with_settings(raw)),
                    ));
                }
            }
            PluginType::Mappers => {
                out.extend([
                    (
                        "mappings",
                        serde_json::json!(x.mappings.clone().unwrap_or_default()),
                    ),
                    (
                        "mapping_name",
                        x.mapping_name.clone().map_or(Value::Null, Value::String),
                    ),
                ]);
                // Meltano marks the plugin it makes of a mapping with a custom extra.
                if x.mapping_name.is_some() {
                    out.push(("mapping", Value::Bool(true)));
                }
            }
            _ => {}
        }
        out
    }

    /// The stems every setting and extra is exported under (`<STEM>_<SETTING>`,
    /// `<STEM>__<EXTRA>`): the plugin's prefixes (name, namespace, its parents'), then
    /// `MELTANO_<VERB>`.
    pub fn export_stems(&self) -> Vec<String> {
        let mut stems: Vec<String> = self.env_prefixes.iter().map(env_stem).collect();
        stems.push(format!("MELTANO_{}", self.plugin_type.env_verb()));
        stems
    }

    /// Expands `raw` against the plugin's environment and the variables its own settings are
    /// exported as (`$TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA`), as Meltano expands extras.
    fn expand_with_settings(&self, raw: &str) -> String {
        let stems = self.export_stems();
        let setting = |name: &str| {
            self.config.iter().find_map(|(key, s)| {
                let key = env_stem(key);
                let named = stems.iter().any(|stem| name == format!("{stem}_{key}"));
                match &s.value {
                    Value::Null => None,
                    Value::String(v) if named => Some(v.clone()),
                    v if named => Some(crate::vocab::pyjson::to_string(v)),
                    _ => None,
                }
            })
        };
        let lookup =
            |name: &str| setting(name).or_else(|| self.env.get(name).map(|e| e.value.clone()));
        super::expand::expand(raw, &lookup).text
    }

    /// `(plugin type, name)` of each plugin `requires:` names.
    pub fn requires(&self) -> Vec<(String, String)> {
        let Some(types) = self.requires.as_object() else {
            return Vec::new();
        };
        types
            .iter()
            .flat_map(|(ptype, list)| {
                list.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.get("name").and_then(Value::as_str))
                    .map(|name| (ptype.clone(), name.to_string()))
            })
            .collect()
    }

    /// True when the plugin declares the capability (or is assumed to; see `capabilities`).
    pub fn has_capability(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    /// Values of sensitive settings, for masking them in anything eltr prints.
    pub fn secrets(&self) -> Vec<String> {
        self.config
            .values()
            .filter(|s| s.sensitive)
            .filter_map(|s| match &s.value {
                Value::String(v) if !v.is_empty() => Some(v.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .collect()
    }
}

/// A plugin's env prefixes: its own (name, namespace), then its parent's. The parent's are
/// shared, not copied: in a chain thousands deep, copies would make memory and time grow with
/// the square of its length.
#[derive(Debug, Clone)]
pub struct EnvPrefixes(std::sync::Arc<PrefixNode>);

#[derive(Debug)]
struct PrefixNode {
    own: Vec<String>,
    parent: Option<EnvPrefixes>,
}

impl EnvPrefixes {
    /// `own` over the parent's prefixes.
    pub(super) fn over(own: Vec<String>, parent: Option<&EnvPrefixes>) -> EnvPrefixes {
        let parent = parent.cloned();
        EnvPrefixes(std::sync::Arc::new(PrefixNode { own, parent }))
    }

    /// Each prefix once (the first of those with the same variable stem), the plugin's own
    /// first, then its ancestors' up the chain.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let mut seen = std::collections::HashSet::new();
        std::iter::successors(Some(&*self.0), |n| n.parent.as_ref().map(|p| &*p.0))
            .flat_map(|n| n.own.iter().map(String::as_str))
            .filter(move |p| seen.insert(env_stem(p)))
    }
}

impl Drop for PrefixNode {
    /// Unlinks the chain in a loop: dropping the last plugin of a long chain would otherwise
    /// recurse once per ancestor.
    fn drop(&mut self) {
        let mut next = self.parent.take();
        while let Some(EnvPrefixes(node)) = next {
            next = match std::sync::Arc::try_unwrap(node) {
                Ok(mut node) => node.parent.take(),
                Err(_) => None,
            };
        }
    }
}
