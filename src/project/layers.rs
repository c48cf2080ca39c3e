//! A plugin's settings in one layered merge. Each layer offers values for some settings; the
//! layers are listed once, in Meltano's precedence (lowest first), and the highest layer that
//! has a value wins. Every value remembers its layer, which `config list` shows.
//!
//! | layer            | where the value comes from                                   |
//! |------------------|--------------------------------------------------------------|
//! | default          | the setting's declared `value` (expanded)                      |
//! | inherited        | the `inherit_from` parent's resolved value                     |
//! | project file     | the plugin's own `config:` (expanded, cast to the kind)       |
//! | environment      | the active environment's `config.plugins` overlay              |
//! | variables        | `<PLUGIN>_<SETTING>` and friends: process, `env:` blocks, `.env` |

use super::error::Result;
use super::model::{Object, SettingDef};
use super::resolved::{ResolvedPlugin, ResolvedSetting, SettingSource};
use super::settings::{env_text, flatten, looks_secret, parse_env_value, setting_env_names};
use super::vars::VarOrigin;
use super::{Context, EnvMap, EnvOrigin};
use indexmap::IndexMap;
use serde_json::Value;
use std::path::Path;

/// Everything a plugin's settings are resolved from.
pub struct ConfigLayers<'a> {
    pub plugin: &'a str,
    pub namespace: &'a str,
    /// Declared settings (lockfile, then the project's), in declaration order.
    pub settings: &'a [SettingDef],
    pub parent: Option<&'a ResolvedPlugin>,
    pub own: Option<&'a Object>,
    pub overlay: Option<&'a Object>,
    /// The plugin's variables: process, `env:` blocks and `.env`.
    pub env: &'a EnvMap,
    /// The file that defines the plugin (for messages).
    pub file: &'a Path,
}

/// One layer's value for one setting.
struct Candidate {
    value: Value,
    source: SettingSource,
    /// The value as written, when expansion changed it.
    raw: Option<Value>,
    /// The variable that set it, for the variables layer.
    env_var: Option<String>,
}

/// A layer: the values it offers, by setting name.
type Layer = Vec<(String, Candidate)>;

impl Context {
    /// Resolves every setting with a value: declared settings first, in declaration order,
    /// then custom keys in the order they are written.
    pub(super) fn resolve_config(
        &self,
        l: &ConfigLayers<'_>,
    ) -> Result<IndexMap<String, ResolvedSetting>> {
        let mut layers = vec![
            self.default_layer(l)?,
            inherited_layer(l),
            self.file_layer(l, l.own, SettingSource::Project)?,
            self.file_layer(l, l.overlay, SettingSource::Environment)?,
        ];
        let keys = ordered_keys(l.settings, &layers);
        // Keys only the environment's overlay offers (Meltano's "orphan" settings of an
        // environment): a plugin inheriting from this one does not see them.
        let offered_below: std::collections::HashSet<&str> = layers[..3]
            .iter()
            .flatten()
            .map(|(k, _)| k.as_str())
            .collect();
        let orphans: Vec<bool> = keys
            .iter()
            .map(|k| {
                !offered_below.contains(k.as_str()) && !l.settings.iter().any(|s| &s.name == k)
            })
            .collect();
        layers.push(variables_layer(l, &keys));
        let mut winners: IndexMap<String, Candidate> = IndexMap::new();
        for layer in layers {
            // A key written as null (`email: null`) is not set: the layers below it decide,
            // as in Meltano, which reads a null as "not here".
            for (key, candidate) in layer.into_iter().filter(|(_, c)| !written_null(c)) {
                winners.insert(key, candidate);
            }
        }
        // A declared setting without a value stays, as null: Meltano lists every declared
        // setting (utilities and transformers get them in their printed config).
        let mut resolved: IndexMap<String, ResolvedSetting> = keys
            .into_iter()
            .zip(orphans)
            .map(|(key, orphan)| {
                let candidate = winners
                    .shift_remove(&key)
                    .unwrap_or_else(|| candidate(Value::Null, SettingSource::Default, None));
                let mut setting = finish(l, &key, candidate);
                setting.orphan = orphan;
                (key, setting)
            })
            .collect();
        assemble_objects(&mut resolved, l.settings);
        Ok(resolved)
    }

    /// Declared defaults, expanded (`$MELTANO_EXTRACT__LOAD_SCHEMA` and friends).
    fn default_layer(&self, l: &ConfigLayers<'_>) -> Result<Layer> {
        let mut out = Layer::new();
        for s in l.settings {
            let Some(v) = &s.value else { continue };
            let context = format!("default of setting '{}' of '{}'", s.name, l.plugin);
            // A default whose variables are all unset is null, shown with its text.
            let expanded = self.expand_value(v, l.env, &context)?;
            let raw = (expanded.as_ref() != Some(v)).then(|| v.clone());
            let value = expanded.unwrap_or(Value::Null);
            out.push((
                s.name.clone(),
                candidate(value, SettingSource::Default, raw),
            ));
        }
        Ok(out)
    }

    /// A `config:` object of the project file or the environment overlay, flattened to
    /// dotted names, expanded and cast to each setting's kind, as Meltano does (`port:
    /// ${PORT}` is an integer once expanded). A value that expands to nothing is kept as
    /// null: dropped from the plugin's config, but `config list` still shows where it was
    /// written.
    fn file_layer(
        &self,
        l: &ConfigLayers<'_>,
        object: Option<&Object>,
        source: SettingSource,
    ) -> Result<Layer> {
        let Some(object) = object else {
            return Ok(Layer::new());
        };
        let mut out = Layer::new();
        for (key, value) in with_aliases(flatten(object), l.settings) {
            let context = format!("{} config '{key}' of '{}'", l.file.display(), l.plugin);
            let kind = l
                .settings
                .iter()
                .find(|s| s.name == key)
                .and_then(|s| s.kind.as_deref());
            let expanded = self
                .expand_value(&value, l.env, &context)?
                .map(|v| match v {
                    Value::String(text) if kind.is_some() => parse_env_value(kind, &text),
                    other => other,
                });
            let raw = (expanded.as_ref() != Some(&value)).then(|| value.clone());
            out.push((key, candidate(expanded.unwrap_or(Value::Null), source, raw)));
        }
        Ok(out)
    }
}

/// Adds, for each key that is an alias of a declared setting (`dbname` for `database`), the
/// same value under the setting's name, unless the name is written too. The alias stays as a
/// key of its own, as Meltano keeps it (a custom setting beside the declared one).
fn with_aliases(flat: Vec<(String, Value)>, settings: &[SettingDef]) -> Vec<(String, Value)> {
    let mut out = Vec::with_capacity(flat.len());
    for (key, value) in &flat {
        if let Some(s) = settings.iter().find(|s| s.aliases.contains(key))
            && !flat.iter().any(|(k, _)| k == &s.name)
        {
            out.push((s.name.clone(), value.clone()));
        }
        out.push((key.clone(), value.clone()));
    }
    out
}

/// A value a file writes as null, not one whose variables expanded to nothing.
fn written_null(c: &Candidate) -> bool {
    c.value.is_null()
        && c.raw.is_none()
        && matches!(
            c.source,
            SettingSource::Project | SettingSource::Environment
        )
}

fn candidate(value: Value, source: SettingSource, raw: Option<Value>) -> Candidate {
    Candidate {
        value,
        source,
        raw,
        env_var: None,
    }
}

/// An `object` setting that only has its default (or nothing) takes the keys written under
/// it (`opts.a: 1`, or `opts: {a: 1}` when the file spells it out nested), by their names
/// below it (`{"a": 1}`), as Meltano builds such an object from the flattened config.
fn assemble_objects(resolved: &mut IndexMap<String, ResolvedSetting>, settings: &[SettingDef]) {
    for s in settings
        .iter()
        .filter(|s| s.kind.as_deref() == Some("object"))
    {
        let Some(current) = resolved.get(&s.name) else {
            continue;
        };
        if !matches!(
            current.source,
            SettingSource::Default | SettingSource::Inherited
        ) {
            continue;
        }
        let prefix = format!("{}.", s.name);
        let mut object = serde_json::Map::new();
        let mut source = current.source;
        for (key, nested) in resolved.iter().filter(|(k, _)| k.starts_with(&prefix)) {
            object.insert(key[prefix.len()..].to_string(), nested.value.clone());
            source = source.min(nested.source);
        }
        if object.is_empty() {
            continue;
        }
        if let Some(target) = resolved.get_mut(&s.name) {
            target.value = Value::Object(object);
            target.source = source;
        }
    }
}

/// The parent's resolved values; its defaults stay defaults.
fn inherited_layer(l: &ConfigLayers<'_>) -> Layer {
    let Some(parent) = l.parent else {
        return Layer::new();
    };
    parent
        .config
        .iter()
        // A parent's value written but expanded to nothing is inherited as written (Meltano
        // passes the unexpanded text down); a parent without a value passes nothing, but
        // its undeclared keys stay keys of the child (Meltano defines them for it too).
        .filter(|(_, s)| {
            let nothing = s.value.is_null() && s.raw.is_none();
            let passes = !(nothing && s.declared);
            passes && !s.orphan
        })
        .map(|(k, s)| {
            let source = match s.source {
                _ if s.value.is_null() && s.raw.is_none() => SettingSource::Default,
                SettingSource::Default => SettingSource::Default,
                _ => SettingSource::Inherited,
            };
            // The parent's own value, before post-processing made it text: the child
            // post-processes it again.
            let value = s.unprocessed.clone().unwrap_or_else(|| s.value.clone());
            (k.clone(), candidate(value, source, s.raw.clone()))
        })
        .collect()
}

/// The variable of each setting, first name found (`<PLUGIN>_<SETTING>`, then
/// `<NAMESPACE>_<SETTING>`, the same for each alias, then the setting's `env_aliases` on a
/// plugin that inherits from none, as Meltano reads them), cast to the setting's kind.
fn variables_layer(l: &ConfigLayers<'_>, keys: &[String]) -> Layer {
    let mut out = Layer::new();
    for key in keys {
        let decl = l.settings.iter().find(|s| &s.name == key);
        let mut names = setting_env_names(l.plugin, l.namespace, key, decl);
        if l.parent.is_none() {
            names.extend(env_aliases(decl));
        }
        let found = names.iter().find_map(|n| {
            let var = n.strip_prefix('!').unwrap_or(n);
            l.env.get(var).map(|e| (n, var, e))
        });
        let Some((name, var, entry)) = found else {
            continue;
        };
        let source = match entry.origin {
            EnvOrigin::Var(VarOrigin::DotEnv) => SettingSource::Dotenv,
            _ => SettingSource::Env,
        };
        // A `!VAR` alias sets the opposite of the variable's truth, as Python's text.
        let text = match name.starts_with('!') {
            true => {
                let truthy =
                    ["true", "1", "yes", "on"].contains(&entry.value.to_lowercase().as_str());
                if truthy { "False" } else { "True" }.to_string()
            }
            false => entry.value.clone(),
        };
        let kind = decl.and_then(|d| d.kind.as_deref());
        let value = parse_env_value(kind, &text);
        let mut c = candidate(value, source, None);
        c.env_var = Some(var.to_string());
        out.push((key.clone(), c));
    }
    out
}

/// A declared setting's `env_aliases` (`!VAR` for a negated one).
pub fn env_aliases(decl: Option<&SettingDef>) -> Vec<String> {
    decl.and_then(|d| d.other.get("env_aliases"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect()
}

/// Declared settings in declaration order, then every other key in the order the layers
/// first offer it.
fn ordered_keys(settings: &[SettingDef], layers: &[Layer]) -> Vec<String> {
    let mut keys: Vec<String> = settings.iter().map(|s| s.name.clone()).collect();
    for (key, _) in layers.iter().flatten() {
        if !keys.contains(key) {
            keys.push(key.clone());
        }
    }
    keys
}

/// The winning value with what `config list` and the masker need to know about it.
fn finish(l: &ConfigLayers<'_>, key: &str, winner: Candidate) -> ResolvedSetting {
    let decl = l.settings.iter().find(|s| s.name == key);
    let kind = decl.and_then(|d| d.kind.clone());
    let env_names = setting_env_names(l.plugin, l.namespace, key, decl);
    // `value_post_processor: stringify` hands the plugin text, whatever the kind.
    let stringify = decl.is_some_and(|d| {
        d.other.get("value_post_processor") == Some(&Value::String("stringify".into()))
    });
    let (value, unprocessed) = match winner.value {
        v @ (Value::String(_) | Value::Null) => (v, None),
        other if stringify => (Value::String(env_text(&other)), Some(other)),
        other => (other, None),
    };
    ResolvedSetting {
        value,
        source: winner.source,
        env_var: winner.env_var.unwrap_or_else(|| env_names[0].clone()),
        sensitive: decl.is_some_and(|d| {
            d.sensitive || matches!(d.kind.as_deref(), Some("password" | "oauth"))
        }) || looks_secret(key),
        declared: decl.is_some(),
        kind,
        raw: winner.raw,
        orphan: false,
        unprocessed,
    }
}
