//! The data path between two processes: bytes read from one pipe in large chunks, written
//! unchanged to the next, while line ends are found with memchr and each line's type and
//! stream are read off its first bytes (never a full parse). Memory stays flat whatever the
//! line length: only the first `HEAD_BYTES` of a line are kept for scanning.

use crate::singer::scan::{Kind, scan};
use indexmap::IndexMap;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Bytes of a line kept to read its type and stream.
const HEAD_BYTES: usize = 4096;
/// Size of one read.
const CHUNK: usize = 1 << 20;
/// Pipe buffer size asked of the kernel (Linux caps it at /proc/sys/fs/pipe-max-size).
const PIPE_SIZE: libc::c_int = 1 << 20;

/// Counters another thread can read while the pump runs (the progress display). Updated
/// once per chunk, so reading them costs the pump nothing per line.
#[derive(Debug, Default)]
pub struct LiveCounters {
    pub bytes: AtomicU64,
    pub records: AtomicU64,
    pub streams: std::sync::Mutex<IndexMap<String, StreamStats>>,
}

/// Records and bytes of one stream.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StreamStats {
    pub records: u64,
    pub bytes: u64,
}

/// What one hop carried.
#[derive(Debug, Default, Clone)]
pub struct PumpStats {
    pub bytes: u64,
    pub lines: u64,
    pub records: u64,
    pub streams: IndexMap<String, StreamStats>,
    pub state_messages: u64,
    pub schema_messages: u64,
    pub not_json_lines: u64,
    /// Time spent waiting for the upstream process to produce data.
    pub read_wait: Duration,
    /// Time spent waiting for the downstream process to take data.
    pub write_wait: Duration,
    /// The downstream process closed its input before the upstream finished.
    pub downstream_closed: bool,
    /// An I/O error other than the downstream closing.
    pub error: Option<String>,
}

/// Copies everything from `from` to `to` until `from` ends or `to` closes. `to` is closed
/// when this returns (dropping it), so the next process sees end of input.
///
/// Both ends are pipes, so the bytes are moved without passing through eltr: `tee(2)`
/// duplicates what the producer wrote into a side pipe (page references, no copy), eltr reads
/// that copy to count lines, and `splice(2)` moves the original pages into the consumer's
/// pipe. Where splicing is not possible the pump falls back to read/write.
pub fn pump<R: AsRawFd, W: AsRawFd>(from: R, to: W, live: Arc<LiveCounters>) -> PumpStats {
    let (rfd, wfd) = (from.as_raw_fd(), to.as_raw_fd());
    grow_pipe(rfd);
    grow_pipe(wfd);
    let mut stats = PumpStats::default();
    let mut lines = LineScanner::default();
    let mut buf = vec![0u8; CHUNK];
    if !splice_loop(rfd, wfd, &live, &mut stats, &mut lines, &mut buf) {
        copy_loop(rfd, wfd, &live, &mut stats, &mut lines, &mut buf);
    }
    lines.finish(&mut stats);
    publish(&live, &mut lines, &mut stats);
    drop(to);
    drop(from);
    stats
}

/// The zero-copy path. Returns false, having moved nothing, when the kernel cannot splice
/// these descriptors.
///
/// Long on purpose: it is the loop every byte of a run goes through (tee, read the duplicate,
/// count, splice, with each call's error cases inline); split up, its per-chunk state would
/// cross function boundaries in eltr's hottest path.
fn splice_loop(
    rfd: RawFd,
    wfd: RawFd,
    live: &LiveCounters,
    stats: &mut PumpStats,
    lines: &mut LineScanner,
    buf: &mut [u8],
) -> bool {
    let mut side = [0 as libc::c_int; 2];
    // SAFETY: `side` is a live array of two ints, exactly what pipe2 writes into.
    if unsafe { libc::pipe2(side.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return false;
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else; the
    // OwnedFds take them over and close them once.
    let side = unsafe {
        use std::os::fd::FromRawFd;
        (
            std::os::fd::OwnedFd::from_raw_fd(side[0]),
            std::os::fd::OwnedFd::from_raw_fd(side[1]),
        )
    };
    let (side_r, side_w) = (side.0.as_raw_fd(), side.1.as_raw_fd());
    grow_pipe(side_w);
    // SAFETY: `side_w` is open (owned by `side` above); F_GETPIPE_SZ only reads its size.
    let side_room = unsafe { libc::fcntl(side_w, libc::F_GETPIPE_SZ) }.max(4096) as usize;
    let want = side_room.min(buf.len());
    let mut first = true;
    loop {
        let t = Instant::now();
        // SAFETY: both descriptors stay open for the call; tee touches no memory of ours.
        let n = unsafe { libc::tee(rfd, side_w, want, 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EINVAL) if first => return false,
                _ => {
                    stats.error = Some(format!("tee: {e}"));
                    return true;
                }
            }
        }
        first = false;
        stats.read_wait += t.elapsed();
        if n == 0 {
            return true;
        }
        let n = n as usize;
        // The duplicate is already in the side pipe: this read never waits.
        if let Err(e) = read_exact_fd(side_r, &mut buf[..n]) {
            stats.error = Some(format!("read: {e}"));
            return true;
        }
        lines.feed(&buf[..n], stats);
        stats.bytes += n as u64;
        publish(live, lines, stats);
        let t = Instant::now();
        let mut left = n;
        while left > 0 {
            // SAFETY: both descriptors stay open for the call; null offsets mean "the file
            // position", so no pointer of ours is read or written.
            let m = unsafe {
                libc::splice(
                    rfd,
                    std::ptr::null_mut(),
                    wfd,
                    std::ptr::null_mut(),
                    left,
                    libc::SPLICE_F_MOVE,
                )
            };
            if m < 0 {
                let e = std::io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EPIPE) => {
                        stats.downstream_closed = true;
                        return true;
                    }
                    _ => {
                        stats.error = Some(format!("splice: {e}"));
                        return true;
                    }
                }
            }
            left -= m as usize;
        }
        stats.write_wait += t.elapsed();
    }
}

/// The portable path: read a chunk, count it, write it.
fn copy_loop(
    rfd: RawFd,
    wfd: RawFd,
    live: &LiveCounters,
    stats: &mut PumpStats,
    lines: &mut LineScanner,
    buf: &mut [u8],
) {
    loop {
        let t = Instant::now();
        let n = match read_fd(rfd, buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                stats.error = Some(format!("read: {e}"));
                break;
            }
        };
        stats.read_wait += t.elapsed();
        let chunk = &buf[..n];
        lines.feed(chunk, stats);
        stats.bytes += n as u64;
        publish(live, lines, stats);
        let t = Instant::now();
        match write_all_fd(wfd, chunk) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {
                stats.downstream_closed = true;
                break;
            }
            Err(e) => {
                stats.error = Some(format!("write: {e}"));
                break;
            }
        }
        stats.write_wait += t.elapsed();
    }
}

fn read_exact_fd(fd: RawFd, mut buf: &mut [u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        let n = read_fd(fd, buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
    }
    Ok(())
}

/// Copies the counters to the shared view.
fn publish(live: &LiveCounters, lines: &mut LineScanner, stats: &mut PumpStats) {
    lines.flush_stream(stats);
    live.bytes.store(stats.bytes, Ordering::Relaxed);
    live.records.store(stats.records, Ordering::Relaxed);
    if let Ok(mut streams) = live.streams.lock() {
        streams.clone_from(&stats.streams);
    }
}

/// Splits the byte stream into lines across chunk boundaries, remembering only each line's
/// head.
#[derive(Default)]
struct LineScanner {
    head: Vec<u8>,
    in_line: bool,
    /// Bytes of the line being read so far (it may span chunks).
    line_len: u64,
    last_stream: Vec<u8>,
    last_count: u64,
    last_bytes: u64,
}

impl LineScanner {
    fn feed(&mut self, mut chunk: &[u8], stats: &mut PumpStats) {
        while !chunk.is_empty() {
            match memchr::memchr(b'\n', chunk) {
                Some(i) => {
                    let line = &chunk[..i];
                    self.line_len += i as u64 + 1;
                    if self.head.is_empty() && !self.in_line {
                        self.count(line, stats);
                    } else {
                        self.keep(line);
                        let head = std::mem::take(&mut self.head);
                        self.count(&head, stats);
                        self.head = head;
                        self.head.clear();
                    }
                    self.in_line = false;
                    chunk = &chunk[i + 1..];
                }
                None => {
                    self.keep(chunk);
                    self.line_len += chunk.len() as u64;
                    self.in_line = true;
                    break;
                }
            }
        }
    }

    fn keep(&mut self, part: &[u8]) {
        let room = HEAD_BYTES.saturating_sub(self.head.len());
        self.head.extend_from_slice(&part[..part.len().min(room)]);
    }

    fn finish(&mut self, stats: &mut PumpStats) {
        if self.in_line || !self.head.is_empty() {
            let head = std::mem::take(&mut self.head);
            self.count(&head, stats);
        }
        self.flush_stream(stats);
    }

    fn count(&mut self, line: &[u8], stats: &mut PumpStats) {
        let len = std::mem::take(&mut self.line_len);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return;
        }
        stats.lines += 1;
        let s = scan(line);
        match s.kind {
            Kind::Record => {
                stats.records += 1;
                let stream = s.stream.unwrap_or(b"");
                if stream != self.last_stream.as_slice() {
                    self.flush_stream(stats);
                    self.last_stream.clear();
                    self.last_stream.extend_from_slice(stream);
                }
                self.last_count += 1;
                self.last_bytes += len;
            }
            Kind::State => stats.state_messages += 1,
            Kind::Schema => stats.schema_messages += 1,
            Kind::NotJson => stats.not_json_lines += 1,
            _ => {}
        }
    }

    fn flush_stream(&mut self, stats: &mut PumpStats) {
        if self.last_count > 0 {
            let name = String::from_utf8_lossy(&self.last_stream);
            let entry = match stats.streams.get_mut(name.as_ref()) {
                Some(e) => e,
                None => stats.streams.entry(name.into_owned()).or_default(),
            };
            entry.records += self.last_count;
            entry.bytes += self.last_bytes;
            self.last_count = 0;
            self.last_bytes = 0;
        }
    }
}

fn grow_pipe(fd: RawFd) {
    // Larger pipe buffers mean fewer wake-ups per megabyte; failure is harmless.
    // SAFETY: fcntl on a descriptor the caller keeps open; no memory is passed.
    unsafe {
        libc::fcntl(fd, libc::F_SETPIPE_SZ, PIPE_SIZE);
    }
}

fn read_fd(fd: RawFd, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        // SAFETY: `buf` is a live, writable slice of exactly `buf.len()` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

fn write_all_fd(fd: RawFd, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        // SAFETY: `data` is a live slice of exactly `data.len()` readable bytes.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        data = &data[n as usize..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(chunks: &[&[u8]]) -> PumpStats {
        let mut stats = PumpStats::default();
        let mut s = LineScanner::default();
        for c in chunks {
            s.feed(c, &mut stats);
        }
        s.finish(&mut stats);
        stats
    }

    #[test]
    fn counts_records_per_stream_across_chunk_boundaries() {
        let data = b"{\"type\":\"RECORD\",\"stream\":\"a\",\"record\":{}}\n{\"type\":\"RECORD\",\"stream\":\"b\",\"record\":{}}\n{\"type\":\"STATE\",\"value\":{}}\n{\"type\":\"RECORD\",\"stream\":\"a\"}";
        for split in 0..data.len() {
            let st = feed_all(&[&data[..split], &data[split..]]);
            assert_eq!(st.records, 3, "split at {split}");
            assert_eq!(st.streams["a"].records, 2);
            assert_eq!(st.streams["b"].records, 1);
            assert_eq!(st.streams["b"].bytes, 43, "split at {split}");
            assert_eq!(st.state_messages, 1);
        }
    }

    #[test]
    fn huge_line_keeps_only_its_head() {
        let mut line = b"{\"type\":\"RECORD\",\"stream\":\"big\",\"record\":{\"p\":\"".to_vec();
        line.extend(std::iter::repeat_n(b'x', 3 * CHUNK));
        line.extend_from_slice(b"\"}}\n");
        let chunks: Vec<&[u8]> = line.chunks(CHUNK / 3).collect();
        let mut stats = PumpStats::default();
        let mut s = LineScanner::default();
        for c in &chunks {
            s.feed(c, &mut stats);
            assert!(s.head.len() <= HEAD_BYTES);
        }
        s.finish(&mut stats);
        assert_eq!(stats.streams["big"].records, 1);
        assert_eq!(stats.streams["big"].bytes, line.len() as u64);
    }
}
