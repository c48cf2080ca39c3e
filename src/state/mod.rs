//! Where bookmarks live between runs: the `Store` trait, state ids, and the locks that keep
//! two runs of one pipeline from interleaving. `local` is the default store; remote stores
//! (S3, Azure) implement the same trait.
//!
//! Takes `StateDoc`s from `singer::state`; knows nothing about processes.

pub mod id;
pub mod local;
pub mod lock;
pub mod ops;
pub mod remote;

pub use id::StateId;
pub use lock::{LockInfo, LockPolicy};

use crate::singer::state::StateDoc;
use std::path::PathBuf;

/// What can go wrong with a store. Messages name the store and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {error} (check that the state folder exists and is writable)")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{path}: stored state is not valid JSON ({message}); fix or clear it with `eltr state set`/`eltr state clear`"
    )]
    Corrupt { path: String, message: String },
    #[error(
        "state '{id}' is locked by {holder}; another run of this pipeline is in progress (wait for it, or pass --force if it is dead)"
    )]
    Locked { id: String, holder: String },
    #[error("invalid state id '{id}': {reason}")]
    BadId { id: String, reason: String },
    #[error("no state stored for '{0}'")]
    NotFound(String),
    #[error("state backend {store}: {message}")]
    Remote { store: String, message: String },
    #[error(
        "unsupported state backend uri '{0}' (use a path, file://PATH, s3://BUCKET/PREFIX or azure://CONTAINER/PREFIX)"
    )]
    BadUri(String),
}

/// Result type of the state layer.
pub type Result<T, E = StateError> = std::result::Result<T, E>;

/// A place that keeps state documents, one per state id, and the locks on them.
pub trait Store: Send + Sync {
    /// A short description for messages (`local .eltr/state`).
    fn describe(&self) -> String;
    /// The least time between two checkpoint writes of one run (newer states in between
    /// replace older ones; the last is always written).
    fn min_write_interval(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
    /// The stored document, if any.
    fn get(&self, id: &StateId) -> Result<Option<StateDoc>>;
    /// Replaces the stored document atomically: readers see the old or the new one, never a
    /// mix.
    fn set(&self, id: &StateId, doc: &StateDoc) -> Result<()>;
    /// Removes the stored document (and its folder when empty).
    fn delete(&self, id: &StateId) -> Result<()>;
    /// Every state id with a stored document, sorted.
    fn list(&self) -> Result<Vec<StateId>>;
    /// Takes the lock of `id` for as long as the returned guard lives.
    fn lock(
        &self,
        id: &StateId,
        info: &LockInfo,
        policy: &LockPolicy,
    ) -> Result<std::sync::Arc<dyn LockGuard>>;
}

/// A held lock. It refreshes its own heartbeat while it lives; dropping it releases the lock.
pub trait LockGuard: Send + Sync {
    /// Whether the lock is still this run's. A run whose lock was taken over (`--force` by
    /// another run) must stop writing state: the other run's bookmarks win.
    fn still_held(&self) -> bool;
    /// Releases the lock now, reporting a failure to do so.
    fn release(&self) -> Result<()>;
}

/// Opens the store the backend settings name (no `uri`: the project's local default).
pub fn open(
    settings: &crate::project::backend::StateBackendSettings,
    project_root: &std::path::Path,
) -> Result<Box<dyn Store>> {
    match settings.get("uri") {
        None | Some("systemdb") => Ok(Box::new(local::LocalStore::new(
            project_root.join(".eltr").join("state"),
        ))),
        Some(u) if u.starts_with("file://") => {
            let path = PathBuf::from(&u["file://".len()..]);
            Ok(Box::new(local::LocalStore::new(project_root.join(path))))
        }
        Some(u) if !u.contains("://") => Ok(Box::new(local::LocalStore::new(project_root.join(u)))),
        Some(u) => Ok(Box::new(remote::RemoteStore::open(u, settings)?)),
    }
}
