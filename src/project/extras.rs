//! A plugin's extras (`select`, `metadata`, `schema`, `catalog`, `state`, `load_schema`…):
//! the parent's, then the lockfile's, the project's and the environment's definition, then the
//! `<PLUGIN>__<EXTRA>` variables, which override everything, as in Meltano.

use super::error::{ProjectError, Result};
use super::model::{Object, PluginDef};
use super::resolved::{Extras, ResolvedPlugin};
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
        let mut extras = parent.map(|p| p.extras.clone()).unwrap_or_default();
        for layer in locked.into_iter().chain([def]).chain(overlay) {
            self.apply_definition(&mut extras, layer, &def.name, env)?;
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
        if let Some(v) = self.string_list("select")? {
            x.select = Some(v);
        }
        if let Some(v) = self.string_list("select_filter")? {
            x.select_filter = Some(v);
        }
        if let Some(v) = self.object("metadata")? {
            merge_object(&mut x.metadata, v.as_object());
        }
        if let Some(v) = self.object("schema")? {
            merge_object(&mut x.schema, v.as_object());
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
