//! JSON text as Python's `json.dumps` writes it (`", "` and `": "` separators). Meltano writes
//! state files and setting variables this way; eltr matches it byte for byte so files move
//! between the two tools unchanged.

use serde_json::Value;

/// Serialises `v` with Python's default separators.
pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&ascii_escaped(k));
                out.push_str(": ");
                write(item, out);
            }
            out.push('}');
        }
        Value::String(s) => out.push_str(&ascii_escaped(s)),
        Value::Number(n) if n.is_f64() => out.push_str(&python_float(&n.to_string())),
        other => out.push_str(&other.to_string()),
    }
}

/// `str(v)` in Python of the value `json.loads` makes of `v`: text as it is, `True`,
/// `False`, `None`, and lists and dicts as Python prints them (`{'k': 'v'}`). Meltano writes
/// values of settings without a kind (or of kind `string`) into variables this way.
pub fn python_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

/// `repr(v)` in Python.
pub fn python_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) if n.is_f64() => python_float(&n.to_string()),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string_repr(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(python_repr).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", string_repr(k), python_repr(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// A Python string literal as `repr` writes it: single quotes unless the text holds a single
/// quote and no double one.
fn string_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python writes exponents with a sign and at least two digits (`1.5e-07`, `1e+20`).
fn python_float(text: &str) -> String {
    let Some((mantissa, exp)) = text.split_once(['e', 'E']) else {
        return text.to_string();
    };
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp.trim_start_matches('+')),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

/// Python escapes every non-ASCII character as `\uXXXX` by default (`ensure_ascii=True`).
fn ascii_escaped(s: &str) -> String {
    ascii_only(&Value::String(s.to_string()).to_string())
}

/// JSON text with every non-ASCII character written as `\uXXXX` (surrogate pairs above
/// U+FFFF), as Python's `json.dumps` writes it by default.
pub fn ascii_only(json: &str) -> String {
    if json.is_ascii() {
        return json.to_string();
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_str_is_what_python_prints() {
        assert_eq!(python_str(&json!(false)), "False");
        assert_eq!(python_str(&json!("it's")), "it's");
        assert_eq!(
            python_str(&json!({"k": "v", "n": null})),
            "{'k': 'v', 'n': None}"
        );
        assert_eq!(python_str(&json!(["it's", "a\\b"])), r#"["it's", 'a\\b']"#);
        assert_eq!(python_str(&json!([1, 2.5, true])), "[1, 2.5, True]");
    }

    #[test]
    fn python_separators_and_ascii() {
        let v = json!({"a": [1, "é"], "b": {"c": null}});
        assert_eq!(to_string(&v), r#"{"a": [1, "\u00e9"], "b": {"c": null}}"#);
        assert_eq!(
            to_string(&json!({"café": 1.5e-7})),
            r#"{"caf\u00e9": 1.5e-07}"#
        );
        assert_eq!(to_string(&json!(1e20)), "1e+20");
    }
}
