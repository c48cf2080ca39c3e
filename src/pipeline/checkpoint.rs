//! Saving the states a target confirms. Each STATE the target prints is applied to the
//! in-memory document and handed to a writer thread that keeps at most one write in flight
//! and always writes the newest: the pipe never waits on the store, and the last confirmed
//! state is always the one left stored.

use crate::singer::state::StateDoc;
use crate::state::{LockGuard, StateId, Store};
use serde_json::Value;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// The outcome of the checkpointing of one block.
#[derive(Debug, Default)]
pub struct CheckpointReport {
    /// States the target confirmed.
    pub confirmed: u64,
    /// Writes that reached the store.
    pub writes: u64,
    /// The last state written, as stored.
    pub last_written: Option<StateDoc>,
    /// The first write error, if any (the run fails with it).
    pub error: Option<String>,
    /// The last state the target confirmed.
    pub last_confirmed: Option<Value>,
}

/// Feeds confirmed states to the store in the background.
pub struct Checkpointer {
    doc: Mutex<StateDoc>,
    merge: bool,
    tx: Mutex<Option<Sender<StateDoc>>>,
    thread: Mutex<Option<JoinHandle<CheckpointReport>>>,
    /// States confirmed so far (read live by the progress display).
    pub confirmed: Arc<std::sync::atomic::AtomicU64>,
    last: Mutex<Option<Value>>,
}

impl Checkpointer {
    /// Starts the writer. `initial` is the stored document at the start of the run; `merge`
    /// chooses merge-into-partial over overwrite (ARCHITECTURE.md).
    pub fn start(
        store: Arc<dyn Store>,
        id: StateId,
        initial: StateDoc,
        merge: bool,
        lock: Option<Arc<dyn LockGuard>>,
    ) -> Arc<Checkpointer> {
        let (tx, rx) = channel::<StateDoc>();
        let thread = super::console::spawn_in_block(move || writer(store, id, rx, lock));
        Arc::new(Checkpointer {
            doc: Mutex::new(initial),
            merge,
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            confirmed: Arc::default(),
            last: Mutex::new(None),
        })
    }

    /// Records one state the target confirmed.
    pub fn confirm(&self, singer_state: &Value) {
        let snapshot = {
            let mut doc = self.doc.lock().unwrap_or_else(|e| e.into_inner());
            doc.apply(singer_state, self.merge);
            doc.clone()
        };
        self.confirmed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(singer_state.clone());
        if let Some(tx) = self.tx.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = tx.send(snapshot);
        }
    }

    /// Waits for every pending write and reports.
    pub fn finish(&self) -> CheckpointReport {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        let mut report = thread.and_then(|t| t.join().ok()).unwrap_or_default();
        report.confirmed = self.confirmed.load(std::sync::atomic::Ordering::Relaxed);
        report.last_confirmed = self.last.lock().unwrap_or_else(|e| e.into_inner()).take();
        report
    }
}

fn writer(
    store: Arc<dyn Store>,
    id: StateId,
    rx: Receiver<StateDoc>,
    lock: Option<Arc<dyn LockGuard>>,
) -> CheckpointReport {
    let mut report = CheckpointReport::default();
    let interval = store.min_write_interval();
    let mut last_write: Option<std::time::Instant> = None;
    let mut lock_lost = false;
    while let Ok(mut doc) = rx.recv() {
        // Wait out the store's interval, taking newer states meanwhile; if the run ends
        // (channel closed) the newest is written at once.
        if let Some(at) = last_write {
            while let Some(left) = interval.checked_sub(at.elapsed()).filter(|d| !d.is_zero()) {
                match rx.recv_timeout(left) {
                    Ok(newer) => doc = newer,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
        }
        // Skip to the newest pending state: older ones are superseded.
        while let Ok(newer) = rx.try_recv() {
            doc = newer;
        }
        last_write = Some(std::time::Instant::now());
        // A run whose lock was taken over (another run's --force) must not overwrite the
        // other run's bookmarks: it stops saving for good and fails.
        if !lock_lost && lock.as_ref().is_some_and(|l| !l.still_held()) {
            tracing::error!(
                "the lock of state '{id}' was taken over by another run; this run no longer saves state"
            );
            lock_lost = true;
            report.error = Some("the lock was taken over by another run (--force); this run's later states were not saved".into());
        }
        if lock_lost {
            continue;
        }
        match retry(|| store.set(&id, &doc)) {
            Ok(()) => {
                report.writes += 1;
                report.last_written = Some(doc);
                // The store is back: what failed before is superseded by this newer state.
                if report.error.take().is_some() {
                    tracing::info!("state '{id}' saved again to {}", store.describe());
                }
            }
            Err(e) => {
                tracing::error!("cannot save state '{id}' to {}: {e}", store.describe());
                report.error = Some(e.to_string());
            }
        }
    }
    report
}

fn retry(mut f: impl FnMut() -> crate::state::Result<()>) -> crate::state::Result<()> {
    let mut delay = std::time::Duration::from_millis(100);
    for _ in 0..4 {
        match f() {
            Ok(()) => return Ok(()),
            Err(e) => {
                tracing::warn!("state write failed ({e}); retrying in {delay:?}");
                std::thread::sleep(delay);
                delay *= 2;
            }
        }
    }
    f()
}
