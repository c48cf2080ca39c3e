//! `config set|unset|reset`: which store a setting goes to (Meltano's `auto` rules), how a
//! value typed on the command line is cast by the setting's kind, and the edits that follow.
//!
//! Meltano's `auto` store, for `set`: a sensitive setting goes to `.env`, and so does an
//! `env_specific` one; otherwise the plugin's own definition when no environment was chosen
//! explicitly (`--environment`, `MELTANO_ENVIRONMENT`; `default_environment` does not count
//! for `config`), else the environment's overlay of the plugin. `unset` and `reset` act on
//! every store. Meltano's `reset` deletes the whole `.env` file (every plugin's secrets and
//! anything else in it); eltr removes only this plugin's variables.

use super::ops::{Editor, Target};
use crate::project::ResolvedPlugin;
use crate::project::model::SettingDef;
use anyhow::{anyhow, bail};
use serde_json::Value;
use std::path::PathBuf;

/// Where `--store` sends a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Auto,
    MeltanoYml,
    Dotenv,
}

/// One setting as the command names it.
#[derive(Debug, Clone)]
pub struct SettingName {
    /// The dotted name (`auth.user`), escapes kept.
    pub name: String,
    /// Its nested path in `config` (`["auth", "user"]`).
    pub path: Vec<String>,
}

impl SettingName {
    /// From the command's words: one word is split on its unescaped dots, several are the
    /// path already (Meltano's `config set tap a b value`).
    pub fn parse(words: &[String]) -> anyhow::Result<SettingName> {
        let path: Vec<String> = match words {
            [] => bail!("name a setting"),
            [one] => split_path(one),
            many => many.to_vec(),
        };
        if path.iter().any(String::is_empty) {
            bail!("setting name '{}' has an empty part", words.join("."));
        }
        Ok(SettingName {
            name: path.join("."),
            path,
        })
    }
}

/// Splits on dots that are not escaped with a backslash (`s3\.endpoint` is one part).
fn split_path(s: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                parts.last_mut().expect("non-empty").push_str("\\.");
                chars.next();
            }
            '.' => parts.push(String::new()),
            c => parts.last_mut().expect("non-empty").push(c),
        }
    }
    parts
}

/// The plugin's declaration of a setting, by name or alias.
pub fn find_setting<'a>(plugin: &'a ResolvedPlugin, name: &str) -> Option<&'a SettingDef> {
    plugin
        .settings
        .iter()
        .find(|s| s.name == name || s.aliases.iter().any(|a| a == name))
}

/// Whether Meltano keeps this setting out of project files.
pub fn is_sensitive(def: &SettingDef) -> bool {
    def.sensitive || def.kind.as_deref() == Some("password")
}

/// Casts a command-line value by the setting's kind, as Meltano's `cast_value`; an unknown
/// setting keeps the text.
pub fn cast(def: Option<&SettingDef>, raw: &str) -> anyhow::Result<Value> {
    let Some(def) = def else {
        return Ok(Value::String(raw.to_string()));
    };
    let kind = def.kind.as_deref().unwrap_or("string");
    let bad = |what: &str| anyhow!("'{raw}' is not {what} (setting '{}' is {kind})", def.name);
    let value = match kind {
        "boolean" => Value::Bool(crate::vocab::truth::truthy(raw)),
        "integer" => {
            let n: i64 = raw.trim().parse().map_err(|_| bad("an integer"))?;
            Value::from(n)
        }
        "decimal" => {
            let n: serde_json::Number = raw.trim().parse().map_err(|_| bad("a number"))?;
            Value::Number(n)
        }
        "object" => match parse_json_ish(raw) {
            Some(v @ Value::Object(_)) => v,
            _ => bail!("Failed to parse JSON object from string: '{raw}'"),
        },
        "array" => match parse_json_ish(raw) {
            Some(v @ Value::Array(_)) => v,
            _ => bail!("Failed to parse JSON array from string: '{raw}'"),
        },
        _ => Value::String(raw.to_string()),
    };
    if kind == "options" {
        if let Some(Value::Array(options)) = def.other.get("options") {
            let ok = options.iter().any(|o| o.get("value") == Some(&value));
            if !options.is_empty() && !ok {
                bail!("'{raw}' is not a valid choice for '{}'", def.name);
            }
        }
    }
    Ok(value)
}

/// JSON, or the Python literal Meltano also accepts (single quotes, True/False/None).
fn parse_json_ish(raw: &str) -> Option<Value> {
    serde_json::from_str(raw).ok().or_else(|| {
        // Python's literal spelling, which Meltano's ast.literal_eval fallback accepts.
        let swapped = raw
            .replace('\'', "\"")
            .replace("True", "true")
            .replace("False", "false")
            .replace("None", "null");
        serde_json::from_str(&swapped).ok()
    })
}

/// What `set` did, for the command's message.
#[derive(Debug)]
pub struct SetOutcome {
    pub value: Value,
    pub sensitive: bool,
    /// `.env`'s variable, or the project file written.
    pub place: Place,
    pub known: bool,
}

/// Where a value went.
#[derive(Debug)]
pub enum Place {
    Dotenv(String),
    File(PathBuf),
}

/// `config set`.
pub fn set(
    editor: &mut Editor,
    plugin: &ResolvedPlugin,
    environment: Option<&str>,
    setting: &SettingName,
    raw: &str,
    store: Store,
) -> anyhow::Result<SetOutcome> {
    let def = find_setting(plugin, &setting.name)
        .or_else(|| find_setting(plugin, &setting.path[0]).filter(|_| setting.path.len() > 1))
        .filter(|d| d.name == setting.name || d.aliases.contains(&setting.name));
    let value = cast(def, raw)?;
    let sensitive = def.is_some_and(is_sensitive);
    let env_specific = def
        .and_then(|d| d.other.get("env_specific"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let to_dotenv = match store {
        Store::Dotenv => true,
        Store::MeltanoYml => false,
        Store::Auto => sensitive || env_specific,
    };
    if to_dotenv {
        let Some(def) = def else {
            bail!(
                "unknown setting '{}' can not be set in `.env`: declare it under the plugin's \
                 `settings`, or use --store meltano_yml",
                setting.name
            );
        };
        let names = env_names(plugin, def);
        editor.dotenv_unset(&names[1..]);
        let text = match &value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => crate::pyjson::to_string(other),
        };
        editor.dotenv_set(&names[0], &text);
        return Ok(SetOutcome {
            value,
            sensitive,
            place: Place::Dotenv(names[0].clone()),
            known: true,
        });
    }
    let target = target(plugin, environment);
    let mut also: Vec<String> = Vec::new();
    if let Some(d) = def {
        also.push(d.name.clone());
        also.extend(d.aliases.iter().cloned());
    } else {
        also.push(setting.name.clone());
    }
    let file = editor.config_set(&target, &setting.path, &also, value.clone())?;
    Ok(SetOutcome {
        value,
        sensitive,
        place: Place::File(file),
        known: def.is_some(),
    })
}

/// `config unset`: from every store `store` allows. Returns the places it was removed from.
pub fn unset(
    editor: &mut Editor,
    plugin: &ResolvedPlugin,
    environment: Option<&str>,
    setting: &SettingName,
    store: Store,
) -> anyhow::Result<Vec<String>> {
    let def = find_setting(plugin, &setting.name);
    let mut places = Vec::new();
    if matches!(store, Store::Auto | Store::Dotenv) {
        if let Some(def) = def {
            if editor.dotenv_unset(&env_names(plugin, def)) {
                places.push("`.env`".to_string());
            }
        } else if store == Store::Dotenv {
            bail!(
                "unknown setting '{}' can not be unset in `.env`",
                setting.name
            );
        }
    }
    if matches!(store, Store::Auto | Store::MeltanoYml) {
        let mut also: Vec<String> = def
            .map(|d| {
                std::iter::once(d.name.clone())
                    .chain(d.aliases.iter().cloned())
                    .collect()
            })
            .unwrap_or_else(|| vec![setting.name.clone()]);
        also.retain(|k| !(setting.path.len() == 1 && k == &setting.path[0]));
        if let Some(env) = environment {
            let t = Target::Environment {
                environment: env.to_string(),
                plugin_type: plugin.plugin_type,
                name: plugin.name.to_string(),
            };
            if editor.config_unset(&t, &setting.path, &also)? {
                places.push(format!("environment '{env}'"));
            }
        }
        // `--store meltano_yml` with an environment means the environment only (Meltano's
        // _use_meltano_env); `auto` unsets everywhere.
        if store == Store::Auto || environment.is_none() {
            let t = Target::Plugin {
                plugin_type: plugin.plugin_type,
                name: plugin.name.to_string(),
            };
            if editor.config_unset(&t, &setting.path, &also)? {
                places.push(format!("`{}`", plugin.source.display()));
            }
        }
    }
    Ok(places)
}

/// `config reset`: the plugin's config in the project file (and the environment's overlay
/// when one was chosen), and only this plugin's variables in `.env`.
pub fn reset(
    editor: &mut Editor,
    plugin: &ResolvedPlugin,
    environment: Option<&str>,
    store: Store,
) -> anyhow::Result<()> {
    if matches!(store, Store::Auto | Store::Dotenv) {
        let mut names: Vec<String> = plugin
            .settings
            .iter()
            .flat_map(|d| env_names(plugin, d))
            .collect();
        let prefix = format!("{}_", crate::project::settings::env_stem(&plugin.name));
        names.extend(
            editor
                .dotenv_keys()
                .into_iter()
                .filter(|k| k.starts_with(&prefix)),
        );
        editor.dotenv_unset(&names);
    }
    if matches!(store, Store::Auto | Store::MeltanoYml) {
        if environment.is_none() || store == Store::Auto {
            editor.config_reset(&Target::Plugin {
                plugin_type: plugin.plugin_type,
                name: plugin.name.to_string(),
            })?;
        }
        if environment.is_some() {
            editor.config_reset(&target(plugin, environment))?;
        }
    }
    Ok(())
}

fn target(plugin: &ResolvedPlugin, environment: Option<&str>) -> Target {
    match environment {
        Some(env) => Target::Environment {
            environment: env.to_string(),
            plugin_type: plugin.plugin_type,
            name: plugin.name.to_string(),
        },
        None => Target::Plugin {
            plugin_type: plugin.plugin_type,
            name: plugin.name.to_string(),
        },
    }
}

/// The variables that carry a setting, the one Meltano writes first.
fn env_names(plugin: &ResolvedPlugin, def: &SettingDef) -> Vec<String> {
    crate::project::settings::setting_env_names(
        &plugin.name,
        &plugin.namespace,
        &def.name,
        Some(def),
    )
}
