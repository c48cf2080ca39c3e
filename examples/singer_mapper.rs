//! `singer_mapper`: a tiny fake Singer mapper (stdin → stdout filter) for eltr's tests.
//!
//! It copies every input line to stdout unchanged (lines of any length), except that RECORD
//! messages can be rewritten. Output is buffered and flushed whenever the mapper is about to
//! block on reading stdin, so nothing lingers in the buffer while the upstream is idle.
//!
//! # Command line
//!
//! * `--config FILE` — JSON config (keys below); `--config=FILE` works too. Any other argument is
//!   an error (exit 2). The first stderr line is `mapper argv: <arguments after argv[0]>`.
//!
//! # Config keys (all optional)
//!
//! * `uppercase_field` — name of a field of each RECORD's `record`; if it holds a string it is
//!   uppercased and the line is re-serialized (compact, key order kept). Other lines pass through
//!   verbatim. With this key an invalid JSON line prints `invalid JSON line: <first 60 chars>`
//!   and exits 2.
//! * `crash_after` — after passing this many RECORD lines, flush stdout, print
//!   `fatal: mapper crashed` to stderr and exit with `crash_exit_code` (default 5).
//!
//! At EOF it prints `mapper: passed N records` to stderr and exits 0.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::process;

use serde_json::{Map, Value};

fn die(code: i32, msg: &str) -> ! {
    eprintln!("{msg}");
    process::exit(code);
}

fn preview(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(240)])
        .chars()
        .take(60)
        .collect()
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    eprintln!("mapper argv: {}", raw.join(" "));
    let mut cfg = Map::new();
    let mut it = raw.iter();
    while let Some(arg) = it.next() {
        let path = if arg == "--config" {
            it.next()
                .cloned()
                .unwrap_or_else(|| die(2, "fatal: --config needs a value"))
        } else if let Some(p) = arg.strip_prefix("--config=") {
            p.to_string()
        } else {
            die(2, &format!("fatal: unknown argument {arg:?}"));
        };
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| die(1, &format!("fatal: cannot read config {path}: {e}")));
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(m)) => cfg.extend(m),
            _ => die(1, &format!("fatal: config {path} is not a JSON object")),
        }
    }
    let upper = cfg
        .get("uppercase_field")
        .and_then(Value::as_str)
        .map(str::to_string);
    let crash_after = cfg.get("crash_after").and_then(Value::as_u64);
    let crash_exit_code = cfg
        .get("crash_exit_code")
        .and_then(Value::as_u64)
        .unwrap_or(5) as i32;

    // SAFETY: fds 0 and 1 stay open for the life of the process; ManuallyDrop never closes them.
    let mut input = ManuallyDrop::new(unsafe { File::from_raw_fd(0) });
    let stdout = ManuallyDrop::new(unsafe { File::from_raw_fd(1) });
    let mut out = BufWriter::with_capacity(1 << 20, &*stdout);
    let fail = |e: io::Error| -> ! { die(1, &format!("fatal: write error: {e}")) };

    let mut buf = vec![0u8; 1 << 20];
    let (mut start, mut end, mut scanned) = (0usize, 0usize, 0usize);
    let mut eof = false;
    let mut records: u64 = 0;
    let mut scratch = Vec::new();
    loop {
        // Find the next line, reading more input as needed.
        let (s, e) = loop {
            if let Some(i) = memchr::memchr(b'\n', &buf[scanned..end]) {
                let r = (start, scanned + i);
                start = scanned + i + 1;
                scanned = start;
                break r;
            }
            scanned = end;
            if eof {
                if start < end {
                    let r = (start, end);
                    start = end;
                    break r;
                }
                out.flush().unwrap_or_else(|e| fail(e));
                eprintln!("mapper: passed {records} records");
                return;
            }
            if start > 0 {
                buf.copy_within(start..end, 0);
                end -= start;
                scanned -= start;
                start = 0;
            }
            if end == buf.len() {
                let n = buf.len() * 2;
                buf.resize(n, 0);
            }
            out.flush().unwrap_or_else(|e| fail(e));
            match input.read(&mut buf[end..]) {
                Ok(0) => eof = true,
                Ok(n) => end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => die(1, &format!("fatal: cannot read stdin: {e}")),
            }
        };
        let line = &buf[s..e];
        let trimmed = line.strip_suffix(b"\r").unwrap_or(line);
        let mut is_record = trimmed.starts_with(br#"{"type":"RECORD""#);
        let mut rewritten = false;
        if let Some(field) = &upper {
            if !trimmed.iter().all(u8::is_ascii_whitespace) {
                let mut msg: Value = serde_json::from_slice(trimmed).unwrap_or_else(|_| {
                    die(2, &format!("invalid JSON line: {}", preview(trimmed)))
                });
                is_record = msg.get("type").and_then(Value::as_str) == Some("RECORD");
                if is_record {
                    if let Some(Value::String(v)) = msg
                        .get_mut("record")
                        .and_then(|r| r.get_mut(field.as_str()))
                    {
                        *v = v.to_uppercase();
                        scratch.clear();
                        serde_json::to_writer(&mut scratch, &msg).expect("serialize");
                        scratch.push(b'\n');
                        out.write_all(&scratch).unwrap_or_else(|e| fail(e));
                        rewritten = true;
                    }
                }
            }
        } else if !is_record
            && trimmed.starts_with(b"{")
            && memchr::memmem::find(trimmed, b"RECORD").is_some()
        {
            is_record = serde_json::from_slice::<Value>(trimmed)
                .ok()
                .and_then(|m| m.get("type").and_then(Value::as_str).map(|t| t == "RECORD"))
                .unwrap_or(false);
        }
        if !rewritten {
            out.write_all(line)
                .and_then(|()| out.write_all(b"\n"))
                .unwrap_or_else(|e| fail(e));
        }
        if is_record {
            records += 1;
            if crash_after == Some(records) {
                out.flush().unwrap_or_else(|e| fail(e));
                die(crash_exit_code, "fatal: mapper crashed");
            }
        }
    }
}
