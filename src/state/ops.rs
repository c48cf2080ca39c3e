//! The operations behind `eltr state …`, on any store, each under the state's lock so they
//! never interleave with a run.

use super::{LockInfo, LockPolicy, Result, StateError, StateId, Store};
use crate::singer::state::{StateDoc, merge};
use serde_json::{Value, json};

/// Runs `f` while holding the lock of `id`.
fn locked<T>(
    store: &dyn Store,
    id: &StateId,
    policy: &LockPolicy,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let info = LockInfo::for_this_process(&format!("state-command-{}", std::process::id()));
    let guard = store.lock(id, &info, policy)?;
    let out = f();
    guard.release()?;
    out
}

/// The effective state of `id` (`{}` when none, as Meltano prints it).
pub fn get(store: &dyn Store, id: &StateId) -> Result<Value> {
    Ok(store
        .get(id)?
        .map(|d| d.effective())
        .unwrap_or_else(|| json!({})))
}

/// Replaces the state of `id` with `state` (a `{"singer_state": …}` object) as completed.
pub fn set(store: &dyn Store, id: &StateId, state: Value, policy: &LockPolicy) -> Result<()> {
    let doc = StateDoc::from_json(&state).unwrap_or_default();
    let doc = StateDoc {
        completed: doc.effective().as_object().cloned().unwrap_or_default(),
        partial: Default::default(),
    };
    locked(store, id, policy, || store.set(id, &doc))
}

/// Merges `state` into the partial state of `id`.
pub fn merge_into(
    store: &dyn Store,
    id: &StateId,
    state: Value,
    policy: &LockPolicy,
) -> Result<()> {
    locked(store, id, policy, || {
        let mut doc = store.get(id)?.unwrap_or_default();
        let mut partial = Value::Object(std::mem::take(&mut doc.partial));
        merge(&mut partial, &state);
        doc.partial = partial.as_object().cloned().unwrap_or_default();
        store.set(id, &doc)
    })
}

/// Copies the effective state of `src` to `dst` (as completed).
pub fn copy(store: &dyn Store, src: &StateId, dst: &StateId, policy: &LockPolicy) -> Result<()> {
    let doc = store
        .get(src)?
        .ok_or_else(|| StateError::NotFound(src.to_string()))?;
    set(store, dst, doc.effective(), policy)
}

/// Moves the state of `src` to `dst`.
pub fn move_state(
    store: &dyn Store,
    src: &StateId,
    dst: &StateId,
    policy: &LockPolicy,
) -> Result<()> {
    copy(store, src, dst, policy)?;
    clear(store, src, policy)
}

/// Removes the state of `id`.
pub fn clear(store: &dyn Store, id: &StateId, policy: &LockPolicy) -> Result<()> {
    locked(store, id, policy, || store.delete(id))?;
    // The lock folder may be the last thing left; remove it quietly.
    let _ = store.delete(id);
    Ok(())
}

/// State ids matching a glob pattern (all when `None`).
pub fn list(store: &dyn Store, pattern: Option<&str>) -> Result<Vec<StateId>> {
    let ids = store.list()?;
    let Some(p) = pattern else { return Ok(ids) };
    let glob = globset::Glob::new(p)
        .map_err(|e| StateError::BadId {
            id: p.to_string(),
            reason: e.kind().to_string(),
        })?
        .compile_matcher();
    Ok(ids
        .into_iter()
        .filter(|id| glob.is_match(id.as_str()))
        .collect())
}

/// Every stored state, as `meltano state export` prints it: a JSON object mapping each state
/// id (sorted) to its `{"completed": …, "partial": …}` document.
pub fn export(store: &dyn Store) -> Result<Value> {
    let mut out = serde_json::Map::new();
    for id in store.list()? {
        if let Some(doc) = store.get(&id)? {
            out.insert(id.to_string(), doc.to_json());
        }
    }
    Ok(Value::Object(out))
}

/// What is wrong with an export document, for `eltr state import`.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("expected a JSON object mapping state ids to {{\"completed\": …, \"partial\": …}}")]
    NotAnObject,
    #[error("state '{0}': expected an object with \"completed\" and/or \"partial\"")]
    BadEntry(String),
    #[error(transparent)]
    State(#[from] StateError),
}

/// Writes every state of an export document (Meltano's or eltr's), replacing what is stored
/// for those ids, each under its lock; returns how many were written. The whole document is
/// checked before the first write.
pub fn import(
    store: &dyn Store,
    doc: &Value,
    policy: &LockPolicy,
) -> std::result::Result<usize, ImportError> {
    let entries = doc.as_object().ok_or(ImportError::NotAnObject)?;
    let mut parsed = Vec::with_capacity(entries.len());
    for (id, entry) in entries {
        let state_id = StateId::parse(id)?;
        let obj = entry
            .as_object()
            .filter(|o| o.contains_key("completed") || o.contains_key("partial"))
            .ok_or_else(|| ImportError::BadEntry(id.clone()))?;
        // Meltano's export writes `null` for a column its import left empty.
        let part = |key: &str| match obj.get(key) {
            None | Some(Value::Null) => Ok(serde_json::Map::new()),
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(_) => Err(ImportError::BadEntry(id.clone())),
        };
        let state = StateDoc {
            completed: part("completed")?,
            partial: part("partial")?,
        };
        parsed.push((state_id, state));
    }
    for (id, state) in &parsed {
        locked(store, id, policy, || store.set(id, state))?;
    }
    Ok(parsed.len())
}
