//! The one masker. It is told every sensitive value eltr learns (plugin settings, environment
//! overlays, state backend credentials, `.env` values of sensitive settings) and hides each in
//! every form a program is likely to print it in: as written, JSON-escaped (by serde_json and by
//! Python's `json.dumps`, which escapes non-ASCII as `\u00e9`), JSON-escaped twice (JSON in a
//! JSON string), Python `repr()` / `ascii()` quoted, and percent-encoded (a password inside a
//! connection URI). Every line eltr prints goes through [`Masker::mask`].
//!
//! The masker is shared (`Arc`) between the project context that learns secrets and the output
//! sinks that print, and may learn more while lines are being printed.

use aho_corasick::{AhoCorasick, MatchKind};
use std::borrow::Cow;
use std::sync::RwLock;

/// What a hidden value is replaced with (Meltano's `meltano config` mask).
pub const REDACTED: &str = "*****";

/// Values shorter than this are not masked: hiding every `ab` or `1` in the output would make
/// it unreadable and protect nothing a guesser could not find.
pub const MIN_SECRET_BYTES: usize = 3;

/// Hides known secrets in text. Cheap to clone behind an `Arc`; safe to share across threads.
#[derive(Default)]
pub struct Masker {
    inner: RwLock<Inner>,
}

/// Says how many secrets it knows, never which.
impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let known = self.inner.read().map(|i| i.known.len()).unwrap_or(0);
        write!(f, "Masker {{ {known} secrets }}")
    }
}

#[derive(Default)]
struct Inner {
    /// Every secret learned, as given (to skip ones already known).
    known: Vec<String>,
    /// Every form of every secret, the patterns of `matcher`.
    forms: Vec<String>,
    matcher: Option<AhoCorasick>,
}

impl Masker {
    /// An empty masker.
    pub fn new() -> Masker {
        Masker::default()
    }

    /// Learns one secret (and its printed forms). Values too short to mask are ignored.
    pub fn add(&self, secret: &str) {
        self.add_all(std::iter::once(secret));
    }

    /// Learns several secrets at once (one rebuild of the matcher).
    pub fn add_all<'a>(&self, secrets: impl IntoIterator<Item = &'a str>) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let mut changed = false;
        for secret in secrets {
            if secret.len() < MIN_SECRET_BYTES || inner.known.iter().any(|k| k == secret) {
                continue;
            }
            inner.known.push(secret.to_string());
            for form in forms(secret) {
                if !inner.forms.contains(&form) {
                    inner.forms.push(form);
                }
            }
            changed = true;
        }
        if changed {
            inner.matcher = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&inner.forms)
                .ok();
        }
    }

    /// True when no secret is known.
    pub fn is_empty(&self) -> bool {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .forms
            .is_empty()
    }

    /// `text` with every form of every known secret replaced by [`REDACTED`].
    pub fn mask<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let Some(matcher) = &inner.matcher else {
            return Cow::Borrowed(text);
        };
        if !matcher.is_match(text) {
            return Cow::Borrowed(text);
        }
        let replacements = vec![REDACTED; inner.forms.len()];
        Cow::Owned(matcher.replace_all(text, &replacements))
    }

    /// Like [`Masker::mask`], for a line that was cut short: a secret cut in two leaves its
    /// beginning at the end of the kept part, which is hidden too.
    pub fn mask_cut<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let masked = self.mask(text);
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let longest_tail = inner
            .forms
            .iter()
            .filter_map(|form| {
                (MIN_SECRET_BYTES..form.len())
                    .rev()
                    .find(|&n| form.is_char_boundary(n) && masked.ends_with(&form[..n]))
            })
            .max();
        match longest_tail {
            Some(n) => {
                let keep = masked.len() - n;
                Cow::Owned(format!("{}{REDACTED}", &masked[..keep]))
            }
            None => masked,
        }
    }
}

/// The forms a secret may be printed in, each at least [`MIN_SECRET_BYTES`] long: the text
/// as written, percent-encoded, or inside a Python `repr()` / `ascii()`; each of those as is,
/// JSON-escaped (raw or ASCII-only non-ASCII) and JSON-escaped twice (a log line holding a
/// JSON document, a structured log message holding a repr).
pub fn forms(secret: &str) -> Vec<String> {
    let mut bases = vec![secret.to_string(), percent_encoded(secret)];
    // repr() of a text holding `'` but no `"` quotes it with `"`, leaving `'` unescaped;
    // otherwise it is quoted with `'`, escaped inside.
    for ascii_only in [false, true] {
        for escape_quote in [false, true] {
            bases.push(python_repr_body(secret, ascii_only, escape_quote));
        }
    }
    let mut out: Vec<String> = Vec::new();
    for base in bases {
        let json = json_escaped(&base, false);
        let json_ascii = json_escaped(&base, true);
        let layered = [
            json_escaped(&json, false),
            json_escaped(&json_ascii, false),
            json,
            json_ascii,
            base,
        ];
        for form in layered {
            if form.len() >= MIN_SECRET_BYTES && !out.contains(&form) {
                out.push(form);
            }
        }
    }
    out
}

/// The inside of a JSON string holding `s`; with `ascii_only`, every non-ASCII character is a
/// `\uXXXX` escape (surrogate pairs above U+FFFF), as Python's `json.dumps` writes by default.
fn json_escaped(s: &str, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if ascii_only && !c.is_ascii() => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The inside of Python's `repr(s)` (or `ascii(s)` with `ascii_only`), quoted with `'` (which
/// is then escaped) or with `"`.
fn python_repr_body(s: &str, ascii_only: bool, escape_quote: bool) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' if escape_quote => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if !c.is_ascii() && (ascii_only || !python_printable(c)) => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02x}"));
                } else if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Close to Python's `str.isprintable` for non-ASCII: control and separator characters are not.
fn python_printable(c: char) -> bool {
    !(c.is_control() || (c.is_whitespace() && c != ' '))
}

/// `s` with every byte outside the URI unreserved set percent-encoded (upper-case hex), as a
/// password appears inside a connection URI.
fn percent_encoded(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a database URI's passwords are replaced with where the URI is shown (`state`
/// messages name the system database they use).
pub const URI_PASSWORD_SHOWN: &str = "********";

/// The passwords a database URI carries, for the masker to learn: the one after `user:` in
/// its authority and every `password=` parameter of its query (libpq, and so Meltano's
/// SQLAlchemy, reads both), each as written and percent-decoded.
pub fn uri_passwords(uri: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (start, end) in uri_password_spans(uri) {
        let raw = &uri[start..end];
        out.push(raw.to_string());
        if let Some(decoded) = percent_decoded(raw).filter(|d| d != raw) {
            out.push(decoded);
        }
    }
    out
}

/// `uri` with each of its passwords ([`uri_passwords`]) replaced by [`URI_PASSWORD_SHOWN`].
pub fn redact_uri(uri: &str) -> String {
    let mut out = String::with_capacity(uri.len());
    let mut at = 0;
    for (start, end) in uri_password_spans(uri) {
        out.push_str(&uri[at..start]);
        out.push_str(URI_PASSWORD_SHOWN);
        at = end;
    }
    out.push_str(&uri[at..]);
    out
}

/// Byte ranges of the non-empty passwords in `uri`, in order.
fn uri_password_spans(uri: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let Some(scheme_end) = uri.find("://").map(|i| i + 3) else {
        return spans;
    };
    let rest = &uri[scheme_end..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    if let Some(at) = authority.rfind('@') {
        if let Some(colon) = authority[..at].find(':') {
            spans.push((scheme_end + colon + 1, scheme_end + at));
        }
    }
    let tail_start = scheme_end + authority_len;
    if let Some(q) = uri[tail_start..].find('?') {
        let mut pos = tail_start + q + 1;
        let query_end = uri[pos..].find('#').map_or(uri.len(), |i| pos + i);
        for pair in uri[pos..query_end].split('&') {
            if let Some(value) = pair.strip_prefix("password=") {
                let start = pos + "password=".len();
                spans.push((start, start + value.len()));
            }
            pos += pair.len() + 1;
        }
    }
    spans.retain(|(start, end)| end > start);
    spans
}

/// `%XX` escapes decoded; `None` when an escape is broken or the bytes are not UTF-8.
fn percent_decoded(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_uri_passwords_are_found_in_the_authority_and_the_query() {
        assert_eq!(uri_passwords("postgresql://u:s3cr@t@h/db"), ["s3cr@t"]);
        assert!(uri_passwords("postgresql://u@h/db").is_empty());
        assert_eq!(
            uri_passwords("postgresql://u:a%2Fb@h/db?sslmode=x&password=q%21w&passfile=p"),
            ["a%2Fb", "a/b", "q%21w", "q!w"]
        );
        assert_eq!(
            redact_uri("postgresql://u:s3cr@t@h/db?password=two#password=no"),
            "postgresql://u:********@h/db?password=********#password=no"
        );
        assert_eq!(
            redact_uri("postgresql:///db?host=h&password=pw"),
            "postgresql:///db?host=h&password=********"
        );
        for odd in [
            "",
            "://",
            "x://@",
            "x://:@h?password=&",
            "x://h?%",
            "p://u:%ZZ@h",
        ] {
            let _ = (uri_passwords(odd), redact_uri(odd));
        }
    }

    fn masker(secrets: &[&str]) -> Masker {
        let m = Masker::new();
        m.add_all(secrets.iter().copied());
        m
    }

    #[test]
    fn raw_value_is_hidden() {
        let m = masker(&["hunter2"]);
        assert_eq!(m.mask("password=hunter2;"), "password=*****;");
        assert!(matches!(m.mask("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_escaped_forms_are_hidden() {
        let secret = "p\"a\\s\u{1}sé😀";
        let m = masker(&[secret]);
        let by_serde = serde_json::to_string(secret).unwrap();
        assert!(!m.mask(&by_serde).contains("sé"), "{by_serde}");
        // Python: json.dumps('p"a\\s\x01sé😀')
        let by_python = r#""p\"a\\s\u0001s\u00e9\ud83d\ude00""#;
        assert_eq!(m.mask(by_python), "\"*****\"");
        // JSON inside a JSON string.
        let twice = serde_json::to_string(&serde_json::json!({"pw": secret}).to_string()).unwrap();
        assert!(!m.mask(&twice).contains("s\\\\u0001"), "{}", m.mask(&twice));
    }

    #[test]
    fn python_repr_forms_are_hidden() {
        let m = masker(&["it's\tsé\u{a0}"]);
        // repr("it's\tsé\xa0") == "\"it's\\tsé\\xa0\""; inside a dict repr: 'it\'s\tsé\xa0'
        assert_eq!(m.mask(r#"{'pw': "it's\tsé\xa0"}"#), r#"{'pw': "*****"}"#);
        assert_eq!(m.mask(r"{'pw': 'it\'s\tsé\xa0'}"), r"{'pw': '*****'}");
        // ascii(): non-ASCII escaped
        assert_eq!(m.mask(r"'it\'s\ts\xe9\xa0'"), r"'*****'");
    }

    #[test]
    fn percent_encoded_form_is_hidden() {
        let m = masker(&["p@ss:w/rd"]);
        assert_eq!(
            m.mask("postgresql://u:p%40ss%3Aw%2Frd@host/db"),
            "postgresql://u:*****@host/db"
        );
    }

    #[test]
    fn short_values_are_not_masked() {
        let m = masker(&["ab", ""]);
        assert!(m.is_empty());
        assert_eq!(m.mask("ab"), "ab");
    }

    #[test]
    fn longest_secret_wins_when_one_contains_another() {
        let m = masker(&["secret", "secret-and-more"]);
        assert_eq!(m.mask("x secret-and-more y secret"), "x ***** y *****");
    }

    #[test]
    fn a_cut_secret_is_hidden_too() {
        let m = masker(&["supersecretvalue"]);
        assert_eq!(m.mask_cut("token=supersec"), "token=*****");
        assert_eq!(m.mask_cut("token=su"), "token=su");
    }

    #[test]
    fn masker_learns_while_shared() {
        let m = std::sync::Arc::new(Masker::new());
        let other = m.clone();
        other.add("late-secret");
        assert_eq!(m.mask("a late-secret"), "a *****");
    }
}
