//! Meltano Hub: the plugin definitions `add` and `lock` fetch, and the lockfiles they become.
//! Nothing else in eltr reaches the network for definitions (DESIGN.md §3).
//!
//! The API is Meltano's (`meltano/core/hub/client.py`): `{api}/plugins/{type}/index` maps a
//! plugin name to its `default_variant` and `variants: {name: {ref: URL}}`; each `ref` is the
//! definition of one variant. `{api}` is `hub_api_root` if set, else `{hub_url}/meltano/api/v1`,
//! with `hub_url` (default `https://hub.meltano.com`) and `hub_url_auth` (an `Authorization`
//! header) read from `MELTANO_HUB_*` / `ELTR_HUB_*` variables, then the root project file.
//! Each request has a 10-second timeout and is retried three times on connection errors and
//! on 429/500/502/503/504, as Meltano's session does.

use crate::project::model::PluginType;
use anyhow::{Context as _, anyhow, bail};
use serde_json::{Map, Value};
use std::time::Duration;

/// Meltano's default Hub.
pub const DEFAULT_HUB_URL: &str = "https://hub.meltano.com";
const TIMEOUT: Duration = Duration::from_secs(10);
const RETRIES: usize = 3;
/// The largest answer read from a Hub (its biggest index is a few hundred KiB): a server that
/// sends without end costs an error, not all the memory.
const BODY_CAP: usize = 16 << 20;

/// Where the Hub is and how to authenticate.
#[derive(Debug, Clone)]
pub struct HubConfig {
    pub api: String,
    pub auth: Option<String>,
}

impl HubConfig {
    /// The project's Hub: its variables (process, then `.env`) and root file. Its credentials
    /// (`hub_url_auth`, a password inside the URL) are taught to the masker: errors name the
    /// URL they could not reach.
    pub fn of_project(ctx: &crate::project::Context) -> HubConfig {
        let text = std::fs::read_to_string(&ctx.project.root_file).unwrap_or_default();
        let root = crate::project::edit::doc::read_data(&text).unwrap_or_default();
        let config = HubConfig::resolve(|v| ctx.vars.get(v).map(|(s, _)| s.to_string()), &root);
        let passwords = crate::vocab::mask::uri_passwords(&config.api);
        ctx.masker.add_all(
            passwords
                .iter()
                .map(String::as_str)
                .chain(config.auth.as_deref())
                // The token alone, without its scheme (`Bearer`, `Basic`).
                .chain(
                    config
                        .auth
                        .iter()
                        .filter_map(|a| a.split_whitespace().last()),
                ),
        );
        config
    }

    /// From variables (`lookup`, process then `.env`) and the root file's data.
    pub fn resolve(lookup: impl Fn(&str) -> Option<String>, root: &Value) -> HubConfig {
        let setting = |name: &str| {
            let upper = name.to_ascii_uppercase();
            lookup(&format!("ELTR_{upper}"))
                .or_else(|| lookup(&format!("MELTANO_{upper}")))
                .or_else(|| root.get(name).and_then(Value::as_str).map(str::to_string))
                .filter(|s| !s.is_empty())
        };
        let api = setting("hub_api_root").unwrap_or_else(|| {
            let url = setting("hub_url").unwrap_or_else(|| DEFAULT_HUB_URL.to_string());
            format!("{}/meltano/api/v1", url.trim_end_matches('/'))
        });
        HubConfig {
            api,
            auth: setting("hub_url_auth"),
        }
    }
}

/// A definition fetched from the Hub.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub definition: Value,
    pub variant: String,
    pub is_default: bool,
}

/// A client for one command.
pub struct Hub {
    config: HubConfig,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Hub {
    pub fn new(config: HubConfig) -> anyhow::Result<Hub> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("eltr/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot set up the HTTP client")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the HTTP runtime")?;
        Ok(Hub {
            config,
            client,
            runtime,
        })
    }

    /// GETs `url` as JSON, retrying transient failures. `None` for a 404.
    fn get(&self, url: &str) -> anyhow::Result<Option<Value>> {
        let mut last_error = String::new();
        for attempt in 0..=RETRIES {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(200 * attempt as u64));
            }
            let mut request = self.client.get(url).header("Accept", "application/json");
            if let Some(auth) = &self.config.auth {
                request = request.header("Authorization", auth);
            }
            let result = self.runtime.block_on(async {
                let mut response = request.send().await?;
                let status = response.status();
                let mut body = Vec::new();
                while let Some(chunk) = response.chunk().await? {
                    if body.len() + chunk.len() > BODY_CAP {
                        return Ok((status, None));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok::<_, reqwest::Error>((status, Some(body)))
            });
            match result {
                Ok((_, None)) => bail!(
                    "Meltano Hub's answer to {url} is larger than the {} MiB eltr reads",
                    BODY_CAP >> 20
                ),
                Ok((status, Some(body))) => {
                    let code = status.as_u16();
                    if code == 404 {
                        return Ok(None);
                    }
                    if matches!(code, 429 | 500 | 502 | 503 | 504) {
                        last_error = format!("HTTP {status}");
                        continue;
                    }
                    if code == 401 && self.config.auth.is_none() {
                        bail!(
                            "Meltano Hub at {url} requires authentication: set hub_url_auth \
                             (MELTANO_HUB_URL_AUTH), or add the plugin with --custom or --from-ref"
                        );
                    }
                    if !status.is_success() {
                        bail!("Meltano Hub answered {url} with HTTP {status}");
                    }
                    return serde_json::from_slice(&body).map(Some).map_err(|e| {
                        anyhow!("Meltano Hub sent {url} as something other than JSON: {e}")
                    });
                }
                Err(e) => {
                    last_error = if e.is_timeout() {
                        format!("no answer within {}s", TIMEOUT.as_secs())
                    } else {
                        let mut msg = e.to_string();
                        let mut src = std::error::Error::source(&e);
                        while let Some(s) = src {
                            msg = format!("{msg}: {s}");
                            src = s.source();
                        }
                        msg
                    };
                }
            }
        }
        bail!(
            "could not reach Meltano Hub at {url} after {} attempts: {last_error}",
            RETRIES + 1
        )
    }

    /// GETs `url` as text (for `add --from-ref URL`).
    pub fn get_text(&self, url: &str) -> anyhow::Result<String> {
        let result = self.runtime.block_on(async {
            let response = self.client.get(url).send().await?.error_for_status()?;
            response.text().await
        });
        result.map_err(|e| anyhow!("cannot fetch {url}: {e}"))
    }

    /// The index of one plugin type.
    pub fn index(&self, plugin_type: PluginType) -> anyhow::Result<Map<String, Value>> {
        let url = format!("{}/plugins/{}/index", self.config.api, plugin_type.key());
        match self.get(&url)? {
            Some(Value::Object(m)) => Ok(m),
            Some(_) => bail!("Meltano Hub's index {url} is not a JSON object"),
            None => bail!(
                "{} is not supported in Meltano Hub ({url} does not exist)",
                plugin_type.singular()
            ),
        }
    }

    /// The definition of `name`'s `variant` (the default one when `None`).
    pub fn definition(
        &self,
        plugin_type: PluginType,
        name: &str,
        variant: Option<&str>,
    ) -> anyhow::Result<Fetched> {
        let index = self.index(plugin_type)?;
        let entry = index.get(name).ok_or_else(|| {
            anyhow!(
                "{} '{name}' is not known to Meltano Hub{}; add it with --custom or --from-ref",
                capitalize(plugin_type.singular()),
                crate::project::error::did_you_mean(name, index.keys().map(String::as_str))
            )
        })?;
        let default = entry
            .get("default_variant")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let wanted = match variant {
            None | Some("default" | "original") => default.clone(),
            Some(v) => v.to_string(),
        };
        // The variant names a lockfile and goes into the project file: a Hub's (or a user's)
        // `a/b` or `../x` would write a file elsewhere or leave a project that no longer loads.
        crate::vocab::ident::Name::parse(crate::vocab::ident::NameKind::Variant, &wanted)
            .map_err(|e| anyhow!("{} '{name}': {e}", capitalize(plugin_type.singular())))?;
        let variants = entry.get("variants").and_then(Value::as_object);
        let url = variants
            .and_then(|v| v.get(&wanted))
            .and_then(|v| v.get("ref"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                let known: Vec<&str> = variants
                    .map(|v| v.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                anyhow!(
                    "{} '{name}' variant '{wanted}' is not known to Meltano. Variants: {}",
                    capitalize(plugin_type.singular()),
                    known.join(", ")
                )
            })?;
        let definition = self
            .get(url)?
            .ok_or_else(|| anyhow!("Meltano Hub has no definition at {url}"))?;
        if !definition.is_object() {
            bail!("Meltano Hub's definition at {url} is not a JSON object");
        }
        Ok(Fetched {
            definition,
            is_default: wanted == default,
            variant: wanted,
        })
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Top-level keys of a lockfile, in the order Meltano writes them (`StandalonePlugin`).
const LOCK_KEYS: &[&str] = &[
    "plugin_type",
    "name",
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
    "capabilities",
    "settings_group_validation",
    "settings",
    "commands",
    "requires",
    "requires_meltano",
    "env",
    "supported_python_versions",
];

/// True for the keys of a plugin definition (what a lockfile holds), as opposed to a
/// project's own keys (`config`, `select`…).
pub fn is_definition_key(key: &str) -> bool {
    LOCK_KEYS.contains(&key)
}

/// Keys of a definition that never reach the lockfile.
const DROPPED: &[&str] = &["original", "deprecated", "hidden"];

/// Keys of a setting, in the order Meltano writes them (`SettingDefinition`).
const SETTING_KEYS: &[&str] = &[
    "name",
    "aliases",
    "env",
    "env_aliases",
    "kind",
    "value",
    "label",
    "documentation",
    "description",
    "tooltip",
    "options",
    "oauth",
    "placeholder",
    "env_specific",
    "hidden",
    "sensitive",
    "custom",
    "value_processor",
    "value_post_processor",
];

/// The lockfile text of a Hub definition, as Meltano writes it: its keys in Meltano's order,
/// empty values left out, `kind: password` written as a sensitive string, two-space JSON
/// with a final line break.
pub fn lockfile_text(plugin_type: PluginType, definition: &Value) -> String {
    let def = definition.as_object().cloned().unwrap_or_default();
    let mut out = Map::new();
    out.insert(
        "plugin_type".into(),
        Value::String(plugin_type.key().into()),
    );
    for key in &LOCK_KEYS[1..] {
        let value = match (*key, def.get(*key)) {
            ("label", None | Some(Value::Null)) => def.get("name").cloned(),
            ("settings", Some(Value::Array(items))) => {
                Some(Value::Array(items.iter().map(lock_setting).collect()))
            }
            (_, v) => v.cloned(),
        };
        if let Some(v) = value.filter(kept) {
            out.insert((*key).into(), v);
        }
    }
    for (k, v) in &def {
        if !LOCK_KEYS.contains(&k.as_str()) && !DROPPED.contains(&k.as_str()) && kept(v) {
            out.insert(k.clone(), v.clone());
        }
    }
    let mut text = to_pretty_python(&Value::Object(out));
    text.push('\n');
    text
}

fn lock_setting(s: &Value) -> Value {
    let Some(map) = s.as_object() else {
        return s.clone();
    };
    let mut map = map.clone();
    if map.get("kind").and_then(Value::as_str) == Some("password") {
        map.insert("kind".into(), Value::String("string".into()));
        map.insert("sensitive".into(), Value::Bool(true));
    }
    let mut out = Map::new();
    for key in SETTING_KEYS {
        if let Some(v) = map.get(*key).filter(|v| kept(v)) {
            if *key == "custom" && v == &Value::Bool(false) {
                continue;
            }
            out.insert((*key).into(), v.clone());
        }
    }
    for (k, v) in &map {
        if !SETTING_KEYS.contains(&k.as_str()) && kept(v) {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// Meltano's canonical form keeps truthy values and booleans.
fn kept(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(_) => true,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Number(_) => v.as_f64() != Some(0.0),
    }
}

/// `json.dump(..., indent=2)`: two-space indentation, `", "`-free separators, non-ASCII
/// escaped as Python does.
fn to_pretty_python(v: &Value) -> String {
    let mut out = String::new();
    write_pretty(v, 0, &mut out);
    out
}

fn write_pretty(v: &Value, depth: usize, out: &mut String) {
    let pad = |d: usize| "  ".repeat(d);
    match v {
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                write_pretty(item, depth + 1, out);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(depth));
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (k, item)) in map.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                out.push_str(&ascii_json(&Value::String(k.clone())));
                out.push_str(": ");
                write_pretty(item, depth + 1, out);
                if i + 1 < map.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(depth));
            out.push('}');
        }
        other => out.push_str(&ascii_json(other)),
    }
}

/// JSON text with every non-ASCII character as `\uXXXX` (Python's `ensure_ascii`).
fn ascii_json(v: &Value) -> String {
    crate::vocab::pyjson::ascii_only(&serde_json::to_string(v).expect("JSON serializes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lockfile_orders_keys_like_meltano_and_drops_empties() {
        let def = json!({
            "settings": [{"label": "Token", "name": "token", "kind": "password", "sensitive": true},
                         {"name": "flag", "kind": "boolean", "value": false}],
            "name": "tap-x", "namespace": "tap_x", "variant": "v", "pip_url": "tap-x",
            "keywords": ["sdk"], "hidden": false, "capabilities": [], "description": "é"
        });
        let text = lockfile_text(PluginType::Extractors, &def);
        assert_eq!(
            text,
            "{\n  \"plugin_type\": \"extractors\",\n  \"name\": \"tap-x\",\n  \"namespace\": \"tap_x\",\n  \"variant\": \"v\",\n  \"label\": \"tap-x\",\n  \"pip_url\": \"tap-x\",\n  \"description\": \"\\u00e9\",\n  \"settings\": [\n    {\n      \"name\": \"token\",\n      \"kind\": \"string\",\n      \"label\": \"Token\",\n      \"sensitive\": true\n    },\n    {\n      \"name\": \"flag\",\n      \"kind\": \"boolean\",\n      \"value\": false\n    }\n  ],\n  \"keywords\": [\n    \"sdk\"\n  ]\n}\n"
        );
    }
}
