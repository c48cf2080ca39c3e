//! The variables Meltano defines for a project, which configs, `env:` blocks and
//! `state_backend` settings may reference and every plugin process receives:
//!
//! - the project's own (`Project.env` in Meltano): `MELTANO_PROJECT_ROOT`,
//!   `MELTANO_ENVIRONMENT` (empty without an active environment), `MELTANO_SYS_DIR_ROOT`,
//!   `MELTANO_USER_AGENT`, and `MELTANO_JOB_TRIGGER` (Meltano's CLI sets it to `cli` unless
//!   it is already set);
//! - Meltano's project settings as variables (`ProjectSettingsService.as_env`):
//!   `MELTANO_PROJECT_ID`, `MELTANO_DATABASE_URI`, `MELTANO_CLI_LOG_LEVEL`… with the value the
//!   project gives them, else Meltano's default.
//!
//! Plugin-level variables (`MELTANO_EXTRACTOR_NAME`, `MELTANO_EXTRACT_<SETTING>`…) are built
//! where plugins are resolved (`resolve.rs`, `plugin::env`).

use super::model::Object;
use super::settings::{env_stem, env_text};
use super::{Context, EnvMap};
use serde_json::Value;

/// The user agent eltr announces in `MELTANO_USER_AGENT` (Meltano's is `Meltano/<version>`).
pub fn user_agent() -> String {
    format!("eltr/{}", env!("CARGO_PKG_VERSION"))
}

/// `(variable, value)` of the project's own variables, in Meltano's order. They sit above the
/// process variables and `.env` and below the root `env:` block, as in Meltano
/// (`ProjectSettingsService.env_override`).
pub fn project_vars(
    root: &std::path::Path,
    environment: Option<&str>,
    process: &dyn Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    // Meltano reads these two from its own process environment only (`os.getenv`).
    let sys_dir = process("MELTANO_SYS_DIR_ROOT")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| root.join(".meltano").display().to_string());
    let trigger = process("MELTANO_JOB_TRIGGER").unwrap_or_else(|| "cli".to_string());
    vec![
        ("MELTANO_PROJECT_ROOT".into(), root.display().to_string()),
        (
            "MELTANO_ENVIRONMENT".into(),
            environment.unwrap_or_default().to_string(),
        ),
        ("MELTANO_SYS_DIR_ROOT".into(), sys_dir),
        ("MELTANO_USER_AGENT".into(), user_agent()),
        ("MELTANO_JOB_TRIGGER".into(), trigger),
    ]
}

/// How a project setting's value is written into its variable (`SettingDefinition.
/// stringify_value`: strings as they are, other kinds as JSON).
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Json,
}

/// Meltano 4.4.1's project settings (`meltano/core/bundle/settings.yml`), in its order, each
/// with its kind and default (JSON text). `state_backend.uri` has no default here: Meltano's is
/// its system database, eltr's a local folder, so the variable is only set when the project
/// sets the URI.
const PROJECT_SETTINGS: [(&str, Kind, Option<&str>); 26] = [
    ("default_environment", Kind::Text, None),
    ("send_anonymous_usage_stats", Kind::Json, Some("true")),
    ("disable_tracking", Kind::Json, None),
    ("project_id", Kind::Text, None),
    (
        "database_uri",
        Kind::Text,
        Some(r#""sqlite:///$MELTANO_SYS_DIR_ROOT/meltano.db""#),
    ),
    ("database_max_retries", Kind::Json, Some("3")),
    ("database_retry_timeout", Kind::Json, Some("5")),
    ("project_readonly", Kind::Json, Some("false")),
    ("hub_api_root", Kind::Text, None),
    ("hub_url", Kind::Text, Some(r#""https://hub.meltano.com""#)),
    ("hub_url_auth", Kind::Text, None),
    ("elt.buffer_size", Kind::Json, Some("104857600")),
    ("python", Kind::Text, None),
    ("auto_install", Kind::Json, Some("true")),
    ("state_backend.uri", Kind::Text, None),
    ("state_backend.lock_timeout_seconds", Kind::Json, Some("10")),
    ("state_backend.lock_retry_seconds", Kind::Json, Some("1")),
    ("cli.log_level", Kind::Json, Some(r#""info""#)),
    ("cli.log_config", Kind::Text, Some(r#""logging.yaml""#)),
    ("cli.log_format", Kind::Json, Some(r#""colored""#)),
    ("cli.disable_version_check", Kind::Json, Some("false")),
    (
        "snowplow.collector_endpoints",
        Kind::Json,
        Some(r#"["https://sp.meltano.com"]"#),
    ),
    ("venv.backend", Kind::Json, Some(r#""uv""#)),
    ("experimental", Kind::Json, Some("false")),
    ("ff.strict_env_var_mode", Kind::Json, Some("false")),
    ("ff.plugin_locks_required", Kind::Json, Some("false")),
];

/// `(variable, value)` of Meltano's project settings, in its order: the variable
/// (`MELTANO_CLI_LOG_LEVEL`, from the process, `.env` or the root `env:` block), else the
/// root file's value (`cli: {log_level: debug}` or `cli.log_level: debug`), else the default;
/// settings with no value are left out. `env` is the project environment (facts included),
/// which also expands values such as the default `database_uri`.
pub fn project_setting_vars(ctx: &Context, env: &EnvMap) -> Vec<(String, String)> {
    let file = root_settings(ctx);
    let mut out = Vec::with_capacity(PROJECT_SETTINGS.len());
    for (name, kind, default) in PROJECT_SETTINGS {
        let var = format!("MELTANO_{}", env_stem(name));
        let overridden = (name == "database_uri")
            .then(|| ctx.database_uri_override.clone())
            .flatten();
        let value = match overridden.or_else(|| env.get(&var).map(|e| e.value.clone())) {
            Some(v) => Some(v),
            None => lookup(&file, name)
                .or_else(|| default.and_then(|d| serde_json::from_str(d).ok()))
                .filter(|v| !v.is_null())
                .map(|v| match (kind, &v) {
                    (_, Value::String(s)) => {
                        super::expand::expand(s, &|n| env.get(n).map(|e| e.value.clone())).text
                    }
                    (Kind::Text, Value::Number(n)) => n.to_string(),
                    _ => env_text(&v),
                }),
        };
        if let Some(value) = value {
            out.push((var, value));
        }
    }
    out
}

/// The root file's project-level keys as one object.
fn root_settings(ctx: &Context) -> Object {
    let p = &ctx.project;
    let mut out = p.settings.clone();
    let mut set = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            out.insert(key.to_string(), v);
        }
    };
    set(
        "default_environment",
        p.default_environment.clone().map(Value::String),
    );
    set("project_id", p.project_id.clone().map(Value::String));
    set("python", p.python.clone().map(Value::String));
    set("state_backend", p.state_backend.clone().map(Value::Object));
    set("venv", p.venv.clone().map(Value::Object));
    out
}

/// A dotted setting's value in the root file: nested (`cli: {log_level: …}`) or written flat
/// (`cli.log_level: …`), as Meltano flattens the file before looking settings up.
fn lookup(file: &Object, name: &str) -> Option<Value> {
    if let Some(v) = file.get(name) {
        return Some(v.clone());
    }
    let mut cur = file;
    let mut parts = name.split('.').peekable();
    while let Some(part) = parts.next() {
        let v = cur.get(part)?;
        if parts.peek().is_none() {
            return Some(v.clone());
        }
        cur = v.as_object()?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_settings_are_found_nested_or_flat() {
        let file = json!({"cli": {"log_level": "debug"}, "elt.buffer_size": 5});
        let file = file.as_object().unwrap();
        assert_eq!(lookup(file, "cli.log_level"), Some(json!("debug")));
        assert_eq!(lookup(file, "elt.buffer_size"), Some(json!(5)));
        assert_eq!(lookup(file, "cli.log_format"), None);
    }

    #[test]
    fn project_vars_follow_meltano_names() {
        let none = |_: &str| None;
        let vars = project_vars(std::path::Path::new("/p"), None, &none);
        let names: Vec<&str> = vars.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "MELTANO_PROJECT_ROOT",
                "MELTANO_ENVIRONMENT",
                "MELTANO_SYS_DIR_ROOT",
                "MELTANO_USER_AGENT",
                "MELTANO_JOB_TRIGGER"
            ]
        );
        assert_eq!(vars[1].1, "");
        assert_eq!(vars[2].1, "/p/.meltano");
        assert_eq!(vars[4].1, "cli");
    }
}
