//! Reading one YAML file into a typed value, with errors that point at `file:line:column`.

use super::error::{ProjectError, Result};
use super::position::line_col;
use crate::vocab::files::{PROJECT_FILE_CAP, read_capped};
use serde::de::DeserializeOwned;
use std::path::Path;

/// Reads and parses `path`. An empty (or comments-only) file is the type's default, as Meltano
/// treats it.
pub fn read<T: DeserializeOwned + Default>(path: &Path) -> Result<T> {
    let bytes = read_capped(path, PROJECT_FILE_CAP).map_err(|error| ProjectError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    parse(path, &bytes)
}

/// Parses YAML text that was read from `path` (used for messages only).
pub fn parse<T: DeserializeOwned + Default>(path: &Path, bytes: &[u8]) -> Result<T> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_col(bytes, e.valid_up_to());
        ProjectError::Yaml {
            path: path.to_path_buf(),
            line,
            column,
            message: "file is not valid UTF-8".into(),
        }
    })?;
    if is_blank(text) {
        return Ok(T::default());
    }
    check_nesting(path, text)?;
    let located = |e: serde_norway::Error| {
        let message = without_values(&strip_location(&e.to_string()));
        // Some reader errors give a byte position instead of a line ("control characters
        // are not allowed at position 24"), others none at all (a second document).
        let position = byte_position(&message)
            .map(|offset| line_col(bytes, offset))
            .or_else(|| {
                message
                    .contains("more than one document")
                    .then(|| second_document(text))
                    .flatten()
            })
            .or_else(|| e.location().map(|l| (l.line(), l.column())));
        ProjectError::at(path, position, message)
    };
    // The untyped parse rejects duplicate keys (`host: a` then `host: b` in one map), which
    // the typed parse below would silently resolve to the last one.
    let untyped = serde_norway::from_str::<serde_norway::Value>(text).map_err(located)?;
    check_finite(path, text, &untyped)?;
    serde_norway::from_str(text).map_err(located)
}

/// `.nan` and `.inf` are YAML numbers that JSON cannot hold: read into a setting they would
/// silently become null (an unset lock timeout, a config key dropped). They are refused where
/// they are written, with the hint to quote them when text is meant.
fn check_finite(path: &Path, text: &str, doc: &serde_norway::Value) -> Result<()> {
    let mut keys = Vec::new();
    let Some(bad) = non_finite(doc, &mut keys) else {
        return Ok(());
    };
    let mut name = String::new();
    for key in &keys {
        match key {
            Key::Map(k) if name.is_empty() => name.push_str(k),
            Key::Map(k) => name.push_str(&format!(".{k}")),
            Key::Item(k, _) => name.push_str(&format!("[{k}]")),
        }
    }
    let message = format!(
        "{name}: {bad} is not a finite number; write a number, or quote it ('{bad}') if it is text"
    );
    let position = locate_path(text, &keys).or_else(|| locate_token(text, bad));
    Err(ProjectError::at(path, position, message))
}

/// Where `token` (`.nan`, `.inf`, in any case) is first written, for values inside flow
/// collections that `locate_path` cannot follow.
fn locate_token(text: &str, token: &str) -> Option<(usize, usize)> {
    let bare = token.trim_start_matches('-');
    text.lines().enumerate().find_map(|(i, line)| {
        let at = line.to_ascii_lowercase().find(bare)?;
        Some((i + 1, at + 1))
    })
}

/// A step down a YAML document: a mapping key, or a list item (by its `name`, else its index;
/// true when named).
enum Key {
    Map(String),
    Item(String, bool),
}

/// The first non-finite number in `value` (as YAML writes it), and the keys leading to it.
fn non_finite(value: &serde_norway::Value, keys: &mut Vec<Key>) -> Option<&'static str> {
    use serde_norway::Value;
    let mut below = |key: Key, v: &Value| {
        keys.push(key);
        let found = non_finite(v, keys);
        if found.is_none() {
            keys.pop();
        }
        found
    };
    match value {
        Value::Number(n) if n.is_nan() => Some(".nan"),
        Value::Number(n) if n.is_infinite() => Some(match n.as_f64() {
            Some(f) if f < 0.0 => "-.inf",
            _ => ".inf",
        }),
        Value::Sequence(items) => items.iter().enumerate().find_map(|(i, v)| {
            let name = v.get("name").and_then(Value::as_str);
            let label = name.map_or(i.to_string(), String::from);
            below(Key::Item(label, name.is_some()), v)
        }),
        Value::Mapping(map) => map.iter().find_map(|(k, v)| {
            let key = match k {
                Value::String(s) => s.clone(),
                other => serde_norway::to_string(other).unwrap_or_default(),
            };
            below(Key::Map(key.trim().to_string()), v)
        }),
        Value::Tagged(t) => non_finite(&t.value, keys),
        _ => None,
    }
}

/// 1-based line and column of the last of `keys`, each looked for below the one before (a
/// list item by its `name:` line).
fn locate_path(text: &str, keys: &[Key]) -> Option<(usize, usize)> {
    let mut from = 0;
    let mut found = None;
    for key in keys {
        let needle = match key {
            Key::Map(k) => format!("{k}:"),
            Key::Item(name, true) => format!("name: {name}"),
            Key::Item(_, false) => continue,
        };
        let (i, column) = text.lines().enumerate().skip(from).find_map(|(i, line)| {
            let t = line.trim_start();
            let item = t.strip_prefix("- ").map(str::trim_start).unwrap_or(t);
            item.starts_with(&needle)
                .then(|| (i, line.len() - item.len() + 1))
        })?;
        from = i + 1;
        found = Some((i + 1, column));
    }
    found
}

/// Deepest `[`/`{` nesting accepted. Real project files nest a handful of levels; thousands
/// of levels make the YAML parser slow (quadratic), so such a file is refused at once.
const MAX_NESTING: usize = 256;

fn check_nesting(path: &Path, text: &str) -> Result<()> {
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    let mut quote: Option<char> = None;
    for c in text.chars() {
        column += 1;
        match (c, quote) {
            ('\n', _) => {
                line += 1;
                column = 0;
                quote = None;
            }
            ('"' | '\'', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            (_, Some(_)) => {}
            ('[' | '{', None) => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(ProjectError::Yaml {
                        path: path.to_path_buf(),
                        line,
                        column,
                        message: format!("nested more than {MAX_NESTING} levels deep"),
                    });
                }
            }
            (']' | '}', None) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// True when the text has no YAML content at all (only blanks, comments or a document marker).
fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---"
    })
}

/// serde_norway puts " at line L column C" inside its messages; we print the location up
/// front instead, so it is removed wherever it appears.
fn strip_location(message: &str) -> String {
    let mut out = message.to_string();
    while let Some(i) = out.find(" at line ") {
        let rest = &out[i + " at line ".len()..];
        let Some(col) = rest.find("column ") else {
            break;
        };
        let digits = rest[col + "column ".len()..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        let end = i + " at line ".len() + col + "column ".len() + digits;
        out.replace_range(i..end, "");
    }
    out
}

/// The message without the text of the value it quotes (`invalid type: string "hunter2",
/// expected a map`): a value in the wrong place may be a secret, and the line and column
/// already say where it is.
fn without_values(message: &str) -> String {
    let mut out = message.to_string();
    for prefix in ["invalid type: string \"", "invalid value: string \""] {
        let Some(start) = out.find(prefix) else {
            continue;
        };
        let open = start + prefix.len() - 1;
        let Some(close) = out[open + 1..].rfind("\", expected").map(|i| open + 1 + i) else {
            continue;
        };
        out.replace_range(open..=close, "(value not shown)");
    }
    out
}

/// The byte offset in messages like "... at position 24".
fn byte_position(message: &str) -> Option<usize> {
    let i = message.find(" at position ")?;
    let digits: String = message[i + " at position ".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Line and column of the marker that starts a second YAML document.
fn second_document(text: &str) -> Option<(usize, usize)> {
    let mut seen_content = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_end();
        if t == "---" || t.starts_with("--- ") {
            if seen_content {
                return Some((i + 1, 1));
            }
        } else if !t.trim().is_empty() && !t.trim_start().starts_with('#') {
            seen_content = true;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::model::ProjectFile;

    #[test]
    fn syntax_error_names_line_and_column() {
        let err = parse::<ProjectFile>(Path::new("m.yml"), b"version: 1\nenv: {a: [1\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("m.yml:3:1: "), "{err}");
    }

    #[test]
    fn type_error_names_line() {
        let err = parse::<ProjectFile>(Path::new("m.yml"), b"version: 1\njobs: 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("m.yml:2:"), "{err}");
    }

    #[test]
    fn non_utf8_is_reported_with_position() {
        let err = parse::<ProjectFile>(Path::new("m.yml"), b"version: 1\nenv: \xff\n")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "m.yml:2:6: file is not valid UTF-8");
    }

    #[test]
    fn duplicate_keys_are_an_error_with_their_line() {
        let err = parse::<ProjectFile>(Path::new("m.yml"), b"env:\n  A: 1\n  A: 2\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("m.yml:2:") && err.contains("duplicate"),
            "{err}"
        );
    }

    #[test]
    fn a_value_in_the_wrong_place_is_not_echoed() {
        let err = parse::<ProjectFile>(
            Path::new("m.yml"),
            b"plugins:\n  extractors:\n  - name: t\n    config: \"hunter2 \\\"x\\\"\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(
            err.contains("m.yml:4:") && err.contains("expected a map"),
            "{err}"
        );
    }

    #[test]
    fn absurd_nesting_is_refused_quickly() {
        let mut text = b"env: ".to_vec();
        text.extend(std::iter::repeat_n(b'[', 5000));
        let err = parse::<ProjectFile>(Path::new("m.yml"), &text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("nested more than"), "{err}");
    }

    #[test]
    fn non_finite_numbers_are_refused_where_they_are_written() {
        let text = b"version: 1\nstate_backend:\n  uri: x\n  lock_timeout_seconds: .nan\n";
        let err = parse::<ProjectFile>(Path::new("m.yml"), text)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "m.yml:4:3: state_backend.lock_timeout_seconds: .nan is not a finite number; write a number, or quote it ('.nan') if it is text"
        );
        let text = b"plugins:\n  extractors:\n  - name: t\n    config:\n      low: -.inf\n";
        let err = parse::<ProjectFile>(Path::new("m.yml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("m.yml:5:7: plugins.extractors[t].config.low: -.inf is not"),
            "{err}"
        );
        let quoted: ProjectFile = parse(Path::new("m.yml"), b"env:\n  A: '.nan'\n").unwrap();
        assert_eq!(quoted.env["A"], ".nan");
    }

    #[test]
    fn comments_only_file_is_empty() {
        let f: ProjectFile = parse(Path::new("m.yml"), b"# nothing\n---\n").unwrap();
        assert!(f.plugins.is_empty());
    }
}
