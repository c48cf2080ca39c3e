//! The resolved project as one JSON document (`eltr compile`): what every plugin resolves to
//! in the active environment, plus environments, jobs, schedules and the state backend.

use super::error::Result;
use super::model::PluginType;
use super::{Context, REDACTED, ResolvedPlugin};
use serde_json::{Map, Value, json};

/// Builds the document; sensitive values are masked unless `show_secrets`.
pub fn compile(ctx: &Context, show_secrets: bool) -> Result<Value> {
    let mut plugins = Map::new();
    for plugin in ctx.all_plugins()? {
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
                .map(|e| serde_json::to_value(&e.item).unwrap_or_default())
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
                .map(|s| serde_json::to_value(&s.item).unwrap_or_default())
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
                super::EnvOrigin::Var(_) | super::EnvOrigin::Upstream
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
