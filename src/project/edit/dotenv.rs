//! `.env` lines: setting and removing one variable the way Meltano's `python-dotenv` does
//! (`KEY='value'`, replacing the lines that set the key, else appending), leaving every other
//! line (comments included) as it was.

/// The variable a line sets, if it sets one (`KEY=…` or `export KEY=…`).
fn line_key(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let t = t.strip_prefix("export ").map(str::trim_start).unwrap_or(t);
    if t.starts_with('#') {
        return None;
    }
    let eq = t.find('=')?;
    let key = t[..eq].trim_end();
    (!key.is_empty()).then_some(key)
}

/// How a value is written: single-quoted like Meltano when that reads back the same in
/// both `python-dotenv` and eltr's reader, else double-quoted with escapes.
pub fn quote(value: &str) -> String {
    if !value.contains(['\'', '\\', '\n', '\r']) {
        format!("'{value}'")
    } else {
        let mut s = String::from("\"");
        for c in value.chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                '\n' => s.push_str("\\n"),
                '\r' => s.push_str("\\r"),
                '$' => s.push_str("\\$"),
                c => s.push(c),
            }
        }
        s.push('"');
        s
    }
}

/// The text with `key` set to `value`: every line that sets it is replaced (the first by the
/// new line, the others removed), or the line is appended.
pub fn set(text: &str, key: &str, value: &str) -> String {
    let new_line = format!("{key}={}\n", quote(value));
    let mut out = String::with_capacity(text.len() + new_line.len());
    let mut replaced = false;
    for line in text.split_inclusive('\n') {
        if line_key(line) == Some(key) {
            if !replaced {
                out.push_str(&new_line);
                replaced = true;
            }
        } else {
            out.push_str(line);
        }
    }
    if !replaced {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&new_line);
    }
    out
}

/// The text without the lines that set any of `keys`.
pub fn unset(text: &str, keys: &[String]) -> String {
    text.split_inclusive('\n')
        .filter(|line| !line_key(line).is_some_and(|k| keys.iter().any(|x| x == k)))
        .collect()
}

/// The variables the text sets.
pub fn keys(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(line_key)
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replaces_in_place_and_keeps_comments() {
        let text = "# secrets\nA='1'\nB=2\n";
        assert_eq!(set(text, "A", "x"), "# secrets\nA='x'\nB=2\n");
        assert_eq!(set(text, "C", "y"), "# secrets\nA='1'\nB=2\nC='y'\n");
        assert_eq!(set("A=1", "C", "y"), "A=1\nC='y'\n");
    }

    #[test]
    fn unset_removes_only_the_key() {
        let text = "# keep\nexport A=1\nB=2\n";
        assert_eq!(unset(text, &["A".into()]), "# keep\nB=2\n");
    }

    #[test]
    fn awkward_values_read_back() {
        for v in ["it's", "back\\slash", "a\"b", "$HOME", "multi\nline"] {
            let text = set("", "K", v);
            let read: Vec<(String, String)> = dotenvy::from_read_iter(text.as_bytes())
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(read, vec![("K".to_string(), v.to_string())], "{text}");
        }
    }
}
