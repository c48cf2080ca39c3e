//! The one boolean parser, with Meltano's truth table: `true`, `1`, `yes`, `on` are true
//! (any case, surrounding spaces ignored), `false`, `0`, `no`, `off` and the empty text are
//! false. Meltano treats everything else as false; eltr tells the two apart so a caller can
//! refuse a typo instead of guessing.

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
