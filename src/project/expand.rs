//! `${VAR}` expansion, Meltano's grammar plus `${VAR:-default}`.
//!
//! Recognised: `${NAME}`, `${NAME:-default}`, bare `$NAME` when NAME is upper case (so `$lower`
//! and prices like `$5` stay literal), and `\$` for a literal dollar. A written-out parser
//! rather than `shellexpand`: that crate expands lower-case `$names` and has no `\$` escape,
//! both of which Meltano projects rely on.

/// The result of expanding one string: the text and the variables that were not set.
#[derive(Debug, Default, PartialEq)]
pub struct Expanded {
    pub text: String,
    pub missing: Vec<String>,
}

/// Expands `input`, looking variables up with `lookup`.
///
/// One pass of a small state machine over the characters (`\$`, `$NAME`, `${NAME}`,
/// `${NAME:-default}`); kept whole so each form's rules read side by side.
pub fn expand(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Expanded {
    let mut out = Expanded {
        text: String::with_capacity(input.len()),
        missing: Vec::new(),
    };
    if !input.contains('$') {
        out.text.push_str(input);
        return out;
    }
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\\' && bytes.get(i + 1) == Some(&b'$') {
            out.text.push('$');
            i += 2;
            continue;
        }
        if c != b'$' {
            // Copy the run up to the next special byte in one go (keeps UTF-8 intact).
            let next = input[i..]
                .find(['$', '\\'])
                .map_or(bytes.len(), |n| if n == 0 { i + 1 } else { i + n });
            out.text.push_str(&input[i..next]);
            i = next;
            continue;
        }
        if bytes.get(i + 1) == Some(&b'{') {
            if let Some(close) = input[i + 2..].find('}') {
                let inner = &input[i + 2..i + 2 + close];
                let (name, default) = match inner.split_once(":-") {
                    Some((n, d)) => (n, Some(d)),
                    None => (inner, None),
                };
                if is_name(name) {
                    match lookup(name) {
                        Some(v) if !(v.is_empty() && default.is_some()) => out.text.push_str(&v),
                        _ => match default {
                            Some(d) => {
                                let nested = expand(d, lookup);
                                out.text.push_str(&nested.text);
                                out.missing.extend(nested.missing);
                            }
                            None => out.missing.push(name.to_string()),
                        },
                    }
                    i += 2 + close + 1;
                    continue;
                }
            }
        } else {
            let len = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b'_')
                .count();
            let name = &input[i + 1..i + 1 + len];
            if len > 0 && !name.as_bytes()[0].is_ascii_digit() {
                match lookup(name) {
                    Some(v) => out.text.push_str(&v),
                    None => out.missing.push(name.to_string()),
                }
                i += 1 + len;
                continue;
            }
        }
        out.text.push('$');
        i += 1;
    }
    out
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && !s.as_bytes()[0].is_ascii_digit()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.local".into()),
            "lower" => Some("x".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn ex(s: &str) -> Expanded {
        expand(s, &env)
    }

    #[test]
    fn braces_and_bare_upper_names_expand() {
        assert_eq!(ex("h=${HOST}:$HOST/").text, "h=db.local:db.local/");
    }

    #[test]
    fn bare_lower_case_and_digits_stay_literal() {
        assert_eq!(ex("$lower costs $5").text, "$lower costs $5");
        assert!(ex("$lower").missing.is_empty());
    }

    #[test]
    fn braced_lower_case_expands() {
        assert_eq!(ex("${lower}").text, "x");
    }

    #[test]
    fn escaped_dollar_is_literal() {
        assert_eq!(ex(r"\${HOST} \$HOST").text, "${HOST} $HOST");
    }

    #[test]
    fn default_applies_when_missing_or_empty() {
        assert_eq!(ex("${NOPE:-fallback}").text, "fallback");
        assert_eq!(ex("${EMPTY:-fallback}").text, "fallback");
        assert_eq!(ex("${HOST:-fallback}").text, "db.local");
    }

    #[test]
    fn missing_variables_are_reported_and_empty() {
        let e = ex("a${NOPE}b$ALSO_NOPE");
        assert_eq!(e.text, "ab");
        assert_eq!(e.missing, vec!["NOPE", "ALSO_NOPE"]);
    }

    #[test]
    fn unterminated_brace_is_literal() {
        assert_eq!(ex("${HOST").text, "${HOST");
    }

    #[test]
    fn non_ascii_text_survives() {
        assert_eq!(ex("héllo ${HOST} ünï").text, "héllo db.local ünï");
    }
}
