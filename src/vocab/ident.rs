//! Names that end up inside paths: plugin, environment, job and schedule names, plugin
//! variants, and run ids. Each is parsed once, where it enters eltr (a project file, a flag),
//! into a type that cannot hold a path separator, `..`, a leading dot, NUL or a control
//! character; everything that builds a path from one takes the type, not a `String`.
//!
//! Meltano's own rules are the floor: it refuses `:` in plugin and environment names (the
//! state id delimiter) and wants a UUID for `--run-id`. eltr adds the rules that keep a name
//! one harmless path component.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::path::Path;

/// Longest name accepted, in bytes: a file name on common filesystems is at most 255 bytes,
/// and a few bytes are added to some names (`<name>--<variant>.lock`).
pub const MAX_NAME_BYTES: usize = 200;

/// What kind of thing a name names, for messages and for the rules that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Plugin,
    Environment,
    Job,
    Schedule,
    Variant,
}

impl NameKind {
    fn noun(self) -> &'static str {
        match self {
            NameKind::Plugin => "plugin name",
            NameKind::Environment => "environment name",
            NameKind::Job => "job name",
            NameKind::Schedule => "schedule name",
            NameKind::Variant => "variant",
        }
    }

    /// Plugin and environment names are parts of state ids, whose delimiter is `:`.
    fn forbids_colon(self) -> bool {
        matches!(self, NameKind::Plugin | NameKind::Environment)
    }
}

/// Why a name or id was refused. The offending text is shown escaped (a newline as `\n`) and
/// shortened, so the message itself stays one readable line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} \"{shown}\" is not valid: {reason}")]
pub struct IdentError {
    pub what: &'static str,
    pub shown: String,
    pub reason: &'static str,
}

impl IdentError {
    fn new(what: &'static str, raw: &str, reason: &'static str) -> IdentError {
        IdentError {
            what,
            shown: shown(raw),
            reason,
        }
    }
}

/// `raw` escaped for a one-line message and cut to a readable length.
pub fn shown(raw: &str) -> String {
    const MAX_SHOWN: usize = 80;
    let escaped: String = raw.escape_debug().collect();
    if escaped.chars().count() <= MAX_SHOWN {
        return escaped;
    }
    let cut: String = escaped.chars().take(MAX_SHOWN).collect();
    format!("{cut}…")
}

/// The rules every path-safe text obeys; returns the reason it does not.
pub fn path_component_problem(raw: &str) -> Option<&'static str> {
    if raw.is_empty() {
        return Some("it is empty");
    }
    if raw.len() > MAX_NAME_BYTES {
        return Some("it is longer than 200 bytes");
    }
    if raw.contains(['/', '\\']) {
        return Some("it contains a path separator ('/' or '\\')");
    }
    if raw.chars().any(char::is_control) {
        return Some("it contains a control character (newline, tab, NUL…)");
    }
    if raw.starts_with('.') {
        return Some("it starts with '.'");
    }
    if raw.trim() != raw {
        return Some("it starts or ends with whitespace");
    }
    None
}

/// A validated plugin, environment, job or schedule name (or a plugin variant): safe as one
/// path component.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

impl Name {
    /// Checks `raw` against the rules for `kind`.
    pub fn parse(kind: NameKind, raw: &str) -> Result<Name, IdentError> {
        if let Some(reason) = path_component_problem(raw) {
            return Err(IdentError::new(kind.noun(), raw, reason));
        }
        if kind.forbids_colon() && raw.contains(':') {
            return Err(IdentError::new(
                kind.noun(),
                raw,
                "it contains ':', which separates the parts of a state id",
            ));
        }
        Ok(Name(raw.to_string()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A name is one path component by construction, so it may be joined onto a folder.
impl AsRef<Path> for Name {
    fn as_ref(&self) -> &Path {
        Path::new(&self.0)
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Name> for String {
    fn from(n: Name) -> String {
        n.0
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Deserialises with the rules shared by every kind; the YAML reader puts the line and column
/// of the offending value in front of the message. Plugin and environment names are checked
/// for `:` when the project is merged, where the kind is known.
impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        let raw = String::deserialize(d)?;
        match path_component_problem(&raw) {
            None => Ok(Name(raw)),
            Some(reason) => Err(serde::de::Error::custom(IdentError::new(
                "name", &raw, reason,
            ))),
        }
    }
}

/// The id of one run: a UUID, as Meltano's `--run-id` is. Names the run's folders and log
/// file and is recorded in lock holders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunId(uuid::Uuid);

impl RunId {
    /// A new random id.
    pub fn new() -> RunId {
        RunId(uuid::Uuid::new_v4())
    }

    /// Accepts any form Python's `uuid.UUID()` accepts for the usual spellings (hyphenated,
    /// plain hex, braces, `urn:uuid:`); always written back hyphenated and lower case.
    pub fn parse(raw: &str) -> Result<RunId, IdentError> {
        uuid::Uuid::parse_str(raw.trim())
            .map(RunId)
            .map_err(|_| IdentError::new("run id", raw, "it is not a UUID"))
    }
}

impl Default for RunId {
    fn default() -> RunId {
        RunId::new()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl Serialize for RunId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass() {
        for ok in [
            "tap-github",
            "target_postgres",
            "tap-x--orders",
            "prod",
            "Daily Job",
            "é",
        ] {
            assert!(Name::parse(NameKind::Job, ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn path_tricks_are_refused() {
        for bad in [
            "", ".", "..", "../x", "/abs", "a/b", "a\\b", ".hidden", "a\0b", "a\nb", "a\rb",
            "\u{7f}", " pad", "pad ",
        ] {
            let err = Name::parse(NameKind::Plugin, bad).unwrap_err();
            assert_eq!(err.what, "plugin name", "{bad:?}");
        }
        assert!(Name::parse(NameKind::Plugin, &"x".repeat(201)).is_err());
        assert!(Name::parse(NameKind::Plugin, &"x".repeat(200)).is_ok());
    }

    #[test]
    fn colon_is_refused_where_meltano_refuses_it() {
        assert!(Name::parse(NameKind::Plugin, "tap:x").is_err());
        assert!(Name::parse(NameKind::Environment, "p:rod").is_err());
        assert!(Name::parse(NameKind::Job, "daily:eu").is_ok());
    }

    #[test]
    fn messages_escape_what_they_show() {
        let err = Name::parse(NameKind::Plugin, "a\nb")
            .unwrap_err()
            .to_string();
        assert!(!err.contains('\n'), "{err}");
        assert!(err.contains("a\\nb"), "{err}");
    }

    #[test]
    fn run_ids_are_uuids_in_any_spelling() {
        let id = RunId::parse("{936DA01F-9ABD-4D9D-80C7-02AF85C822A8}").unwrap();
        assert_eq!(id.to_string(), "936da01f-9abd-4d9d-80c7-02af85c822a8");
        assert!(RunId::parse("936da01f9abd4d9d80c702af85c822a8").is_ok());
        for bad in [
            "../../..",
            "",
            "x",
            "936da01f-9abd-4d9d-80c7-02af85c822a8/..",
        ] {
            assert!(RunId::parse(bad).is_err(), "{bad}");
        }
        assert_ne!(RunId::new(), RunId::new());
    }

    #[test]
    fn deserialising_a_bad_name_fails() {
        let err = serde_json::from_str::<Name>("\"../../x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("path separator"), "{err}");
    }
}
