//! The children of one run and how the run was stopped. SIGINT and SIGTERM (Airflow stopping
//! a task) are forwarded to the process groups of the running plugins in data order; a child
//! that ignores them is killed after a grace period. A `Supervisor` is a value made for a run
//! and handed to whatever spawns a plugin, never a global.
//!
//! Also the few process primitives every layer that starts a plugin needs: a process group of
//! its own with PDEATHSIG, signalling a group, and asking whether a pid is alive.

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Handle;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The running children and how the run was stopped, shared with the signal thread.
#[derive(Debug)]
pub struct Supervisor {
    /// Process groups of running plugins, and whether each is a sink (the loader).
    groups: Mutex<Vec<(i32, bool)>>,
    signal: AtomicI32,
    timed_out: AtomicBool,
    /// Between SIGTERM and SIGKILL.
    grace: Duration,
    /// Closes the signal thread's iterator when the supervisor goes.
    signals: Mutex<Option<Handle>>,
}

impl Supervisor {
    /// A supervisor that does not listen for signals (commands that start a plugin briefly,
    /// such as `select` running discovery).
    pub fn quiet(grace: Duration) -> Arc<Supervisor> {
        Arc::new(Supervisor {
            groups: Mutex::new(Vec::new()),
            signal: AtomicI32::new(0),
            timed_out: AtomicBool::new(false),
            grace,
            signals: Mutex::new(None),
        })
    }

    /// A supervisor that handles SIGINT and SIGTERM from now on: it records the signal and
    /// stops the registered plugins.
    pub fn listening(grace: Duration) -> Arc<Supervisor> {
        let sup = Supervisor::quiet(grace);
        match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
            Ok(mut signals) => {
                *sup.signals.lock().unwrap_or_else(|e| e.into_inner()) = Some(signals.handle());
                // The thread holds a weak reference: it must not keep the run alive.
                let weak = Arc::downgrade(&sup);
                std::thread::spawn(move || {
                    for sig in signals.forever() {
                        let Some(sup) = weak.upgrade() else { break };
                        tracing::warn!("received {}; stopping the plugins", signal_name(sig));
                        sup.signal.store(sig, Ordering::SeqCst);
                        sup.stop_all(sig);
                    }
                });
            }
            Err(e) => tracing::warn!("cannot install signal handlers: {e}"),
        }
        sup
    }

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
    pub fn time_out(self: &Arc<Self>) {
        self.timed_out.store(true, Ordering::SeqCst);
        self.stop_all(SIGTERM);
    }

    /// Stops the plugins in data order so nothing confirmed is lost: `sig` goes to the
    /// extractor and mappers at once; the loader then sees the end of its input, flushes and
    /// confirms its last state. A loader still running after the grace period gets `sig`
    /// too, and anything alive a grace period later gets SIGKILL.
    pub fn stop_all(self: &Arc<Self>, sig: i32) {
        let first = self.live();
        for (pid, sink) in &first {
            if !sink {
                signal_group(*pid, sig);
            }
        }
        let sup = self.clone();
        std::thread::spawn(move || {
            std::thread::sleep(sup.grace);
            for (pid, _) in sup.live().iter().filter(|g| first.contains(g)) {
                signal_group(*pid, sig);
            }
            std::thread::sleep(sup.grace);
            for (pid, _) in sup.live().iter().filter(|g| first.contains(g)) {
                tracing::warn!("plugin process {pid} ignored the signal; killing it");
                signal_group(*pid, libc::SIGKILL);
            }
        });
    }
}

/// A quiet supervisor with Meltano's 10 s grace period.
impl Default for Supervisor {
    fn default() -> Supervisor {
        Arc::into_inner(Supervisor::quiet(Duration::from_secs(10)))
            .expect("a new supervisor has one owner")
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if let Some(handle) = self
            .signals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            handle.close();
        }
    }
}

/// "SIGTERM" for messages.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// Makes `cmd` start its child in a process group of its own (so signals reach the plugin's
/// children too, and a Ctrl-C in the terminal reaches eltr first, which forwards it in order),
/// killed with SIGKILL if eltr dies (a plugin ignoring SIGTERM must not outlive it), with
/// SIGPIPE back to its default.
pub fn own_process_group(cmd: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe calls (setpgid, prctl, signal); it allocates nothing and touches no
    // lock held by another thread of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::setpgid(0, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            Ok(())
        });
    }
}

/// Sends `signal` to a process group (the plugin and anything it started).
pub fn signal_group(pid: i32, signal: libc::c_int) {
    // SAFETY: kill takes plain integers and touches no memory of ours.
    unsafe {
        libc::kill(-pid, signal);
    }
}

/// True while a process with this pid exists (it may belong to another user).
pub fn pid_alive(pid: u32) -> bool {
    // Signal 0 checks for existence; EPERM still means the process exists.
    // SAFETY: kill with signal 0 sends nothing and touches no memory.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_supervisor_tracks_children() {
        let sup = Supervisor::quiet(Duration::from_millis(1));
        sup.register(42, false);
        sup.register(43, true);
        sup.unregister(42);
        assert_eq!(sup.live(), vec![(43, true)]);
        assert_eq!(sup.received(), None);
        assert!(!sup.timed_out());
    }

    #[test]
    fn this_process_is_alive() {
        assert!(pid_alive(std::process::id()));
    }
}
