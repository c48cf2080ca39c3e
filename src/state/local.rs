//! The default store: a folder on local disk (`.eltr/state/` unless the project says
//! otherwise), laid out as Meltano's file backend lays it out: `{base}/{state_id}/state.json`
//! and `{base}/{state_id}/lock`.

use super::lock::{LockInfo, LockPolicy, now};
use super::{LockGuard, Result, StateError, StateId, Store};
use crate::singer::state::StateDoc;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

const STATE_FILE: &str = "state.json";
const LOCK_FILE: &str = "lock";

/// A store in a local folder.
#[derive(Debug, Clone)]
pub struct LocalStore {
    base: PathBuf,
}

impl LocalStore {
    /// A store rooted at `base` (created on first write).
    pub fn new(base: PathBuf) -> LocalStore {
        LocalStore { base }
    }

    fn dir(&self, id: &StateId) -> PathBuf {
        self.base.join(id.as_str())
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` so that readers only ever see the old or the new content: a
/// temporary file in the same folder, fsync, rename, fsync of the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().expect("state paths have a parent");
    fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state"),
        std::process::id()
    ));
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io(path))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

impl Store for LocalStore {
    fn describe(&self) -> String {
        format!("local {}", self.base.display())
    }

    fn get(&self, id: &StateId) -> Result<Option<StateDoc>> {
        let path = self.dir(id).join(STATE_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let corrupt = |message: String| StateError::Corrupt {
            path: path.display().to_string(),
            message,
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        StateDoc::from_json(&value)
            .map(Some)
            .ok_or_else(|| corrupt("expected a JSON object".into()))
    }

    fn set(&self, id: &StateId, doc: &StateDoc) -> Result<()> {
        let text = crate::pyjson::to_string(&doc.to_json());
        write_atomic(&self.dir(id).join(STATE_FILE), text.as_bytes())
    }

    fn delete(&self, id: &StateId) -> Result<()> {
        let dir = self.dir(id);
        let path = dir.join(STATE_FILE);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        }
        let _ = fs::remove_dir(&dir);
        Ok(())
    }

    fn list(&self) -> Result<Vec<StateId>> {
        let entries = match fs::read_dir(&self.base) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.base)(e)),
        };
        let mut ids: Vec<StateId> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join(STATE_FILE).is_file())
            .filter_map(|e| e.file_name().to_str().and_then(|n| StateId::parse(n).ok()))
            .collect();
        ids.sort();
        Ok(ids)
    }

    fn lock(
        &self,
        id: &StateId,
        info: &LockInfo,
        policy: &LockPolicy,
    ) -> Result<Box<dyn LockGuard>> {
        let dir = self.dir(id);
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join(LOCK_FILE);
        let body = serde_json::to_vec(info).expect("lock info serialises");
        for _attempt in 0..3 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    f.write_all(&body).map_err(io(&path))?;
                    f.sync_all().map_err(io(&path))?;
                    return Ok(Box::new(LocalLock::start(
                        path,
                        info.clone(),
                        policy.timeout,
                    )));
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    let holder: Option<LockInfo> =
                        fs::read(&path).ok().and_then(|b| LockInfo::parse(&b));
                    // An unreadable lock (a run killed between creating and writing it) is
                    // judged by its age.
                    let unreadable_and_old = holder.is_none()
                        && fs::metadata(&path)
                            .and_then(|m| m.modified())
                            .ok()
                            .and_then(|t| t.elapsed().ok())
                            .is_some_and(|age| age > policy.timeout);
                    let breakable = policy.force
                        || unreadable_and_old
                        || holder.as_ref().is_some_and(|h| h.is_stale(policy));
                    if !breakable {
                        return Err(StateError::Locked {
                            id: id.to_string(),
                            holder: holder.map(|h| h.describe()).unwrap_or_else(|| {
                                "an unreadable lock file (pass --force to break it)".into()
                            }),
                        });
                    }
                    // Take over by renaming the stale lock away: only one contender's rename
                    // succeeds, the others find the lock gone or retaken on their next try.
                    let aside = dir.join(format!(".lock.stale.{}", std::process::id()));
                    if fs::rename(&path, &aside).is_ok() {
                        if let Some(h) = &holder {
                            tracing::warn!(
                                "took over the stale lock of state '{id}' held by {}",
                                h.describe()
                            );
                        }
                        let _ = fs::remove_file(&aside);
                    }
                }
                Err(e) => return Err(io(&path)(e)),
            }
        }
        let holder: Option<LockInfo> = fs::read(&path).ok().and_then(|b| LockInfo::parse(&b));
        Err(StateError::Locked {
            id: id.to_string(),
            holder: holder
                .map(|h| h.describe())
                .unwrap_or_else(|| "another run".into()),
        })
    }
}

/// A held local lock with its heartbeat thread.
struct LocalLock {
    path: PathBuf,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    run_id: String,
}

impl LocalLock {
    fn start(path: PathBuf, info: LockInfo, timeout: Duration) -> LocalLock {
        let (stop, stopped) = mpsc::channel::<()>();
        let every = (timeout / 3).max(Duration::from_millis(200));
        let beat_path = path.clone();
        let run_id = info.run_id.clone();
        let thread = std::thread::spawn(move || {
            let mut info = info;
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                info.heartbeat_at = now();
                // Only refresh a lock that is still ours (a --force run may have taken it).
                let ours = fs::read(&beat_path)
                    .ok()
                    .and_then(|b| LockInfo::parse(&b))
                    .is_some_and(|h| h.run_id == info.run_id);
                if !ours {
                    tracing::warn!("lock {} was taken over by another run", beat_path.display());
                    return;
                }
                let body = serde_json::to_vec(&info).expect("lock info serialises");
                if let Err(e) = write_atomic(&beat_path, &body) {
                    tracing::warn!("cannot refresh lock heartbeat: {e}");
                }
            }
        });
        LocalLock {
            path,
            stop: Some(stop),
            thread: Some(thread),
            run_id,
        }
    }

    fn stop_and_remove(&mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let ours = fs::read(&self.path)
            .ok()
            .and_then(|b| LockInfo::parse(&b))
            .is_some_and(|h| h.run_id == self.run_id);
        if ours {
            match fs::remove_file(&self.path) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(io(&self.path)(e)),
            }
        }
        Ok(())
    }
}

impl LockGuard for LocalLock {
    fn release(mut self: Box<Self>) -> Result<()> {
        self.stop_and_remove()
    }
}

impl Drop for LocalLock {
    fn drop(&mut self) {
        let _ = self.stop_and_remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_get_round_trip_in_meltano_format() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().to_path_buf());
        let id = StateId::parse("dev:tap-to-target").unwrap();
        store
            .set(&id, &StateDoc::completed(json!({"bookmarks": {"a": 1}})))
            .unwrap();
        let text = fs::read_to_string(dir.path().join("dev:tap-to-target/state.json")).unwrap();
        assert_eq!(
            text,
            r#"{"completed": {"singer_state": {"bookmarks": {"a": 1}}}, "partial": {}}"#
        );
        assert_eq!(
            store.get(&id).unwrap().unwrap().singer_state(),
            Some(json!({"bookmarks": {"a": 1}}))
        );
        assert_eq!(store.list().unwrap(), vec![id.clone()]);
        store.delete(&id).unwrap();
        assert!(store.get(&id).unwrap().is_none());
    }

    #[test]
    fn second_lock_is_refused_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().to_path_buf());
        let id = StateId::parse("x").unwrap();
        let policy = LockPolicy::default();
        let guard = store
            .lock(&id, &LockInfo::for_this_process("run-1"), &policy)
            .unwrap();
        let err = store
            .lock(&id, &LockInfo::for_this_process("run-2"), &policy)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("run run-1"), "{err}");
        guard.release().unwrap();
        store
            .lock(&id, &LockInfo::for_this_process("run-3"), &policy)
            .unwrap();
    }

    #[test]
    fn lock_of_a_dead_process_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().to_path_buf());
        let id = StateId::parse("x").unwrap();
        let mut dead = LockInfo::for_this_process("old");
        dead.pid = 999_999_999;
        fs::create_dir_all(dir.path().join("x")).unwrap();
        fs::write(
            dir.path().join("x/lock"),
            serde_json::to_vec(&dead).unwrap(),
        )
        .unwrap();
        store
            .lock(
                &id,
                &LockInfo::for_this_process("new"),
                &LockPolicy::default(),
            )
            .unwrap();
    }
}
