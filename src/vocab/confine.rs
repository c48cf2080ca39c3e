//! Deleting and replacing, confined. Every `remove_dir_all`, file removal and rename-over that
//! eltr does goes through this module, which resolves the target's folder (symbolic links and
//! `..` included) and refuses anything that is not strictly inside the folder eltr owns for
//! that purpose: the project's `.eltr/` for run folders, logs, venvs and caches, the state
//! store's base folder for state files. A name that slipped past validation still cannot make
//! eltr delete a user's folder.

use std::io;
use std::path::{Component, Path, PathBuf};

/// Why a confined operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    #[error("refusing to {action} {target}: it is not inside {owner}, the folder eltr owns")]
    Outside {
        action: &'static str,
        target: PathBuf,
        owner: PathBuf,
    },
    #[error(
        "refusing to write into {target}: it belongs to another user or others can write to it"
    )]
    NotOwned { target: PathBuf },
    #[error("cannot {action} {target}: {error}")]
    Io {
        action: &'static str,
        target: PathBuf,
        error: io::Error,
    },
}

/// Removes the folder (or file, or symbolic link) `target` and everything in it, if it is
/// strictly inside `owner`. A target that does not exist is not an error. A symbolic link is
/// removed, never followed.
pub fn remove_tree(owner: &Path, target: &Path) -> Result<(), ConfineError> {
    let action = "delete";
    let Some(path) = inside(owner, target, action)? else {
        return Ok(());
    };
    let result = match path.symlink_metadata() {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path),
        Ok(_) => std::fs::remove_file(&path),
        Err(e) => Err(e),
    };
    ignore_missing(result, action, target)
}

/// Removes the file `target` if it is strictly inside `owner`; a missing file is not an error.
pub fn remove_file(owner: &Path, target: &Path) -> Result<(), ConfineError> {
    let action = "delete";
    let Some(path) = inside(owner, target, action)? else {
        return Ok(());
    };
    ignore_missing(std::fs::remove_file(&path), action, target)
}

/// Renames `from` to `to` (replacing a file or empty folder at `to`), both strictly inside
/// `owner`.
pub fn rename(owner: &Path, from: &Path, to: &Path) -> Result<(), ConfineError> {
    let action = "rename";
    let missing = |target: &Path| ConfineError::Io {
        action,
        target: target.to_path_buf(),
        error: io::Error::from(io::ErrorKind::NotFound),
    };
    let from_path = inside(owner, from, action)?.ok_or_else(|| missing(from))?;
    let to_path = inside(owner, to, action)?.ok_or_else(|| missing(to))?;
    std::fs::rename(&from_path, &to_path).map_err(|error| ConfineError::Io {
        action,
        target: from.to_path_buf(),
        error,
    })
}

/// Swaps `a` and `b` in one atomic step (`renameat2(RENAME_EXCHANGE)`), both strictly inside
/// `owner`. Fails with `Unsupported`-like errors on filesystems without the call; the caller
/// then falls back to two renames.
pub fn exchange(owner: &Path, a: &Path, b: &Path) -> Result<(), ConfineError> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let action = "swap";
    let missing = |target: &Path| ConfineError::Io {
        action,
        target: target.to_path_buf(),
        error: io::Error::from(io::ErrorKind::NotFound),
    };
    let a_path = inside(owner, a, action)?.ok_or_else(|| missing(a))?;
    let b_path = inside(owner, b, action)?.ok_or_else(|| missing(b))?;
    let c_string = |p: &Path| {
        CString::new(p.as_os_str().as_bytes()).map_err(|_| ConfineError::Io {
            action,
            target: p.to_path_buf(),
            error: io::Error::from(io::ErrorKind::InvalidInput),
        })
    };
    let (ca, cb) = (c_string(&a_path)?, c_string(&b_path)?);
    // SAFETY: both pointers come from live, NUL-terminated CStrings that outlive the call;
    // renameat2 only reads them. AT_FDCWD with absolute paths touches no descriptor of ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(ConfineError::Io {
            action,
            target: a.to_path_buf(),
            error: io::Error::last_os_error(),
        })
    }
}

/// Writes `bytes` to `path` (strictly inside `owner`) so that readers only ever see the old or
/// the new content: a temporary file in the same folder, renamed over the old one. With
/// `durable`, the data and the folder are fsynced, so the new content survives a crash of the
/// machine (state); without, it is for files that can be rebuilt (caches).
pub fn write_replacing(
    owner: &Path,
    path: &Path,
    bytes: &[u8],
    durable: bool,
) -> Result<(), ConfineError> {
    replace_with_mode(owner, path, bytes, durable, 0o666)
}

/// [`write_replacing`] (not durable) of a file that may hold secrets (`compile --unsafe`'s
/// manifests): readable by the user alone (0600) from the moment it exists, whatever it
/// replaces and whatever the umask.
pub fn write_private_replacing(
    owner: &Path,
    path: &Path,
    bytes: &[u8],
) -> Result<(), ConfineError> {
    replace_with_mode(owner, path, bytes, false, 0o600)
}

/// The write of [`write_replacing`]: a new temporary file (see [`new_temp_file`]) renamed
/// over `path`; removed again when anything fails.
fn replace_with_mode(
    owner: &Path,
    path: &Path,
    bytes: &[u8],
    durable: bool,
    mode: u32,
) -> Result<(), ConfineError> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let action = "write";
    let err = |target: &Path| {
        let target = target.to_path_buf();
        move |error| ConfineError::Io {
            action,
            target,
            error,
        }
    };
    if !lexically_inside(owner, path) {
        return Err(ConfineError::Outside {
            action,
            target: path.to_path_buf(),
            owner: owner.to_path_buf(),
        });
    }
    let dir = path.parent().unwrap_or(owner);
    std::fs::create_dir_all(dir).map_err(err(dir))?;
    let real = inside(owner, path, action)?.ok_or_else(|| ConfineError::Io {
        action,
        target: path.to_path_buf(),
        error: io::Error::from(io::ErrorKind::NotFound),
    })?;
    let real_dir = real.parent().unwrap_or(owner);
    let file_name = real.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    // A replaced file keeps its permissions (a state file the user made 0600 stays so);
    // a private write is always `mode`.
    let keep = match mode {
        PRIVATE => None,
        _ => std::fs::symlink_metadata(&real)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| std::fs::Permissions::from_mode(m.permissions().mode() & 0o7777)),
    };
    let (mut f, tmp) = new_temp_file(real_dir, file_name, mode).map_err(err(real_dir))?;
    let mut written = f.write_all(bytes);
    if let (Ok(()), Some(keep)) = (&written, keep) {
        written = f.set_permissions(keep);
    }
    if let (Ok(()), true) = (&written, durable) {
        written = f.sync_all();
    }
    drop(f);
    let finished = written
        .map_err(err(&tmp))
        .and_then(|()| std::fs::rename(&tmp, &real).map_err(err(path)));
    if let Err(e) = finished {
        // The half-written copy goes (with `compile --unsafe` it holds secrets).
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if durable {
        if let Ok(d) = std::fs::File::open(real_dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// The mode of a write only the user may read.
const PRIVATE: u32 = 0o600;

/// A new temporary file in `dir` for replacing `file_name`: a random name, created with
/// `O_EXCL` (never through a link, never over another writer's file; two eltrs in containers
/// sharing the folder may have the same pid) and `mode` less the umask.
fn new_temp_file(dir: &Path, file_name: &str, mode: u32) -> io::Result<(std::fs::File, PathBuf)> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
    for _ in 0..8 {
        let tmp = dir.join(format!(
            ".{file_name}.{}.tmp",
            uuid::Uuid::new_v4().simple()
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
        {
            Ok(f) => return Ok((f, tmp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// True when `dir` is a folder of the user running eltr that nobody else can write into: what
/// eltr reads from a folder outside any project (its user cache) is trusted only then, since
/// another user could otherwise plant what the next install takes for its own.
pub fn owned_by_me(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    std::fs::symlink_metadata(dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == me && m.mode() & 0o022 == 0)
}

/// [`write_replacing`] (not durable) into a folder of the user's own outside any project
/// (eltr's user cache): `owner` is created private (0700) when missing, and refused when it
/// is not [`owned_by_me`].
pub fn write_replacing_owned(owner: &Path, path: &Path, bytes: &[u8]) -> Result<(), ConfineError> {
    use std::os::unix::fs::DirBuilderExt;
    if !owner.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(owner)
            .map_err(|error| ConfineError::Io {
                action: "create",
                target: owner.to_path_buf(),
                error,
            })?;
    }
    if !owned_by_me(owner) {
        return Err(ConfineError::NotOwned {
            target: owner.to_path_buf(),
        });
    }
    write_replacing(owner, path, bytes, false)
}

/// One file of a set written together by [`write_all_replacing`].
#[derive(Debug, Clone)]
pub struct Replacement {
    pub path: PathBuf,
    /// The new content, or `None` to remove the file.
    pub bytes: Option<Vec<u8>>,
    /// Permission bits for a file that does not exist yet (an existing file keeps its own).
    pub new_mode: u32,
}

/// Writes several files so that either all of them get their new content or none does (as
/// far as a crash-free process can promise): every new content is first written and fsynced
/// to a temporary file beside its target, then they are renamed into place one after the
/// other; if a rename fails, the files already replaced get their old content back. A file
/// that exists keeps its permission bits (`.env` stays 0600). All paths must be strictly
/// inside `owner`.
pub fn write_all_replacing(owner: &Path, files: &[Replacement]) -> Result<(), ConfineError> {
    let mut staged: Vec<Staged> = Vec::with_capacity(files.len());
    for f in files {
        match stage(owner, f) {
            Ok(s) => staged.push(s),
            Err(e) => {
                drop_staging(&staged);
                return Err(e);
            }
        }
    }
    for (i, s) in staged.iter().enumerate() {
        let result = match &s.tmp {
            Some(t) => std::fs::rename(t, &s.real),
            None => match std::fs::remove_file(&s.real) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
        };
        if let Err(error) = result {
            restore(&staged[..i]);
            drop_staging(&staged[i..]);
            return Err(ConfineError::Io {
                action: "write",
                target: s.real.clone(),
                error,
            });
        }
    }
    let mut dirs: Vec<&Path> = staged.iter().filter_map(|s| s.real.parent()).collect();
    dirs.dedup();
    for d in dirs {
        if let Ok(d) = std::fs::File::open(d) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// One file of a set, ready to be swapped in.
struct Staged {
    /// The real path of the target.
    real: PathBuf,
    /// The fsynced temporary file with the new content; `None` to remove the target.
    tmp: Option<PathBuf>,
    /// The target's content before, to put back if a later file of the set fails.
    old: Option<Vec<u8>>,
}

/// Writes one file's new content beside it (keeping an existing file's permission bits).
fn stage(owner: &Path, f: &Replacement) -> Result<Staged, ConfineError> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let action = "write";
    let io_err = |target: &Path, error: io::Error| ConfineError::Io {
        action,
        target: target.to_path_buf(),
        error,
    };
    if !lexically_inside(owner, &f.path) {
        return Err(ConfineError::Outside {
            action,
            target: f.path.clone(),
            owner: owner.to_path_buf(),
        });
    }
    let dir = f.path.parent().unwrap_or(owner);
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let real = inside(owner, &f.path, action)?.unwrap_or_else(|| f.path.clone());
    let old = std::fs::read(&real).ok();
    let Some(bytes) = &f.bytes else {
        return Ok(Staged {
            real,
            tmp: None,
            old,
        });
    };
    let mode = std::fs::metadata(&real)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(f.new_mode);
    let name = real.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = real.with_file_name(format!(".{name}.{}.eltr-edit.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(&f.path, e));
    }
    Ok(Staged {
        real,
        tmp: Some(tmp),
        old,
    })
}

/// Puts back the content of files already replaced.
fn restore(done: &[Staged]) {
    for s in done {
        match &s.old {
            Some(bytes) => {
                let _ = std::fs::write(&s.real, bytes);
            }
            None => {
                let _ = std::fs::remove_file(&s.real);
            }
        }
    }
}

/// Removes the temporary files of a set that will not be swapped in.
fn drop_staging(staged: &[Staged]) {
    for tmp in staged.iter().filter_map(|s| s.tmp.as_ref()) {
        let _ = std::fs::remove_file(tmp);
    }
}

/// Removes the folder `target` if it is empty and strictly inside `owner`; a folder that is
/// missing or not empty is left as it is.
pub fn remove_empty_dir(owner: &Path, target: &Path) -> Result<(), ConfineError> {
    let Some(path) = inside(owner, target, "delete")? else {
        return Ok(());
    };
    let _ = std::fs::remove_dir(path);
    Ok(())
}

/// True when `target` is below `owner` by its components alone (no `..` after `owner`):
/// whether a path eltr was handed names a place inside a folder, before any link is followed.
pub fn names_inside(owner: &Path, target: &Path) -> bool {
    lexically_inside(owner, target)
}

/// Creates the folder `dir` (and its missing parents, `owner` included) strictly inside
/// `owner`, refusing when
/// the part of it that exists already leads out of `owner` through a symbolic link: a
/// folder planted as a link must not make eltr create or write anything elsewhere.
pub fn create_dir_inside(owner: &Path, dir: &Path) -> Result<(), ConfineError> {
    let action = "create";
    let outside = || ConfineError::Outside {
        action,
        target: dir.to_path_buf(),
        owner: owner.to_path_buf(),
    };
    if !lexically_inside(owner, dir) {
        return Err(outside());
    }
    let io_err = |error: io::Error| ConfineError::Io {
        action,
        target: dir.to_path_buf(),
        error,
    };
    std::fs::create_dir_all(owner).map_err(io_err)?;
    let real_owner = std::fs::canonicalize(owner).map_err(io_err)?;
    let existing = dir
        .ancestors()
        .find(|a| a.symlink_metadata().is_ok())
        .unwrap_or(owner);
    let real = std::fs::canonicalize(existing).map_err(io_err)?;
    if !real.starts_with(&real_owner) || (existing != owner && real == real_owner) {
        return Err(outside());
    }
    std::fs::create_dir_all(dir).map_err(io_err)
}

/// The bytes of the regular file `target` (at most `cap`, as [`files::read_capped`] reads),
/// read only when its real path, every symbolic link on the way resolved, is strictly inside
/// `owner`: what eltr reads back from a folder it owns (run records, logs) and prints cannot
/// be a link to a file of the user's elsewhere.
pub fn read_inside(owner: &Path, target: &Path, cap: u64) -> Result<Vec<u8>, ConfineError> {
    let action = "read";
    let io_err = |error: io::Error| ConfineError::Io {
        action,
        target: target.to_path_buf(),
        error,
    };
    let real_owner = std::fs::canonicalize(owner).map_err(io_err)?;
    let real = std::fs::canonicalize(target).map_err(io_err)?;
    if !real.starts_with(&real_owner) || real == real_owner {
        return Err(ConfineError::Outside {
            action,
            target: target.to_path_buf(),
            owner: owner.to_path_buf(),
        });
    }
    super::files::read_capped(&real, cap).map_err(io_err)
}

/// The real path of `target` when it is strictly inside `owner`; `None` when it (or `owner`)
/// does not exist, so there is nothing to act on.
fn inside(
    owner: &Path,
    target: &Path,
    action: &'static str,
) -> Result<Option<PathBuf>, ConfineError> {
    let outside = || ConfineError::Outside {
        action,
        target: target.to_path_buf(),
        owner: owner.to_path_buf(),
    };
    // The last component must be a plain name: `x/..` or `/` would name a folder above it.
    let Some(Component::Normal(name)) = target.components().next_back() else {
        return Err(outside());
    };
    let parent = target.parent().ok_or_else(outside)?;
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let real_owner = match std::fs::canonicalize(owner) {
        Ok(p) => p,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(ConfineError::Io {
                action,
                target: owner.to_path_buf(),
                error,
            });
        }
    };
    let real_parent = match std::fs::canonicalize(parent) {
        Ok(p) => p,
        // Nothing can exist under a folder that does not, but say so only when it would have
        // been inside: a missing folder outside is still refused, never silently skipped.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return if lexically_inside(owner, target) {
                Ok(None)
            } else {
                Err(outside())
            };
        }
        Err(error) => {
            return Err(ConfineError::Io {
                action,
                target: target.to_path_buf(),
                error,
            });
        }
    };
    let real = real_parent.join(name);
    if real.starts_with(&real_owner) && real != real_owner {
        Ok(Some(real))
    } else {
        Err(outside())
    }
}

/// `target` is below `owner` by its components alone, with no `..` anywhere after the owner.
fn lexically_inside(owner: &Path, target: &Path) -> bool {
    match target.strip_prefix(owner) {
        Ok(rest) => {
            !rest.as_os_str().is_empty()
                && rest.components().all(|c| matches!(c, Component::Normal(_)))
        }
        Err(_) => false,
    }
}

fn ignore_missing(
    result: io::Result<()>,
    action: &'static str,
    target: &Path,
) -> Result<(), ConfineError> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(ConfineError::Io {
            action,
            target: target.to_path_buf(),
            error,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    struct Tree {
        _tmp: tempfile::TempDir,
        top: PathBuf,
        owner: PathBuf,
        bystander: PathBuf,
    }

    /// `top/owner/` (eltr's) and `top/bystander/keep.txt` (the user's).
    fn tree() -> Tree {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path().to_path_buf();
        let owner = top.join("owner");
        let bystander = top.join("bystander");
        fs::create_dir_all(owner.join("run/x")).unwrap();
        fs::create_dir_all(&bystander).unwrap();
        fs::write(bystander.join("keep.txt"), "keep").unwrap();
        Tree {
            _tmp: tmp,
            top,
            owner,
            bystander,
        }
    }

    fn refused(result: Result<(), ConfineError>) -> bool {
        matches!(result, Err(ConfineError::Outside { .. }))
    }

    #[test]
    fn creates_folders_inside_but_not_through_a_link_out() {
        let t = tree();
        let fresh = t.top.join("fresh-owner");
        create_dir_inside(&fresh, &fresh.join("run/a/b")).unwrap();
        assert!(fresh.join("run/a/b").is_dir());
        std::os::unix::fs::symlink(&t.bystander, t.owner.join("run/out")).unwrap();
        for dir in [
            t.owner.join("run/out"),
            t.owner.join("run/out/new"),
            t.owner.join("run/../../bystander/new"),
            t.bystander.join("new"),
        ] {
            assert!(
                matches!(
                    create_dir_inside(&t.owner, &dir),
                    Err(ConfineError::Outside { .. })
                ),
                "{}",
                dir.display()
            );
        }
        assert!(!t.bystander.join("new").exists());
    }

    #[test]
    fn reads_inside_but_not_through_a_link_out() {
        let t = tree();
        fs::write(t.owner.join("run/x/log"), "ours").unwrap();
        assert_eq!(
            read_inside(&t.owner, &t.owner.join("run/x/log"), 100).unwrap(),
            b"ours"
        );
        std::os::unix::fs::symlink(t.bystander.join("keep.txt"), t.owner.join("run/link")).unwrap();
        std::os::unix::fs::symlink(&t.bystander, t.owner.join("run/dir")).unwrap();
        for target in [
            t.owner.join("run/link"),
            t.owner.join("run/dir/keep.txt"),
            t.owner.join("run/../../bystander/keep.txt"),
        ] {
            assert!(
                matches!(
                    read_inside(&t.owner, &target, 100),
                    Err(ConfineError::Outside { .. })
                ),
                "{}",
                target.display()
            );
        }
    }

    #[test]
    fn a_replaced_file_keeps_its_mode_and_a_failed_write_leaves_no_copy() {
        use std::os::unix::fs::PermissionsExt;
        let t = tree();
        let state = t.owner.join("state.json");
        fs::write(&state, "{}").unwrap();
        fs::set_permissions(&state, fs::Permissions::from_mode(0o600)).unwrap();
        write_replacing(&t.owner, &state, b"{\"a\": 1}", true).unwrap();
        let mode = fs::metadata(&state).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A folder where the file should be: the write fails, and the secret copy goes.
        let manifest = t.owner.join("run/x/manifest.json");
        fs::create_dir_all(&manifest).unwrap();
        assert!(write_private_replacing(&t.owner, &manifest, b"secret").is_err());
        let left: Vec<_> = fs::read_dir(t.owner.join("run/x"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }

    #[test]
    fn removes_inside() {
        let t = tree();
        remove_tree(&t.owner, &t.owner.join("run/x")).unwrap();
        assert!(!t.owner.join("run/x").exists());
        remove_tree(&t.owner, &t.owner.join("run/never-made")).unwrap();
    }

    #[test]
    fn refuses_dot_dot() {
        let t = tree();
        assert!(refused(remove_tree(
            &t.owner,
            &t.owner.join("run/../../bystander")
        )));
        assert!(refused(remove_tree(&t.owner, &t.owner.join("run/x/.."))));
        assert!(t.bystander.join("keep.txt").exists());
    }

    #[test]
    fn refuses_absolute_outside() {
        let t = tree();
        assert!(refused(remove_tree(&t.owner, &t.bystander)));
        assert!(refused(remove_tree(&t.owner, Path::new("/"))));
        assert!(refused(remove_file(
            &t.owner,
            &t.bystander.join("keep.txt")
        )));
        assert!(t.bystander.join("keep.txt").exists());
    }

    #[test]
    fn refuses_the_owner_itself() {
        let t = tree();
        assert!(refused(remove_tree(&t.owner, &t.owner)));
        assert!(refused(remove_tree(&t.owner, &t.owner.join("."))));
        assert!(t.owner.exists());
    }

    #[test]
    fn refuses_through_a_symlinked_folder() {
        let t = tree();
        std::os::unix::fs::symlink(&t.bystander, t.owner.join("link")).unwrap();
        assert!(refused(remove_tree(
            &t.owner,
            &t.owner.join("link/keep.txt")
        )));
        assert!(t.bystander.join("keep.txt").exists());
    }

    #[test]
    fn a_symlink_itself_is_removed_not_followed() {
        let t = tree();
        std::os::unix::fs::symlink(&t.bystander, t.owner.join("link")).unwrap();
        remove_tree(&t.owner, &t.owner.join("link")).unwrap();
        assert!(t.bystander.join("keep.txt").exists());
        assert!(!t.owner.join("link").exists());
    }

    #[test]
    fn refuses_missing_folders_outside() {
        let t = tree();
        assert!(refused(remove_tree(&t.owner, &t.top.join("nowhere/x"))));
    }

    #[test]
    fn rename_is_confined_both_ways() {
        let t = tree();
        assert!(refused(rename(&t.owner, &t.bystander, &t.owner.join("b"))));
        assert!(refused(rename(
            &t.owner,
            &t.owner.join("run"),
            &t.top.join("moved")
        )));
        rename(&t.owner, &t.owner.join("run"), &t.owner.join("run2")).unwrap();
        assert!(t.owner.join("run2/x").exists());
    }

    #[test]
    fn exchange_swaps_inside_only() {
        let t = tree();
        fs::create_dir_all(t.owner.join("a")).unwrap();
        fs::write(t.owner.join("a/one"), "").unwrap();
        fs::create_dir_all(t.owner.join("b")).unwrap();
        if exchange(&t.owner, &t.owner.join("a"), &t.owner.join("b")).is_ok() {
            assert!(t.owner.join("b/one").exists());
        }
        assert!(refused(exchange(
            &t.owner,
            &t.owner.join("a"),
            &t.bystander
        )));
    }

    #[test]
    fn random_names_never_reach_outside() {
        // A property test over generated relative names: whatever the name, the bystander
        // survives and every deletion either stays inside or is refused.
        let t = tree();
        let parts = [
            "..",
            ".",
            "x",
            "run",
            "/",
            "bystander",
            "owner",
            "",
            "a b",
            "\u{0}",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            let mut name = String::new();
            for _ in 0..(seed % 6 + 1) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                name.push_str(parts[(seed % parts.len() as u64) as usize]);
                if seed % 3 == 0 {
                    name.push('/');
                }
            }
            let target = t.owner.join("run").join(&name);
            let _ = remove_tree(&t.owner, &target);
            assert!(t.bystander.join("keep.txt").exists(), "{name:?}");
            assert!(t.owner.exists(), "{name:?}");
            fs::create_dir_all(t.owner.join("run")).unwrap();
        }
    }
}
