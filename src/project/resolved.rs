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
/// The layer a setting's value came from, highest first in precedence (the order compares
/// them: `Env` is the least, the strongest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
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

/// How `config print` lays a plugin's config out.
#[derive(Clone, Copy)]
enum Shape {
    Nested,
    NestedText,
    Flat,
}

/// Python's truth of a value (Meltano masks only values that have content).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
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
    /// An undeclared key only the active environment's overlay sets: plugins inheriting
    /// from this one do not get it (Meltano's environment "orphan" settings).
    pub orphan: bool,
    /// The value before `value_post_processor: stringify` made it text, when it did
    /// (`config list` shows the setting's own value, Meltano's `False` for `'false'`).
    pub unprocessed: Option<Value>,
}

impl ResolvedSetting {
    /// True when `config print` shows the mask for this setting: a sensitive value with
    /// content, or one inherited as written (`${SNOWFLAKE_PASSWORD}`) whatever it expands
    /// to, since Meltano masks the parent's unexpanded value.
    pub fn masked_when_printed(&self) -> bool {
        let inherited_text =
            self.source == SettingSource::Inherited && self.raw.as_ref().is_some_and(truthy);
        self.sensitive && (truthy(&self.value) || inherited_text)
    }

    /// The value as the plugin gets it: a relative date of a `date_iso8601` setting (`1
    /// month ago`) resolved against `now`, as Meltano's post-processing does; every other
    /// value as it is.
    pub fn processed_value(&self, now: crate::vocab::relative_date::Moment) -> Value {
        match (&self.value, self.kind.as_deref()) {
            (Value::String(text), Some("date_iso8601")) => {
                Value::String(crate::vocab::relative_date::resolve(text, now))
            }
            (v, _) => v.clone(),
        }
    }
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
    /// Every other key of the plugin's definitions that Meltano keeps as an extra (a
    /// lockfile's `ext_repo`, a file bundle's `update`, a key only the project knows), as
    /// written, the highest definition's value winning.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub custom: IndexMap<String, Value>,
    /// Where each extra written anywhere got its value, by name (`select`) and, for an extra
    /// holding an object, by each leaf's dotted name (`metadata.orders.replication-key`).
    #[serde(skip)]
    pub origins: IndexMap<String, ExtraOrigin>,
}

/// Where an extra's value was written (`config list` shows it beside the value).
#[derive(Debug, Clone)]
pub struct ExtraOrigin {
    pub source: SettingSource,
    /// The value as written, before `$VAR` expansion.
    pub raw: Value,
    /// The variable that set it (`TAP_X__SELECT`), when one did.
    pub env_var: Option<String>,
    /// The lockfile's value, when the lockfile writes this extra: Meltano then takes it as
    /// the extra's default, and never calls the extra custom.
    pub locked: Option<Value>,
}

/// Keys of a plugin definition that are attributes, not extras (Meltano's `Variant`,
/// `PluginDefinition` and `ProjectPlugin` parameters).
pub const NOT_EXTRAS: &[&str] = &[
    "plugin_type",
    "name",
    "namespace",
    "variant",
    "variants",
    "python",
    "is_default_variant",
    "hidden",
    "label",
    "logo_url",
    "description",
    "original",
    "deprecated",
    "docs",
    "repo",
    "pip_url",
    "executable",
    "capabilities",
    "settings_group_validation",
    "settings",
    "commands",
    "requires",
    "requires_meltano",
    "env",
    "supported_python_versions",
    "inherit_from",
    "config",
    "default_variant",
];

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
    /// `pip_url` as the project or lockfile writes it, `$VAR`s unexpanded: what Meltano's
    /// `plugin list` shows.
    pub pip_url_as_written: Option<String>,
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
    /// The config as the plugin receives it: dotted names nested, nulls left out, relative
    /// dates resolved.
    pub fn config_object(&self) -> Object {
        let now = crate::vocab::relative_date::Moment::now();
        let mut out = Object::new();
        for (key, setting) in &self.config {
            if !setting.value.is_null() {
                nest_into(&mut out, key, setting.processed_value(now));
            }
        }
        super::settings::drop_dotted_keys(&mut out);
        out
    }

    /// The config as `config print` shows it, in the shape Meltano gives the plugin's kind
    /// (`process_config` of its plugin class): Singer plugins nested without nulls, Airflow
    /// nested with every value as Python's text of it, every other plugin one key per
    /// setting, dotted names flat and settings without a value as null. With `redact`,
    /// sensitive values with content show as the mask.
    pub fn printed_config(&self, redact: bool) -> Object {
        let now = crate::vocab::relative_date::Moment::now();
        let shape = self.printed_shape();
        let mut out = Object::new();
        for (key, setting) in &self.config {
            let mut value = setting.processed_value(now);
            if redact && setting.masked_when_printed() {
                value = Value::String(super::REDACTED.into());
            }
            match shape {
                Shape::Nested if value.is_null() => {}
                Shape::Nested => nest_into(&mut out, key, value),
                Shape::NestedText => {
                    let text = crate::vocab::pyjson::python_str(&value);
                    nest_into(&mut out, key, Value::String(text));
                }
                Shape::Flat => {
                    out.insert(key.clone(), value);
                }
            }
        }
        if matches!(shape, Shape::Nested) {
            super::settings::drop_dotted_keys(&mut out);
        }
        out
    }

    fn printed_shape(&self) -> Shape {
        match self.plugin_type {
            PluginType::Extractors | PluginType::Loaders | PluginType::Mappers => Shape::Nested,
            PluginType::Orchestrators if self.is_a("airflow") => Shape::NestedText,
            _ => Shape::Flat,
        }
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
    /// plugin process receives as `<PREFIX>__<EXTRA>` variables. The extras of the plugin's
    /// class come first (`SingerTap.EXTRA_SETTINGS`…), then the other extras its
    /// definitions carry (those holding an object by their leaves only), then, for each extra
    /// holding an object, its leaves by dotted name (`metadata.orders.replication-key`), which
    /// Meltano lists as extras of their own.
    pub fn extras_with_defaults(&self) -> Vec<(String, Value)> {
        let mut out = self.class_extras();
        let mut custom = Vec::new();
        for (key, value) in &self.extras.custom {
            if !out.iter().any(|(k, _)| k == key) {
                custom.push((key.clone(), self.expand_extra(value)));
            }
        }
        let mut leaves = Vec::new();
        for (key, value) in out.iter().chain(&custom) {
            if let Value::Object(inner) = value {
                for (path, leaf) in super::settings::flatten(inner) {
                    leaves.push((format!("{key}.{path}"), leaf));
                }
            }
        }
        // A leaf a definition writes stays an extra of its own even when a variable replaced
        // the object holding it (Meltano defines a setting per leaf written).
        for (key, origin) in &self.extras.origins {
            if key.contains('.') && !leaves.iter().any(|(k, _)| k == key) {
                leaves.push((key.clone(), self.expand_extra(&origin.raw)));
            }
        }
        // An extra the class does not declare is known by its leaves only when it holds an
        // object (Meltano defines a setting per leaf of what a definition writes).
        custom.retain(|(_, value)| value.as_object().is_none_or(|o| o.is_empty()));
        out.extend(custom);
        out.extend(leaves);
        out
    }

    /// The extras Meltano's class for this plugin declares, each with its value or default.
    fn class_extras(&self) -> Vec<(String, Value)> {
        let x = &self.extras;
        // Text written with variables that all turned out unset is null, not empty
        // (Meltano's rule for expanded values): `load_schema: $UNSET` exports nothing.
        let emptied = |key: &str| {
            x.origins
                .get(key)
                .is_some_and(|o| o.raw.as_str().is_some_and(|r| r.contains('$')))
        };
        let text = |key: &str, v: &Option<String>, default: &str| match v {
            Some(s) if s.is_empty() && emptied(key) => Value::Null,
            Some(s) => Value::String(s.clone()),
            None => Value::String(default.to_string()),
        };
        let custom = |key: &str, default: Value| {
            x.custom
                .get(key)
                .map(|v| self.expand_extra(v))
                .unwrap_or(default)
        };
        // `_log_parser` is an extra of Singer plugins only (`SingerPlugin.EXTRA_SETTINGS`);
        // a utility or transformer has none unless its definition sets it.
        let singer = matches!(
            self.plugin_type,
            PluginType::Extractors | PluginType::Loaders | PluginType::Mappers
        );
        let mut out: Vec<(&str, Value)> = Vec::new();
        if singer || x.log_parser.is_some() {
            out.push((
                "log_parser",
                text("log_parser", &x.log_parser, DEFAULT_LOG_PARSER),
            ));
        }
        match self.plugin_type {
            PluginType::Extractors => out.extend([
                (
                    "catalog",
                    x.catalog.clone().map_or(Value::Null, Value::String),
                ),
                ("state", x.state.clone().map_or(Value::Null, Value::String)),
                (
                    "load_schema",
                    text("load_schema", &x.load_schema, &self.namespace),
                ),
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
                out.push(("dialect", text("dialect", &x.dialect, &self.namespace)));
                // Text whose every variable is unset is null (Meltano's rule for expanded
                // values), as when `$TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA` has no value.
                if let Some(raw) = &x.target_schema {
                    let expanded = self.expand_with_settings(raw);
                    let value = match expanded.is_empty() && !raw.is_empty() {
                        true => Value::Null,
                        false => Value::String(expanded),
                    };
                    out.push(("target_schema", value));
                }
            }
            PluginType::Mappers => {
                let mappings = serde_json::json!(x.mappings.clone().unwrap_or_default());
                out.extend([
                    ("mappings", self.expand_deep(&mappings)),
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
            PluginType::Files => out.push(("update", custom("update", serde_json::json!({})))),
            PluginType::Transforms => out.extend([
                (
                    "package_name",
                    custom("package_name", Value::String(self.namespace.clone())),
                ),
                ("vars", custom("vars", serde_json::json!({}))),
            ]),
            PluginType::Utilities if self.is_a("superset") => {
                out.push(("config_path", custom("config_path", Value::Null)))
            }
            _ => {}
        }
        out.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// True when the plugin is `base` or inherits from it directly (Meltano picks some
    /// plugin classes by the definition's name: Airflow, Superset).
    fn is_a(&self, base: &str) -> bool {
        self.name.as_str() == base || self.inherit_from.as_deref() == Some(base)
    }

    /// An extra written in a definition, expanded; text whose variables are all unset is null,
    /// as Meltano makes it.
    fn expand_extra(&self, value: &Value) -> Value {
        match (value, self.expand_deep(value)) {
            (Value::String(raw), Value::String(text)) if text.is_empty() && !raw.is_empty() => {
                Value::Null
            }
            (_, expanded) => expanded,
        }
    }

    /// `value` with `$VAR`s expanded in every text inside it, as Meltano expands extras
    /// (against the environment and the plugin's settings as variables).
    fn expand_deep(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.expand_with_settings(s)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.expand_deep(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.expand_deep(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
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
