//! The resolved project as one JSON document (`eltr compile`): what every plugin resolves to
//! in the active environment, plus environments, jobs, schedules and the state backend.

use super::error::Result;
use super::model::PluginType;
use super::settings::looks_secret;
use super::{Context, REDACTED, ResolvedPlugin};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Builds the document; sensitive values are masked unless `show_secrets`.
pub fn compile(ctx: &Context, show_secrets: bool) -> Result<Value> {
    let mut plugins = Map::new();
    let resolved = ctx.all_plugins()?;
    let sensitive = SensitiveKeys::of(&resolved);
    for plugin in resolved {
        let list = plugins
            .entry(plugin.plugin_type.key())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(items) = list {
            items.push(plugin_json(&plugin, show_secrets));
        }
    }
    let p = &ctx.project;
    let mut doc = Map::new();
    doc.insert("version".into(), json!(1));
    if let Some(id) = &p.project_id {
        doc.insert("project_id".into(), json!(id));
    }
    doc.insert("project_root".into(), json!(p.root.display().to_string()));
    doc.insert("root_file".into(), json!(p.root_file.display().to_string()));
    doc.insert("environment".into(), json!(ctx.environment_name()));
    doc.insert("default_environment".into(), json!(p.default_environment));
    doc.insert("plugins".into(), Value::Object(plugins));
    doc.insert(
        "environments".into(),
        Value::Array(
            p.environments
                .values()
                .map(|e| {
                    let mut env = serde_json::to_value(&e.item).unwrap_or_default();
                    if !show_secrets {
                        sensitive.redact_environment(&mut env);
                    }
                    env
                })
                .collect(),
        ),
    );
    doc.insert(
        "jobs".into(),
        Value::Array(
            p.jobs
                .values()
                .map(|j| serde_json::to_value(&j.item).unwrap_or_default())
                .collect(),
        ),
    );
    doc.insert(
        "schedules".into(),
        Value::Array(
            p.schedules
                .values()
                .map(|s| {
                    let mut schedule = serde_json::to_value(&s.item).unwrap_or_default();
                    if !show_secrets {
                        redact_env_block(schedule.get_mut("env"));
                    }
                    schedule
                })
                .collect(),
        ),
    );
    let backend = super::backend::StateBackendSettings::resolve(ctx)?;
    doc.insert("state_backend".into(), backend.to_json(show_secrets));
    Ok(Value::Object(doc))
}

fn plugin_json(p: &ResolvedPlugin, show_secrets: bool) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), json!(p.name));
    if let Some(parent) = &p.inherit_from {
        o.insert("inherit_from".into(), json!(parent));
    }
    if let Some(v) = &p.variant {
        o.insert("variant".into(), json!(v));
    }
    o.insert("namespace".into(), json!(p.namespace));
    o.insert("executable".into(), json!(p.executable));
    o.insert("pip_url".into(), json!(p.pip_url));
    o.insert("venv".into(), json!(p.venv_owner));
    o.insert("capabilities".into(), json!(p.capabilities));
    o.insert("source".into(), json!(p.source.display().to_string()));
    let config = if show_secrets {
        p.config_object()
    } else {
        p.redacted_config_object()
    };
    o.insert("config".into(), Value::Object(config));
    let secrets = if show_secrets {
        Vec::new()
    } else {
        p.secrets()
    };
    let env: Map<String, Value> = p
        .env
        .iter()
        .filter(|(_, e)| {
            !matches!(
                e.origin,
                super::EnvOrigin::Var(_) | super::EnvOrigin::Upstream | super::EnvOrigin::Meltano
            )
        })
        .map(|(k, e)| {
            let masked = secrets.iter().any(|s| e.value.contains(s.as_str()))
                || (!show_secrets && super::settings::looks_secret(k));
            (
                k.clone(),
                json!(if masked { REDACTED } else { e.value.as_str() }),
            )
        })
        .collect();
    o.insert("env".into(), Value::Object(env));
    if p.plugin_type == PluginType::Extractors || p.plugin_type == PluginType::Mappers {
        if let Value::Object(extras) = serde_json::to_value(&p.extras).unwrap_or_default() {
            o.extend(extras);
        }
    }
    if !p.commands.is_empty() {
        o.insert("commands".into(), json!(p.commands));
    }
    Value::Object(o)
}

/// Which settings of each plugin are sensitive, to mask them in the overlays of every
/// environment, active or not (the masker only knows the values of the active one).
struct SensitiveKeys {
    by_plugin: HashMap<(PluginType, String), Vec<String>>,
}

impl SensitiveKeys {
    fn of(plugins: &[ResolvedPlugin]) -> SensitiveKeys {
        let by_plugin = plugins
            .iter()
            .map(|p| {
                let declared = p.settings.iter().filter(|s| {
                    s.sensitive || matches!(s.kind.as_deref(), Some("password" | "oauth"))
                });
                let resolved = p.config.iter().filter(|(_, s)| s.sensitive);
                let names = declared
                    .map(|s| s.name.clone())
                    .chain(resolved.map(|(k, _)| k.clone()))
                    .collect();
                ((p.plugin_type, p.name.to_string()), names)
            })
            .collect();
        SensitiveKeys { by_plugin }
    }

    /// Masks, in one environment as JSON, every sensitive setting of its plugin overlays,
    /// every secret-looking variable of its `env:` blocks and its backend credentials.
    fn redact_environment(&self, env: &mut Value) {
        redact_env_block(env.get_mut("env"));
        if let Some(Value::Object(backend)) = env.get_mut("state_backend") {
            redact_leaves(backend, "", &|key| {
                looks_secret(key)
                    || key.ends_with("connection_string")
                    || key.ends_with("credentials")
            });
        }
        let Some(Value::Object(types)) = env.pointer_mut("/config/plugins") else {
            return;
        };
        for (type_key, list) in types.iter_mut() {
            let Some(plugin_type) = PluginType::parse(type_key) else {
                continue;
            };
            let Value::Array(items) = list else { continue };
            for item in items {
                let name = item.get("name").and_then(Value::as_str).unwrap_or("");
                let known = self
                    .by_plugin
                    .get(&(plugin_type, name.to_string()))
                    .cloned()
                    .unwrap_or_default();
                redact_env_block(item.get_mut("env"));
                if let Some(Value::Object(config)) = item.get_mut("config") {
                    redact_leaves(config, "", &|key| {
                        known.iter().any(|k| k == key) || looks_secret(key)
                    });
                }
            }
        }
    }
}

/// Replaces the value of every leaf whose dotted name `is_sensitive` says so.
fn redact_leaves(
    object: &mut Map<String, Value>,
    prefix: &str,
    is_sensitive: &dyn Fn(&str) -> bool,
) {
    for (key, value) in object.iter_mut() {
        let dotted = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if is_sensitive(&dotted) && !value.is_null() {
            *value = json!(REDACTED);
        } else if let Value::Object(inner) = value {
            redact_leaves(inner, &dotted, is_sensitive);
        }
    }
}

/// Masks the secret-looking variables of an `env:` block.
fn redact_env_block(block: Option<&mut Value>) {
    if let Some(Value::Object(vars)) = block {
        for (key, value) in vars.iter_mut() {
            if looks_secret(key) {
                *value = json!(REDACTED);
            }
        }
    }
}
