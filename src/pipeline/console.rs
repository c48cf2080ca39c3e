//! Where everything eltr tells people goes: stderr (with the live progress line kept out of
//! the way of log lines), and the run log file of the block being run
//! (`.eltr/logs/<state_id>/<run_id>.log`). Also the run context (run id, state id) stamped on
//! JSON log lines, and the masker every line goes through.
//!
//! One `Console` is made by `main` and handed to the log writer and to the command; nothing
//! finds it through a global.

use crate::vocab::mask::Masker;
use indicatif::ProgressBar;
use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// The output sink of one eltr process.
#[derive(Debug, Default)]
pub struct Console {
    /// Log lines (and the final error) are JSON objects.
    json: bool,
    state: Mutex<BlockState>,
}

/// What the lines of the current block are stamped with, and where they are copied.
#[derive(Debug, Default)]
struct BlockState {
    progress: Option<ProgressBar>,
    run_log: Option<File>,
    run_id: Option<String>,
    state_id: Option<String>,
    /// The project's masker: every line printed goes through it.
    masker: Arc<Masker>,
}

impl Console {
    /// A console printing text lines, or JSON objects when `json`.
    pub fn new(json: bool) -> Console {
        Console {
            json,
            state: Mutex::default(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut BlockState) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut state)
    }

    /// True when lines are JSON objects.
    pub fn json_lines(&self) -> bool {
        self.json
    }

    /// Writes one finished log line (or block of lines) to stderr and the run log, masking
    /// secrets. Used as the log writer.
    pub fn emit(&self, bytes: &[u8]) {
        self.with(|c| {
            let text = String::from_utf8_lossy(bytes);
            let masked = c.masker.mask(&text);
            if let Some(f) = c.run_log.as_mut() {
                let _ = f.write_all(masked.as_bytes());
            }
            match &c.progress {
                Some(pb) => pb.suspend(|| {
                    let _ = std::io::stderr().write_all(masked.as_bytes());
                }),
                None => {
                    let _ = std::io::stderr().write_all(masked.as_bytes());
                }
            }
        });
    }

    /// Prints a line for people (summaries) through the same path as logs.
    pub fn println(&self, text: &str) {
        let mut line = text.to_string();
        line.push('\n');
        self.emit(line.as_bytes());
    }

    /// The run and state ids stamped on JSON log lines.
    pub fn context(&self) -> (Option<String>, Option<String>) {
        self.with(|c| (c.run_id.clone(), c.state_id.clone()))
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

    /// Starts a block: its ids and its run log file.
    pub fn begin_block(&self, run_id: &str, state_id: Option<&str>, log_file: Option<File>) {
        self.with(|c| {
            c.run_id = Some(run_id.to_string());
            c.state_id = state_id.map(String::from);
            c.run_log = log_file;
        });
    }

    /// Ends a block: closes its run log.
    pub fn end_block(&self) {
        self.with(|c| {
            if let Some(mut f) = c.run_log.take() {
                let _ = f.flush();
            }
            c.state_id = None;
        });
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
