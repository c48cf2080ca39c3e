//! Helpers for the run-engine tests (`tests/run_engine.rs`): fixture projects whose plugins are
//! the example Singer programs, `eltr` started in the background (to look at a run in progress
//! or signal it), and readers for what a run leaves behind (stored state, target output).
#![allow(dead_code)]

use crate::common::{Run, TempProject, eltr_bin, fixture};
use serde_json::Value;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The folder of the example programs Cargo built next to the `eltr` binary
/// (`target/debug/examples`).
pub fn examples_dir() -> PathBuf {
    let dir = eltr_bin()
        .parent()
        .expect("eltr binary has a parent folder")
        .join("examples");
    for name in ["singer_tap", "singer_target", "singer_mapper"] {
        assert!(
            dir.join(name).is_file(),
            "example program {name} not built in {}",
            dir.display()
        );
    }
    dir
}

/// Copies `tests/fixtures/<name>` into a temporary folder and replaces `{EXAMPLES}` in its
/// text files (project YAML, wrapper scripts) with the examples folder. Writing in place keeps
/// the permission bits, so scripts stay executable.
pub fn project(name: &str) -> TempProject {
    let p = fixture(name);
    let examples = examples_dir();
    let examples = examples.to_str().expect("examples path is UTF-8");
    render(&p.dir, examples);
    p
}

fn render(dir: &Path, examples: &str) {
    for entry in std::fs::read_dir(dir).expect("read project folder") {
        let path = entry.expect("project entry").path();
        if path.is_dir() {
            render(&path, examples);
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            if text.contains("{EXAMPLES}") {
                std::fs::write(&path, text.replace("{EXAMPLES}", examples))
                    .expect("write project file");
            }
        }
    }
}

/// Path of the stored state of `state_id` in the project's local store.
pub fn state_path(p: &TempProject, state_id: &str) -> PathBuf {
    p.path(".eltr/state").join(state_id).join("state.json")
}

/// The stored state document of `state_id`, as text.
#[track_caller]
pub fn stored_text(p: &TempProject, state_id: &str) -> String {
    let path = state_path(p, state_id);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no stored state at {}: {e}", path.display()))
}

/// The stored state document of `state_id`, parsed.
#[track_caller]
pub fn stored_json(p: &TempProject, state_id: &str) -> Value {
    let text = stored_text(p, state_id);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stored state is not JSON ({e}): {text}"))
}

/// Meltano's stored document for a completed single-stream bookmark, byte for byte (Python's
/// `json.dumps` separators).
pub fn meltano_doc(stream: &str, bookmark: u64) -> String {
    format!(
        r#"{{"completed": {{"singer_state": {{"bookmarks": {{"{stream}": {{"replication_key_value": {bookmark}}}}}}}}}, "partial": {{}}}}"#
    )
}

/// The `replication_key_value` of `stream` in a stored document's completed state.
#[track_caller]
pub fn completed_bookmark(doc: &Value, stream: &str) -> u64 {
    doc.pointer(&format!(
        "/completed/singer_state/bookmarks/{stream}/replication_key_value"
    ))
    .and_then(Value::as_u64)
    .unwrap_or_else(|| panic!("no completed bookmark for {stream} in {doc}"))
}

/// The RECORD messages the target wrote to `<project>/out/<stream>.jsonl`.
#[track_caller]
pub fn output_records(p: &TempProject, stream: &str) -> Vec<Value> {
    let path = p.path("out").join(format!("{stream}.jsonl"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no target output {}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad output line ({e}): {l}")))
        .collect()
}

/// The record ids in the target's output for `stream`, in order.
#[track_caller]
pub fn output_ids(p: &TempProject, stream: &str) -> Vec<u64> {
    output_records(p, stream)
        .iter()
        .map(|m| {
            m["record"]["id"]
                .as_u64()
                .expect("record has an integer id")
        })
        .collect()
}

// Also reachable as `support::files_under`, where the run helpers are imported.
#[allow(unused_imports)]
pub use crate::common::files_under;

/// An `eltr` started in the background, its stdout and stderr going to files. Dropping it
/// kills the process (SIGKILL) if it is still running, so a failed test leaves nothing behind.
pub struct Background {
    child: Option<Child>,
    pub pid: i32,
    out_dir: tempfile::TempDir,
    command: String,
}

/// Starts `eltr ARGS` in `cwd` with an environment holding only `PATH`, `HOME` and `vars`.
pub fn spawn_eltr(cwd: &Path, args: &[&str], vars: &[(&str, &str)]) -> Background {
    let out_dir = tempfile::tempdir().expect("temp dir for output");
    let stdout = File::create(out_dir.path().join("stdout")).expect("stdout file");
    let stderr = File::create(out_dir.path().join("stderr")).expect("stderr file");
    let mut cmd = Command::new(eltr_bin());
    cmd.current_dir(cwd)
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    for keep in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(keep) {
            cmd.env(keep, v);
        }
    }
    cmd.env("ELTR_CACHE_DIR", crate::common::test_user_cache());
    cmd.envs(vars.iter().copied());
    let child = cmd.spawn().expect("start eltr");
    let pid = child.id() as i32;
    Background {
        child: Some(child),
        pid,
        out_dir,
        command: format!("(background, cd {}) eltr {}", cwd.display(), args.join(" ")),
    }
}

impl Background {
    /// True while the process has not exited.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .expect("not waited yet")
            .try_wait()
            .expect("try_wait")
            .is_none()
    }

    /// What it printed on stderr so far.
    pub fn stderr_so_far(&self) -> String {
        std::fs::read_to_string(self.out_dir.path().join("stderr")).unwrap_or_default()
    }

    /// Sends `sig` to the eltr process (not to its plugins).
    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: plain kill(2) on the pid of a child this test started and has not reaped.
        let r = unsafe { libc::kill(self.pid, sig) };
        assert_eq!(r, 0, "kill({}, {sig}) failed", self.pid);
    }

    /// Waits for the process (at most `limit`, then kills it and panics) and returns what it
    /// did.
    #[track_caller]
    pub fn finish(mut self, limit: Duration) -> Run {
        let mut child = self.child.take().expect("not waited yet");
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("try_wait") {
                break s;
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} still running after {limit:?}; stderr:\n{}",
                    self.command,
                    self.stderr_so_far()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Run {
            status,
            stdout: std::fs::read_to_string(self.out_dir.path().join("stdout")).unwrap_or_default(),
            stderr: self.stderr_so_far(),
            command: self.command.clone(),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
