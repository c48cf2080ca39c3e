//! Reading a stream line by line in bounded memory. A plugin may write megabytes without a
//! newline (a binary blob on stderr, a runaway log): each line keeps at most `cap` bytes, the
//! rest of it is counted and dropped as it is read, so what eltr holds never grows with the
//! input. Every stream eltr reads by lines (plugin stderr, the target's states, discovery and
//! installer output) goes through `BoundedLines`.

use std::io::{BufRead, ErrorKind};

/// Bytes kept of a log line (stderr, installer output); the rest is cut.
pub const LOG_LINE_CAP: usize = 64 * 1024;

/// Reads lines of at most `cap` bytes from a buffered reader.
pub struct BoundedLines<R> {
    reader: R,
    cap: usize,
    buf: Vec<u8>,
}

/// One line, without its `\n`: the bytes kept, and how many more it had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    pub kept: &'a [u8],
    /// Bytes of the line dropped after the first `cap` (0 when it was whole).
    pub cut: u64,
}

impl<R: BufRead> BoundedLines<R> {
    /// Lines of `reader`, each cut after `cap` bytes.
    pub fn new(reader: R, cap: usize) -> Self {
        BoundedLines {
            reader,
            cap,
            buf: Vec::new(),
        }
    }

    /// The next line, or `None` at the end of the stream. A last line without a newline is
    /// a line too.
    pub fn next_line(&mut self) -> std::io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let mut cut = 0u64;
        let mut read_any = false;
        loop {
            let chunk = match self.reader.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                if !read_any {
                    return Ok(None);
                }
                break;
            }
            read_any = true;
            let end = memchr::memchr(b'\n', chunk);
            let body = end.unwrap_or(chunk.len());
            let keep = body.min(self.cap - self.buf.len());
            if keep > 0 {
                // Doubling, as a Vec grows, but never past `cap`.
                let len = self.buf.len();
                let target = (len + keep).max(2 * self.buf.capacity()).min(self.cap);
                self.buf.reserve_exact(target - len);
                self.buf.extend_from_slice(&chunk[..keep]);
            }
            cut += (body - keep) as u64;
            let used = end.map_or(body, |i| i + 1);
            self.reader.consume(used);
            if end.is_some() {
                break;
            }
        }
        Ok(Some(Line {
            kept: &self.buf,
            cut,
        }))
    }
}

impl Line<'_> {
    /// True when bytes of the line were dropped.
    pub fn was_cut(&self) -> bool {
        self.cut > 0
    }

    /// The line as text for people: invalid UTF-8 replaced, a trailing `\r` removed, and, if
    /// it was cut, ` … [cut: N bytes]` where the rest was.
    pub fn to_text(&self) -> String {
        let (mut text, marker) = self.parts();
        text.push_str(&marker.unwrap_or_default());
        text
    }

    /// The kept part as text, and the marker that says what was cut (if anything), apart: a
    /// masker must see where the line ends early (a secret cut in two leaves its beginning
    /// there). A character the cut split is dropped whole, and counted.
    pub fn parts(&self) -> (String, Option<String>) {
        let mut kept = self.kept;
        let mut cut = self.cut;
        if cut > 0 {
            if let Err(e) = std::str::from_utf8(kept) {
                if e.error_len().is_none() {
                    cut += (kept.len() - e.valid_up_to()) as u64;
                    kept = &kept[..e.valid_up_to()];
                }
            }
        } else if let Some(stripped) = kept.strip_suffix(b"\r") {
            kept = stripped;
        }
        let text = String::from_utf8_lossy(kept).into_owned();
        (text, (cut > 0).then(|| format!(" … [cut: {cut} bytes]")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Read};

    fn all(input: &[u8], cap: usize, buffer: usize) -> Vec<(Vec<u8>, u64)> {
        let mut lines = BoundedLines::new(BufReader::with_capacity(buffer, input), cap);
        let mut out = Vec::new();
        while let Some(l) = lines.next_line().unwrap() {
            out.push((l.kept.to_vec(), l.cut));
        }
        out
    }

    #[test]
    fn short_lines_come_whole_and_the_last_needs_no_newline() {
        let got = all(b"a\n\nbc\r\nd", 10, 3);
        let want: Vec<(Vec<u8>, u64)> = vec![
            (b"a".to_vec(), 0),
            (b"".to_vec(), 0),
            (b"bc\r".to_vec(), 0),
            (b"d".to_vec(), 0),
        ];
        assert_eq!(got, want);
        assert!(all(b"", 10, 3).is_empty());
        assert_eq!(all(b"\n", 10, 3), vec![(Vec::new(), 0)]);
    }

    #[test]
    fn long_lines_keep_cap_bytes_and_count_the_rest() {
        for buffer in [1, 2, 7, 64, 4096] {
            let got = all(b"0123456789abc\nxy\n0123", 4, buffer);
            let want: Vec<(Vec<u8>, u64)> = vec![
                (b"0123".to_vec(), 9),
                (b"xy".to_vec(), 0),
                (b"0123".to_vec(), 0),
            ];
            assert_eq!(got, want, "buffer {buffer}");
        }
    }

    #[test]
    fn text_shows_the_cut_and_never_half_a_character() {
        let line = |kept: &'static [u8], cut| Line { kept, cut }.to_text();
        assert_eq!(line(b"abc\r", 0), "abc");
        assert_eq!(line(b"abc", 10), "abc … [cut: 10 bytes]");
        // "é" is C3 A9: the cut left only C3, which goes with the rest.
        assert_eq!(line(b"ab\xC3", 10), "ab … [cut: 11 bytes]");
        assert_eq!(line(b"a\xFFb", 0), "a\u{FFFD}b");
        let parts = Line {
            kept: b"ab\xC3",
            cut: 1,
        }
        .parts();
        assert_eq!(parts, ("ab".into(), Some(" … [cut: 2 bytes]".into())));
    }

    #[test]
    fn memory_stays_at_the_cap_whatever_the_line_length() {
        // 50 MB without a newline, then a short line, through a reader that hands out
        // 64 KiB at a time.
        let long = std::io::repeat(b'x').take(50_000_000);
        let input = long.chain(&b"\nend\n"[..]);
        let mut lines = BoundedLines::new(BufReader::with_capacity(64 * 1024, input), 1000);
        let first = lines.next_line().unwrap().unwrap();
        assert_eq!((first.kept.len(), first.cut), (1000, 49_999_000));
        assert!(lines.buf.capacity() <= 1000);
        let second = lines.next_line().unwrap().unwrap();
        assert_eq!(second.kept, b"end");
        assert!(lines.next_line().unwrap().is_none());
    }

    #[test]
    fn random_input_splits_like_lines() {
        let mut seed = 0x1234_5678_9abc_def1_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let len = (next() % 40) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| match next() % 4 {
                    0 => b'\n',
                    _ => next() as u8,
                })
                .collect();
            let cap = (next() % 6) as usize;
            let buffer = 1 + (next() % 8) as usize;
            let got = all(&input, cap, buffer);
            let mut want: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
            if input.last().is_none_or(|&b| b == b'\n') {
                want.pop();
            }
            assert_eq!(got.len(), want.len(), "{input:?}");
            for ((kept, cut), whole) in got.iter().zip(want) {
                let n = whole.len().min(cap);
                assert_eq!(&kept[..], &whole[..n]);
                assert_eq!(*cut as usize, whole.len() - n);
                let _ = Line { kept, cut: *cut }.to_text();
                let _ = Line { kept, cut: *cut }.parts();
            }
        }
    }
}
