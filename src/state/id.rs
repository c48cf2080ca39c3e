//! State ids: `{environment}:{extractor}-to-{loader}[:{suffix}]`, Meltano's format, so a
//! project moving between the tools keeps its bookmarks.

use super::{Result, StateError};
use std::fmt;

/// Meltano keeps state ids in a `VARCHAR(900)` column.
pub const MAX_STATE_ID_BYTES: usize = 900;

/// A validated state id; safe to use as a folder or object name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StateId(String);

impl StateId {
    /// Accepts an id given by a user (`eltr state get ID`).
    pub fn parse(id: &str) -> Result<StateId> {
        let bad = |reason: &str| StateError::BadId {
            id: crate::vocab::ident::shown(id),
            reason: reason.to_string(),
        };
        if id.is_empty() {
            return Err(bad("it is empty"));
        }
        if id.len() > MAX_STATE_ID_BYTES {
            return Err(bad("it is longer than 900 bytes (Meltano's limit)"));
        }
        if id.contains('/') || id.contains('\\') {
            return Err(bad("it contains a path separator"));
        }
        if id.chars().any(char::is_control) {
            return Err(bad("it contains a control character (newline, tab, NUL…)"));
        }
        if id.starts_with('.') {
            return Err(bad("it starts with a dot"));
        }
        Ok(StateId(id.to_string()))
    }

    /// The id of an extractor → loader pipeline, as Meltano builds it.
    pub fn for_pipeline(
        environment: Option<&str>,
        extractor: &str,
        loader: &str,
        suffix: Option<&str>,
    ) -> Result<StateId> {
        let mut parts = Vec::new();
        for (what, value) in [
            ("environment", environment),
            ("extractor", Some(extractor)),
            ("loader", Some(loader)),
            ("state id suffix", suffix),
        ] {
            if let Some(v) = value {
                if v.contains(':') {
                    return Err(StateError::BadId {
                        id: v.to_string(),
                        reason: format!("the {what} name may not contain ':'"),
                    });
                }
            }
        }
        if let Some(env) = environment {
            parts.push(env.to_string());
        }
        parts.push(format!("{extractor}-to-{loader}"));
        if let Some(s) = suffix.filter(|s| !s.is_empty()) {
            parts.push(s.to_string());
        }
        StateId::parse(&parts.join(":"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meltano_format() {
        let id = StateId::for_pipeline(Some("dev"), "tap-a", "target-b", None).unwrap();
        assert_eq!(id.as_str(), "dev:tap-a-to-target-b");
        let id = StateId::for_pipeline(None, "tap-a", "target-b", Some("blue")).unwrap();
        assert_eq!(id.as_str(), "tap-a-to-target-b:blue");
    }

    #[test]
    fn colons_in_components_are_rejected() {
        assert!(StateId::for_pipeline(Some("d:ev"), "t", "u", None).is_err());
        assert!(StateId::for_pipeline(None, "t", "u", Some("a:b")).is_err());
    }

    #[test]
    fn path_tricks_are_rejected() {
        assert!(StateId::parse("../x").is_err());
        assert!(StateId::parse("a/b").is_err());
        assert!(StateId::parse("a\nb").is_err());
        assert!(StateId::parse("a\0b").is_err());
        assert!(StateId::parse(&"x".repeat(901)).is_err());
        assert!(StateId::parse("dev:tap-a-to-target-b:blue").is_ok());
    }
}
