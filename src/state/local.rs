//! The default store: a folder on local disk (`.eltr/state/` unless the project says
//! otherwise), laid out as Meltano's file backend lays it out: `{base}/{state_id}/state.json`
//! and `{base}/{state_id}/lock`.

use super::lock::{HOLDER_SIDECAR, Heartbeat, LockInfo, LockPolicy};
use super::{LockGuard, Result, StateError, StateId, Store};
use crate::singer::state::StateDoc;
use crate::vocab::confine;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
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

fn confined(path: &Path) -> impl FnOnce(confine::ConfineError) -> StateError + '_ {
    move |e| StateError::Io {
        path: path.to_path_buf(),
        error: std::io::Error::other(e),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |error| StateError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Writes `bytes` to `path` inside `base` durably: readers see the old or the new content,
/// and the new one survives a crash of the machine.
pub fn write_atomic(base: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    confine::write_replacing(base, path, bytes, true).map_err(|e| StateError::Io {
        path: path.to_path_buf(),
        error: std::io::Error::other(e),
    })
}

impl Store for LocalStore {
    fn describe(&self) -> String {
        format!("local {}", self.base.display())
    }

    fn get(&self, id: &StateId) -> Result<Option<StateDoc>> {
        let path = self.dir(id).join(STATE_FILE);
        let bytes = match crate::vocab::files::read_capped(&path, crate::vocab::files::DOCUMENT_CAP)
        {
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
        let text = crate::vocab::pyjson::to_string(&doc.to_json());
        write_atomic(&self.base, &self.dir(id).join(STATE_FILE), text.as_bytes())
    }

    fn delete(&self, id: &StateId) -> Result<()> {
        let dir = self.dir(id);
        let path = dir.join(STATE_FILE);
        confine::remove_file(&self.base, &path).map_err(confined(&path))?;
        confine::remove_empty_dir(&self.base, &dir).map_err(confined(&dir))?;
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
    ) -> Result<Arc<dyn LockGuard>> {
        let dir = self.dir(id);
        confine::create_dir_inside(&self.base, &dir).map_err(confined(&dir))?;
        let path = dir.join(LOCK_FILE);
        for _attempt in 0..5 {
            // Never through a link: the body written below would truncate whatever a link
            // planted here (a cloned project's) points at.
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                // Non-blocking: opening a named pipe planted there returns at once.
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(&path)
                .and_then(|f| match f.metadata()?.is_file() {
                    true => Ok(f),
                    false => Err(std::io::Error::other(
                        "it is not a regular file, and eltr locks only regular files (remove it)",
                    )),
                })
                .map_err(|e| match e.raw_os_error() {
                    Some(libc::ELOOP) => std::io::Error::other(
                        "it is a symbolic link, and eltr never writes a lock through one (remove it)",
                    ),
                    _ => e,
                })
                .map_err(io(&path))?;
            if !try_flock(&file) {
                // Held by a live process: the kernel drops the flocks of dead ones.
                let holder = read_holder(&path);
                if policy.force {
                    tracing::warn!(
                        "breaking the lock of state '{id}' held by {}",
                        holder
                            .as_ref()
                            .map(|h| h.describe())
                            .unwrap_or_else(|| "another run".into())
                    );
                    // The holder keeps an flock on a file that is no longer the lock; it
                    // finds out before its next write (`still_held`).
                    confine::remove_file(&self.base, &path).map_err(confined(&path))?;
                    continue;
                }
                return Err(StateError::Locked {
                    id: id.to_string(),
                    holder: holder
                        .map(|h| h.describe())
                        .unwrap_or_else(|| "another run".into()),
                });
            }
            // Locked the file; make sure it is still the lock (not unlinked by a release or
            // a --force since we opened it).
            let ino = file.metadata().map_err(io(&path))?.ino();
            if fs::metadata(&path).map(|m| m.ino()).ok() != Some(ino) {
                continue;
            }
            // A lock written without flock (a Meltano run: a bare timestamp) is respected
            // while fresh.
            // Other hosts on a shared disk may not see our flocks: their fresh record counts.
            if let Some(h) = read_lock(&path) {
                let foreign = h.pid == 0 || h.host != super::lock::hostname();
                if foreign && !h.is_stale(policy) && !policy.force {
                    return Err(StateError::Locked {
                        id: id.to_string(),
                        holder: h.describe(),
                    });
                }
                if h.run_id != info.run_id {
                    tracing::warn!(
                        "took over the stale lock of state '{id}' held by {}",
                        h.describe()
                    );
                }
            }
            // The holder record first: whoever reads the new body finds the new holder.
            let sidecar = dir.join(HOLDER_SIDECAR);
            confine::write_replacing(&self.base, &sidecar, info.holder_text().as_bytes(), false)
                .map_err(confined(&sidecar))?;
            let body = info.body();
            let mut f = &file;
            f.set_len(0).map_err(io(&path))?;
            f.seek(SeekFrom::Start(0)).map_err(io(&path))?;
            // No fsync: the flock is the lock; the body is Meltano's timestamp.
            f.write_all(&body).map_err(io(&path))?;
            return Ok(Arc::new(LocalLock::start(
                self.base.clone(),
                path,
                file,
                ino,
                info.clone(),
                policy.timeout,
            )));
        }
        Err(StateError::Locked {
            id: id.to_string(),
            holder: read_holder(&path)
                .map(|h| h.describe())
                .unwrap_or_else(|| "another run".into()),
        })
    }
}

fn try_flock(file: &File) -> bool {
    // SAFETY: `file` is open for the whole call, so its descriptor is valid.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// A lock file's body with the holder record beside it (none: a Meltano lock).
fn read_lock(path: &Path) -> Option<LockInfo> {
    // Capped reads of regular files only: a named pipe planted there must not hang eltr.
    let read = |p: &Path| crate::vocab::files::read_capped(p, LOCK_CAP).ok();
    let body = read(path)?;
    let holder = path
        .parent()
        .and_then(|d| read(&d.join(HOLDER_SIDECAR)))
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    LockInfo::from_parts(&body, holder.as_deref())
}

/// The most of a lock file or its holder record read (both are a line of JSON).
const LOCK_CAP: u64 = 1 << 20;

/// The holder recorded in a lock file. A holder that has just taken the lock may not have
/// written it yet: read a few times before giving up.
fn read_holder(path: &Path) -> Option<LockInfo> {
    for _ in 0..20 {
        if let Some(h) = read_lock(path) {
            return Some(h);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// A held local lock: an flock on the lock file (the kernel releases it if eltr dies, so a
/// killed run never blocks the next one), plus the holder and a heartbeat in its JSON for
/// people and for Meltano-style readers.
struct LocalLock {
    /// The store's base folder, which the lock's removal must stay inside.
    base: PathBuf,
    path: PathBuf,
    _file: File,
    ino: u64,
    run_id: String,
    heartbeat: Heartbeat,
}

impl LocalLock {
    fn start(
        base: PathBuf,
        path: PathBuf,
        file: File,
        ino: u64,
        info: LockInfo,
        timeout: Duration,
    ) -> LocalLock {
        let beat_path = path.clone();
        let run_id = info.run_id.clone();
        // The heartbeat writes through the descriptor eltr locked, never by path again: a
        // link or a taken-over lock put at the path in between is not written through.
        let beat_file = file.try_clone();
        let heartbeat = Heartbeat::start(timeout, info, move |info| {
            if fs::metadata(&beat_path).map(|m| m.ino()).ok() != Some(ino) {
                tracing::warn!("lock {} was taken over by another run", beat_path.display());
                return false;
            }
            let body = info.body();
            // Rewritten in place: the lock's identity is its inode.
            let write = beat_file
                .as_ref()
                .map_err(|e| std::io::Error::new(e.kind(), e.to_string()))
                .and_then(|f| {
                    use std::os::unix::fs::FileExt;
                    f.write_all_at(&body, 0)
                        .and_then(|()| f.set_len(body.len() as u64))
                });
            if let Err(e) = write {
                tracing::warn!("cannot refresh lock heartbeat: {e}");
            }
            true
        });
        LocalLock {
            base,
            path,
            _file: file,
            ino,
            run_id,
            heartbeat,
        }
    }

    fn stop_and_remove(&self) -> Result<()> {
        if !self.heartbeat.stop() {
            return Ok(());
        }
        if self.still_held() {
            let sidecar = self.path.with_file_name(HOLDER_SIDECAR);
            confine::remove_file(&self.base, &sidecar).map_err(confined(&sidecar))?;
            confine::remove_file(&self.base, &self.path).map_err(confined(&self.path))?;
        }
        Ok(())
    }
}

impl LockGuard for LocalLock {
    fn still_held(&self) -> bool {
        fs::metadata(&self.path).map(|m| m.ino()).ok() == Some(self.ino)
            && read_lock(&self.path).is_none_or(|h| h.run_id == self.run_id)
    }

    fn release(&self) -> Result<()> {
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
        fs::write(dir.path().join("x/lock"), dead.body()).unwrap();
        fs::write(
            dir.path().join("x").join(HOLDER_SIDECAR),
            dead.holder_text(),
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
