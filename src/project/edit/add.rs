//! `add`, `remove` and `lock`: what Meltano 4.4 writes for each way of adding a plugin.
//!
//! - From Meltano Hub: `{name, variant, pip_url}` in the project and the variant's lockfile
//!   `plugins/<type>/<name>--<variant>.lock`.
//! - `--inherit-from P` (or `P --as NAME`) without `--variant`, `P` in the project:
//!   `{name, inherit_from}`. With `--variant`, or `P` not in the project: P's Hub definition is
//!   the parent, so `{name, inherit_from, variant, pip_url}` and P's lockfile.
//! - `--custom`: `{name, namespace, pip_url, executable, capabilities, settings}` with the
//!   defaults of Meltano's prompts; no lockfile, no network.
//! - `--from-ref FILE|URL`: the definition's own keys (its `name` wins), no lockfile.
//!
//! A new plugin goes in the root file (where Meltano puts it) unless `--file` names another.

use super::ops::Editor;
use crate::project::Project;
use crate::project::hub::{Hub, lockfile_text};
use crate::project::lockfile;
use crate::project::model::PluginType;
use anyhow::{anyhow, bail};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// Meltano's rule for a plugin's type from its name: `tap-` extractors, `target-` loaders,
/// anything else a utility (`map-` names too: Meltano 4.4 has no rule for mappers).
pub fn infer_type(name: &str) -> PluginType {
    if name.starts_with("tap-") {
        PluginType::Extractors
    } else if name.starts_with("target-") {
        PluginType::Loaders
    } else {
        PluginType::Utilities
    }
}

/// The `--custom` answers Meltano prompts for, given as flags (each defaulting to the
/// prompt's default).
#[derive(Debug, Clone, Default)]
pub struct Custom {
    pub namespace: Option<String>,
    /// `n` means none, as at Meltano's prompt.
    pub pip_url: Option<String>,
    pub executable: Option<String>,
    /// Comma-separated, as at the prompt.
    pub capabilities: Option<String>,
    /// Comma-separated `name[:kind]`, as at the prompt.
    pub settings: Option<String>,
}

/// The definition `add --custom` writes.
pub fn custom_definition(plugin_type: PluginType, name: &str, c: &Custom) -> anyhow::Result<Value> {
    let namespace = c
        .namespace
        .clone()
        .unwrap_or_else(|| name.replace('-', "_"));
    let pip_url = match c.pip_url.as_deref() {
        Some("n") => None,
        Some(u) => Some(u.to_string()),
        None => Some(name.to_string()),
    };
    let executable = c.executable.clone().unwrap_or_else(|| {
        let base = pip_url
            .as_deref()
            .unwrap_or(name)
            .rsplit('/')
            .next()
            .unwrap_or(name)
            .to_string();
        // Python's os.path.splitext: the last dot not at the start.
        match base.rfind('.') {
            Some(i) if i > 0 => base[..i].to_string(),
            _ => base,
        }
    });
    let mut def = Map::new();
    def.insert("name".into(), json!(name));
    def.insert("namespace".into(), json!(namespace));
    if let Some(u) = pip_url {
        def.insert("pip_url".into(), json!(u));
    }
    def.insert("executable".into(), json!(executable));
    if plugin_type == PluginType::Extractors {
        let caps: Vec<String> = c
            .capabilities
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if !caps.is_empty() {
            def.insert("capabilities".into(), json!(caps));
        }
    } else if c.capabilities.is_some() {
        bail!("--capabilities applies to extractors only (Meltano asks for them only there)");
    }
    if matches!(
        plugin_type,
        PluginType::Extractors | PluginType::Loaders | PluginType::Transformers
    ) {
        let mut settings = Vec::new();
        for item in c.settings.as_deref().unwrap_or("").split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (setting, kind) = match item.split_once(':') {
                Some((n, k)) => (n.trim(), Some(k.trim())),
                None => (item, None),
            };
            let mut s = Map::new();
            s.insert("name".into(), json!(setting));
            if let Some(kind) = kind.filter(|k| !k.is_empty()) {
                if !SETTING_KINDS.contains(&kind) {
                    bail!(
                        "'{kind}' is not a valid setting kind (one of {})",
                        SETTING_KINDS.join(", ")
                    );
                }
                s.insert("kind".into(), json!(kind));
                if kind == "password" {
                    s.insert("sensitive".into(), json!(true));
                }
            }
            settings.push(Value::Object(s));
        }
        if !settings.is_empty() {
            def.insert("settings".into(), Value::Array(settings));
        }
    } else if c.settings.is_some() {
        bail!("--settings applies to extractors, loaders and transformers only");
    }
    Ok(Value::Object(def))
}

/// Meltano's setting kinds.
const SETTING_KINDS: &[&str] = &[
    "string",
    "integer",
    "boolean",
    "date_iso8601",
    "email",
    "password",
    "oauth",
    "options",
    "file",
    "array",
    "object",
    "hidden",
    "decimal",
];

/// Keys of a `--from-ref` definition that reach the project file (Meltano drops the rest).
const REF_KEYS: &[&str] = &[
    "namespace",
    "variant",
    "label",
    "docs",
    "repo",
    "pip_url",
    "python",
    "executable",
    "description",
    "logo_url",
    "hidden",
    "capabilities",
    "settings_group_validation",
    "settings",
    "commands",
    "requires",
    "requires_meltano",
    "env",
    "supported_python_versions",
];

/// Reads a `--from-ref` definition (a YAML or JSON file, or an http(s) URL).
pub fn read_ref(
    reference: &str,
    fetch: impl Fn(&str) -> anyhow::Result<String>,
) -> anyhow::Result<Value> {
    let text = if reference.starts_with("http://") || reference.starts_with("https://") {
        fetch(reference)?
    } else {
        std::fs::read_to_string(reference).map_err(|e| anyhow!("--from-ref {reference}: {e}"))?
    };
    let v: Value = serde_norway::from_str(&text)
        .map_err(|e| anyhow!("--from-ref {reference}: not a YAML definition: {e}"))?;
    let Value::Object(map) = v else {
        bail!("--from-ref {reference}: the definition is not a mapping");
    };
    let name = map
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("--from-ref {reference}: the definition has no name"))?;
    let mut def = Map::new();
    def.insert("name".into(), json!(name));
    for (k, v) in &map {
        if REF_KEYS.contains(&k.as_str()) && !v.is_null() {
            def.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Object(def))
}

/// What `add` will do for one name.
#[derive(Debug)]
pub struct AddPlan {
    pub plugin_type: PluginType,
    pub name: String,
    pub entry: Value,
    /// Lockfile path and text to write.
    pub lockfile: Option<(PathBuf, String)>,
    /// Set when the plugin exists: only these keys are refreshed (Meltano's update).
    pub update: bool,
    pub docs: Option<String>,
    pub repo: Option<String>,
}

/// Fetches a plugin's Hub definition: `(definition, variant name)`.
pub type FetchDefinition<'a> =
    dyn Fn(PluginType, &str, Option<&str>) -> anyhow::Result<(Value, String)> + 'a;

/// Plans adding `name` from Meltano Hub (possibly as a child of `inherit_from`).
pub fn plan_hub(
    project: &Project,
    hub: &FetchDefinition,
    plugin_type: PluginType,
    name: &str,
    variant: Option<&str>,
    inherit_from: Option<&str>,
) -> anyhow::Result<AddPlan> {
    let existing = project.plugins.get(&(plugin_type, name.to_string()));
    if let Some(parent) = inherit_from {
        let in_project = project.plugins.get(&(plugin_type, parent.to_string()));
        if let (None, Some(parent_def)) = (variant, in_project) {
            // Meltano saves the parent's definition as a lockfile too; for a custom parent
            // that is `plugins/<type>/<parent>.lock`.
            let def = &parent_def.item;
            let lockfile = (def.variant.is_none() && def.inherit_from.is_none()).then(|| {
                let mut d = serde_json::to_value(def).unwrap_or_default();
                if let Some(m) = d.as_object_mut() {
                    m.retain(|k, _| crate::project::hub::is_definition_key(k));
                }
                (
                    project
                        .root
                        .join("plugins")
                        .join(plugin_type.key())
                        .join(format!("{parent}.lock")),
                    lockfile_text(plugin_type, &d),
                )
            });
            return Ok(AddPlan {
                plugin_type,
                name: name.to_string(),
                entry: json!({"name": name, "inherit_from": parent}),
                lockfile,
                update: existing.is_some(),
                docs: None,
                repo: None,
            });
        }
    }
    let base = inherit_from.unwrap_or(name);
    let variant = variant.or_else(|| existing.and_then(|e| e.item.variant.as_deref()));
    let (def, variant) = hub(plugin_type, base, variant)?;
    let mut entry = Map::new();
    entry.insert("name".into(), json!(name));
    if let Some(parent) = inherit_from {
        entry.insert("inherit_from".into(), json!(parent));
    }
    entry.insert("variant".into(), json!(variant));
    if let Some(pip) = def.get("pip_url").filter(|v| !v.is_null()) {
        entry.insert("pip_url".into(), pip.clone());
    }
    let path = lockfile::path(&project.root, plugin_type, base, &variant);
    let text = lockfile_text(plugin_type, &def);
    Ok(AddPlan {
        plugin_type,
        name: name.to_string(),
        entry: Value::Object(entry),
        lockfile: Some((path, text)),
        update: existing.is_some(),
        docs: def.get("docs").and_then(Value::as_str).map(str::to_string),
        repo: def.get("repo").and_then(Value::as_str).map(str::to_string),
    })
}

/// Applies a plan: a new entry in `file`, or, for a plugin already there, its variant and
/// pip_url refreshed (the rest, config included, kept).
pub fn apply(editor: &mut Editor, plan: &AddPlan, file: &Path) -> anyhow::Result<()> {
    if plan.update {
        let mut keys = plan.entry.as_object().cloned().unwrap_or_default();
        keys.shift_remove("name");
        editor.update_plugin(plan.plugin_type, &plan.name, &keys)?;
    } else {
        editor.add_plugin(file, plan.plugin_type, plan.entry.clone())?;
    }
    if let Some((path, text)) = &plan.lockfile {
        editor
            .changeset()
            .put(path, Some(text.clone().into_bytes()), 0o644);
    }
    Ok(())
}

/// Fetches a Hub definition: `(definition, variant name)`.
pub fn hub_fetcher(
    hub: &Hub,
) -> impl Fn(PluginType, &str, Option<&str>) -> anyhow::Result<(Value, String)> + '_ {
    move |t, n, v| {
        let f = hub.definition(t, n, v)?;
        Ok((f.definition, f.variant))
    }
}

/// The lockfiles of `name` (`<name>--<variant>.lock`) that `remove` deletes. Meltano globs
/// `<name>*.lock`, which also deletes the lockfiles of other plugins whose names start with
/// this one (`tap-x` takes `tap-x-extra--v.lock`); eltr deletes only this plugin's.
pub fn lockfiles_of(root: &Path, plugin_type: PluginType, name: &str) -> Vec<PathBuf> {
    let dir = root.join("plugins").join(plugin_type.key());
    let prefix = format!("{name}--");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".lock"))
        })
        .collect();
    out.sort();
    out
}
