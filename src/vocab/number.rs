//! Numbers users hand eltr (flags, variables, project settings), checked once where they are
//! read: finite, not negative, below a sane bound (seconds, counts). A bad one is a `NumberError` naming the
//! setting and the value; nothing downstream can panic on it (`Duration::from_secs_f64`
//! panics on NaN, negative and huge input).

use serde_json::Value;
use std::time::Duration;

/// The longest duration accepted: a year. Anything longer is a typo, and a year is far from
/// where `Instant + Duration` could overflow.
pub const MAX_SECONDS: u64 = 365 * 24 * 3600;

/// A number that is not an acceptable duration: which setting, the text it was given, and
/// what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: '{}': {problem}", shown(value))]
pub struct NumberError {
    /// The setting, as the user knows it (`--timeout`, `ELTR_KILL_GRACE_SECONDS`,
    /// `meltano.yml:12:5: state_backend.lock_timeout_seconds`).
    pub what: String,
    /// The value as given.
    pub value: String,
    pub problem: Problem,
}

/// What is wrong with a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("not a number of seconds")]
    NotANumber,
    #[error("not a finite number")]
    NotFinite,
    #[error("negative; expected 0 or more seconds")]
    Negative,
    #[error("expected more than 0 seconds")]
    NotPositive,
    #[error("more than a year; at most {MAX_SECONDS} seconds are accepted")]
    TooLarge,
    #[error("not a whole number")]
    NotAWholeNumber,
    #[error("expected 1 or more")]
    Zero,
    #[error("more than {0}, the most accepted")]
    TooMany(u64),
}

/// Whether 0 is an acceptable duration for a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zero {
    /// 0 means "at once" (a kill grace period, a lock timeout).
    Allowed,
    /// The duration must be more than 0 (a run timeout).
    Refused,
}

/// Parses seconds (`10`, `2.5`, `1e3`), 0 included.
pub fn seconds(what: &str, raw: &str) -> Result<Duration, NumberError> {
    parse_seconds(what, raw, Zero::Allowed)
}

/// Parses seconds that must be more than 0.
pub fn positive_seconds(what: &str, raw: &str) -> Result<Duration, NumberError> {
    parse_seconds(what, raw, Zero::Refused)
}

/// Parses seconds given as text, checking them as `zero` says.
pub fn parse_seconds(what: &str, raw: &str, zero: Zero) -> Result<Duration, NumberError> {
    let fail = |problem| NumberError {
        what: what.to_string(),
        value: raw.to_string(),
        problem,
    };
    let text = raw.trim();
    // Rust's float syntax; the words it also accepts ("inf", "NaN", "infinity") and numbers
    // too big for an f64 (`1e400` parses as infinity) are caught as not finite.
    let n: f64 = text.parse().map_err(|_| fail(Problem::NotANumber))?;
    if !n.is_finite() {
        return Err(fail(Problem::NotFinite));
    }
    if n <= 0.0 && zero == Zero::Refused {
        return Err(fail(Problem::NotPositive));
    }
    if n < 0.0 {
        return Err(fail(Problem::Negative));
    }
    if n > MAX_SECONDS as f64 {
        return Err(fail(Problem::TooLarge));
    }
    // In range, finite and not negative: the conversion cannot panic.
    Ok(Duration::from_secs_f64(n))
}

/// Parses a count of things (`--parallelism`): a whole number from 1 to `max`.
pub fn count(what: &str, raw: &str, max: u64) -> Result<u64, NumberError> {
    let fail = |problem| NumberError {
        what: what.to_string(),
        value: raw.to_string(),
        problem,
    };
    let text = raw.trim();
    if !text.bytes().all(|b| b.is_ascii_digit()) || text.is_empty() {
        return Err(fail(Problem::NotAWholeNumber));
    }
    // Digits only: the parse fails only when the number does not fit, i.e. is too many.
    match text.parse::<u64>() {
        Ok(0) => Err(fail(Problem::Zero)),
        Ok(n) if n <= max => Ok(n),
        _ => Err(fail(Problem::TooMany(max))),
    }
}

/// Parses seconds written in a JSON or YAML document: a number, or text holding one.
pub fn seconds_value(what: &str, value: &Value, zero: Zero) -> Result<Duration, NumberError> {
    match value {
        Value::String(s) => parse_seconds(what, s, zero),
        // Numbers keep their written digits (arbitrary precision), so `1e400` stays itself.
        Value::Number(n) => parse_seconds(what, &n.to_string(), zero),
        other => Err(NumberError {
            what: what.to_string(),
            value: other.to_string(),
            problem: Problem::NotANumber,
        }),
    }
}

/// The value as an error shows it: on one line, and not endless.
fn shown(value: &str) -> String {
    const MAX_CHARS: usize = 40;
    let mut out: String = value
        .chars()
        .take(MAX_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if value.chars().nth(MAX_CHARS).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(raw: &str, zero: Zero) -> Option<Problem> {
        parse_seconds("--timeout", raw, zero)
            .err()
            .map(|e| e.problem)
    }

    #[test]
    fn plain_and_fractional_seconds_are_accepted() {
        assert_eq!(seconds("x", "10"), Ok(Duration::from_secs(10)));
        assert_eq!(seconds("x", " 2.5 "), Ok(Duration::from_millis(2500)));
        assert_eq!(seconds("x", "1e3"), Ok(Duration::from_secs(1000)));
        assert_eq!(seconds("x", "0"), Ok(Duration::ZERO));
        assert_eq!(seconds("x", "-0"), Ok(Duration::ZERO));
        assert_eq!(
            seconds("x", &MAX_SECONDS.to_string()),
            Ok(Duration::from_secs(MAX_SECONDS))
        );
    }

    #[test]
    fn each_bad_value_has_its_problem() {
        let z = Zero::Allowed;
        for raw in ["", "  ", "abc", "10s", "1,5", "0x10", "--1", "1e"] {
            assert_eq!(problem(raw, z), Some(Problem::NotANumber), "{raw:?}");
        }
        for raw in ["NaN", "nan", "-nan", "inf", "-inf", "+Infinity", "1e400"] {
            assert_eq!(problem(raw, z), Some(Problem::NotFinite), "{raw:?}");
        }
        for raw in ["-1", "-0.001", "-1e300"] {
            assert_eq!(problem(raw, z), Some(Problem::Negative), "{raw:?}");
        }
        for raw in ["1e300", "31536001", "1e10"] {
            assert_eq!(problem(raw, z), Some(Problem::TooLarge), "{raw:?}");
        }
        assert_eq!(problem("0", Zero::Refused), Some(Problem::NotPositive));
        assert_eq!(problem("0.0", Zero::Refused), Some(Problem::NotPositive));
        assert_eq!(problem("-1", Zero::Refused), Some(Problem::NotPositive));
        assert_eq!(problem("0.5", Zero::Refused), None);
    }

    #[test]
    fn the_error_names_the_setting_and_the_value_on_one_line() {
        let e = positive_seconds("--timeout", "-1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "--timeout: '-1': expected more than 0 seconds"
        );
        let e = seconds("ELTR_KILL_GRACE_SECONDS", "a\nb").unwrap_err();
        assert_eq!(
            e.to_string(),
            "ELTR_KILL_GRACE_SECONDS: 'a\\nb': not a number of seconds"
        );
        let long = "9".repeat(500);
        let shown = seconds("x", &long).unwrap_err().to_string();
        assert!(shown.len() < 120 && shown.contains('…'), "{shown}");
    }

    #[test]
    fn counts_are_whole_numbers_from_one_to_the_limit() {
        assert_eq!(count("--parallelism", " 8 ", 64), Ok(8));
        assert_eq!(count("--parallelism", "64", 64), Ok(64));
        let problem = |raw: &str| count("--parallelism", raw, 64).unwrap_err().problem;
        assert_eq!(problem("0"), Problem::Zero);
        assert_eq!(problem("65"), Problem::TooMany(64));
        assert_eq!(problem("99999999999999999999999"), Problem::TooMany(64));
        for raw in ["", "-1", "+1", "1.5", "1e3", "NaN", "x"] {
            assert_eq!(problem(raw), Problem::NotAWholeNumber, "{raw:?}");
        }
    }

    #[test]
    fn json_values_are_numbers_or_text_holding_one() {
        let z = Zero::Allowed;
        let ok = |v: Value| seconds_value("x", &v, z);
        assert_eq!(ok(serde_json::json!(30)), Ok(Duration::from_secs(30)));
        assert_eq!(ok(serde_json::json!(0.25)), Ok(Duration::from_millis(250)));
        assert_eq!(ok(serde_json::json!("7")), Ok(Duration::from_secs(7)));
        let problem = |v: Value| seconds_value("x", &v, z).unwrap_err().problem;
        assert_eq!(problem(serde_json::json!(-5)), Problem::Negative);
        assert_eq!(problem(serde_json::json!("abc")), Problem::NotANumber);
        assert_eq!(problem(serde_json::json!(true)), Problem::NotANumber);
        assert_eq!(problem(serde_json::json!(null)), Problem::NotANumber);
        assert_eq!(problem(serde_json::json!([1])), Problem::NotANumber);
        let huge: Value = serde_json::from_str("1e400").unwrap();
        assert_eq!(problem(huge), Problem::NotFinite);
    }

    #[test]
    fn no_text_makes_it_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let alphabet = b"0123456789.eE+-_ xinfaNI";
        for _ in 0..20_000 {
            let len = (seed % 12) as usize;
            let text: String = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize] as char
                })
                .collect();
            let _ = seconds("x", &text);
            let _ = positive_seconds("x", &text);
        }
    }
}
