//! Setting names, the environment variables that override them, and the conversions between
//! nested config objects and dotted setting names.

use super::model::{Object, SettingDef};
use serde_json::Value;

/// Meltano's env var stem for a name: upper case, every non-alphanumeric byte an underscore
/// (`tap-postgres--orders` → `TAP_POSTGRES__ORDERS`).
pub fn env_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The variable that sets `setting` for the plugin whose stem (name or namespace) is `stem`.
pub fn setting_env_var(stem: &str, setting: &str) -> String {
    format!("{}_{}", env_stem(stem), env_stem(setting))
}

/// The variable for an extra such as `select` (`TAP_X__SELECT`).
pub fn extra_env_var(stem: &str, extra: &str) -> String {
    format!("{}__{}", env_stem(stem), env_stem(extra))
}

/// Converts an environment variable's text to the setting's kind. Unparseable text is kept as
/// a string, as Meltano does, so the plugin reports the bad value itself.
pub fn parse_env_value(kind: Option<&str>, text: &str) -> Value {
    match kind {
        Some("integer") => text
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.into())),
        Some("decimal") | Some("number") => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
            .unwrap_or_else(|| Value::String(text.into())),
        Some("boolean") => match crate::vocab::truth::parse(text) {
            Some(b) => Value::Bool(b),
            None => Value::String(text.into()),
        },
        Some("object") | Some("array") => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.into()))
        }
        _ => Value::String(text.into()),
    }
}

/// Flattens a config object into dotted leaf keys, as Meltano flattens a plugin's config
/// before matching it to settings: every non-empty object is walked into, so a declared
/// `object` setting written nested is found by its leaves (and assembled from them).
pub fn flatten(config: &Object) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    flatten_into(config, "", &mut out);
    out
}

fn flatten_into(obj: &Object, prefix: &str, out: &mut Vec<(String, Value)>) {
    for (key, value) in obj {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Object(inner) if !inner.is_empty() => flatten_into(inner, &full, out),
            _ => out.push((full, value.clone())),
        }
    }
}

/// Removes, at every level below the top, keys holding a dot: once a config is nested, a
/// dotted key inside an object repeats values its leaves already placed (Meltano's
/// `SingerPlugin.process_config` drops them the same way).
pub fn drop_dotted_keys(config: &mut Object) {
    for value in config.values_mut() {
        if let Value::Object(inner) = value {
            inner.retain(|k, _| !k.contains('.'));
            drop_dotted_keys(inner);
        }
    }
}

/// Inserts `value` at the dotted path `key`, creating objects on the way, as Meltano nests
/// config before handing it to a plugin.
pub fn nest_into(target: &mut Object, key: &str, value: Value) {
    let mut parts = key.split('.').peekable();
    let mut cur = target;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            cur.insert(part.to_string(), value);
            return;
        }
        let slot = cur
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Object::new()));
        if !slot.is_object() {
            *slot = Value::Object(Object::new());
        }
        cur = slot.as_object_mut().expect("just made an object");
    }
}

pub use crate::vocab::json::deep_merge;

/// A setting value as an environment variable's text: strings as they are, everything else
/// as Python's `json.dumps` writes it (Meltano's format, which plugins parse).
pub fn env_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => crate::vocab::pyjson::to_string(other),
    }
}

/// True for names whose values must never be printed, even when a plugin forgets to mark them
/// sensitive.
pub fn looks_secret(setting: &str) -> bool {
    let lower = setting.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "private_key",
        "api_key",
        "access_key",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// The variables that override a setting, in the order they are consulted:
/// `<PLUGIN_NAME>_<SETTING>`, then `<NAMESPACE>_<SETTING>`, then the same two for each alias. The
/// setting's own `env:` name is one Meltano writes, never reads (`env_vars(for_writing=
/// False)`): a `DBT_PROFILES_DIR` in the environment does not change the setting. An inheriting
/// child has a namespace of its own, so it never reads its parent's variables: those reach it
/// through the parent's value, below its own config (Meltano 4.4).
pub fn setting_env_names(
    name: &str,
    namespace: &str,
    setting: &str,
    decl: Option<&SettingDef>,
) -> Vec<String> {
    let mut names = Vec::with_capacity(3);
    names.push(setting_env_var(name, setting));
    let ns = setting_env_var(namespace, setting);
    if !names.contains(&ns) {
        names.push(ns);
    }
    for alias in decl.map(|d| d.aliases.as_slice()).unwrap_or_default() {
        for stem in [name, namespace] {
            let var = setting_env_var(stem, alias);
            if !names.contains(&var) {
                names.push(var);
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn env_names_follow_meltano() {
        assert_eq!(
            setting_env_var("tap-postgres--orders", "port"),
            "TAP_POSTGRES__ORDERS_PORT"
        );
        assert_eq!(setting_env_var("tap_x", "a.b"), "TAP_X_A_B");
        assert_eq!(extra_env_var("tap-x", "select"), "TAP_X__SELECT");
    }

    #[test]
    fn env_values_take_the_setting_kind() {
        assert_eq!(parse_env_value(Some("integer"), "5432"), json!(5432));
        assert_eq!(parse_env_value(Some("boolean"), "TRUE"), json!(true));
        assert_eq!(parse_env_value(Some("array"), r#"["a"]"#), json!(["a"]));
        assert_eq!(parse_env_value(None, "5432"), json!("5432"));
        assert_eq!(parse_env_value(Some("integer"), "x"), json!("x"));
    }

    #[test]
    fn flatten_and_nest_round_trip() {
        let cfg = json!({"a": {"b": 1, "c": {"d": true}}, "e": "x"});
        let flat = flatten(cfg.as_object().unwrap());
        assert_eq!(flat[0], ("a.b".to_string(), json!(1)));
        let mut back = Object::new();
        for (k, v) in flat {
            nest_into(&mut back, &k, v);
        }
        assert_eq!(Value::Object(back), cfg);
    }

    #[test]
    fn nested_dotted_keys_are_dropped() {
        let mut cfg = json!({"maps": {"s.id": "id", "s": {"id": "id"}}, "top": 1});
        drop_dotted_keys(cfg.as_object_mut().unwrap());
        assert_eq!(cfg, json!({"maps": {"s": {"id": "id"}}, "top": 1}));
    }
}
