//! Wall-clock times as Python's `datetime` prints them, without a date crate: the C library
//! converts, eltr formats.

use std::time::{SystemTime, UNIX_EPOCH};

/// A time as SQLAlchemy writes a naive `DateTime` (and `str(datetime)` prints one):
/// `YYYY-MM-DD HH:MM:SS.ffffff`, in UTC or in the local time zone.
pub fn naive_time(t: SystemTime, local: bool) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as libc::time_t;
    // SAFETY: `tm` is a plain C struct for which all-zero bytes are a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers point to live values of the right types for the whole call; the
    // reentrant variants write only into `tm`.
    let ok = unsafe {
        if local {
            !libc::localtime_r(&secs, &mut tm).is_null()
        } else {
            !libc::gmtime_r(&secs, &mut tm).is_null()
        }
    };
    if !ok {
        return "1970-01-01 00:00:00.000000".into();
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        d.subsec_micros()
    )
}

/// Seconds since the Unix epoch, with the fraction.
pub fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}
