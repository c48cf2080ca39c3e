//! Where everything eltr tells people goes: stderr (with the live progress line kept out of
//! the way of log lines), and the run log file of each block being run
//! (`.eltr/logs/<state_id>/<run_id>.log`). Also the run context (run id, state id) stamped on
//! JSON log lines, and the masker every line goes through.
//!
//! One `Console` is made by `main` and handed to the log writer and to the command; nothing
//! finds it through a global. Each running block has a `BlockLog`: its ids, its run log and,
//! when blocks run side by side, the `[label]` its stderr lines start with. A block's code
//! runs inside the block's tracing span (`BlockLog::span`), and threads it starts carry that
//! span (`spawn_in_block`), so the log writer knows which block an event belongs to even when
//! several blocks log at once.

use crate::vocab::mask::Masker;
use indicatif::ProgressBar;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;

/// The output sink of one eltr process.
#[derive(Debug, Default)]
pub struct Console {
    /// Log lines (and the final error) are JSON objects.
    json: bool,
    state: Mutex<Shared>,
    /// The blocks running now, by the number their span carries.
    blocks: Mutex<Vec<(u64, Weak<BlockLog>)>>,
    next_block: AtomicU64,
}

/// What every line shares, whichever block it belongs to.
#[derive(Debug, Default)]
struct Shared {
    progress: Option<ProgressBar>,
    /// The run id of the last block begun (stamped on the final error).
    run_id: Option<String>,
    /// The project's masker: every line printed goes through it.
    masker: Arc<Masker>,
}

/// The log of one running block: what its lines are stamped with and where they are copied.
/// Made by `Console::begin_block`; the block ends when the last reference goes.
#[derive(Debug)]
pub struct BlockLog {
    console: Arc<Console>,
    /// The number the block's span carries.
    id: u64,
    run_id: String,
    state_id: Option<String>,
    /// The block's label, put before each of its stderr lines (text) or as `block` (JSON)
    /// when blocks run side by side.
    prefix: Option<String>,
    run_log: Mutex<Option<File>>,
}

/// The name of the span field that carries a block's number.
pub const BLOCK_FIELD: &str = "eltr_block";

impl Console {
    /// A console printing text lines, or JSON objects when `json`.
    pub fn new(json: bool) -> Console {
        Console {
            json,
            ..Console::default()
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Shared) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut state)
    }

    fn open_blocks(&self) -> Vec<Arc<BlockLog>> {
        let blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        blocks.iter().filter_map(|(_, b)| b.upgrade()).collect()
    }

    /// True when lines are JSON objects.
    pub fn json_lines(&self) -> bool {
        self.json
    }

    /// Writes one finished log line (or block of lines) that belongs to no block to stderr,
    /// masking secrets. It is copied to the run log of every block running (a signal or a
    /// timeout concerns them all).
    pub fn emit(&self, bytes: &[u8]) {
        self.emit_in(None, bytes);
    }

    /// Writes one finished log line (or block of lines) of `block` (or of none) to stderr and
    /// the run log, masking secrets. Used as the log writer.
    pub fn emit_in(&self, block: Option<&BlockLog>, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let masker = self.masker();
        let masked = masker.mask(&text);
        match block {
            Some(b) => b.write_run_log(&masked),
            None => {
                for b in self.open_blocks() {
                    b.write_run_log(&masked);
                }
            }
        }
        let shown = match block.and_then(|b| b.prefix.as_deref()) {
            Some(label) if !self.json => prefix_lines(label, &masked),
            _ => masked.into_owned(),
        };
        self.to_stderr(shown.as_bytes());
    }

    fn to_stderr(&self, bytes: &[u8]) {
        self.with(|c| match &c.progress {
            Some(pb) => pb.suspend(|| {
                let _ = std::io::stderr().write_all(bytes);
            }),
            None => {
                let _ = std::io::stderr().write_all(bytes);
            }
        });
    }

    /// Prints a line for people (summaries) through the same path as logs: with JSON logs,
    /// as one JSON log line (`level` info), so every line on stderr is JSON.
    pub fn println(&self, text: &str) {
        let line = self.people_line(None, text, serde_json::Map::new());
        self.emit(line.as_bytes());
    }

    /// `text` as printed for people: itself, or with JSON logs one JSON line carrying
    /// `fields` too.
    fn people_line(
        &self,
        block: Option<&BlockLog>,
        text: &str,
        fields: serde_json::Map<String, serde_json::Value>,
    ) -> String {
        match self.json {
            true => format!(
                "{}\n",
                self.json_line(block, "info", None, text.into(), fields)
            ),
            false => format!("{text}\n"),
        }
    }

    /// One JSON log line: the same keys for every event, so a log shipper needs one parser.
    /// The run and state ids are the block's when the line belongs to one, else the run's; a
    /// block running beside others is named by `block`.
    pub fn json_line(
        &self,
        block: Option<&BlockLog>,
        level: &str,
        plugin: Option<String>,
        message: String,
        other: serde_json::Map<String, serde_json::Value>,
    ) -> serde_json::Value {
        use serde_json::Value;
        use tracing_subscriber::fmt::format::Writer;
        use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
        let mut time = String::new();
        let _ = SystemTime.format_time(&mut Writer::new(&mut time));
        let (run_id, state_id) = match block {
            Some(b) => b.ids(),
            None => self.context(),
        };
        let mut o = serde_json::Map::new();
        o.insert("timestamp".into(), Value::String(time));
        o.insert("level".into(), Value::String(level.to_ascii_lowercase()));
        if let Some(p) = plugin {
            o.insert("plugin".into(), Value::String(p));
        }
        o.insert("message".into(), Value::String(message));
        if let Some(r) = run_id {
            o.insert("run_id".into(), Value::String(r));
        }
        if let Some(s) = state_id {
            o.insert("state_id".into(), Value::String(s));
        }
        if let Some(label) = block.and_then(BlockLog::label) {
            o.insert("block".into(), Value::String(label.to_string()));
        }
        o.extend(other);
        Value::Object(o)
    }

    /// The run id, and the state id of the block running when exactly one runs, for lines
    /// that belong to no block (the final error).
    pub fn context(&self) -> (Option<String>, Option<String>) {
        let run_id = self.with(|c| c.run_id.clone());
        let open = self.open_blocks();
        let state_id = match open.as_slice() {
            [only] => only.state_id.clone(),
            _ => None,
        };
        (run_id, state_id)
    }

    /// Masks every line printed from now on with `masker` (the opened project's, which learns
    /// each secret as plugins and the state backend are resolved).
    pub fn set_masker(&self, masker: Arc<Masker>) {
        self.with(|c| c.masker = masker);
    }

    /// `text` with every secret known so far masked: for what is printed outside the log,
    /// such as data on stdout and the final error.
    pub fn mask(&self, text: &str) -> String {
        let masker = self.masker();
        masker.mask(text).into_owned()
    }

    /// The masker every printed line goes through.
    pub fn masker(&self) -> Arc<Masker> {
        self.with(|c| c.masker.clone())
    }

    /// Starts a block: its ids, its run log file, and the label its stderr lines start with
    /// (`None` when it runs alone).
    pub fn begin_block(
        self: &Arc<Self>,
        run_id: &str,
        state_id: Option<&str>,
        log_file: Option<File>,
        prefix: Option<String>,
    ) -> Arc<BlockLog> {
        let id = self.next_block.fetch_add(1, Ordering::Relaxed);
        self.with(|c| c.run_id = Some(run_id.to_string()));
        let block = Arc::new(BlockLog {
            console: self.clone(),
            id,
            run_id: run_id.to_string(),
            state_id: state_id.map(String::from),
            prefix,
            run_log: Mutex::new(log_file),
        });
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        blocks.retain(|(_, b)| b.strong_count() > 0);
        blocks.push((id, Arc::downgrade(&block)));
        block
    }

    /// The running block whose span carries `id`.
    pub fn block(&self, id: u64) -> Option<Arc<BlockLog>> {
        let blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        blocks
            .iter()
            .find(|(n, _)| *n == id)
            .and_then(|(_, b)| b.upgrade())
    }

    /// Shows (or hides, with `None`) the live progress line.
    pub fn set_progress(&self, pb: Option<ProgressBar>) {
        self.with(|c| {
            if let Some(old) = c.progress.take() {
                old.finish_and_clear();
            }
            c.progress = pb;
        });
    }
}

impl BlockLog {
    /// The span the block's code runs in: events inside it go to this block's log.
    pub fn span(&self) -> tracing::Span {
        // At error level so that no `--log-level` short of `off` disables it: a disabled
        // span would send the block's lines nowhere in particular.
        tracing::error_span!("block", eltr_block = self.id)
    }

    /// The console the block prints through.
    pub fn console(&self) -> &Arc<Console> {
        &self.console
    }

    /// Prints a line for people (the block's summary, its progress) to stderr and its log
    /// (one JSON line with JSON logs).
    pub fn println(&self, text: &str) {
        self.println_with(text, serde_json::Map::new());
    }

    /// Like `println`, with `fields` added to the JSON line (the run summary's numbers);
    /// text logs print `text` alone.
    pub fn println_with(&self, text: &str, fields: serde_json::Map<String, serde_json::Value>) {
        let line = self.console.people_line(Some(self), text, fields);
        self.console.emit_in(Some(self), line.as_bytes());
    }

    /// The run id and state id stamped on the block's JSON lines.
    pub fn ids(&self) -> (Option<String>, Option<String>) {
        (Some(self.run_id.clone()), self.state_id.clone())
    }

    /// The label of a block running beside others, for its JSON lines.
    pub fn label(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    fn write_run_log(&self, text: &str) {
        let mut log = self.run_log.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = log.as_mut() {
            let _ = f.write_all(text.as_bytes());
        }
    }
}

impl Drop for BlockLog {
    fn drop(&mut self) {
        if let Some(mut f) = self.run_log.get_mut().ok().and_then(Option::take) {
            let _ = f.flush();
        }
        let mut blocks = self
            .console
            .blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        blocks.retain(|(n, _)| *n != self.id);
    }
}

/// `text` with `[label] ` before each of its lines.
fn prefix_lines(label: &str, text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split_inclusive('\n') {
        out.push('[');
        out.push_str(label);
        out.push_str("] ");
        out.push_str(line);
    }
    out
}

/// Starts a thread whose events belong to the block (the span) of the thread starting it:
/// pumps, stderr readers and state writers log into their block's run log.
pub fn spawn_in_block<T, F>(f: F) -> JoinHandle<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let span = tracing::Span::current();
    std::thread::spawn(move || span.in_scope(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_gets_the_label() {
        assert_eq!(prefix_lines("a → b", "x\ny\n"), "[a → b] x\n[a → b] y\n");
    }

    #[test]
    fn a_block_is_found_by_its_number_while_it_runs() {
        let console = Arc::new(Console::new(false));
        let block = console.begin_block("r", Some("s"), None, None);
        assert!(console.block(block.id).is_some());
        assert_eq!(console.context(), (Some("r".into()), Some("s".into())));
        let id = block.id;
        drop(block);
        assert!(console.block(id).is_none());
        assert_eq!(console.context(), (Some("r".into()), None));
    }
}
