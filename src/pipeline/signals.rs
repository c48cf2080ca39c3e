//! The grace period between SIGTERM and SIGKILL a run's supervisor (`vocab::supervisor`)
//! waits before killing a plugin that ignores the signal.

use crate::vocab::number::{self, NumberError};
use std::time::Duration;

/// The variable that sets the grace period between SIGTERM and SIGKILL.
pub const GRACE_VAR: &str = "ELTR_KILL_GRACE_SECONDS";

const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// The grace period `ELTR_KILL_GRACE_SECONDS` asks for (default 10 s), checked. A run checks
/// it before it starts anything, so a bad value is an error then, not a surprise in the
/// middle of stopping the plugins.
pub fn grace_setting() -> Result<Duration, NumberError> {
    match std::env::var_os(GRACE_VAR) {
        Some(v) if !v.is_empty() => number::seconds(GRACE_VAR, &v.to_string_lossy()),
        _ => Ok(DEFAULT_GRACE),
    }
}

/// Grace period between SIGTERM and SIGKILL.
pub fn grace() -> Duration {
    grace_setting().unwrap_or(DEFAULT_GRACE)
}
