//! Reading one YAML file into a typed value, with errors that point at `file:line:column`.

use super::error::{ProjectError, Result};
use serde::de::DeserializeOwned;
use std::path::Path;

/// Reads and parses `path`. An empty (or comments-only) file is the type's default, as Meltano
/// treats it.
pub fn read<T: DeserializeOwned + Default>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|error| ProjectError::Io {
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
    serde_norway::from_str(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((1, 1));
        ProjectError::Yaml {
            path: path.to_path_buf(),
            line,
            column,
            message: strip_location(&e.to_string()),
        }
    })
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

/// 1-based line and column of a byte offset.
fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
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
    fn comments_only_file_is_empty() {
        let f: ProjectFile = parse(Path::new("m.yml"), b"# nothing\n---\n").unwrap();
        assert!(f.plugins.is_empty());
    }
}
