//! Relative dates in `date_iso8601` settings (`start_date: 1 month ago`), resolved as
//! Meltano resolves them (`utils.parse_date`, which asks `dateparser` relative to the current
//! UTC time): an ISO 8601 date stays as written, a relative phrase becomes the moment it
//! names, written `YYYY-MM-DDTHH:MM:SS.ffffff` without a zone, and anything else stays as
//! written. The phrases understood: `now`, `today`, `yesterday`, `tomorrow`, `N <unit>[s]
//! [ago]`, `in N <unit>[s]`, `-N <unit>[s]` and `last <unit>`, with the units second, minute,
//! hour, day, week, month (`mon`) and year.

use crate::vocab::clock::{civil_from_days, days_from_civil};
use std::time::{SystemTime, UNIX_EPOCH};

/// A moment in UTC, to the microsecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    /// Microseconds since 1970-01-01T00:00:00.
    micros: i64,
}

impl Moment {
    /// The current time.
    pub fn now() -> Moment {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Moment {
            micros: i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        }
    }

    /// The moment of a calendar date and time.
    pub fn from_parts(y: i64, mo: u32, d: u32, secs_of_day: i64, micro: i64) -> Moment {
        let days = days_from_civil(y, mo, d);
        Moment {
            micros: (days * 86_400 + secs_of_day) * 1_000_000 + micro,
        }
    }

    fn parts(self) -> (i64, u32, u32, i64, i64) {
        let secs = self.micros.div_euclid(1_000_000);
        let micro = self.micros.rem_euclid(1_000_000);
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        (y, m, d, secs.rem_euclid(86_400), micro)
    }

    /// Python's `datetime.isoformat()` of the naive moment (microseconds only when not 0).
    pub fn isoformat(self) -> String {
        let (y, m, d, s, micro) = self.parts();
        let time = format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
        match micro {
            0 => format!("{y:04}-{m:02}-{d:02}T{time}"),
            _ => format!("{y:04}-{m:02}-{d:02}T{time}.{micro:06}"),
        }
    }

    fn plus_seconds(self, secs: i64) -> Moment {
        Moment {
            micros: self.micros.saturating_add(secs.saturating_mul(1_000_000)),
        }
    }

    /// Calendar months later (earlier when negative); the day is clamped to the month's last,
    /// as `dateutil.relativedelta` does.
    fn plus_months(self, months: i64) -> Moment {
        let (y, m, d, s, micro) = self.parts();
        let total = y * 12 + i64::from(m) - 1 + months;
        let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
        let nd = d.min(days_in_month(ny, nm));
        Moment::from_parts(ny, nm, nd, s, micro)
    }
}

/// The value Meltano hands a plugin for a `date_iso8601` setting written as `text`.
pub fn resolve(text: &str, now: Moment) -> String {
    if is_iso8601(text) {
        return text.to_string();
    }
    match relative(text, now) {
        Some(m) => m.isoformat(),
        None => text.to_string(),
    }
}

fn relative(text: &str, now: Moment) -> Option<Moment> {
    let lower = text.trim().to_ascii_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    match words.as_slice() {
        ["now"] | ["today"] => Some(now),
        ["yesterday"] => Some(now.plus_seconds(-86_400)),
        ["tomorrow"] => Some(now.plus_seconds(86_400)),
        ["last", unit] => shift(now, unit, -1),
        ["in", n, unit] => shift(now, unit, n.parse().ok()?),
        [n, unit, "ago"] | [n, unit] => {
            let n: i64 = n.parse().ok()?;
            shift(now, unit, -n.abs())
        }
        _ => None,
    }
}

fn shift(now: Moment, unit: &str, n: i64) -> Option<Moment> {
    let unit = unit.strip_suffix('s').unwrap_or(unit);
    Some(match unit {
        "second" | "sec" => now.plus_seconds(n),
        "minute" | "min" => now.plus_seconds(n * 60),
        "hour" => now.plus_seconds(n * 3600),
        "day" | "d" => now.plus_seconds(n * 86_400),
        "week" => now.plus_seconds(n * 7 * 86_400),
        "month" | "mon" => now.plus_months(n),
        "year" => now.plus_months(n * 12),
        _ => return None,
    })
}

/// Meltano's `REGEX_ISO8601`: a date, optionally a time with fraction, optionally a zone.
fn is_iso8601(text: &str) -> bool {
    let b = text.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let num = |r: std::ops::Range<usize>| text[r].parse::<u32>().unwrap_or(99);
    if b.len() < 10
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
    {
        return false;
    }
    if !(1..=12).contains(&num(5..7)) || !(1..=31).contains(&num(8..10)) {
        return false;
    }
    let mut rest = &text[10..];
    if let Some(t) = rest.strip_prefix(['T', ' ']) {
        let tb = t.as_bytes();
        let ok = tb.len() >= 8
            && t[..8].char_indices().all(|(i, c)| {
                if i == 2 || i == 5 {
                    c == ':'
                } else {
                    c.is_ascii_digit()
                }
            })
            && t[0..2].parse::<u32>().is_ok_and(|h| h < 24)
            && t[3..5].parse::<u32>().is_ok_and(|m| m < 60)
            && t[6..8].parse::<u32>().is_ok_and(|s| s < 60);
        if !ok {
            return false;
        }
        rest = &t[8..];
        if let Some(f) = rest.strip_prefix('.') {
            let n = f.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return false;
            }
            rest = &f[n..];
        }
    }
    match rest {
        "" | "Z" => true,
        zone => {
            let z = zone.as_bytes();
            z.len() == 6
                && matches!(z[0], b'+' | b'-')
                && zone[1..3]
                    .parse::<u32>()
                    .is_ok_and(|h| h <= 12 && zone[1..3].bytes().all(|c| c.is_ascii_digit()))
                && z[3] == b':'
                && matches!(&zone[4..], "00" | "30")
        }
    }
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Moment {
        Moment::from_parts(2026, 3, 31, 3600 + 120 + 3, 123_456)
    }

    #[test]
    fn iso_dates_stay_as_written() {
        for s in [
            "2020-01-01",
            "2020-01-01T00:00:00Z",
            "2020-01-01 10:11:12.5+05:30",
        ] {
            assert_eq!(resolve(s, at()), s);
        }
    }

    #[test]
    fn relative_phrases_resolve_like_dateparser() {
        assert_eq!(resolve("1 month ago", at()), "2026-02-28T01:02:03.123456");
        assert_eq!(resolve("2 days ago", at()), "2026-03-29T01:02:03.123456");
        assert_eq!(resolve("in 1 day", at()), "2026-04-01T01:02:03.123456");
        assert_eq!(resolve("1 year ago", at()), "2025-03-31T01:02:03.123456");
        assert_eq!(resolve("3 weeks", at()), "2026-03-10T01:02:03.123456");
        assert_eq!(resolve("today", at()), "2026-03-31T01:02:03.123456");
    }

    #[test]
    fn other_text_stays_as_written() {
        assert_eq!(resolve("garbage text", at()), "garbage text");
        assert_eq!(resolve("2020-13-01", at()), "2020-13-01");
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000, -1, 0, 1, 59, 60, 11_016, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
