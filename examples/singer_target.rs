//! `singer_target`: a fast, configurable fake Singer target used by eltr's integration tests and
//! throughput benchmarks.
//!
//! It reads Singer messages from stdin, one per line (lines of any length; a 100 MB line is
//! fine), counts RECORDs per stream, optionally writes them to files, and echoes STATE values to
//! stdout once the records before them are flushed — the Singer convention that a state emitted
//! by the target is durable. Diagnostics go to stderr.
//!
//! # Command line
//!
//! * `--config FILE` — JSON config (keys below). May be repeated (later files override);
//!   `--config=FILE` works too. Any other argument is an error (exit 2). The first stderr line is
//!   `target argv: <arguments after argv[0], joined by single spaces>`.
//!
//! # Config keys (all optional)
//!
//! * `output_dir` — append every RECORD line, verbatim plus `\n`, to `<output_dir>/<stream>.jsonl`
//!   (buffered; `/` in stream names becomes `_`; the directory is created). Without it records
//!   are only counted.
//! * `state_on_flush_only` — false (default): on every STATE message flush the outputs, then
//!   print the message's `value` as one compact JSON line on stdout (and flush stdout).
//!   true: remember only the latest STATE and emit it after every `batch_size` records (when the
//!   outputs are flushed), and at the end; a state is printed only if a new one arrived since the
//!   last print.
//! * `batch_size` — see `state_on_flush_only`; default 0 = only at the end.
//! * `crash_after` — after receiving this many records, print `fatal: target exploded` to stderr
//!   and exit with `crash_exit_code` (default 4) without flushing the outputs.
//! * `exit_early_after` — after this many records flush the outputs, print the summary and exit 0
//!   without reading the rest of stdin.
//! * `sleep_ms_per_record` — sleep this long after each record (slow target, backpressure).
//! * `fail_on_garbage` — default true: a line that is not a JSON object prints
//!   `invalid JSON line: <first 60 chars>` to stderr and exits 2. false: print
//!   `skipping invalid JSON line: <first 60 chars>` and continue.
//! * `require_schema` — default true: a RECORD for a stream without a preceding SCHEMA prints
//!   `fatal: record for stream <name> before its schema` and exits 2.
//! * `validate_records` — default false: fully JSON-validate every RECORD line (slower). By
//!   default RECORD lines in the compact `{"type":"RECORD","stream":"…",…}` form are only checked
//!   to end with `}`; other spellings are always fully parsed.
//! * `password` — echoed to stderr as `target password=<value>`.
//! * `print_env` — list of env var names, each echoed to stderr as `env NAME=value` (or
//!   `env NAME=<unset>`).
//! * `ignore_sigterm` — true: ignore SIGTERM.
//!
//! Empty lines and a trailing `\r` are ignored. Message types other than RECORD, SCHEMA and STATE
//! are accepted and ignored. A STATE without `value` is an error (exit 2).
//!
//! At the end (EOF) the outputs are flushed, a pending state is printed, and the summary goes to
//! stderr: `target: received N records`, then `target: stream <name>: <count> records` per stream
//! (in order of first appearance), then `target: received K state messages`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::path::PathBuf;
use std::process;
use std::time::Duration;

use serde_json::{Map, Value};

const RECORD_PREFIX: &[u8] = br#"{"type":"RECORD","stream":""#;

fn die(code: i32, msg: &str) -> ! {
    eprintln!("{msg}");
    process::exit(code);
}

/// Reads lines of any length from a file descriptor with one big growable buffer.
struct Lines {
    src: ManuallyDrop<File>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    scanned: usize,
    eof: bool,
}

impl Lines {
    fn new(src: ManuallyDrop<File>) -> Self {
        Lines {
            src,
            buf: vec![0; 1 << 20],
            start: 0,
            end: 0,
            scanned: 0,
            eof: false,
        }
    }

    fn next_line(&mut self) -> io::Result<Option<&[u8]>> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.scanned..self.end]) {
                let s = self.start;
                let nl = self.scanned + i;
                self.start = nl + 1;
                self.scanned = self.start;
                return Ok(Some(&self.buf[s..nl]));
            }
            self.scanned = self.end;
            if self.eof {
                if self.start < self.end {
                    let s = self.start;
                    self.start = self.end;
                    return Ok(Some(&self.buf[s..self.end]));
                }
                return Ok(None);
            }
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.scanned -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                let n = self.buf.len() * 2;
                self.buf.resize(n, 0);
            }
            let n = loop {
                match self.src.read(&mut self.buf[self.end..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if n == 0 {
                self.eof = true;
            } else {
                self.end += n;
            }
        }
    }
}

struct Stream {
    name: Vec<u8>,
    count: u64,
    out: Option<BufWriter<File>>,
}

struct Target {
    streams: Vec<Stream>,
    last: usize,
    total: u64,
    states: u64,
    output_dir: Option<PathBuf>,
    flush_only: bool,
    batch_size: u64,
    crash_after: Option<u64>,
    crash_exit_code: i32,
    exit_early_after: Option<u64>,
    sleep: Duration,
    fail_on_garbage: bool,
    require_schema: bool,
    validate_records: bool,
    pending_state: Option<String>,
    stdout: ManuallyDrop<File>,
}

fn preview(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(&line[..line.len().min(240)]);
    s.chars().take(60).collect()
}

impl Target {
    fn stream_index(&mut self, name: &[u8], from_schema: bool) -> usize {
        if let Some(s) = self.streams.get(self.last) {
            if s.name == name {
                return self.last;
            }
        }
        if let Some(i) = self.streams.iter().position(|s| s.name == name) {
            self.last = i;
            return i;
        }
        let lossy = String::from_utf8_lossy(name).into_owned();
        if !from_schema && self.require_schema {
            die(
                2,
                &format!("fatal: record for stream {lossy} before its schema"),
            );
        }
        let out = self.output_dir.as_ref().map(|dir| {
            let file = dir.join(format!("{}.jsonl", lossy.replace('/', "_")));
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&file)
                .unwrap_or_else(|e| die(1, &format!("fatal: cannot open {}: {e}", file.display())));
            BufWriter::with_capacity(1 << 20, f)
        });
        self.streams.push(Stream {
            name: name.to_vec(),
            count: 0,
            out,
        });
        self.last = self.streams.len() - 1;
        self.last
    }

    fn flush_outputs(&mut self) {
        for s in &mut self.streams {
            if let Some(out) = &mut s.out {
                if let Err(e) = out.flush() {
                    die(1, &format!("fatal: cannot write output: {e}"));
                }
            }
        }
    }

    fn emit_state(&mut self, json: &str) {
        let mut line = Vec::with_capacity(json.len() + 1);
        line.extend_from_slice(json.as_bytes());
        line.push(b'\n');
        if let Err(e) = self.stdout.write_all(&line) {
            die(1, &format!("fatal: cannot write state to stdout: {e}"));
        }
    }

    fn garbage(&mut self, line: &[u8]) {
        if self.fail_on_garbage {
            die(2, &format!("invalid JSON line: {}", preview(line)));
        }
        eprintln!("skipping invalid JSON line: {}", preview(line));
    }

    fn line(&mut self, mut line: &[u8]) {
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        if !self.validate_records && line.starts_with(RECORD_PREFIX) {
            let rest = &line[RECORD_PREFIX.len()..];
            if let Some(q) = memchr::memchr(b'"', rest) {
                let name = &rest[..q];
                if !name.contains(&b'\\') {
                    if line.last() != Some(&b'}') {
                        self.garbage(line);
                        return;
                    }
                    self.record(name, line);
                    return;
                }
            }
        }
        let msg: Value = match serde_json::from_slice(line) {
            Ok(Value::Object(m)) => Value::Object(m),
            _ => {
                self.garbage(line);
                return;
            }
        };
        match msg.get("type").and_then(Value::as_str) {
            Some("RECORD") => {
                let Some(stream) = msg.get("stream").and_then(Value::as_str) else {
                    die(2, "fatal: RECORD message without stream");
                };
                self.record(stream.as_bytes(), line);
            }
            Some("SCHEMA") => {
                let Some(stream) = msg.get("stream").and_then(Value::as_str) else {
                    die(2, "fatal: SCHEMA message without stream");
                };
                if !msg.get("schema").is_some_and(Value::is_object) {
                    die(
                        2,
                        &format!("fatal: SCHEMA for {stream} has no schema object"),
                    );
                }
                self.stream_index(stream.as_bytes(), true);
            }
            Some("STATE") => {
                let Some(value) = msg.get("value") else {
                    die(2, "fatal: STATE message without value");
                };
                self.states += 1;
                let json = value.to_string();
                if self.flush_only {
                    self.pending_state = Some(json);
                } else {
                    self.flush_outputs();
                    self.emit_state(&json);
                }
            }
            _ => {}
        }
    }

    #[inline]
    fn record(&mut self, name: &[u8], line: &[u8]) {
        let i = self.stream_index(name, false);
        let s = &mut self.streams[i];
        s.count += 1;
        if let Some(out) = &mut s.out {
            if let Err(e) = out.write_all(line).and_then(|()| out.write_all(b"\n")) {
                die(1, &format!("fatal: cannot write output: {e}"));
            }
        }
        self.total += 1;
        if !self.sleep.is_zero() {
            std::thread::sleep(self.sleep);
        }
        if self.crash_after == Some(self.total) {
            die(self.crash_exit_code, "fatal: target exploded");
        }
        if self.exit_early_after == Some(self.total) {
            self.flush_outputs();
            self.summary();
            process::exit(0);
        }
        if self.flush_only && self.batch_size > 0 && self.total % self.batch_size == 0 {
            self.flush_outputs();
            if let Some(state) = self.pending_state.take() {
                self.emit_state(&state);
            }
        }
    }

    fn summary(&self) {
        eprintln!("target: received {} records", self.total);
        for s in &self.streams {
            eprintln!(
                "target: stream {}: {} records",
                String::from_utf8_lossy(&s.name),
                s.count
            );
        }
        eprintln!("target: received {} state messages", self.states);
    }
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    eprintln!("target argv: {}", raw.join(" "));
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
    let u64_of = |key: &str| -> Option<u64> {
        match cfg.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .unwrap_or_else(|| die(1, &format!("fatal: config {key} must be an integer"))),
            ),
        }
    };
    let bool_of = |key: &str, default: bool| -> bool {
        match cfg.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => default,
        }
    };

    if bool_of("ignore_sigterm", false) {
        // SAFETY: installing SIG_IGN for SIGTERM has no preconditions.
        unsafe {
            libc::signal(libc::SIGTERM, libc::SIG_IGN);
        }
    }
    if let Some(pw) = cfg.get("password") {
        let pw = pw.as_str().map_or_else(|| pw.to_string(), str::to_string);
        eprintln!("target password={pw}");
    }
    if let Some(names) = cfg.get("print_env").and_then(Value::as_array) {
        for name in names.iter().filter_map(Value::as_str) {
            match std::env::var(name) {
                Ok(v) => eprintln!("env {name}={v}"),
                Err(_) => eprintln!("env {name}=<unset>"),
            }
        }
    }

    let output_dir = cfg
        .get("output_dir")
        .and_then(Value::as_str)
        .map(PathBuf::from);
    if let Some(dir) = &output_dir {
        if let Err(e) = std::fs::create_dir_all(dir) {
            die(1, &format!("fatal: cannot create {}: {e}", dir.display()));
        }
    }

    let mut t = Target {
        streams: Vec::new(),
        last: 0,
        total: 0,
        states: 0,
        output_dir,
        flush_only: bool_of("state_on_flush_only", false),
        batch_size: u64_of("batch_size").unwrap_or(0),
        crash_after: u64_of("crash_after"),
        crash_exit_code: u64_of("crash_exit_code").unwrap_or(4) as i32,
        exit_early_after: u64_of("exit_early_after"),
        sleep: Duration::from_millis(u64_of("sleep_ms_per_record").unwrap_or(0)),
        fail_on_garbage: bool_of("fail_on_garbage", true),
        require_schema: bool_of("require_schema", true),
        validate_records: bool_of("validate_records", false),
        pending_state: None,
        // SAFETY: fd 1 stays open for the life of the process; ManuallyDrop never closes it.
        stdout: ManuallyDrop::new(unsafe { File::from_raw_fd(1) }),
    };

    // SAFETY: fd 0 stays open for the life of the process; ManuallyDrop never closes it.
    let mut lines = Lines::new(ManuallyDrop::new(unsafe { File::from_raw_fd(0) }));
    loop {
        match lines.next_line() {
            Ok(Some(line)) => t.line(line),
            Ok(None) => break,
            Err(e) => die(1, &format!("fatal: cannot read stdin: {e}")),
        }
    }
    t.flush_outputs();
    if let Some(state) = t.pending_state.take() {
        t.emit_state(&state);
    }
    t.summary();
}
