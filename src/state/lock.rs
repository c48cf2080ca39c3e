//! What a lock records and when it may be taken over. The lock object sits next to the state
//! (`{base}/{state_id}/lock`) and holds what Meltano's file and cloud backends read there: a
//! bare epoch timestamp (`1765059668.173204`), here the holder's last heartbeat, so Meltano
//! sees a live eltr lock as fresh and a dead one as stale. Who holds it (host, pid, run id,
//! start) is kept where Meltano does not look: the object's metadata (`eltrholder`) on S3,
//! Azure and GCS, a sidecar file (`lock.holder.json`) on local disk, the `runs` row's payload
//! in the system database; a refused run names the holder from there.

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The holder of a lock.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockInfo {
    pub host: String,
    pub pid: u32,
    pub run_id: String,
    /// Seconds since the epoch.
    pub started_at: f64,
    /// Seconds since the epoch; refreshed while the run lives.
    pub heartbeat_at: f64,
}

/// How long a silent lock is respected, and whether to break it regardless.
#[derive(Debug, Clone)]
pub struct LockPolicy {
    pub timeout: Duration,
    pub force: bool,
}

impl Default for LockPolicy {
    fn default() -> Self {
        LockPolicy {
            timeout: Duration::from_secs(DEFAULT_LOCK_TIMEOUT_SECONDS),
            force: false,
        }
    }
}

/// Meltano's default `lock_timeout_seconds`.
pub const DEFAULT_LOCK_TIMEOUT_SECONDS: u64 = 10;

/// Seconds since the epoch, now.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// This machine's name, for lock records.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
}

/// The metadata key (S3 `x-amz-meta-`, Azure `x-ms-meta-`, GCS `x-goog-meta-`) that names a
/// lock's holder; one lowercase word, valid on all three.
pub const HOLDER_METADATA: &str = "eltrholder";

/// The sidecar file next to a local lock that names its holder.
pub const HOLDER_SIDECAR: &str = "lock.holder.json";

/// The holder part of a lock record (without the heartbeat, which is the lock body).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Holder {
    host: String,
    pid: u32,
    run_id: String,
    started_at: f64,
}

impl LockInfo {
    /// The lock body Meltano reads: the heartbeat as a bare epoch timestamp.
    pub fn body(&self) -> Vec<u8> {
        format!("{:.6}", self.heartbeat_at).into_bytes()
    }

    /// Who holds the lock, as JSON text in ASCII (valid as an HTTP header value).
    pub fn holder_text(&self) -> String {
        let h = Holder {
            host: self.host.clone(),
            pid: self.pid,
            run_id: self.run_id.clone(),
            started_at: self.started_at,
        };
        crate::vocab::pyjson::to_string(&serde_json::to_value(h).expect("holder serialises"))
    }

    /// A lock from its body and, when there, its holder record. A body without a holder
    /// record is a Meltano run's lock (held around one write).
    pub fn from_parts(body: &[u8], holder: Option<&str>) -> Option<LockInfo> {
        let mut info = LockInfo::parse(body)?;
        if let Some(h) = holder.and_then(|h| serde_json::from_str::<Holder>(h).ok()) {
            info.host = h.host;
            info.pid = h.pid;
            info.run_id = h.run_id;
            info.started_at = h.started_at;
        }
        Some(info)
    }

    /// Reads a lock body: Meltano's bare epoch timestamp (or the JSON record eltr wrote in
    /// its lock bodies before, still read so an upgrade mid-run is safe).
    pub fn parse(bytes: &[u8]) -> Option<LockInfo> {
        if let Ok(info) = serde_json::from_slice::<LockInfo>(bytes) {
            return Some(info);
        }
        let t: f64 = std::str::from_utf8(bytes).ok()?.trim().parse().ok()?;
        // "nan" or "inf" would make the lock never stale: such a body is unreadable.
        if !t.is_finite() {
            return None;
        }
        Some(LockInfo {
            host: "unknown (a Meltano lock, or one without its holder record)".into(),
            pid: 0,
            run_id: "meltano".into(),
            started_at: t,
            heartbeat_at: t,
        })
    }

    /// A record for this process.
    pub fn for_this_process(run_id: &str) -> LockInfo {
        let t = now();
        LockInfo {
            host: hostname(),
            pid: std::process::id(),
            run_id: run_id.to_string(),
            started_at: t,
            heartbeat_at: t,
        }
    }

    /// A lock is stale when its heartbeat is older than the timeout, or when it was taken on
    /// this host by a process that no longer exists (a run killed with -9).
    pub fn is_stale(&self, policy: &LockPolicy) -> bool {
        if now() - self.heartbeat_at > policy.timeout.as_secs_f64() {
            return true;
        }
        self.pid != 0 && self.host == hostname() && !crate::vocab::supervisor::pid_alive(self.pid)
    }

    /// "run R (pid P on host H, started T)" for messages.
    pub fn describe(&self) -> String {
        let age = (now() - self.started_at).max(0.0);
        format!(
            "run {} (pid {} on host {}, started {:.0}s ago)",
            self.run_id, self.pid, self.host, age
        )
    }
}

/// A background thread that refreshes a lock's heartbeat every `every` until stopped, or until
/// `beat` returns false (the lock was taken over). Shared by the local and remote locks.
pub struct Heartbeat {
    stop: std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Heartbeat {
    /// Starts beating: `beat` gets the holder record with a fresh `heartbeat_at`.
    pub fn start(
        timeout: Duration,
        mut info: LockInfo,
        mut beat: impl FnMut(&LockInfo) -> bool + Send + 'static,
    ) -> Heartbeat {
        use std::sync::mpsc;
        let every = (timeout / 3).max(Duration::from_millis(200));
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                info.heartbeat_at = now();
                if !beat(&info) {
                    return;
                }
            }
        });
        Heartbeat {
            stop: std::sync::Mutex::new(Some(stop)),
            thread: std::sync::Mutex::new(Some(thread)),
        }
    }

    /// Stops beating and waits for the thread. Returns false if it was already stopped.
    pub fn stop(&self) -> bool {
        let was_running = self
            .stop
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .is_some();
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
        was_running
    }
}

/// What a held lock needs from the object it lives in, in a store with conditional writes
/// (S3 and Azure ETags, GCS generations): the heartbeat, the take-over check and the release
/// are the same for all of them ([`HeldLock`]).
pub trait LockObject: Send + Sync + 'static {
    /// What a conditional write compares: an ETag or a generation.
    type Version: Send + 'static;
    /// Rewrites the lock with `info` if it is still at `version`.
    fn refresh(&self, info: &LockInfo, version: &Self::Version) -> Refresh<Self::Version>;
    /// Who the stored lock names (`None`: there is no lock).
    fn holder(&self) -> super::Result<Option<LockInfo>>;
    /// Deletes the lock object.
    fn remove(&self) -> super::Result<()>;
    /// The object's name, for messages.
    fn name(&self) -> String;
}

/// How one heartbeat went.
pub enum Refresh<V> {
    /// Written; the lock's new version.
    Done(V),
    /// Another run wrote the lock since: it is theirs now.
    TakenOver,
    /// The store did not answer; the next beat tries again.
    Failed(String),
}

/// A held lock and its heartbeat: each beat rewrites the lock only if it is still the version
/// this run wrote last, so a run whose lock was taken over finds out and stops writing state.
pub struct HeldLock<O: LockObject> {
    object: std::sync::Arc<O>,
    run_id: String,
    lost: std::sync::Arc<std::sync::atomic::AtomicBool>,
    heartbeat: Heartbeat,
}

impl<O: LockObject> HeldLock<O> {
    /// Starts beating on a lock just written at `version`.
    pub fn start(object: O, info: LockInfo, version: O::Version, timeout: Duration) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let object = std::sync::Arc::new(object);
        let run_id = info.run_id.clone();
        let lost = std::sync::Arc::new(AtomicBool::new(false));
        let (o, l) = (object.clone(), lost.clone());
        let mut version = version;
        let heartbeat = Heartbeat::start(timeout, info, move |info| {
            match o.refresh(info, &version) {
                Refresh::Done(newer) => version = newer,
                Refresh::TakenOver => {
                    tracing::warn!("the lock {} was taken over by another run", o.name());
                    l.store(true, Ordering::SeqCst);
                    return false;
                }
                Refresh::Failed(e) => tracing::warn!("cannot refresh the lock heartbeat: {e}"),
            }
            true
        });
        HeldLock {
            object,
            run_id,
            lost,
            heartbeat,
        }
    }

    /// True when the stored lock still names this run (compared by run id: the heartbeat
    /// changes the version between any two reads). Unknown (store unreachable) counts as
    /// ours: the write itself will fail or succeed.
    fn is_ours(&self) -> bool {
        match self.object.holder() {
            Ok(holder) => holder.is_some_and(|h| h.run_id == self.run_id),
            Err(_) => true,
        }
    }

    fn taken_over(&self) -> bool {
        self.lost.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Stops the heartbeat and deletes the lock, if it still names this run.
    fn stop_and_remove(&self) -> super::Result<()> {
        if !self.heartbeat.stop() {
            return Ok(());
        }
        if !self.taken_over() && self.is_ours() {
            self.object.remove()?;
        }
        Ok(())
    }
}

impl<O: LockObject> super::LockGuard for HeldLock<O> {
    fn still_held(&self) -> bool {
        !self.taken_over() && self.is_ours()
    }

    fn release(&self) -> super::Result<()> {
        self.stop_and_remove()
    }
}

impl<O: LockObject> Drop for HeldLock<O> {
    fn drop(&mut self) {
        let _ = self.stop_and_remove();
    }
}
