//! The one boolean parser, with Meltano's truth table: `true`, `1`, `yes`, `on` are true
//! (any case, surrounding spaces ignored), `false`, `0`, `no`, `off` and the empty text are
//! false. Meltano treats everything else as false; eltr tells the two apart so a caller can
//! refuse a typo instead of guessing. Also Python's truth of a JSON value, for the places
//! where Meltano tests a setting's value with `if value:`.

/// `Some(b)` for a recognised boolean word, `None` for anything else.
pub fn parse(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

/// True only for a true word: Meltano's `truthy()`, for flags where anything else means off.
pub fn truthy(text: &str) -> bool {
    parse(text) == Some(true)
}

/// Whether Python takes a JSON value for true (`if value:`): Meltano redacts a secret only
/// when its value is, so an empty text, `0`, `false`, `[]` or `{}` is shown as it is.
pub fn python_truthy(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(t) => !t.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meltano_truth_table() {
        for t in ["true", "TRUE", "1", "yes", "On", " true "] {
            assert_eq!(parse(t), Some(true), "{t}");
        }
        for f in ["false", "0", "no", "OFF", ""] {
            assert_eq!(parse(f), Some(false), "{f}");
        }
        for other in ["y", "t", "2", "tru", "enabled"] {
            assert_eq!(parse(other), None, "{other}");
            assert!(!truthy(other));
        }
    }
}
