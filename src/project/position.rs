//! Line and column numbers in project files, for errors found after parsing (when the YAML
//! library no longer knows positions): where a key, a `key: value` or a byte offset is.

/// 1-based line and column of the first line that starts with `needle` (after indentation),
/// for errors found after parsing.
pub fn locate(text: &str, needle: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let indent = line.len() - line.trim_start().len();
        line.trim_start()
            .starts_with(needle)
            .then_some((i + 1, indent + 1))
    })
}

/// 1-based line and column of the first mapping key `key:` (also as the first key of a list
/// item, `- key:`), for keys found unknown after parsing.
pub fn locate_key(text: &str, key: &str) -> Option<(usize, usize)> {
    let needle = format!("{key}:");
    text.lines().enumerate().find_map(|(i, line)| {
        let trimmed = line.trim_start();
        let item = trimmed.strip_prefix("- ").map(str::trim_start);
        let rest = item.unwrap_or(trimmed);
        rest.starts_with(&needle)
            .then(|| (i + 1, line.len() - rest.len() + 1))
    })
}

/// 1-based line and column of the value of the first `key: value` line that sets `value`
/// (plain or quoted), for values checked after parsing.
pub fn locate_key_value(text: &str, key: &str, value: &str) -> Option<(usize, usize)> {
    let key = format!("{key}:");
    text.lines().enumerate().find_map(|(i, line)| {
        let at = line.find(&key)?;
        let rest = &line[at + key.len()..];
        let value_at = rest.find(value)?;
        Some((i + 1, at + key.len() + value_at + 1))
    })
}

/// 1-based line and column of a byte offset.
pub fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = offset
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, column)
}
