//! Where bookmarks live between runs: the `Store` trait, state ids, and the locks that keep
//! two runs of one pipeline from interleaving. `local` keeps them in a folder, `remote` in S3,
//! Azure Blob or Google Cloud Storage, `systemdb` in Meltano's system database (`sqlite`,
//! `postgres` over `db`); [`open`] picks one from the backend settings.
//!
//! Takes `StateDoc`s from `singer::state`; knows nothing about processes.

pub mod db;
pub mod gcs;
pub mod id;
pub mod local;
pub mod lock;
pub mod ops;
pub mod postgres;
pub mod remote;
pub mod sqlite;
pub mod systemdb;

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
        "unsupported state backend uri '{0}' (use systemdb, a path, file://PATH, s3://BUCKET/PREFIX, azure://CONTAINER/PREFIX or gs://BUCKET/PREFIX)"
    )]
    BadUri(String),
    #[error("database_uri '{uri}': {reason}")]
    BadDatabaseUri { uri: String, reason: String },
    #[error(
        "state is kept in two places: {eltr} (eltr's default) and {meltano} (Meltano's system database), and the project names no state backend; choose one with state_backend.uri (systemdb, or file://.eltr/state); to move eltr's into Meltano's: `ELTR_STATE_BACKEND_URI=file://.eltr/state eltr state export > states.json`, then `ELTR_STATE_BACKEND_URI=systemdb eltr state import states.json`"
    )]
    TwoDefaults { eltr: String, meltano: String },
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
    /// Records how the work under the lock ended, for stores that keep a record of it (the
    /// system database's `runs` row ends `SUCCESS` or `FAIL`, as Meltano's do). Dropping the
    /// lock without it records a failure there.
    fn record_outcome(&self, _succeeded: bool) {}
}

/// Opens the store the backend settings name (no `uri`: the project's local default).
pub fn open(
    settings: &crate::project::backend::StateBackendSettings,
    project_root: &std::path::Path,
) -> Result<Box<dyn Store>> {
    match settings.get("uri") {
        None => default_store(settings, project_root),
        Some("systemdb") => open_systemdb(settings, project_root),
        Some(u) if u.starts_with("file://") => {
            let path = PathBuf::from(&u["file://".len()..]);
            Ok(Box::new(local::LocalStore::new(project_root.join(path))))
        }
        Some(u) if !u.contains("://") => Ok(Box::new(local::LocalStore::new(project_root.join(u)))),
        Some(u) if u.starts_with("gs://") => Ok(Box::new(gcs::GcsStore::open(u, settings)?)),
        Some(u) => Ok(Box::new(remote::RemoteStore::open(u, settings)?)),
    }
}

/// eltr's own default folder.
fn eltr_default(project_root: &std::path::Path) -> PathBuf {
    project_root.join(".eltr").join("state")
}

/// The system database the settings name (Meltano's default when none).
fn database_uri(
    settings: &crate::project::backend::StateBackendSettings,
    project_root: &std::path::Path,
) -> Result<db::DatabaseUri> {
    match &settings.database_uri {
        Some(uri) => db::DatabaseUri::parse(uri, project_root),
        None => {
            let sys = settings
                .sys_dir_root
                .as_ref()
                .map(|d| project_root.join(d))
                .unwrap_or_else(|| project_root.join(".meltano"));
            Ok(db::DatabaseUri::Sqlite(sys.join("meltano.db")))
        }
    }
}

/// `state_backend.uri: systemdb`: Meltano's system database, created with Meltano's tables
/// when it does not exist yet.
fn open_systemdb(
    settings: &crate::project::backend::StateBackendSettings,
    project_root: &std::path::Path,
) -> Result<Box<dyn Store>> {
    let uri = database_uri(settings, project_root)?;
    let label = uri.label();
    let db: std::sync::Arc<dyn db::Database> = match uri {
        db::DatabaseUri::Sqlite(path) => {
            std::sync::Arc::new(sqlite::Sqlite::open(&path, label, true)?)
        }
        db::DatabaseUri::Postgres(url) => {
            std::sync::Arc::new(postgres::Postgres::open(&url, label)?)
        }
    };
    Ok(Box::new(systemdb::SystemDb::new(db)))
}

/// A project that names no backend. Meltano's default is its system database, eltr's was
/// `.eltr/state`; a project moving from Meltano must never silently start over, and one that
/// has run eltr must keep its bookmarks, so:
/// - a configured `database_uri` (or `MELTANO_DATABASE_URI`) means the system database, as
///   in Meltano;
/// - else state rows in `.meltano/meltano.db` mean the system database, unless `.eltr/state`
///   holds state too: then the two are ambiguous and eltr stops, saying how to choose;
/// - else `.eltr/state`.
fn default_store(
    settings: &crate::project::backend::StateBackendSettings,
    project_root: &std::path::Path,
) -> Result<Box<dyn Store>> {
    let local = local::LocalStore::new(eltr_default(project_root));
    if settings.database_uri.is_some() {
        return open_systemdb(settings, project_root);
    }
    let db::DatabaseUri::Sqlite(path) = database_uri(settings, project_root)? else {
        return open_systemdb(settings, project_root);
    };
    if !path.is_file() || !sqlite::holds_state(&path) {
        return Ok(Box::new(local));
    }
    if !local.list()?.is_empty() {
        return Err(StateError::TwoDefaults {
            eltr: eltr_default(project_root).display().to_string(),
            meltano: path.display().to_string(),
        });
    }
    tracing::info!(
        "using the state in Meltano's system database {} (the project names no state backend; Meltano's default is systemdb)",
        path.display()
    );
    open_systemdb(settings, project_root)
}
