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
