//! Writing new values as YAML text: scalars quoted only when a plain scalar would be read as
//! something else (by eltr's reader or by Meltano's, YAML 1.1 and 1.2 alike), collections in
//! block style at a given indentation, or in flow style inside `[…]`/`{…}`.

use serde_json::Value;

/// How the file being edited indents: spaces per mapping level, and whether a block
/// sequence under a key is indented (`key:\n  - a`, Meltano's style) or not (`key:\n- a`).
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub step: usize,
    pub indent_sequences: bool,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            step: 2,
            indent_sequences: true,
        }
    }
}

/// A scalar (or an empty collection) as one token of YAML, safe in block and flow context.
pub fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(o) if o.is_empty() => "{}".into(),
        other => flow(other),
    }
}

/// A value in flow style (`{a: 1, b: [x]}`), for insertion inside a flow collection.
pub fn flow(v: &Value) -> String {
    match v {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(flow).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", string(k), flow(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => scalar(other),
    }
}

/// True when the value is written on its key's line (`key: value`).
pub fn is_inline(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => true,
    }
}

/// The lines of a block mapping entry `key: value` whose key starts at column `indent`;
/// no trailing line break. A multi-line value goes on the following lines.
pub fn entry(key: &str, v: &Value, indent: usize, style: Style) -> String {
    let pad = " ".repeat(indent);
    if is_inline(v) {
        return format!("{pad}{}: {}", string(key), scalar(v));
    }
    let child = match v {
        Value::Array(_) if !style.indent_sequences => indent,
        _ => indent + style.step,
    };
    format!("{pad}{}:\n{}", string(key), block(v, child, style))
}

/// A non-empty collection in block style, every line starting at column `indent`; no
/// trailing line break.
pub fn block(v: &Value, indent: usize, style: Style) -> String {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(map) if !map.is_empty() => map
            .iter()
            .map(|(k, v)| entry(k, v, indent, style))
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| format!("{pad}- {}", item_body(item, indent + 2, style)))
            .collect::<Vec<_>>()
            .join("\n"),
        other => format!("{pad}{}", scalar(other)),
    }
}

/// What follows `- ` for a sequence item whose content is at column `indent`.
pub fn item_body(item: &Value, indent: usize, style: Style) -> String {
    match item {
        Value::Object(map) if !map.is_empty() => {
            // The first entry shares the dash's line.
            let text = block(item, indent, style);
            text[indent..].to_string()
        }
        Value::Array(items) if !items.is_empty() => flow(item),
        other => scalar(other),
    }
}

/// Words that YAML 1.1 or 1.2 readers take for booleans or null when unquoted.
const KEYWORDS: &[&str] = &[
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
];

/// A string as a YAML scalar: plain when unambiguous, else single-quoted, else (line breaks,
/// control characters) double-quoted with JSON escapes, which YAML reads the same way.
pub fn string(s: &str) -> String {
    if s.chars().any(|c| c.is_control() || c == '\u{feff}') {
        return serde_json::to_string(s).expect("a string serializes");
    }
    if plain_ok(s) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if KEYWORDS.contains(&s.to_ascii_lowercase().as_str()) {
        return false;
    }
    // Anything that starts like a number, a date or a special float is quoted: readers
    // disagree on `0o17`, `1_000`, `2024-01-01`, `.inf`.
    if first.is_ascii_digit() || matches!(first, '+' | '.') {
        return false;
    }
    if first == '-' && (s.len() == 1 || !s[1..].starts_with(|c: char| c.is_ascii_alphabetic())) {
        return false;
    }
    if "?:,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    if s.ends_with(':') || s.ends_with(' ') || first == ' ' || s.contains(": ") || s.contains(" #")
    {
        return false;
    }
    // Flow indicators would end the scalar inside `[…]`/`{…}`.
    !s.contains([',', '[', ']', '{', '}', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reads_back(v: &Value) {
        let text = format!("k: {}\n", scalar(v));
        let back: Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(back["k"], *v, "{text}");
        let text = format!("k: [{}]\n", flow(v));
        let back: Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(back["k"][0], *v, "{text}");
    }

    #[test]
    fn ambiguous_strings_are_quoted() {
        for s in [
            "yes",
            "No",
            "1",
            "1.5",
            "0o17",
            "2024-01-01",
            ".inf",
            "~",
            "",
            "a: b",
            "x #y",
            "*.*",
            "!a.b",
            "-1",
            "it's",
            "a,b",
            "line\nbreak",
            "tab\there",
            " lead",
        ] {
            reads_back(&json!(s));
        }
        assert_eq!(string("tap-x"), "tap-x");
        assert_eq!(string("tags.*"), "tags.*");
        assert_eq!(string("yes"), "'yes'");
    }

    #[test]
    fn collections_render_in_block_and_flow() {
        let v = json!({"name": "x", "config": {"a": [1, {"b": "c"}]}, "e": []});
        let text = format!("{}\n", block(&v, 0, Style::default()));
        let back: Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(back, v, "{text}");
        reads_back(&v);
    }
}
