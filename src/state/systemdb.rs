//! The `systemdb` store: state in Meltano's system database (SQLite or PostgreSQL), in the
//! same table and rows Meltano 4.4 reads and writes, so either tool continues from the
//! other's bookmarks.
//!
//! - A state is the row of its id in `state`; each write replaces the row in one statement
//!   (Meltano's `DBStateStoreManager.set` replaces it too, after merging a partial state into
//!   the stored one; eltr does that merge itself while it holds the lock).
//! - The lock is what Meltano's own runs respect: a `RUNNING` row in `runs` named by the state
//!   id, its `last_heartbeat_at` refreshed while the run lives. A Meltano run refuses to start
//!   while an eltr run holds one, and the other way round. The holder's host and pid are kept
//!   in the row's `payload` with `payload_flags` 0, which Meltano never reads.

use super::db::{Database, NewRun, RunRow, StateRow, utc_now};
use super::lock::{Heartbeat, LockInfo, LockPolicy};
use super::{LockGuard, Result, StateError, StateId, Store};
use crate::singer::state::StateDoc;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A store in a system database.
pub struct SystemDb {
    db: Arc<dyn Database>,
}

impl SystemDb {
    pub fn new(db: Arc<dyn Database>) -> SystemDb {
        SystemDb { db }
    }
}

fn corrupt(label: &str, id: &StateId, column: &str, message: String) -> StateError {
    StateError::Corrupt {
        path: format!("{label} state.{column} of '{id}'"),
        message,
    }
}

/// A column's JSON object (`None`/NULL and `{}` alike are empty).
fn column(label: &str, id: &StateId, name: &str, text: Option<&str>) -> Result<Map<String, Value>> {
    let Some(text) = text else {
        return Ok(Map::new());
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(corrupt(label, id, name, "expected a JSON object".into())),
        Err(e) => Err(corrupt(label, id, name, e.to_string())),
    }
}

impl Store for SystemDb {
    fn describe(&self) -> String {
        self.db.describe()
    }

    fn min_write_interval(&self) -> Duration {
        // Each write is a committed transaction (an fsync): coalesce a run's checkpoints as
        // for remote stores.
        Duration::from_secs(1)
    }

    fn get(&self, id: &StateId) -> Result<Option<StateDoc>> {
        let Some(StateRow { partial, completed }) = self.db.get(id.as_str())? else {
            return Ok(None);
        };
        let label = self.db.describe();
        Ok(Some(StateDoc {
            completed: column(&label, id, "completed_state", completed.as_deref())?,
            partial: column(&label, id, "partial_state", partial.as_deref())?,
        }))
    }

    fn set(&self, id: &StateId, doc: &StateDoc) -> Result<()> {
        let text =
            |m: &Map<String, Value>| crate::vocab::pyjson::to_string(&Value::Object(m.clone()));
        // Meltano writes `updated_at` with Python's `datetime.now()`: local time.
        let updated = super::db::sql_time(SystemTime::now(), true);
        self.db.put(
            id.as_str(),
            &text(&doc.partial),
            &text(&doc.completed),
            &updated,
        )
    }

    fn delete(&self, id: &StateId) -> Result<()> {
        self.db.delete(id.as_str())
    }

    fn list(&self) -> Result<Vec<StateId>> {
        let mut ids: Vec<StateId> = self
            .db
            .ids()?
            .iter()
            .filter_map(|i| StateId::parse(i).ok())
            .collect();
        ids.sort();
        Ok(ids)
    }

    fn lock(
        &self,
        id: &StateId,
        info: &LockInfo,
        policy: &LockPolicy,
    ) -> Result<Arc<dyn LockGuard>> {
        let run_id = uuid::Uuid::parse_str(&info.run_id).unwrap_or_else(|_| uuid::Uuid::new_v4());
        let payload = serde_json::json!({ "eltr_lock": info });
        let new = NewRun {
            job_name: id.to_string(),
            run_id,
            now: utc_now(),
            payload: crate::vocab::pyjson::to_string(&payload),
        };
        let mut decide = |rows: &[RunRow]| -> Result<String> {
            let holders: Vec<LockInfo> = rows.iter().map(holder).collect();
            if let Some(live) = holders.iter().find(|h| !h.is_stale(policy)) {
                if !policy.force {
                    return Err(StateError::Locked {
                        id: id.to_string(),
                        holder: live.describe(),
                    });
                }
                tracing::warn!(
                    "breaking the lock of state '{id}' held by {}",
                    live.describe()
                );
                return Ok(format!(
                    "The lock was broken by eltr run {} (--force).",
                    info.run_id
                ));
            }
            for h in &holders {
                tracing::warn!(
                    "took over the stale lock of state '{id}' held by {}",
                    h.describe()
                );
            }
            Ok(format!(
                "No heartbeat recorded for {} seconds. The process was likely killed unceremoniously.",
                policy.timeout.as_secs()
            ))
        };
        let row = self.db.take_lock(&new, &mut decide)?;
        Ok(Arc::new(DbLock::start(
            self.db.clone(),
            row,
            info.clone(),
            policy.timeout,
        )))
    }
}

/// The holder a `RUNNING` row names: eltr's record in its payload, else a Meltano run.
fn holder(row: &RunRow) -> LockInfo {
    let recorded = row
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
        .and_then(|v| serde_json::from_value::<LockInfo>(v.get("eltr_lock")?.clone()).ok());
    let heartbeat = row.last_heartbeat_at.unwrap_or(row.started_at);
    match recorded {
        Some(mut h) => {
            h.heartbeat_at = heartbeat;
            h
        }
        None => LockInfo {
            host: "unknown (a Meltano run)".into(),
            pid: 0,
            run_id: uuid::Uuid::parse_str(&row.run_id)
                .map(|u| u.hyphenated().to_string())
                .unwrap_or_else(|_| row.run_id.clone()),
            started_at: row.started_at,
            heartbeat_at: heartbeat,
        },
    }
}

/// A held lock: a `RUNNING` row in `runs` and the heartbeat that keeps it fresh.
struct DbLock {
    db: Arc<dyn Database>,
    row: i64,
    heartbeat: Heartbeat,
    succeeded: std::sync::atomic::AtomicBool,
}

impl DbLock {
    fn start(db: Arc<dyn Database>, row: i64, info: LockInfo, timeout: Duration) -> DbLock {
        let beat_db = db.clone();
        let heartbeat = Heartbeat::start(timeout, info, move |_| {
            match beat_db.beat(row, &utc_now()) {
                Ok(true) => true,
                Ok(false) => {
                    tracing::warn!("the lock (runs row {row}) was taken over by another run");
                    false
                }
                Err(e) => {
                    tracing::warn!("cannot refresh the lock heartbeat: {e}");
                    true
                }
            }
        });
        DbLock {
            db,
            row,
            heartbeat,
            succeeded: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn end(&self, state: &str) -> Result<()> {
        if !self.heartbeat.stop() {
            return Ok(());
        }
        self.db.finish(self.row, state, &utc_now())
    }
}

impl LockGuard for DbLock {
    fn still_held(&self) -> bool {
        // Unknown (database unreachable): keep going; the write itself will fail or succeed.
        self.db.running(self.row).unwrap_or(true)
    }

    fn release(&self) -> Result<()> {
        self.end("SUCCESS")
    }

    fn record_outcome(&self, succeeded: bool) {
        self.succeeded
            .store(succeeded, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for DbLock {
    fn drop(&mut self) {
        let ok = self.succeeded.load(std::sync::atomic::Ordering::SeqCst);
        let _ = self.end(if ok { "SUCCESS" } else { "FAIL" });
    }
}
