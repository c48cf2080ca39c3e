//! A plugin's extras (`select`, `metadata`, `schema`, `catalog`, `state`, `load_schema`…):
//! the parent's, then the lockfile's, the project's and the environment's definition, then the
//! `<PLUGIN>__<EXTRA>` variables, which override everything, as in Meltano.

use super::error::{ProjectError, Result};
use super::model::{Object, PluginDef};
use super::resolved::{ExtraOrigin, Extras, ResolvedPlugin, SettingSource};
use super::settings::{deep_merge, extra_env_var};
use super::vars::VarOrigin;
use super::{Context, EnvEntry, EnvMap, EnvOrigin};
use serde_json::Value;

/// What a list extra in a variable must look like.
const LIST: &str = r#"a JSON list of strings, such as '["orders.*", "!orders.secret"]'"#;
/// What an object extra in a variable must look like.
const OBJECT: &str =
    r#"a JSON object, such as '{"orders": {"replication-method": "INCREMENTAL"}}'"#;

impl Context {
    /// The extras of a plugin: `layers` are its lockfile, its own definition and the active
    /// environment's overlay, lowest first.
    pub(super) fn resolve_extras(
        &self,
        parent: Option<&ResolvedPlugin>,
        layers: [Option<&PluginDef>; 3],
        namespace: &str,
        env: &EnvMap,
    ) -> Result<Extras> {
        let [locked, def, overlay] = layers;
        let def = def.expect("a plugin's own definition is always a layer");
        let mut extras = parent.map(|p| inherited(&p.extras)).unwrap_or_default();
        let sourced = [
            (locked, SettingSource::Default),
            (Some(def), SettingSource::Project),
            (overlay, SettingSource::Environment),
        ];
        for (layer, source) in sourced {
            let Some(layer) = layer else { continue };
            self.apply_definition(&mut extras, layer, &def.name, env)?;
            note_origins(&mut extras, layer, source);
        }
        let vars = ExtraVars {
            stems: [def.name.as_str(), namespace],
            env,
        };
        vars.apply(&mut extras)?;
        Ok(extras)
    }

    /// One definition's extras over the ones below it: lists and texts replace, `metadata`
    /// and `schema` merge leaf by leaf.
    fn apply_definition(
        &self,
        x: &mut Extras,
        layer: &PluginDef,
        plugin: &str,
        env: &EnvMap,
    ) -> Result<()> {
        replace(&mut x.select, &layer.select);
        replace(&mut x.select_filter, &layer.select_filter);
        merge_object(&mut x.metadata, layer.metadata.as_ref());
        merge_object(&mut x.schema, layer.schema.as_ref());
        replace(&mut x.catalog, &layer.catalog);
        replace(&mut x.state, &layer.state);
        replace(&mut x.use_cached_catalog, &layer.use_cached_catalog);
        replace(&mut x.mappings, &layer.mappings);
        replace(&mut x.mapping_name, &layer.mapping_name);
        replace(&mut x.target_schema, &layer.target_schema);
        for (key, value) in &layer.other {
            if !super::resolved::NOT_EXTRAS.contains(&key.as_str()) {
                x.custom.insert(key.clone(), value.clone());
            }
        }
        for (value, slot) in [
            (&layer.load_schema, &mut x.load_schema),
            (&layer.dialect, &mut x.dialect),
            (&layer.log_parser, &mut x.log_parser),
        ] {
            if let Some(v) = value {
                let context = format!("extra of '{plugin}'");
                *slot = Some(self.expand_str(v, env, std::path::Path::new(""), &context)?);
            }
        }
        Ok(())
    }
}

/// The parent's extras as a child sees them: the parent's values, each now `Inherited`
/// unless it was only a default.
fn inherited(parent: &Extras) -> Extras {
    let mut extras = parent.clone();
    // A leaf only the parent's environment overlay writes is that environment's "orphan"
    // setting of the parent: Meltano does not hand it down.
    let orphans: Vec<String> = extras
        .origins
        .iter()
        .filter(|(k, o)| o.source == SettingSource::Environment && k.contains('.'))
        .map(|(k, _)| k.clone())
        .collect();
    for leaf in orphans {
        extras.origins.shift_remove(&leaf);
        let (extra, path) = leaf.split_once('.').expect("a leaf has a dot");
        let slot = match extra {
            "metadata" => extras.metadata.as_mut(),
            "schema" => extras.schema.as_mut(),
            other => extras.custom.get_mut(other),
        };
        if let Some(object) = slot {
            remove_leaf(object, path);
        }
    }
    // An object a parent's variable replaced reaches the child as the leaves its definitions
    // write (Meltano assembles an inherited object from the child's leaf settings).
    for extra in ["metadata", "schema"] {
        if extras
            .origins
            .get(extra)
            .is_none_or(|o| o.env_var.is_none())
        {
            continue;
        }
        let prefix = format!("{extra}.");
        let mut object = Object::new();
        for (key, origin) in &extras.origins {
            if let Some(path) = key.strip_prefix(&prefix) {
                super::settings::nest_into(&mut object, path, origin.raw.clone());
            }
        }
        if !object.is_empty() {
            let slot = match extra {
                "metadata" => &mut extras.metadata,
                _ => &mut extras.schema,
            };
            *slot = Some(Value::Object(object));
        }
    }
    for origin in extras.origins.values_mut() {
        // A variable's text is the value itself, never text "as written" to show.
        if origin.env_var.take().is_some() {
            origin.raw = Value::Null;
        }
        if origin.source != SettingSource::Default {
            origin.source = SettingSource::Inherited;
        }
    }
    extras
}

/// Removes the leaf at the dotted `path` of `object`, and the objects it leaves empty.
fn remove_leaf(object: &mut Value, path: &str) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    match path.split_once('.') {
        None => {
            map.shift_remove(path);
        }
        Some((head, rest)) => {
            if let Some(inner) = map.get_mut(head) {
                remove_leaf(inner, rest);
                if inner.as_object().is_some_and(|m| m.is_empty()) {
                    map.shift_remove(head);
                }
            }
        }
    }
}

/// Records which extras `layer` writes, and the leaves of those holding an object, with the
/// value as written: `config list` shows where each came from, and a leaf no lockfile knows
/// is a custom extra (Meltano defines one for each key it finds under an extra).
fn note_origins(x: &mut Extras, layer: &PluginDef, source: SettingSource) {
    let locked = source == SettingSource::Default;
    for (key, raw) in written_extras(layer) {
        let mut keys = vec![(key.clone(), raw.clone())];
        if let Value::Object(inner) = &raw {
            keys.extend(
                super::settings::flatten(inner)
                    .into_iter()
                    .map(|(path, leaf)| (format!("{key}.{path}"), leaf)),
            );
        }
        for (key, raw) in keys {
            let locked_raw = match locked {
                true => Some(raw.clone()),
                false => x.origins.get(&key).and_then(|o| o.locked.clone()),
            };
            x.origins.insert(
                key,
                ExtraOrigin {
                    source,
                    raw,
                    env_var: None,
                    locked: locked_raw,
                },
            );
        }
    }
}

/// The extras a definition writes, by name, as written.
fn written_extras(layer: &PluginDef) -> Vec<(String, Value)> {
    let text = |v: &Option<String>| v.clone().map(Value::String);
    let mut out: Vec<(&str, Option<Value>)> = vec![
        (
            "select",
            layer.select.as_ref().map(|v| serde_json::json!(v)),
        ),
        (
            "select_filter",
            layer.select_filter.as_ref().map(|v| serde_json::json!(v)),
        ),
        ("metadata", layer.metadata.clone().map(Value::Object)),
        ("schema", layer.schema.clone().map(Value::Object)),
        ("catalog", text(&layer.catalog)),
        ("state", text(&layer.state)),
        (
            "use_cached_catalog",
            layer.use_cached_catalog.map(Value::Bool),
        ),
        ("load_schema", text(&layer.load_schema)),
        ("dialect", text(&layer.dialect)),
        ("target_schema", text(&layer.target_schema)),
        ("log_parser", text(&layer.log_parser)),
        (
            "mappings",
            layer.mappings.as_ref().map(|v| serde_json::json!(v)),
        ),
        ("mapping_name", text(&layer.mapping_name)),
    ];
    // Meltano marks the plugin it makes of a mapping with an extra of its own.
    if layer.mapping_name.is_some() {
        out.push(("mapping", Some(Value::Bool(true))));
    }
    let mut written: Vec<(String, Value)> = out
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect();
    written.extend(
        layer
            .other
            .iter()
            .filter(|(k, _)| !super::resolved::NOT_EXTRAS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    written
}

fn replace<T: Clone>(slot: &mut Option<T>, layer: &Option<T>) {
    if let Some(v) = layer {
        *slot = Some(v.clone());
    }
}

fn merge_object(slot: &mut Option<Value>, layer: Option<&Object>) {
    let Some(layer) = layer else { return };
    let layer = Value::Object(layer.clone());
    match slot {
        Some(existing) => deep_merge(existing, &layer),
        None => *slot = Some(layer),
    }
}

/// The `<PLUGIN>__<EXTRA>` variables of a plugin: its name first, then its namespace. A value
/// that is not what the extra needs is an error naming the variable: read as nothing, it
/// would silently select every stream or drop metadata.
struct ExtraVars<'a> {
    stems: [&'a str; 2],
    env: &'a EnvMap,
}

impl ExtraVars<'_> {
    fn apply(&self, x: &mut Extras) -> Result<()> {
        self.apply_values(x)?;
        for &extra in super::model::EXTRA_KEYS {
            if let Some((var, entry)) = self.find(extra) {
                let source = match entry.origin {
                    EnvOrigin::Var(VarOrigin::DotEnv) => SettingSource::Dotenv,
                    _ => SettingSource::Env,
                };
                let locked = x.origins.get(extra).and_then(|o| o.locked.clone());
                let origin = ExtraOrigin {
                    source,
                    raw: Value::String(entry.value.clone()),
                    env_var: Some(var),
                    locked,
                };
                x.origins.insert(extra.to_string(), origin);
            }
        }
        Ok(())
    }

    fn apply_values(&self, x: &mut Extras) -> Result<()> {
        if let Some(v) = self.string_list("select")? {
            x.select = Some(v);
        }
        if let Some(v) = self.string_list("select_filter")? {
            x.select_filter = Some(v);
        }
        // An object in a variable replaces the written one whole, as in Meltano.
        if let Some(v) = self.object("metadata")? {
            x.metadata = Some(v);
        }
        if let Some(v) = self.object("schema")? {
            x.schema = Some(v);
        }
        for (extra, slot) in [
            ("catalog", &mut x.catalog),
            ("state", &mut x.state),
            ("load_schema", &mut x.load_schema),
            ("dialect", &mut x.dialect),
            ("log_parser", &mut x.log_parser),
            ("target_schema", &mut x.target_schema),
        ] {
            if let Some(e) = self.get(extra) {
                *slot = Some(e.value.clone());
            }
        }
        if let Some(e) = self.get("use_cached_catalog") {
            let parsed = crate::vocab::truth::parse(&e.value);
            x.use_cached_catalog =
                Some(parsed.ok_or_else(|| self.bad("use_cached_catalog", "true or false"))?);
        }
        Ok(())
    }

    /// The variable's name and entry, by the first stem that has one.
    fn find(&self, extra: &str) -> Option<(String, &EnvEntry)> {
        self.stems.iter().find_map(|stem| {
            let var = extra_env_var(stem, extra);
            self.env.get(&var).map(|e| (var, e))
        })
    }

    fn get(&self, extra: &str) -> Option<&EnvEntry> {
        self.find(extra).map(|(_, e)| e)
    }

    fn bad(&self, extra: &str, expected: &str) -> ProjectError {
        let (var, entry) = self.find(extra).unzip();
        let origin = match entry.map(|e| &e.origin) {
            Some(EnvOrigin::Var(VarOrigin::DotEnv)) => " (from .env)".to_string(),
            _ => String::new(),
        };
        ProjectError::BadVariable {
            var: var.unwrap_or_default(),
            origin,
            message: format!("expected {expected}"),
        }
    }

    fn json(&self, extra: &str, expected: &str) -> Result<Option<Value>> {
        match self.get(extra) {
            None => Ok(None),
            Some(e) => serde_json::from_str(&e.value)
                .map(Some)
                .map_err(|_| self.bad(extra, expected)),
        }
    }

    fn string_list(&self, extra: &str) -> Result<Option<Vec<String>>> {
        match self.json(extra, LIST)? {
            None => Ok(None),
            Some(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|_| self.bad(extra, LIST)),
        }
    }

    fn object(&self, extra: &str) -> Result<Option<Value>> {
        match self.json(extra, OBJECT)? {
            Some(v) if !v.is_object() => Err(self.bad(extra, OBJECT)),
            v => Ok(v),
        }
    }
}
