//! Staging folders for venv builds: a venv is built next to its final place and swapped into
//! it only once it is complete, so readers see the old venv or the new one, never half of one.
//!
//! One build per plugin at a time: a builder holds an exclusive `flock` on `install.lock`
//! beside the venv (across processes and containers sharing the folder; the kernel drops it
//! when the builder dies). Whoever holds that lock knows every staging folder it did not make
//! itself is left over from a killed build, and removes it.
//!
//! Every deletion and rename here goes through `vocab::confine`, bounded by the project's
//! `.eltr/` folder (the lock's `owner`).

use crate::vocab::confine;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Prefix of a folder a venv is being built in.
const BUILDING: &str = "venv.installing-";
/// Prefix of a replaced venv waiting to be deleted.
const REPLACED: &str = "venv.replaced-";
/// The file builders lock, next to the venv.
const LOCK_FILE: &str = "install.lock";

/// Makes staging names unique within this process (with the pid and the time). A counter,
/// not run state: nothing reads it back.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// The right to build the venv in one folder; released when dropped.
pub struct BuildLock {
    _file: File,
    home: PathBuf,
    /// The folder eltr owns (`.eltr/`) that every deletion must stay inside.
    owner: PathBuf,
}

impl BuildLock {
    /// Waits for the builder of `home` (the folder that holds `venv`), if any, to finish.
    /// `home` must really be inside `owner`: a plugin folder planted as a link elsewhere is
    /// refused before anything is built there.
    pub fn acquire(owner: &Path, home: &Path) -> io::Result<BuildLock> {
        confine::create_dir_inside(owner, home).map_err(io::Error::other)?;
        let file = open_lock(home)?;
        loop {
            // SAFETY: `file` is open for the whole call, so its descriptor is valid; flock
            // has no memory effects.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                break;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        Ok(BuildLock {
            _file: file,
            home: home.to_path_buf(),
            owner: owner.to_path_buf(),
        })
    }

    /// The lock if nobody builds in `home` right now.
    fn try_acquire(owner: &Path, home: &Path) -> Option<BuildLock> {
        confine::create_dir_inside(owner, home).ok()?;
        let file = open_lock(home).ok()?;
        // SAFETY: `file` is open for the whole call, so its descriptor is valid.
        let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        taken.then(|| BuildLock {
            _file: file,
            home: home.to_path_buf(),
            owner: owner.to_path_buf(),
        })
    }

    /// A fresh staging path to build the venv in; unique even across hosts and pid namespaces
    /// (a container's eltr is often pid 1).
    pub fn new_dir(&self) -> PathBuf {
        unique(&self.home, BUILDING)
    }

    /// Removes every staging and replaced folder: with the lock held, none is in use.
    pub fn sweep(&self) {
        for leftover in leftovers(&self.home) {
            if let Err(e) = confine::remove_tree(&self.owner, &leftover) {
                tracing::warn!("{e}");
            }
        }
    }
}

/// The lock file, never opened through a link (one planted there would have eltr create or
/// lock a file elsewhere) and never a named pipe (opening one waits for a reader).
fn open_lock(home: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(home.join(LOCK_FILE))
        .map_err(|e| match e.raw_os_error() {
            // A named pipe without a reader.
            Some(libc::ENXIO) => io::Error::other(format!(
                "{} is not a regular file (remove it)",
                home.join(LOCK_FILE).display()
            )),
            _ => e,
        })?;
    match file.metadata()?.is_file() {
        true => Ok(file),
        false => Err(io::Error::other(format!(
            "{} is not a regular file (remove it)",
            home.join(LOCK_FILE).display()
        ))),
    }
}

fn unique(home: &Path, prefix: &str) -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    home.join(format!("{prefix}{}-{nanos}-{n}", std::process::id()))
}

fn leftovers(home: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(home) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.as_bytes();
            name.starts_with(BUILDING.as_bytes()) || name.starts_with(REPLACED.as_bytes())
        })
        .map(|e| e.path())
        .collect()
}

/// Removes what killed builds left in `home`, unless a build is running there. Cheap when
/// there is nothing to remove (one directory read), so it runs even when the venv is current.
pub fn sweep_if_idle(owner: &Path, home: &Path) {
    if leftovers(home).is_empty() {
        return;
    }
    if let Some(lock) = BuildLock::try_acquire(owner, home) {
        lock.sweep();
    }
}

/// Puts the finished venv in `staged` at `venv`. An existing venv is swapped out in one
/// atomic step (`renameat2(RENAME_EXCHANGE)`), so `venv` never goes missing, then deleted.
pub fn publish(lock: &BuildLock, staged: &Path, venv: &Path) -> io::Result<()> {
    let owner = &lock.owner;
    if !venv.exists() {
        return confine::rename(owner, staged, venv).map_err(io::Error::other);
    }
    match confine::exchange(owner, staged, venv) {
        Ok(()) => {
            // `staged` now holds the old venv.
            if let Err(e) = confine::remove_tree(owner, staged) {
                tracing::warn!("{e}");
            }
            Ok(())
        }
        Err(confine::ConfineError::Outside { .. }) => Err(io::Error::other(format!(
            "refusing to replace {}: it is outside {}",
            venv.display(),
            owner.display()
        ))),
        Err(_) => {
            // A filesystem without RENAME_EXCHANGE: move the old one aside first.
            let old = unique(venv.parent().unwrap_or(Path::new(".")), REPLACED);
            confine::rename(owner, venv, &old).map_err(io::Error::other)?;
            if let Err(e) = confine::rename(owner, staged, venv) {
                let _ = confine::rename(owner, &old, venv);
                return Err(io::Error::other(e));
            }
            if let Err(e) = confine::remove_tree(owner, &old) {
                tracing::warn!("{e}");
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_swaps_in_the_new_venv_and_the_lock_holder_sweeps_leftovers() {
        let tmp = tempfile::tempdir().unwrap();
        let owner = tmp.path();
        let home = &owner.join("extractors/tap-x");
        let venv = home.join("venv");
        fs::create_dir_all(venv.join("bin")).unwrap();
        fs::write(venv.join("bin/old"), "").unwrap();

        let lock = BuildLock::acquire(owner, home).unwrap();
        let staged = lock.new_dir();
        fs::create_dir_all(staged.join("bin")).unwrap();
        fs::write(staged.join("bin/new"), "").unwrap();
        publish(&lock, &staged, &venv).unwrap();
        assert!(venv.join("bin/new").is_file());
        assert!(!venv.join("bin/old").exists());
        assert!(!staged.exists());

        // A killed build's folder: kept while a build holds the lock, swept once idle.
        let killed = home.join(format!("{BUILDING}1-0-0"));
        fs::create_dir_all(&killed).unwrap();
        sweep_if_idle(owner, home);
        assert!(killed.is_dir(), "swept while a build held the lock");
        drop(lock);
        sweep_if_idle(owner, home);
        assert!(!killed.exists());
        let mut left: Vec<_> = fs::read_dir(home)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(left, ["install.lock", "venv"]);
    }
}
