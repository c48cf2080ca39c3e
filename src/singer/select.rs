//! Select patterns (`[!]stream[.prop[.sub…]]`, fnmatch globs, `\.` for a literal dot) and
//! the decision of whether a stream or property is selected, as Meltano's `select` extra
//! means it.

use globset::{GlobBuilder, GlobMatcher};

/// One parsed `select` entry.
#[derive(Debug, Clone)]
pub struct SelectPattern {
    pub text: String,
    pub negated: bool,
    stream: GlobMatcher,
    /// Empty for a bare stream (`stream` means `stream.*`).
    path: Vec<GlobMatcher>,
}

/// A pattern that is not a valid glob.
#[derive(Debug, thiserror::Error)]
#[error("invalid select pattern '{pattern}': {message}")]
pub struct PatternError {
    pub pattern: String,
    pub message: String,
}

impl SelectPattern {
    /// Parses one pattern.
    pub fn parse(text: &str) -> Result<SelectPattern, PatternError> {
        let (negated, body) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let parts = split_unescaped_dots(body);
        let glob = |p: &str| {
            GlobBuilder::new(p)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
                .map(|g| g.compile_matcher())
                .map_err(|e| PatternError {
                    pattern: text.to_string(),
                    message: e.kind().to_string(),
                })
        };
        let stream = glob(&parts[0])?;
        let mut path = Vec::new();
        for p in &parts[1..] {
            path.push(glob(p)?);
        }
        // `stream.*` and `stream` are the same thing: every property.
        if path.len() == 1 && parts[1] == "*" {
            path.clear();
        }
        Ok(SelectPattern {
            text: text.to_string(),
            negated,
            stream,
            path,
        })
    }

    /// Does the pattern's stream part match this stream id?
    pub fn matches_stream(&self, stream: &str) -> bool {
        self.stream.is_match(stream)
    }

    /// True when the pattern names the whole stream (no property part).
    pub fn is_whole_stream(&self) -> bool {
        self.path.is_empty()
    }

    /// For an include: does it select this property (its own path, a descendant, or a
    /// parent of a selected path)? For an exclude: does it remove it (itself or a descendant)?
    fn matches_property(&self, property: &[&str]) -> bool {
        if self.path.is_empty() {
            return true;
        }
        if self.negated && property.len() < self.path.len() {
            return false;
        }
        self.path
            .iter()
            .zip(property)
            .all(|(glob, name)| glob.is_match(name))
    }
}

/// Splits on dots that are not escaped as `\.`, unescaping them.
fn split_unescaped_dots(s: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                chars.next();
                parts.last_mut().expect("never empty").push_str("[.]");
            }
            '.' => parts.push(String::new()),
            c => parts.last_mut().expect("never empty").push(c),
        }
    }
    parts
}

/// The select rules of one extractor.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub patterns: Vec<SelectPattern>,
}

impl Selection {
    /// Parses every pattern.
    pub fn parse(patterns: &[String]) -> Result<Selection, PatternError> {
        Ok(Selection {
            patterns: patterns
                .iter()
                .map(|p| SelectPattern::parse(p))
                .collect::<Result<_, _>>()?,
        })
    }

    /// A stream is selected when an include names it and no whole-stream exclude does.
    pub fn stream_selected(&self, stream: &str) -> bool {
        let included = self
            .patterns
            .iter()
            .any(|p| !p.negated && p.matches_stream(stream));
        let excluded = self
            .patterns
            .iter()
            .any(|p| p.negated && p.is_whole_stream() && p.matches_stream(stream));
        included && !excluded
    }

    /// A property is selected when an include reaches it and no exclude removes it.
    /// Excludes apply after includes, whatever their order in the list.
    pub fn property_selected(&self, stream: &str, property: &[&str]) -> bool {
        let hit = |neg: bool| {
            self.patterns.iter().any(|p| {
                p.negated == neg && p.matches_stream(stream) && p.matches_property(property)
            })
        };
        hit(false) && !hit(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(p: &[&str]) -> Selection {
        Selection::parse(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn bare_stream_selects_every_property() {
        let s = sel(&["users"]);
        assert!(s.stream_selected("users"));
        assert!(s.property_selected("users", &["name"]));
        assert!(!s.stream_selected("orders"));
    }

    #[test]
    fn globs_and_excludes() {
        let s = sel(&["public-*.*", "!public-secrets.*", "!public-users.password"]);
        assert!(s.stream_selected("public-users"));
        assert!(!s.stream_selected("public-secrets"));
        assert!(s.property_selected("public-users", &["name"]));
        assert!(!s.property_selected("public-users", &["password"]));
    }

    #[test]
    fn sub_property_selects_its_parent() {
        let s = sel(&["users.address.city"]);
        assert!(s.property_selected("users", &["address"]));
        assert!(s.property_selected("users", &["address", "city"]));
        assert!(!s.property_selected("users", &["address", "zip"]));
        assert!(!s.property_selected("users", &["name"]));
    }

    #[test]
    fn escaped_dot_is_literal() {
        let s = sel(&[r"my\.stream.id"]);
        assert!(s.stream_selected("my.stream"));
        assert!(s.property_selected("my.stream", &["id"]));
        assert!(!s.stream_selected("myxstream"));
    }
}
