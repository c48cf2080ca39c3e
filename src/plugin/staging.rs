//! Staging folders for venv builds: a venv is built next to its final place and renamed into
//! it only once it is complete, so readers see the old venv or the new one, never half of one.
//!
//! A staging folder is named after the eltr process building it
//! (`venv.installing-<pid>-<n>`); one left by a process that died (kill -9, power loss) is
//! removed by the next install of that plugin.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Prefix of a folder a venv is being built in.
const BUILDING: &str = "venv.installing-";
/// Prefix of a replaced venv waiting to be deleted.
const REPLACED: &str = "venv.replaced-";

static NEXT: AtomicU64 = AtomicU64::new(0);

fn unique(home: &Path, prefix: &str) -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    home.join(format!("{prefix}{}-{n}", std::process::id()))
}

/// A fresh, not yet existing staging path in `home` (the folder that holds `venv`).
pub fn new_dir(home: &Path) -> PathBuf {
    unique(home, BUILDING)
}

/// Removes the staging and replaced folders in `home` whose eltr process is gone.
pub fn sweep(home: &Path) {
    let Ok(entries) = fs::read_dir(home) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| {
            n.strip_prefix(BUILDING)
                .or_else(|| n.strip_prefix(REPLACED))
        }) else {
            continue;
        };
        let owner = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if owner.is_some_and(|pid| !crate::state::lock::pid_alive(pid)) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Moves the finished venv in `staged` to `venv`, replacing what is there; the old venv is
/// renamed aside first and deleted after, so `venv` is never missing a part.
pub fn publish(staged: &Path, venv: &Path) -> io::Result<()> {
    if fs::rename(staged, venv).is_ok() {
        return Ok(());
    }
    let home = venv.parent().unwrap_or(Path::new("."));
    let old = unique(home, REPLACED);
    fs::rename(venv, &old)?;
    if let Err(e) = fs::rename(staged, venv) {
        let _ = fs::rename(&old, venv);
        return Err(e);
    }
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_replaces_an_existing_venv_and_sweep_keeps_live_builds() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path();
        let venv = home.join("venv");
        fs::create_dir_all(venv.join("bin")).unwrap();
        fs::write(venv.join("bin/old"), "").unwrap();

        let staged = new_dir(home);
        fs::create_dir_all(staged.join("bin")).unwrap();
        fs::write(staged.join("bin/new"), "").unwrap();
        publish(&staged, &venv).unwrap();
        assert!(venv.join("bin/new").is_file());
        assert!(!venv.join("bin/old").exists());
        assert!(!staged.exists());

        // A build of this (live) process stays; one of a dead process goes.
        let live = new_dir(home);
        fs::create_dir_all(&live).unwrap();
        let dead = home.join(format!("{BUILDING}{}-0", i32::MAX));
        fs::create_dir_all(&dead).unwrap();
        sweep(home);
        assert!(live.is_dir());
        assert!(!dead.exists());
        let left: Vec<_> = fs::read_dir(home)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }
}
