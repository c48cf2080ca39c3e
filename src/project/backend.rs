//! The state backend settings (`state_backend:` in the project, per environment, and
//! `ELTR_STATE_BACKEND_*` / `MELTANO_STATE_BACKEND_*` variables), resolved and expanded. The
//! `state` module turns them into a store.

use super::error::{ProjectError, Result};
use super::model::Object;
use super::settings::{deep_merge, flatten, looks_secret};
use super::{Context, REDACTED};
use crate::vocab::mask::uri_passwords;
use crate::vocab::number::{self, NumberError};
use indexmap::IndexMap;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// Every backend setting by dotted name (`uri`, `lock_timeout_seconds`, `s3.endpoint_url`…).
#[derive(Debug, Clone, Default)]
pub struct StateBackendSettings {
    pub values: IndexMap<String, String>,
    /// Where each value was set, for messages.
    pub origins: IndexMap<String, Origin>,
    /// Meltano's system database (`systemdb`'s home): `ELTR_DATABASE_URI` /
    /// `MELTANO_DATABASE_URI`, else the project's `database_uri:`, expanded. `None`: Meltano's
    /// default, `sqlite:///$MELTANO_SYS_DIR_ROOT/meltano.db`.
    pub database_uri: Option<String>,
    /// `MELTANO_SYS_DIR_ROOT` (default: the project's `.meltano`).
    pub sys_dir_root: Option<String>,
}

/// Where a backend setting was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The project's `state_backend:` (in the root file or an included one).
    Project,
    /// The active environment's `state_backend:`, in this file.
    Environment { name: String, file: PathBuf },
    /// A variable (`ELTR_STATE_BACKEND_LOCK_TIMEOUT_SECONDS`).
    Var(String),
}

/// The settings eltr knows, so variables can name them (`ELTR_STATE_BACKEND_S3_ENDPOINT_URL`)
/// and `project::schema` lists them for editors.
pub const KNOWN: [&str; 11] = [
    "uri",
    "lock_timeout_seconds",
    "s3.aws_access_key_id",
    "s3.aws_secret_access_key",
    "s3.endpoint_url",
    "s3.region",
    "azure.connection_string",
    "azure.storage_account_url",
    "gcs.application_credentials",
    "gcs.application_credentials_path",
    "gcs.application_credentials_json",
];

/// A backend setting that holds a credential.
fn is_credential(key: &str) -> bool {
    looks_secret(key)
        || key.ends_with("connection_string")
        || key.contains("application_credentials")
        || key.ends_with("credentials_json")
}

impl StateBackendSettings {
    /// Resolves the settings: project file, then the environment's `state_backend`, then
    /// variables (ELTR_ before MELTANO_).
    pub fn resolve(ctx: &Context) -> Result<StateBackendSettings> {
        let env = ctx.project_env()?;
        let mut merged = Value::Object(ctx.project.state_backend.clone().unwrap_or_default());
        if let Some(overlay) = ctx
            .environment
            .as_ref()
            .and_then(|e| e.item.state_backend.as_ref())
        {
            deep_merge(&mut merged, &Value::Object(overlay.clone()));
        }
        let mut values = IndexMap::new();
        let mut origins = IndexMap::new();
        let obj: Object = merged.as_object().cloned().unwrap_or_default();
        let overlay = ctx.environment.as_ref().and_then(|e| {
            let obj = e.item.state_backend.as_ref()?;
            let origin = Origin::Environment {
                name: e.item.name.to_string(),
                file: e.source.clone(),
            };
            Some((flatten(obj), origin))
        });
        for (key, value) in flatten(&obj) {
            let context = format!("state_backend.{key}");
            if let Some(v) = ctx.expand_value(&value, &env, &context)? {
                let origin = match &overlay {
                    Some((keys, origin)) if keys.iter().any(|(k, _)| *k == key) => origin.clone(),
                    _ => Origin::Project,
                };
                origins.insert(key.clone(), origin);
                values.insert(key, super::model::scalar_to_string(&v));
            }
        }
        for key in KNOWN {
            let suffix = key.replace('.', "_").to_ascii_uppercase();
            for prefix in ["ELTR_STATE_BACKEND_", "MELTANO_STATE_BACKEND_"] {
                let var = format!("{prefix}{suffix}");
                if let Some(e) = env.get(&var) {
                    values.insert(key.to_string(), e.value.clone());
                    origins.insert(key.to_string(), Origin::Var(var));
                    break;
                }
            }
        }
        let var = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| env.get(n).map(|e| e.value.clone()))
        };
        let chosen = ctx.database_uri_override.clone();
        let database_uri =
            match chosen.or_else(|| var(&["ELTR_DATABASE_URI", "MELTANO_DATABASE_URI"])) {
                Some(v) => Some(v),
                None => match &ctx.project.database_uri {
                    Some(raw) => ctx
                        .expand_value(&Value::String(raw.clone()), &env, "database_uri")?
                        .map(|v| super::model::scalar_to_string(&v)),
                    None => None,
                },
            }
            .filter(|v| !v.is_empty());
        let sys_dir_root = var(&["MELTANO_SYS_DIR_ROOT"]).filter(|v| !v.is_empty());
        let settings = StateBackendSettings {
            values,
            origins,
            database_uri,
            sys_dir_root,
        };
        ctx.masker.add_all(settings.secrets());
        let uri_passwords = settings.database_uri.as_deref().map(uri_passwords);
        ctx.masker
            .add_all(uri_passwords.iter().flatten().map(String::as_str));
        Ok(settings)
    }

    /// The values of credentials: keys, secrets, connection strings, and each key or
    /// signature inside a connection string (a store's error may print just that part). The
    /// database URI's passwords are `vocab::mask::uri_passwords`.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.values
            .iter()
            .filter(|(k, _)| is_credential(k))
            .flat_map(|(_, v)| {
                let parts = v.split(';').filter_map(|part| {
                    let (key, value) = part.split_once('=')?;
                    let key = key.trim().to_ascii_lowercase();
                    (key.contains("key") || key.contains("signature") || key.contains("secret"))
                        .then_some(value)
                });
                std::iter::once(v.as_str()).chain(parts)
            })
    }

    /// A setting holding seconds (`lock_timeout_seconds`), checked: `None` when unset, an
    /// error pointing at where it was set when it is not 0 or more seconds (up to a year).
    pub fn seconds(&self, ctx: &Context, key: &str) -> Result<Option<Duration>> {
        let Some(raw) = self.get(key) else {
            return Ok(None);
        };
        let setting = format!("state_backend.{key}");
        let error = match number::seconds(&setting, raw) {
            Ok(d) => return Ok(Some(d)),
            Err(e) => e,
        };
        let leaf = key.rsplit('.').next().unwrap_or(key);
        Err(match self.origins.get(key) {
            Some(Origin::Var(var)) => ProjectError::Number(NumberError {
                what: var.clone(),
                ..error
            }),
            Some(Origin::Environment { name, file }) => {
                let text = std::fs::read_to_string(file).unwrap_or_default();
                let at = locate_below(&text, &format!("name: {name}"), leaf);
                let message = format!("environment '{name}': {error}");
                ProjectError::at(file, at, message)
            }
            Some(Origin::Project) | None => {
                let (file, at) = project_file_setting(ctx, leaf);
                ProjectError::at(&file, at, error.to_string())
            }
        })
    }

    /// One setting's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The settings as JSON, secrets (and credentials inside URIs) masked unless asked.
    pub fn to_json(&self, show_secrets: bool) -> Value {
        let mut out = Object::new();
        for (k, v) in &self.values {
            let masked = !show_secrets && is_credential(k);
            let value = if masked {
                REDACTED.to_string()
            } else {
                v.clone()
            };
            super::settings::nest_into(&mut out, k, json!(value));
        }
        Value::Object(out)
    }
}

/// The project file whose top-level `state_backend:` sets `leaf`, and where: the root file or
/// an included one. Only errors need it, so the files are read again then.
fn project_file_setting(ctx: &Context, leaf: &str) -> (PathBuf, Option<(usize, usize)>) {
    let p = &ctx.project;
    let includes = super::yaml::read::<super::model::ProjectFile>(&p.root_file)
        .and_then(|doc| super::include::resolve(&p.root, &p.root_file, &doc.include_paths))
        .unwrap_or_default();
    for file in std::iter::once(p.root_file.clone()).chain(includes) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text.lines().any(|l| l.starts_with("state_backend:")) {
            let at = locate_below(&text, "state_backend:", leaf);
            return (file, at);
        }
    }
    (p.root_file.clone(), None)
}

/// 1-based line and column of the first `leaf:` key after the first line that starts (past
/// its indentation and any `- `) with `anchor`.
fn locate_below(text: &str, anchor: &str, leaf: &str) -> Option<(usize, usize)> {
    let key = format!("{leaf}:");
    let item = |line: &str| {
        let t = line.trim_start();
        t.strip_prefix("- ").map(str::trim_start).unwrap_or(t).len()
    };
    let mut lines = text.lines().enumerate();
    lines.find(|(_, l)| l[l.len() - item(l)..].starts_with(anchor))?;
    lines.find_map(|(i, l)| {
        let start = l.len() - item(l);
        l[start..].starts_with(&key).then_some((i + 1, start + 1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_is_found_below_its_block() {
        let text = "version: 1\nenvironments:\n- name: dev\n  state_backend:\n    lock_timeout_seconds: -5\n- name: prod\n  state_backend:\n    lock_timeout_seconds: 7\n";
        assert_eq!(
            locate_below(text, "name: prod", "lock_timeout_seconds"),
            Some((8, 5))
        );
        assert_eq!(
            locate_below(text, "name: dev", "lock_timeout_seconds"),
            Some((5, 5))
        );
        assert_eq!(locate_below(text, "name: qa", "lock_timeout_seconds"), None);
    }
}
