//! Reading whole files that users name or hand over (project files, `.env`, lockfiles, the
//! `catalog` and `state` extras, `state set --input-file`): only regular files, and only up to
//! a size that fits the purpose. A named pipe, a device such as `/dev/zero` or a runaway file
//! gets a clear error instead of a hang or unbounded memory.

use std::io::{self, Read};
use std::path::Path;

/// Project files, lockfiles and `.env`: text a person wrote.
pub const PROJECT_FILE_CAP: u64 = 64 << 20;
/// Catalogs and states: documents a program wrote, sometimes large.
pub const DOCUMENT_CAP: u64 = 256 << 20;

/// The bytes of the regular file at `path`, if it is at most `cap` bytes.
pub fn read_capped(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    // Checked before opening: opening a named pipe would wait for a writer.
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let too_big = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than the {} MiB eltr reads", cap >> 20),
        )
    };
    if meta.len() > cap {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)?
        .take(cap + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(too_big());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_small_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a");
        std::fs::write(&f, "hello").unwrap();
        assert_eq!(read_capped(&f, 10).unwrap(), b"hello");
        assert_eq!(
            read_capped(&f, 3).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn refuses_devices_folders_and_pipes() {
        for p in ["/dev/zero", "/dev/null", "/"] {
            let e = read_capped(Path::new(p), 10).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{p}");
        }
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only reads it.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_capped(&fifo, 10).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
