//! Saving the states a target confirms. Each STATE the target prints is applied to the
//! in-memory document and handed to a writer thread that keeps at most one write in flight
//! and always writes the newest: the pipe never waits on the store, and the last confirmed
//! state is always the one left stored.
//!
//! A split block (`--split-streams`) has one checkpointer for its copies of the tap: each
//! copy's confirmed state gives the bookmarks of the copy's own streams
//! (`singer::state::take_bookmarks`), merged into one state as if one tap had synced them all.

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
    /// The last state the target confirmed (split: the copies' states merged).
    pub last_confirmed: Option<Value>,
    /// What copies of a split tap changed that was not theirs to change (and was not saved).
    pub not_own: Vec<String>,
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
    /// Split blocks: the copies' states merged per stream.
    shares: Option<Mutex<Shares>>,
}

/// The state of a split block's copies, merged.
struct Shares {
    /// The state every copy of the tap was given.
    given: Value,
    /// `given` with each stream's bookmark replaced by the last one its copy confirmed.
    combined: Value,
    /// Every copy's streams, in catalog order.
    streams: Vec<String>,
    not_own: Vec<String>,
}

/// Where the states one target confirms go: the block's checkpointer, whole, or for the
/// streams of one copy of a split tap.
#[derive(Clone)]
pub struct Confirm {
    checkpointer: Arc<Checkpointer>,
    share: Option<Arc<Vec<String>>>,
}

impl Confirm {
    /// States of the block's only tap.
    pub fn whole(checkpointer: Arc<Checkpointer>) -> Confirm {
        Confirm {
            checkpointer,
            share: None,
        }
    }

    /// States of the copy of a split tap syncing `streams`.
    pub fn share(checkpointer: Arc<Checkpointer>, streams: Arc<Vec<String>>) -> Confirm {
        Confirm {
            checkpointer,
            share: Some(streams),
        }
    }

    /// Records one state the target confirmed.
    pub fn confirm(&self, singer_state: &Value) {
        match &self.share {
            None => self.checkpointer.confirm(singer_state),
            Some(streams) => self.checkpointer.confirm_share(streams, singer_state),
        }
    }
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
            shares: None,
        })
    }

    /// Makes this (new) checkpointer one for the copies of a split tap syncing `streams`
    /// (catalog order), each given `given`.
    pub fn split(self: Arc<Self>, given: Value, streams: Vec<String>) -> Arc<Checkpointer> {
        let mut this = Arc::into_inner(self).expect("a new checkpointer has one owner");
        this.shares = Some(Mutex::new(Shares {
            combined: given.clone(),
            given,
            streams,
            not_own: Vec::new(),
        }));
        Arc::new(this)
    }

    /// Records one state the target confirmed.
    pub fn confirm(&self, singer_state: &Value) {
        self.apply(singer_state);
    }

    /// Records a state the target of the copy syncing `streams` confirmed: the bookmarks of
    /// those streams.
    fn confirm_share(&self, streams: &[String], singer_state: &Value) {
        let Some(shares) = &self.shares else {
            return self.apply(singer_state);
        };
        // Held until the merged state is queued, so the writer gets them in order.
        let mut shares = shares.lock().unwrap_or_else(|e| e.into_inner());
        let Shares {
            given,
            combined,
            streams: order,
            not_own,
        } = &mut *shares;
        let changed = crate::singer::state::take_bookmarks(combined, singer_state, given, streams);
        crate::singer::state::order_bookmarks(combined, given, order);
        for what in changed {
            tracing::error!(
                "the copy of the tap syncing {} changed {what}; that change is not saved",
                streams.join(", ")
            );
            not_own.push(what);
        }
        self.apply(combined);
    }

    /// Applies a state to the document and queues the result for the writer.
    fn apply(&self, singer_state: &Value) {
        // The document stays locked until the snapshot is queued: states confirmed by
        // several threads (a split block's targets) reach the writer in the order applied,
        // so the newest is the one written last.
        let mut doc = self.doc.lock().unwrap_or_else(|e| e.into_inner());
        doc.apply(singer_state, self.merge);
        self.confirmed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(singer_state.clone());
        if let Some(tx) = self.tx.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = tx.send(doc.clone());
        }
    }

    /// Waits for every pending write and reports.
    pub fn finish(&self) -> CheckpointReport {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        let mut report = thread.and_then(|t| t.join().ok()).unwrap_or_default();
        report.confirmed = self.confirmed.load(std::sync::atomic::Ordering::Relaxed);
        report.last_confirmed = self.last.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(shares) = &self.shares {
            report.not_own =
                std::mem::take(&mut shares.lock().unwrap_or_else(|e| e.into_inner()).not_own);
        }
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
