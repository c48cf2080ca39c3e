//! Signals and deadlines. SIGINT and SIGTERM (Airflow stopping a task) are forwarded to the
//! process groups of the running plugins; a child that ignores them is killed after a grace
//! period. The run then checkpoints and exits 130 or 143.

use crate::vocab::number::{self, NumberError};
use signal_hook::consts::{SIGINT, SIGTERM};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
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

/// The running children and how the run was stopped, shared with the signal thread.
#[derive(Debug, Default)]
pub struct Supervisor {
    /// Process groups of running plugins, and whether each is a sink (the loader).
    groups: Mutex<Vec<(i32, bool)>>,
    signal: AtomicI32,
    timed_out: AtomicBool,
}

static SUPERVISOR: OnceLock<Arc<Supervisor>> = OnceLock::new();

/// The process-wide supervisor; the first call starts the signal thread.
pub fn supervisor() -> Arc<Supervisor> {
    SUPERVISOR
        .get_or_init(|| {
            let sup = Arc::new(Supervisor::default());
            let for_thread = sup.clone();
            match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
                Ok(mut signals) => {
                    std::thread::spawn(move || {
                        for sig in signals.forever() {
                            tracing::warn!("received {}; stopping the plugins", signal_name(sig));
                            for_thread.signal.store(sig, Ordering::SeqCst);
                            for_thread.stop_all(sig);
                        }
                    });
                }
                Err(e) => tracing::warn!("cannot install signal handlers: {e}"),
            }
            sup
        })
        .clone()
}

/// "SIGTERM" for messages.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

impl Supervisor {
    /// Tracks a child's process group; `sink` marks the loader, which is stopped last.
    pub fn register(&self, pid: i32, sink: bool) {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((pid, sink));
    }

    /// Forgets a child that has exited.
    pub fn unregister(&self, pid: i32) {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(p, _)| *p != pid);
    }

    fn live(&self) -> Vec<(i32, bool)> {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The signal that stopped the run, if any.
    pub fn received(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// True once a `--timeout` expired.
    pub fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::SeqCst)
    }

    /// Marks the run as timed out and stops everything.
    pub fn time_out(&self) {
        self.timed_out.store(true, Ordering::SeqCst);
        self.stop_all(SIGTERM);
    }

    /// Stops the plugins in data order so nothing confirmed is lost: `sig` goes to the
    /// extractor and mappers at once; the loader then sees the end of its input, flushes and
    /// confirms its last state. A loader still running after the grace period gets `sig`
    /// too, and anything alive a grace period later gets SIGKILL.
    pub fn stop_all(&self, sig: i32) {
        let first = self.live();
        for (pid, sink) in &first {
            if !sink {
                super::process::signal_group(*pid, sig);
            }
        }
        let Some(sup) = SUPERVISOR.get().cloned() else {
            return;
        };
        std::thread::spawn(move || {
            std::thread::sleep(grace());
            for (pid, _) in sup.live().iter().filter(|g| first.contains(g)) {
                super::process::signal_group(*pid, sig);
            }
            std::thread::sleep(grace());
            for (pid, _) in sup.live().iter().filter(|g| first.contains(g)) {
                tracing::warn!("plugin process {pid} ignored the signal; killing it");
                super::process::signal_group(*pid, libc::SIGKILL);
            }
        });
    }
}
