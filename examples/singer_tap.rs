//! `singer_tap`: a fast, configurable fake Singer tap used by eltr's integration tests and
//! throughput benchmarks.
//!
//! It follows the Singer tap conventions and writes SCHEMA, RECORD and STATE messages (one JSON
//! document per line) to stdout. Everything diagnostic goes to stderr, one line per write.
//!
//! # Command line
//!
//! * `--config FILE` — JSON config (keys below). May be repeated; later files override earlier
//!   keys. `--config=FILE` is accepted too (same for the other file flags).
//! * `--state FILE` — Singer state `{"bookmarks":{"<stream>":{"replication_key_value":<id>}}}`.
//!   Each stream resumes after its bookmark. The file contents are echoed to stderr as one line
//!   `state: <compact json>` (an empty file counts as `{}`).
//! * `--catalog FILE` — Singer catalog; only selected streams and properties are emitted. The
//!   selected streams are echoed to stderr as `catalog: ["s1","s2"]` (JSON array, config order),
//!   followed by one `catalog properties <stream>: ["id",...]` line per selected stream.
//! * `--properties FILE` — legacy name of `--catalog` (same handling; `--catalog` wins if both).
//! * `--discover` — print the catalog (pretty JSON, several lines) to stdout and exit.
//!
//! Any other argument is an error (exit 2). The first stderr line is always
//! `argv: <arguments after argv[0], joined by single spaces>`.
//!
//! # Config keys (all optional)
//!
//! * `streams` — list of stream names, default `["items"]`.
//! * `records` — records per stream, default 10. The env var `SINGER_TAP_RECORDS` overrides it.
//! * `state_every` — emit a STATE after every k-th record (counted over all streams); default 0 =
//!   only the final STATE. A final STATE is always written at the end unless the last message
//!   already was a STATE.
//! * `record_bytes` — pad the `payload` field so each RECORD line is exactly this many bytes
//!   (without the newline) when possible; default 200.
//! * `huge_line_bytes` — make one RECORD line (default: the first record) this many bytes long,
//!   e.g. 100000000 for a 100 MB line. `huge_line_record` picks which record (1-based, counted
//!   over all streams).
//! * `crash_after` — after this many records (over all streams) write
//!   `fatal: simulated crash` to stderr and exit with `crash_exit_code` (default 3). Checked
//!   before each record and after the last one, after any STATE due at that point was written
//!   (so `crash_after: 0` crashes right after the first SCHEMA; a value larger than the total
//!   never triggers).
//! * `exit_code` — exit code at the normal end (default 0).
//! * `discover_exit_code` — exit code of `--discover` (default 0; the catalog is still printed).
//! * `garbage_after` — write the non-JSON line `this is not json {garbage` once, right after the
//!   k-th record (0 = before the first record).
//! * `sleep_ms_per_record` — sleep this long after each record (stdout is flushed before each
//!   sleep, so the records trickle out).
//! * `sleep_ms_per_stream` — sleep this long before each stream's first record (a source that
//!   takes a while to answer each table's query; stdout is flushed first).
//! * `crash_on_stream` — a stream name: when that stream's records are due, write
//!   `fatal: simulated crash in stream <name>` to stderr and exit with `crash_exit_code`
//!   (after flushing what was written before).
//! * `hang` — true: after everything was written (and flushed), sleep forever.
//! * `ignore_sigterm` — true: ignore SIGTERM (SIG_IGN), so only SIGKILL stops the tap.
//! * `password` — a secret; echoed to stderr as `connecting with password=<value>`.
//! * `print_env` — list of env var names; each is echoed to stderr as `env NAME=value`, or
//!   `env NAME=<unset>` when it is not set.
//! * `stderr_lines` — write this many `log line <i>` lines to stderr before the records (for
//!   tests of stderr handling under load).
//! * `stderr_bytes_without_newline` — before the records, write this many `x` bytes to stderr
//!   as one line (a newline only at the end): a plugin flooding stderr.
//! * `discover_stderr_bytes_without_newline` — the same, in `--discover`, before the catalog.
//! * `state_padding_bytes` — every STATE value gets a top-level `"padding"` string of this many
//!   `x`s (a big state).
//!
//! # Output
//!
//! For each emitted stream: one SCHEMA (`key_properties` and `bookmark_properties` are `["id"]`)
//! then its RECORDs, e.g.
//! `{"type":"RECORD","stream":"items","record":{"id":1,"name":"name-1","updated_at":"2026-01-01T00:00:00Z","payload":"xx…"},"time_extracted":"2026-01-01T00:00:00Z"}`.
//! Ids run from bookmark+1 to bookmark+`records`. STATE messages are cumulative:
//! `{"type":"STATE","value":{"bookmarks":{"items":{"replication_key_value":10}}}}`; bookmarks of
//! streams from the input state that are not emitted this run are carried over unchanged, as
//! are other top-level keys of the input state. At the end `tap: emitted N records` goes to
//! stderr.
//!
//! A write error on stdout (e.g. a closed pipe) prints `fatal: write error: ...` and exits 1.
//!
//! The hot path formats records by hand into a reused buffer (no serde, no per-record
//! allocation) and writes ~1 MiB chunks straight to fd 1.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::process;
use std::time::Duration;

use serde_json::{Map, Value, json};

const TIME: &str = "2026-01-01T00:00:00Z";
const PROPS: [&str; 4] = ["id", "name", "updated_at", "payload"];
const CHUNK: usize = 1 << 20;
const GARBAGE: &[u8] = b"this is not json {garbage\n";

fn die(code: i32, msg: &str) -> ! {
    eprintln!("{msg}");
    process::exit(code);
}

struct Args {
    configs: Vec<String>,
    state: Option<String>,
    catalog: Option<String>,
    properties: Option<String>,
    discover: bool,
}

fn parse_args(raw: &[String]) -> Args {
    let mut a = Args {
        configs: Vec::new(),
        state: None,
        catalog: None,
        properties: None,
        discover: false,
    };
    let mut it = raw.iter();
    while let Some(arg) = it.next() {
        if arg == "--discover" {
            a.discover = true;
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .unwrap_or_else(|| die(2, &format!("fatal: {flag} needs a value")))
        };
        match flag {
            "--config" => a.configs.push(value()),
            "--state" => a.state = Some(value()),
            "--catalog" => a.catalog = Some(value()),
            "--properties" => a.properties = Some(value()),
            _ => die(2, &format!("fatal: unknown argument {arg:?}")),
        }
    }
    a
}

fn read_json(kind: &str, path: &str) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| die(1, &format!("fatal: cannot read {kind} {path}: {e}")));
    if text.trim().is_empty() {
        return Value::Object(Map::new());
    }
    serde_json::from_str(&text)
        .unwrap_or_else(|e| die(1, &format!("fatal: invalid JSON in {kind} {path}: {e}")))
}

struct Config(Map<String, Value>);

impl Config {
    fn u64(&self, key: &str, default: u64) -> u64 {
        self.opt_u64(key).unwrap_or(default)
    }
    fn opt_u64(&self, key: &str) -> Option<u64> {
        match self.0.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .unwrap_or_else(|| die(1, &format!("fatal: config {key} must be an integer"))),
            ),
        }
    }
    fn bool(&self, key: &str) -> bool {
        match self.0.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => false,
        }
    }
    fn strings(&self, key: &str) -> Option<Vec<String>> {
        self.0.get(key).and_then(Value::as_array).map(|a| {
            a.iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
    }
}

fn stream_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "updated_at": {"type": "string", "format": "date-time"},
            "payload": {"type": "string"}
        }
    })
}

fn discover(streams: &[String]) -> Value {
    let entries: Vec<Value> = streams
        .iter()
        .map(|s| {
            let mut metadata = vec![json!({
                "breadcrumb": [],
                "metadata": {
                    "inclusion": "available",
                    "selected-by-default": true,
                    "table-key-properties": ["id"],
                    "valid-replication-keys": ["id"],
                    "forced-replication-method": "INCREMENTAL"
                }
            })];
            for p in PROPS {
                let md = if p == "id" {
                    json!({"inclusion": "automatic"})
                } else {
                    json!({"inclusion": "available", "selected-by-default": true})
                };
                metadata.push(json!({"breadcrumb": ["properties", p], "metadata": md}));
            }
            json!({
                "tap_stream_id": s,
                "stream": s,
                "key_properties": ["id"],
                "schema": stream_schema(),
                "metadata": metadata
            })
        })
        .collect();
    json!({ "streams": entries })
}

/// Which streams / properties a catalog selects: stream id -> selected property flags.
fn catalog_selection(catalog: &Value) -> HashMap<String, [bool; 4]> {
    let mut out = HashMap::new();
    let Some(streams) = catalog.get("streams").and_then(Value::as_array) else {
        die(1, "fatal: catalog has no \"streams\" array");
    };
    for s in streams {
        let Some(id) = s
            .get("tap_stream_id")
            .or_else(|| s.get("stream"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let empty = Vec::new();
        let metadata = s
            .get("metadata")
            .and_then(Value::as_array)
            .unwrap_or(&empty);
        let find = |crumb: &[&str]| -> Option<&Map<String, Value>> {
            metadata.iter().find_map(|m| {
                let bc = m.get("breadcrumb")?.as_array()?;
                let same = bc.len() == crumb.len()
                    && bc.iter().zip(crumb).all(|(a, b)| a.as_str() == Some(*b));
                if same {
                    m.get("metadata")?.as_object()
                } else {
                    None
                }
            })
        };
        let is_selected = |md: Option<&Map<String, Value>>, default: bool| -> bool {
            let Some(md) = md else { return default };
            if md.get("inclusion").and_then(Value::as_str) == Some("automatic") {
                return true;
            }
            if md.get("inclusion").and_then(Value::as_str) == Some("unsupported") {
                return false;
            }
            match md.get("selected").and_then(Value::as_bool) {
                Some(b) => b,
                None => md
                    .get("selected-by-default")
                    .and_then(Value::as_bool)
                    .unwrap_or(default),
            }
        };
        let top = find(&[]);
        let legacy = s.pointer("/schema/selected").and_then(Value::as_bool);
        let stream_selected = match top {
            Some(md) if md.contains_key("selected") => md["selected"].as_bool() == Some(true),
            Some(md) => legacy.unwrap_or_else(|| {
                md.get("selected-by-default").and_then(Value::as_bool) == Some(true)
            }),
            None => legacy == Some(true),
        };
        if !stream_selected {
            continue;
        }
        let mut props = [true; 4];
        for (i, p) in PROPS.iter().enumerate().skip(1) {
            props[i] = is_selected(find(&["properties", p]), true);
        }
        out.insert(id.to_string(), props);
    }
    out
}

struct Plan {
    name: String,
    /// `{"type":"RECORD","stream":"<name>","record":{"id":`
    record_prefix: Vec<u8>,
    schema_line: Vec<u8>,
    props: [bool; 4],
    start: u64,
}

enum Bookmark {
    Raw(String, String),
    Ours(String, usize),
}

struct State {
    entries: Vec<Bookmark>,
    values: Vec<Option<u64>>,
    extra_top: String,
}

impl State {
    fn write(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(br#"{"type":"STATE","value":{"bookmarks":{"#);
        let mut first = true;
        for e in &self.entries {
            let (key, val): (&str, Option<u64>) = match e {
                Bookmark::Raw(k, v) => {
                    if !first {
                        buf.push(b',');
                    }
                    first = false;
                    buf.extend_from_slice(k.as_bytes());
                    buf.push(b':');
                    buf.extend_from_slice(v.as_bytes());
                    continue;
                }
                Bookmark::Ours(k, i) => (k, self.values[*i]),
            };
            let Some(val) = val else { continue };
            if !first {
                buf.push(b',');
            }
            first = false;
            buf.extend_from_slice(key.as_bytes());
            buf.extend_from_slice(br#":{"replication_key_value":"#);
            push_u64(buf, val);
            buf.push(b'}');
        }
        buf.push(b'}');
        buf.extend_from_slice(self.extra_top.as_bytes());
        buf.extend_from_slice(b"}}\n");
    }
}

/// Writes `n` bytes of `x` to stderr, then one newline (nothing when `n` is 0).
fn stderr_flood(n: u64) {
    if n == 0 {
        return;
    }
    let chunk = vec![b'x'; CHUNK];
    let mut err = io::stderr().lock();
    let mut left = n;
    while left > 0 {
        let k = left.min(CHUNK as u64) as usize;
        if let Err(e) = err.write_all(&chunk[..k]) {
            die(1, &format!("fatal: stderr write error: {e}"));
        }
        left -= k as u64;
    }
    let _ = err.write_all(b"\n").and_then(|()| err.flush());
}

#[inline]
fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

struct Out {
    buf: Vec<u8>,
    fd: ManuallyDrop<File>,
}

impl Out {
    fn flush(&mut self) {
        if let Err(e) = self.fd.write_all(&self.buf) {
            die(1, &format!("fatal: write error: {e}"));
        }
        self.buf.clear();
    }
    #[inline]
    fn maybe_flush(&mut self) {
        if self.buf.len() >= CHUNK {
            self.flush();
        }
    }
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    eprintln!("argv: {}", raw.join(" "));
    let args = parse_args(&raw);

    let mut cfg = Map::new();
    for path in &args.configs {
        match read_json("config", path) {
            Value::Object(m) => cfg.extend(m),
            _ => die(1, &format!("fatal: config {path} is not a JSON object")),
        }
    }
    let cfg = Config(cfg);

    if cfg.bool("ignore_sigterm") {
        // SAFETY: installing SIG_IGN for SIGTERM has no preconditions.
        unsafe {
            libc::signal(libc::SIGTERM, libc::SIG_IGN);
        }
    }
    if let Some(pw) = cfg.0.get("password") {
        let pw = pw.as_str().map_or_else(|| pw.to_string(), str::to_string);
        eprintln!("connecting with password={pw}");
    }
    for name in cfg.strings("print_env").unwrap_or_default() {
        match std::env::var(&name) {
            Ok(v) => eprintln!("env {name}={v}"),
            Err(_) => eprintln!("env {name}=<unset>"),
        }
    }

    let streams = cfg
        .strings("streams")
        .unwrap_or_else(|| vec!["items".to_string()]);

    if args.discover {
        stderr_flood(cfg.u64("discover_stderr_bytes_without_newline", 0));
        let catalog = serde_json::to_string_pretty(&discover(&streams)).expect("serialize");
        let mut out = io::stdout().lock();
        if let Err(e) = writeln!(out, "{catalog}").and_then(|()| out.flush()) {
            die(1, &format!("fatal: write error: {e}"));
        }
        process::exit(cfg.u64("discover_exit_code", 0) as i32);
    }

    // Input state.
    let state_in = args.state.as_deref().map(|p| read_json("state", p));
    if let Some(s) = &state_in {
        eprintln!("state: {s}");
    }

    // Catalog selection.
    let catalog_path = args.catalog.as_deref().or(args.properties.as_deref());
    let selection = catalog_path.map(|p| catalog_selection(&read_json("catalog", p)));

    let records = match std::env::var("SINGER_TAP_RECORDS") {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| die(1, "fatal: SINGER_TAP_RECORDS must be an integer")),
        Err(_) => cfg.u64("records", 10),
    };
    let state_every = cfg.u64("state_every", 0);
    let record_bytes = cfg.u64("record_bytes", 200) as usize;
    let huge_line_bytes = cfg.opt_u64("huge_line_bytes").map(|v| v as usize);
    let huge_line_record = cfg.u64("huge_line_record", 1);
    let crash_after = cfg.opt_u64("crash_after");
    let crash_exit_code = cfg.u64("crash_exit_code", 3) as i32;
    let exit_code = cfg.u64("exit_code", 0) as i32;
    let garbage_after = cfg.opt_u64("garbage_after");
    let sleep = Duration::from_millis(cfg.u64("sleep_ms_per_record", 0));
    let stream_latency = Duration::from_millis(cfg.u64("sleep_ms_per_stream", 0));
    let crash_on_stream = cfg.0.get("crash_on_stream").and_then(Value::as_str);
    let hang = cfg.bool("hang");
    let stderr_lines = cfg.u64("stderr_lines", 0);

    // Bookmarks from the input state.
    let mut in_bookmarks: Map<String, Value> = Map::new();
    let mut extra_top = String::new();
    if let Some(Value::Object(s)) = &state_in {
        for (k, v) in s {
            if k == "bookmarks" {
                if let Some(b) = v.as_object() {
                    in_bookmarks = b.clone();
                }
            } else {
                extra_top.push(',');
                extra_top.push_str(&Value::String(k.clone()).to_string());
                extra_top.push(':');
                extra_top.push_str(&v.to_string());
            }
        }
    }
    let bookmark_of = |name: &str| -> Option<u64> {
        let v = in_bookmarks.get(name)?.get("replication_key_value")?;
        Some(
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .unwrap_or_else(|| {
                    die(
                        1,
                        &format!("fatal: invalid bookmark for stream {name}: {v}"),
                    )
                }),
        )
    };

    let mut plans = Vec::new();
    let mut selected_names = Vec::new();
    for name in &streams {
        let props = match &selection {
            None => [true; 4],
            Some(sel) => match sel.get(name) {
                Some(p) => *p,
                None => continue,
            },
        };
        selected_names.push(name.clone());
        let esc = Value::String(name.clone()).to_string();
        let mut schema = stream_schema();
        if let Some(p) = schema["properties"].as_object_mut() {
            for (i, prop) in PROPS.iter().enumerate() {
                if !props[i] {
                    p.remove(*prop);
                }
            }
        }
        let schema_line = json!({
            "type": "SCHEMA",
            "stream": name,
            "schema": schema,
            "key_properties": ["id"],
            "bookmark_properties": ["id"]
        })
        .to_string()
            + "\n";
        plans.push(Plan {
            name: name.clone(),
            record_prefix: format!(r#"{{"type":"RECORD","stream":{esc},"record":{{"id":"#)
                .into_bytes(),
            schema_line: schema_line.into_bytes(),
            props,
            start: bookmark_of(name).unwrap_or(0),
        });
    }
    if selection.is_some() {
        eprintln!("catalog: {}", Value::from(selected_names.clone()));
        for p in &plans {
            let props: Vec<&str> = PROPS
                .iter()
                .zip(p.props)
                .filter(|(_, on)| *on)
                .map(|(n, _)| *n)
                .collect();
            eprintln!("catalog properties {}: {}", p.name, Value::from(props));
        }
    }

    let padding = cfg.u64("state_padding_bytes", 0) as usize;
    if padding > 0 {
        extra_top.push_str(r#","padding":""#);
        extra_top.extend(std::iter::repeat_n('x', padding));
        extra_top.push('"');
    }
    // State tracker: input order first, then our streams in emission order.
    let mut st = State {
        entries: Vec::new(),
        values: vec![None; plans.len()],
        extra_top,
    };
    for (k, v) in &in_bookmarks {
        let key = Value::String(k.clone()).to_string();
        match plans.iter().position(|p| &p.name == k) {
            Some(i) => {
                st.values[i] = Some(plans[i].start);
                st.entries.push(Bookmark::Ours(key, i));
            }
            None => st.entries.push(Bookmark::Raw(key, v.to_string())),
        }
    }
    for (i, p) in plans.iter().enumerate() {
        if !in_bookmarks.contains_key(&p.name) {
            st.entries
                .push(Bookmark::Ours(Value::String(p.name.clone()).to_string(), i));
        }
    }

    for i in 0..stderr_lines {
        eprintln!("log line {i}");
    }
    stderr_flood(cfg.u64("stderr_bytes_without_newline", 0));

    // SAFETY: fd 1 is open for the life of the process; ManuallyDrop keeps it open.
    let fd = ManuallyDrop::new(unsafe { File::from_raw_fd(1) });
    let mut out = Out {
        buf: Vec::with_capacity(CHUNK + 4096),
        fd,
    };

    let mut emitted: u64 = 0;
    let mut last_was_state = false;
    let crash = |out: &mut Out| -> ! {
        out.flush();
        die(crash_exit_code, "fatal: simulated crash");
    };
    const SUFFIX: &[u8] = br#""},"time_extracted":"2026-01-01T00:00:00Z"}"#;
    const SUFFIX_NO_PAYLOAD: &[u8] = br#"},"time_extracted":"2026-01-01T00:00:00Z"}"#;

    for (pi, plan) in plans.iter().enumerate() {
        if crash_on_stream == Some(plan.name.as_str()) {
            out.flush();
            die(
                crash_exit_code,
                &format!("fatal: simulated crash in stream {}", plan.name),
            );
        }
        if !stream_latency.is_zero() {
            out.flush();
            std::thread::sleep(stream_latency);
        }
        out.buf.extend_from_slice(&plan.schema_line);
        last_was_state = false;
        if garbage_after == Some(0) && emitted == 0 {
            out.buf.extend_from_slice(GARBAGE);
        }
        for id in plan.start + 1..=plan.start + records {
            if crash_after == Some(emitted) {
                crash(&mut out);
            }
            let line_start = out.buf.len();
            out.buf.extend_from_slice(&plan.record_prefix);
            push_u64(&mut out.buf, id);
            if plan.props[1] {
                out.buf.extend_from_slice(br#","name":"name-"#);
                push_u64(&mut out.buf, id);
                out.buf.push(b'"');
            }
            if plan.props[2] {
                out.buf.extend_from_slice(br#","updated_at":""#);
                out.buf.extend_from_slice(TIME.as_bytes());
                out.buf.push(b'"');
            }
            emitted += 1;
            if plan.props[3] {
                out.buf.extend_from_slice(br#","payload":""#);
                let want = match huge_line_bytes {
                    Some(h) if emitted == huge_line_record => h,
                    _ => record_bytes,
                };
                let have = out.buf.len() - line_start + SUFFIX.len();
                if want > have {
                    let n = out.buf.len() + (want - have);
                    out.buf.resize(n, b'x');
                }
                out.buf.extend_from_slice(SUFFIX);
            } else {
                out.buf.extend_from_slice(SUFFIX_NO_PAYLOAD);
            }
            out.buf.push(b'\n');
            st.values[pi] = Some(id);
            last_was_state = false;
            if garbage_after == Some(emitted) {
                out.buf.extend_from_slice(GARBAGE);
            }
            if state_every > 0 && emitted % state_every == 0 {
                st.write(&mut out.buf);
                last_was_state = true;
            }
            if !sleep.is_zero() {
                out.flush();
                std::thread::sleep(sleep);
            } else {
                out.maybe_flush();
            }
        }
    }
    if crash_after == Some(emitted) {
        crash(&mut out);
    }
    if !last_was_state {
        st.write(&mut out.buf);
    }
    out.flush();
    eprintln!("tap: emitted {emitted} records");
    if hang {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    process::exit(exit_code);
}
