//! The state backend settings (`state_backend:` in the project, per environment, and
//! `ELTR_STATE_BACKEND_*` / `MELTANO_STATE_BACKEND_*` variables), resolved and expanded. The
//! `state` module turns them into a store.

use super::error::Result;
use super::model::Object;
use super::settings::{deep_merge, flatten, looks_secret};
use super::{Context, REDACTED};
use indexmap::IndexMap;
use serde_json::{Value, json};

/// Every backend setting by dotted name (`uri`, `lock_timeout_seconds`, `s3.endpoint_url`…).
#[derive(Debug, Clone, Default)]
pub struct StateBackendSettings {
    pub values: IndexMap<String, String>,
}

/// The settings eltr knows, so variables can name them (`ELTR_STATE_BACKEND_S3_ENDPOINT_URL`).
const KNOWN: [&str; 9] = [
    "uri",
    "lock_timeout_seconds",
    "s3.aws_access_key_id",
    "s3.aws_secret_access_key",
    "s3.endpoint_url",
    "s3.region",
    "azure.connection_string",
    "azure.storage_account_url",
    "gcs.application_credentials",
];

/// A backend setting that holds a credential.
fn is_credential(key: &str) -> bool {
    looks_secret(key)
        || key.ends_with("connection_string")
        || key.ends_with("application_credentials")
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
        let obj: Object = merged.as_object().cloned().unwrap_or_default();
        for (key, value) in flatten(&obj, &[]) {
            let context = format!("state_backend.{key}");
            if let Some(v) = ctx.expand_value(&value, &env, &context)? {
                values.insert(key, super::model::scalar_to_string(&v));
            }
        }
        for key in KNOWN {
            let suffix = key.replace('.', "_").to_ascii_uppercase();
            for prefix in ["ELTR_STATE_BACKEND_", "MELTANO_STATE_BACKEND_"] {
                if let Some(e) = env.get(&format!("{prefix}{suffix}")) {
                    values.insert(key.to_string(), e.value.clone());
                    break;
                }
            }
        }
        let settings = StateBackendSettings { values };
        ctx.masker.add_all(settings.secrets());
        Ok(settings)
    }

    /// The values of credentials: keys, secrets, connection strings, and each key or
    /// signature inside a connection string (a store's error may print just that part).
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
