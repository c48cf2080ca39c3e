//! Meltano's manifest (`meltano compile`, `.meltano/manifests/meltano-manifest[.<env>].json`):
//! the project files merged, one environment folded in, every plugin's locked definition and
//! the variables each plugin and the project export. Tools that read Meltano manifests read
//! this. Built as Meltano 4.4's `Manifest.data` builds it, quirks included (lists of the
//! project and of the locked definition are concatenated, so a custom plugin lists its
//! capabilities twice). It lives in `plugin` because a plugin's exported variables
//! (`plugin::env`) are part of it.

use super::env::{extra_vars, setting_vars};
use crate::project::error::Result;
use crate::project::model::Sourced;
use crate::project::model::{PluginDef, PluginType};
use crate::project::{Context, SettingSource, lockfile};
use serde_json::{Map, Value, json};

/// What Meltano writes for a sensitive value in a manifest.
pub const REDACTED: &str = "(redacted)";

/// Where Meltano's manifest schema allows an `env` block; each is created empty when missing
/// (Meltano's `apply_scaffold` over `meltano_config_env_locations`, fixed by its schema).
const ENV_LOCATIONS: [&str; 17] = [
    ".env",
    ".environments[].config.plugins.files[].env",
    ".environments[].config.plugins.loaders[].env",
    ".environments[].config.plugins.orchestrators[].env",
    ".environments[].config.plugins.transformers[].env",
    ".environments[].config.plugins.transforms[].env",
    ".environments[].config.plugins.utilities[].env",
    ".environments[].env",
    ".plugins.extractors[].env",
    ".plugins.files[].env",
    ".plugins.loaders[].env",
    ".plugins.mappers[].env",
    ".plugins.orchestrators[].env",
    ".plugins.transformers[].env",
    ".plugins.transforms[].env",
    ".plugins.utilities[].env",
    ".schedules[].env",
];

/// The manifest of `ctx`'s active environment (none: the project without one).
pub fn build(ctx: &Context, redact_secrets: bool) -> Result<Value> {
    let root = ctx
        .project
        .root
        .canonicalize()
        .unwrap_or(ctx.project.root.clone());
    let root = root.to_string_lossy().into_owned();
    let mut manifest = project_files(ctx)?;
    keep_environment(&mut manifest, ctx.environment_name());
    for location in ENV_LOCATIONS {
        let parts: Vec<&str> = location
            .split(['.'])
            .flat_map(|p| match p.strip_suffix("[]") {
                Some(name) => vec![name, "[]"],
                None => vec![p],
            })
            .filter(|p| !p.is_empty())
            .collect();
        scaffold(&mut manifest, &parts);
    }
    let mut plugins = by_name(manifest.get("plugins"));
    merge_concat(&mut plugins, &Value::Object(locked_plugins(ctx)?));
    let merger = EnvMerger { root: &root };
    let mut env = take_object(&mut manifest, "env");
    let settings: Map<String, Value> = project_settings(ctx)?;
    env = merger.merge(&env, &settings);
    let environment = manifest["environments"][0].clone();
    let overlay = by_name(environment.pointer("/config/plugins"));
    merger.merge_into(&mut plugins, &overlay);
    for (ptype, name, names) in exported_plugins(ctx) {
        let mut vars = Map::new();
        for each in names {
            let plugin = ctx.plugin(Some(ptype), &each)?;
            vars.extend(plugin_env(&plugin, redact_secrets));
        }
        if let Some(p) = plugins.pointer_mut(&format!("/{}/{}", ptype.key(), escape(&name))) {
            let current = take_object(p, "env");
            p["env"] = Value::Object(merger.merge(&current, &vars));
        }
    }
    let environment_env = environment["env"].as_object().cloned().unwrap_or_default();
    manifest["env"] = Value::Object(merger.merge(&env, &environment_env));
    manifest["plugins"] = as_lists(plugins);
    if let Some(notes) = environment.get("annotations") {
        let mut all = manifest.get("annotations").cloned().unwrap_or(json!({}));
        merge_concat(&mut all, notes);
        manifest["annotations"] = all;
    }
    if let Value::Object(m) = &mut manifest {
        m.shift_remove("environments");
        m.shift_remove("include_paths");
    }
    Ok(manifest)
}

/// The root file and every included file, merged as Meltano merges them (maps at depth,
/// lists concatenated), dotted top-level keys nested.
fn project_files(ctx: &Context) -> Result<Value> {
    let p = &ctx.project;
    let mut merged: Value = crate::project::yaml::read(&p.root_file)?;
    if !merged.is_object() {
        merged = json!({});
    }
    for file in &p.included_files {
        let doc: Value = crate::project::yaml::read(file)?;
        merge_concat(&mut merged, &doc);
    }
    let Value::Object(top) = merged else {
        return Ok(json!({}));
    };
    let mut out = Map::new();
    for (key, value) in top {
        let mut parts: Vec<&str> = key.split('.').collect();
        let last = parts.pop().unwrap_or_default().to_string();
        let mut cur = &mut out;
        for part in parts {
            let next = cur.entry(part.to_string()).or_insert_with(|| json!({}));
            if !next.is_object() {
                *next = json!({});
            }
            cur = next.as_object_mut().expect("just made an object");
        }
        cur.insert(last, value);
    }
    Ok(Value::Object(out))
}

/// Keeps only the active environment (or Meltano's stand-in `mock` without one).
fn keep_environment(manifest: &mut Value, active: Option<&str>) {
    let kept = match active {
        None => vec![json!({"name": "mock"})],
        Some(name) => manifest
            .get("environments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|e| e.get("name").and_then(Value::as_str) == Some(name))
            .cloned()
            .collect(),
    };
    manifest["environments"] = Value::Array(kept);
}

/// Creates the containers on `path` (object keys, `[]` for each element of a list) that do
/// not exist yet, ending in an empty `env` object.
fn scaffold(node: &mut Value, path: &[&str]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if *first == "[]" {
        if let Value::Array(items) = node {
            for item in items {
                scaffold(item, rest);
            }
        }
        return;
    }
    let Value::Object(map) = node else { return };
    let empty = match rest.first() {
        Some(&"[]") => json!([]),
        _ => json!({}),
    };
    scaffold(map.entry(first.to_string()).or_insert(empty), rest);
}

/// Meltano's `deep_merge`: maps merge at depth, lists are extended, anything else replaced.
fn merge_concat(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) => merge_concat(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(o)) => b.extend(o.iter().cloned()),
        (b, o) => *b = o.clone(),
    }
}

/// `{type: [plugin…]}` as `{type: {name: plugin}}` (the last of a name wins).
fn by_name(plugins: Option<&Value>) -> Value {
    let mut out = Map::new();
    for (ptype, list) in plugins.and_then(Value::as_object).into_iter().flatten() {
        let mut named = Map::new();
        for p in list.as_array().into_iter().flatten() {
            let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
            named.insert(name.to_string(), p.clone());
        }
        out.insert(ptype.clone(), Value::Object(named));
    }
    Value::Object(out)
}

fn as_lists(plugins: Value) -> Value {
    let Value::Object(types) = plugins else {
        return plugins;
    };
    let lists = types
        .into_iter()
        .map(|(t, named)| {
            let list = match named {
                Value::Object(m) => m.into_iter().map(|(_, p)| p).collect(),
                _ => Vec::new(),
            };
            (t, Value::Array(list))
        })
        .collect();
    Value::Object(lists)
}

/// The locked definition of every plugin: its lockfile, else the definition Meltano makes
/// of a custom plugin (`StandalonePlugin.canonical()`).
fn locked_plugins(ctx: &Context) -> Result<Map<String, Value>> {
    let mut out: Map<String, Value> = Map::new();
    for ((ptype, name), def) in &ctx.project.plugins {
        let data = standalone(ctx, *ptype, name, def)?;
        // Keyed by the name the definition gives, as Meltano keys it: a plugin inheriting
        // from a locked one gets its parent's lockfile, which lands on the parent.
        let key = data
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(name)
            .to_string();
        let list = out
            .entry(ptype.key().to_string())
            .or_insert_with(|| json!({}));
        list[key.as_str()] = data;
    }
    Ok(out)
}

fn standalone(
    ctx: &Context,
    ptype: PluginType,
    name: &str,
    def: &Sourced<PluginDef>,
) -> Result<Value> {
    let d = &def.item;
    let resolved = ctx.plugin(Some(ptype), name)?;
    if let Some(variant) = d.variant.as_ref().or(resolved.variant.as_ref()) {
        let owner = d.inherit_from.as_deref().unwrap_or(name);
        let path = lockfile::path(&ctx.project.root, ptype, owner, variant);
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                return Ok(v);
            }
        }
    }
    // A plugin inheriting from one the project defines has no definition of its own: Meltano
    // takes its parent's (its `definition` attribute falls back to the parent), which lands on
    // the parent's entry, so the child's entry keeps only what the project file says.
    if let Some(parent) = d.inherit_from.as_deref() {
        if let Some(parent_def) = ctx.project.plugins.get(&(ptype, parent.to_string())) {
            return standalone(ctx, ptype, parent, parent_def);
        }
    }
    let mut out = Map::new();
    out.insert("plugin_type".into(), json!(ptype.key()));
    out.insert("name".into(), json!(name));
    out.insert("namespace".into(), json!(resolved.namespace));
    let label = d.other.get("label").filter(|l| !l.is_null());
    out.insert(
        "label".into(),
        label.cloned().unwrap_or_else(|| json!(name)),
    );
    for (key, value) in [
        ("pip_url", d.pip_url.clone()),
        ("python", d.python.clone()),
        ("executable", d.executable.clone()),
    ] {
        if let Some(v) = value {
            out.insert(key.into(), json!(v));
        }
    }
    if let Some(caps) = d.capabilities.as_ref().filter(|c| !c.is_empty()) {
        out.insert("capabilities".into(), json!(caps));
    }
    if !resolved.settings_group_validation.is_empty() {
        let groups = json!(resolved.settings_group_validation);
        out.insert("settings_group_validation".into(), groups);
    }
    if let Some(settings) = d.settings.as_ref().filter(|s| !s.is_empty()) {
        let list = settings.iter().map(canonical_setting).collect();
        out.insert("settings".into(), Value::Array(list));
    }
    Ok(Value::Object(out))
}

/// A setting as Meltano writes a definition back, with its replacement of the deprecated
/// kinds: `password` / `oauth` become `sensitive: true`, `hidden` becomes `hidden: true`; the
/// kind turns into `string` only when the flag was written too, else it stays as written.
fn canonical_setting(s: &crate::project::model::SettingDef) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    let flag = match v.get("kind").and_then(Value::as_str) {
        Some("password" | "oauth") => "sensitive",
        Some("hidden") => "hidden",
        _ => return v,
    };
    // Python truthiness of the flag as written (`sensitive` is a bool; `hidden` is kept raw).
    let set = match v.get(flag) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(t)) => !t.is_empty(),
        _ => false,
    };
    if set {
        v["kind"] = json!("string");
    }
    v[flag] = json!(true);
    v
}

/// Each plugin whose variables go into the manifest, with the names to resolve for them: a
/// mapper first as itself, then as each of its mappings (Meltano lists a mapper's mappings as
/// plugins of the mapper's name, so their variables land on it, the last one winning).
fn exported_plugins(ctx: &Context) -> Vec<(PluginType, String, Vec<String>)> {
    ctx.project
        .plugins
        .iter()
        .map(|((ptype, name), def)| {
            let mut names = vec![name.clone()];
            names.extend(def.item.mappings.iter().flatten().map(|m| m.name.clone()));
            (*ptype, name.clone(), names)
        })
        .collect()
}

/// A plugin's exported settings (sensitive ones redacted when asked) and extras.
fn plugin_env(plugin: &crate::project::ResolvedPlugin, redact: bool) -> Map<String, Value> {
    // A child's secret inherited as a `$VAR` that is not set still shows as redacted in
    // Meltano's manifest (it hands the child its parent's value as written, which is not
    // empty); the parent's own empty value is dropped.
    // A secret whose value is false to Python (`""`, `0`) is written as it is
    // (`setting_vars` does not flag it sensitive), as Meltano writes it.
    let mut shown = plugin.clone();
    if redact {
        for s in shown.config.values_mut() {
            if s.sensitive && s.value.is_null() && s.source == SettingSource::Inherited {
                s.value = Value::String(REDACTED.into());
            }
        }
    }
    let mut out = Map::new();
    for (var, value, sensitive) in setting_vars(&shown) {
        let shown = match sensitive && redact {
            true => REDACTED.to_string(),
            false => value,
        };
        out.insert(var, Value::String(shown));
    }
    for (var, value) in extra_vars(plugin) {
        out.insert(var, Value::String(value));
    }
    out
}

/// Meltano's project settings as the variables they are exported as.
fn project_settings(ctx: &Context) -> Result<Map<String, Value>> {
    let env = ctx.project_env()?;
    Ok(crate::project::meltano_env::project_setting_vars(ctx, &env)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect())
}

/// Meltano's merge of two `env` blocks (`env_aware_merge_mappings`): each side's values
/// expanded against the other's (a variable neither defines is left as written), the second
/// side winning, and the project folder written as `${MELTANO_PROJECT_ROOT}`.
struct EnvMerger<'a> {
    root: &'a str,
}

impl EnvMerger<'_> {
    fn merge(&self, base: &Map<String, Value>, over: &Map<String, Value>) -> Map<String, Value> {
        let mut out = Map::new();
        for (k, v) in base {
            out.insert(k.clone(), self.expand(v, over));
        }
        for (k, v) in over {
            out.insert(k.clone(), self.expand(v, base));
        }
        out
    }

    fn expand(&self, value: &Value, against: &Map<String, Value>) -> Value {
        let Value::String(text) = value else {
            return value.clone();
        };
        let lookup = |name: &str| against.get(name).and_then(Value::as_str).map(String::from);
        let done = crate::project::expand::expand(text, &lookup);
        let text = match done.missing.is_empty() {
            true => done.text,
            false => text.clone(),
        };
        Value::String(text.replace(self.root, "${MELTANO_PROJECT_ROOT}"))
    }

    /// Deep-merges the environment's plugin overlays into the plugins, `env` blocks merged as
    /// above and everything else as `merge_concat`.
    fn merge_into(&self, base: &mut Value, over: &Value) {
        match (base, over) {
            (Value::Object(b), Value::Object(o)) => {
                for (k, v) in o {
                    match (k.as_str(), b.get_mut(k)) {
                        ("env", Some(Value::Object(existing))) => {
                            let over = v.as_object().cloned().unwrap_or_default();
                            *existing = self.merge(existing, &over);
                        }
                        (_, Some(existing)) => self.merge_into(existing, v),
                        (_, None) => {
                            b.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            (b, o) => merge_concat(b, o),
        }
    }
}

fn take_object(node: &mut Value, key: &str) -> Map<String, Value> {
    match node.get_mut(key).map(Value::take) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// A name as one JSON pointer segment.
fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// The manifest as Meltano's `json.dump(…, indent=N, sort_keys=True)` writes it: keys
/// sorted, non-ASCII escaped, `indent` spaces (none and Python's `", "`/`": "` separators
/// when `indent` is not positive), and a final newline.
pub fn to_text(manifest: &Value, indent: i64) -> String {
    let sorted = sort_keys(manifest);
    let text = match indent {
        n if n > 0 => {
            let pad = " ".repeat(n as usize);
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(pad.as_bytes());
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            serde::Serialize::serialize(&sorted, &mut ser).expect("a JSON value serializes");
            String::from_utf8(buf).expect("JSON is UTF-8")
        }
        _ => crate::vocab::pyjson::to_string(&sorted),
    };
    crate::vocab::pyjson::ascii_only(&text) + "\n"
}

fn sort_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sort_keys(&m[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_concatenate_and_maps_merge_as_in_meltanos_deep_merge() {
        let mut base = json!({"a": [1], "m": {"x": 1, "y": 2}, "s": "old"});
        merge_concat(&mut base, &json!({"a": [1, 2], "m": {"y": 3}, "s": "new"}));
        assert_eq!(
            base,
            json!({"a": [1, 1, 2], "m": {"x": 1, "y": 3}, "s": "new"})
        );
    }

    #[test]
    fn scaffolding_fills_each_list_element_and_creates_missing_lists() {
        let mut m = json!({"plugins": {"extractors": [{"name": "a"}]}});
        scaffold(&mut m, &["plugins", "extractors", "[]", "env"]);
        scaffold(&mut m, &["schedules", "[]", "env"]);
        assert_eq!(
            m,
            json!({"plugins": {"extractors": [{"name": "a", "env": {}}]}, "schedules": []})
        );
    }

    #[test]
    fn env_blocks_expand_against_each_other_and_hide_the_project_folder() {
        let merger = EnvMerger { root: "/p" };
        let base = json!({"A": "$B/x", "KEEP": "$NOPE"});
        let over = json!({"B": "/p/b"});
        let out = merger.merge(base.as_object().unwrap(), over.as_object().unwrap());
        assert_eq!(
            Value::Object(out),
            json!({"A": "${MELTANO_PROJECT_ROOT}/b/x", "KEEP": "$NOPE", "B": "${MELTANO_PROJECT_ROOT}/b"})
        );
    }
}
