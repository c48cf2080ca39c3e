//! Reading a Singer line's `type` and `stream` without parsing it: runs pass every byte
//! through eltr, and a full JSON parse per record would cost more than the pipe itself.
//!
//! The fast path handles what every Singer library writes (`{"type": "RECORD", "stream": …`
//! first); any other key order falls back to a scan that tracks nesting depth, so a
//! `"type"` inside a record's data is never mistaken for the message's own.

use memchr::memmem;

/// The kinds of Singer message eltr tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Record,
    Schema,
    State,
    ActivateVersion,
    Batch,
    /// Valid-looking JSON with another or no `type`.
    Other,
    /// Not a JSON object at all (a tap printing logs to stdout, garbage).
    NotJson,
}

/// What the scanner learned from one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scanned<'a> {
    pub kind: Kind,
    /// The raw bytes of the `stream` value (without quotes; escapes left as they are).
    pub stream: Option<&'a [u8]>,
}

/// Scans one line (without its newline).
pub fn scan(line: &[u8]) -> Scanned<'_> {
    // The overwhelmingly common line: a RECORD as singer-python / singer-sdk or a compiled
    // tap writes it. Recognised by its exact prefix, no parsing at all.
    for prefix in [RECORD_COMPACT, RECORD_SPACED] {
        if let Some(rest) = line.strip_prefix(prefix) {
            if let Some(end) = memchr::memchr2(b'"', b'\\', rest) {
                if rest[end] == b'"' {
                    return Scanned {
                        kind: Kind::Record,
                        stream: Some(&rest[..end]),
                    };
                }
            }
        }
    }
    scan_general(line)
}

const RECORD_COMPACT: &[u8] = br#"{"type":"RECORD","stream":""#;
const RECORD_SPACED: &[u8] = br#"{"type": "RECORD", "stream": ""#;

fn scan_general(line: &[u8]) -> Scanned<'_> {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let body = &line[start..];
    if body.first() != Some(&b'{') {
        return Scanned {
            kind: Kind::NotJson,
            stream: None,
        };
    }
    if let Some((kind, rest)) = leading_type(&body[1..]) {
        let stream = if matches!(
            kind,
            Kind::Record | Kind::Schema | Kind::ActivateVersion | Kind::Batch
        ) {
            leading_key(rest, b"stream").or_else(|| top_level_string(body, b"stream"))
        } else {
            None
        };
        return Scanned { kind, stream };
    }
    let kind = top_level_string(body, b"type").map_or(Kind::Other, kind_of);
    let stream = top_level_string(body, b"stream");
    Scanned { kind, stream }
}

fn kind_of(value: &[u8]) -> Kind {
    match value {
        b"RECORD" => Kind::Record,
        b"SCHEMA" => Kind::Schema,
        b"STATE" => Kind::State,
        b"ACTIVATE_VERSION" => Kind::ActivateVersion,
        b"BATCH" => Kind::Batch,
        _ => Kind::Other,
    }
}

/// Fast path: `"type"` is the first key. Returns the kind and what follows its value.
fn leading_type(after_brace: &[u8]) -> Option<(Kind, &[u8])> {
    let (value, rest) = key_value(after_brace, b"type")?;
    Some((kind_of(value), rest))
}

/// Reads `, "key": "value"` right after a previous value.
fn leading_key<'a>(rest: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let rest = skip_ws(rest);
    let rest = rest.strip_prefix(b",")?;
    key_value(rest, key).map(|(v, _)| v)
}

/// Parses `"key" : "value"` at the start of `s` (after whitespace).
fn key_value<'a>(s: &'a [u8], key: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let s = skip_ws(s).strip_prefix(b"\"")?;
    let s = s.strip_prefix(key)?.strip_prefix(b"\"")?;
    let s = skip_ws(s).strip_prefix(b":")?;
    let s = skip_ws(s).strip_prefix(b"\"")?;
    let end = string_end(s)?;
    Some((&s[..end], &s[end + 1..]))
}

fn skip_ws(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

/// Index of the closing quote of a JSON string whose opening quote was just consumed.
fn string_end(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let j = i + memchr::memchr2(b'"', b'\\', &s[i..])?;
        if s[j] == b'"' {
            return Some(j);
        }
        i = j + 2;
        if i > s.len() {
            return None;
        }
    }
}

/// Slow path: finds `"key": "value"` at nesting depth 1, skipping strings and nested values.
fn top_level_string<'a>(body: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let needle = [b"\"", key, b"\""].concat();
    let finder = memmem::Finder::new(&needle);
    let mut depth = 0usize;
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'"' => {
                if depth == 1 && finder.find(&body[i..]) == Some(0) {
                    let after = &body[i + needle.len()..];
                    let after = skip_ws(after);
                    if let Some(after) = after.strip_prefix(b":") {
                        let after = skip_ws(after);
                        if let Some(v) = after.strip_prefix(b"\"") {
                            return string_end(v).map(|e| &v[..e]);
                        }
                        return None;
                    }
                }
                i += 1 + string_end(&body[i + 1..])? + 1;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_record() {
        let s = scan(br#"{"type":"RECORD","stream":"users","record":{"id":1}}"#);
        assert_eq!(s.kind, Kind::Record);
        assert_eq!(s.stream, Some(&b"users"[..]));
    }

    #[test]
    fn python_spacing() {
        let s = scan(br#"{"type": "RECORD", "stream": "users", "record": {"id": 1}}"#);
        assert_eq!((s.kind, s.stream), (Kind::Record, Some(&b"users"[..])));
    }

    #[test]
    fn other_key_order_ignores_nested_type() {
        let s =
            scan(br#"{"stream": "s", "record": {"type": "STATE", "x": "}"}, "type": "RECORD"}"#);
        assert_eq!((s.kind, s.stream), (Kind::Record, Some(&b"s"[..])));
    }

    #[test]
    fn state_and_schema() {
        assert_eq!(scan(br#"{"type":"STATE","value":{}}"#).kind, Kind::State);
        assert_eq!(
            scan(br#"{"type":"SCHEMA","stream":"a","schema":{}}"#).stream,
            Some(&b"a"[..])
        );
    }

    #[test]
    fn garbage_and_truncated_lines_never_panic() {
        for line in [
            &b"hello"[..],
            b"",
            b"{",
            b"{\"type",
            b"{\"type\":\"RECO",
            b"\xff\xfe{",
            b"{\"a\":\"\\",
        ] {
            let _ = scan(line);
        }
        assert_eq!(scan(b"not json").kind, Kind::NotJson);
    }

    #[test]
    fn escaped_quotes_in_stream_name() {
        let s = scan(br#"{"type":"RECORD","stream":"a\"b","record":{}}"#);
        assert_eq!(s.stream, Some(&br#"a\"b"#[..]));
    }
}
