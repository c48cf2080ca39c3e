//! `config test`: whether a plugin's configuration works, decided the way Meltano 4.4's
//! `PluginTestService` decides it.
//!
//! An extractor is run as in a sync (config, catalog, state) and is valid as soon as it
//! writes one RECORD or BATCH message; it is then stopped (SIGTERM to its process group
//! through the supervisor, SIGKILL after the grace period), so nothing outlives the test. A
//! loader is fed a small stream of its own (`meltano_test_stream`) and is valid when it exits
//! 0 without printing a line that mentions an error. Other plugin types are not testable.
//! The plugin's stdout and stderr are read as one stream, as Meltano reads them, each line cut
//! at a bound and logged at debug level, masked.

use super::RunError;
use super::command::{Invocation, Ready, ready};
use crate::project::model::PluginType;
use crate::project::{Context, ResolvedPlugin};
use crate::vocab::lines::BoundedLines;
use crate::vocab::mask::Masker;
use crate::vocab::supervisor::{own_process_group, signal_group};
use serde_json::{Value, json};
use std::fs::File;
use std::io::{BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};

/// The longest line read from a plugin under test (Meltano reads up to half its 10 MiB
/// buffer); a longer line is cut and so is not a message.
const LINE_CAP: usize = 5 * 1024 * 1024;

/// The stream a loader under test receives (Meltano's name: users clean up this table).
pub const LOADER_TEST_STREAM: &str = "meltano_test_stream";

/// The result of a test: valid or not, and what to tell the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    /// Why the configuration is not valid: the plugin's last line, or Meltano's hint.
    Invalid(String),
}

/// Why a plugin cannot be tested.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("Operation not supported for {kind} '{name}'")]
    NotSupported { kind: &'static str, name: String },
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Tests `plugin` (an extractor or a loader) with its resolved configuration.
pub fn test_plugin(
    ctx: &Context,
    plugin: ResolvedPlugin,
    how: &Invocation,
) -> Result<Verdict, ProbeError> {
    match plugin.plugin_type {
        PluginType::Extractors => Ok(test_extractor(ctx, plugin, how)?),
        PluginType::Loaders => Ok(test_loader(ctx, plugin, how)?),
        other => Err(ProbeError::NotSupported {
            kind: other.singular(),
            name: plugin.name.to_string(),
        }),
    }
}

/// Runs the extractor until its first RECORD or BATCH, then stops it.
fn test_extractor(
    ctx: &Context,
    plugin: ResolvedPlugin,
    how: &Invocation,
) -> Result<Verdict, RunError> {
    let name = plugin.name.to_string();
    let ready = ready(ctx, plugin, None, Vec::new(), how)?;
    let (mut child, output) = spawn_merged(&ready, Stdio::null())?;
    let pid = child.id() as i32;
    how.supervisor.register(pid, false);
    stop_if_signalled(how, pid);
    let mut lines = Lines::new(output, ready.prepared.masker.clone());
    let mut record = false;
    while let Some(line) = lines.next_line() {
        if carries_data(&line) {
            record = true;
            // The whole group: SIGTERM now, SIGKILL if it is still there after the grace.
            how.supervisor.stop_all(libc::SIGTERM);
            break;
        }
    }
    let last = lines.last.take();
    drop(lines);
    let status = child.wait().map_err(|e| spawn_error(&ready, e))?;
    how.supervisor.unregister(pid);
    tracing::debug!(
        "process return code: {}",
        crate::plugin::describe_status(status)
    );
    Ok(extractor_verdict(record, status.success(), last, &name))
}

/// Meltano's rule: a record makes it valid whatever the exit code (the tap was stopped); a
/// failing tap is explained by its last line, a quiet one by a hint about `select`.
fn extractor_verdict(record: bool, exited_ok: bool, last: Option<String>, name: &str) -> Verdict {
    if record {
        return Verdict::Valid;
    }
    Verdict::Invalid(match exited_ok {
        false => last.unwrap_or_else(|| "Plugin did not emit any output".into()),
        true => format!(
            "No RECORD or BATCH message received. Verify that at least one stream is selected \
             using 'eltr select {name} --list'."
        ),
    })
}

/// Feeds the loader a schema, a record and a state (and an ACTIVATE_VERSION when it declares
/// `activate-version`), then reads everything it prints until it exits.
fn test_loader(
    ctx: &Context,
    plugin: ResolvedPlugin,
    how: &Invocation,
) -> Result<Verdict, RunError> {
    tracing::warn!(
        "Testing a loader will write test data to your target system. This test will create a \
         table/collection called '{LOADER_TEST_STREAM}'. You may need to manually clean up this \
         test data after the test completes."
    );
    let activate = plugin.has_capability("activate-version");
    let ready = ready(ctx, plugin, None, Vec::new(), how)?;
    let (mut child, output) = spawn_merged(&ready, Stdio::piped())?;
    let pid = child.id() as i32;
    how.supervisor.register(pid, true);
    stop_if_signalled(how, pid);
    let fed = feed(&mut child, &test_messages(activate));
    let mut lines = Lines::new(output, ready.prepared.masker.clone());
    let mut flagged = false;
    while let Some(line) = lines.next_line() {
        let lower = line.to_lowercase();
        flagged |= lower.contains("error") || lower.contains("exception");
    }
    let last = lines.last.take();
    let status = child.wait().map_err(|e| spawn_error(&ready, e))?;
    how.supervisor.unregister(pid);
    if let Err(e) = fed {
        return Ok(Verdict::Invalid(e.to_string()));
    }
    if status.success() && !flagged {
        tracing::info!(
            "Test data was written to your target system. You may want to clean up the \
             '{LOADER_TEST_STREAM}' table/collection."
        );
        return Ok(Verdict::Valid);
    }
    Ok(Verdict::Invalid(last.unwrap_or_else(|| {
        "Loader failed to process test data.".into()
    })))
}

/// A signal that arrived before the plugin was registered (during an install or discovery)
/// found nothing to stop: it stops the plugin now.
fn stop_if_signalled(how: &Invocation, pid: i32) {
    if let Some(sig) = how.supervisor.received() {
        signal_group(pid, sig);
    }
}

/// Writes the messages to the loader's stdin and closes it (its end of input).
fn feed(child: &mut Child, messages: &[String]) -> std::io::Result<()> {
    let Some(mut stdin) = child.stdin.take() else {
        return Ok(());
    };
    for m in messages {
        stdin.write_all(m.as_bytes())?;
        stdin.write_all(b"\n")?;
    }
    stdin.flush()
}

/// The messages Meltano sends a loader under test, written as Python's `json.dumps` writes
/// them (`", "` and `": "` separators), so a loader sees the same bytes.
fn test_messages(activate_version: bool) -> Vec<String> {
    let stream = LOADER_TEST_STREAM;
    let mut out = vec![
        json!({"type": "SCHEMA", "stream": stream, "schema": {"type": "object", "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"}}},
            "key_properties": ["id"]}),
        json!({"type": "RECORD", "stream": stream, "record": {"id": 1,
            "name": "Meltano Test Record", "created_at": "2025-09-29T00:00:00Z"}}),
        json!({"type": "STATE", "value": {"bookmarks": {stream: {"last_record": 1}}}}),
    ];
    if activate_version {
        out.push(json!({"type": "ACTIVATE_VERSION", "stream": stream, "version": 1}));
    }
    out.iter().map(crate::vocab::pyjson::to_string).collect()
}

/// True for a RECORD or BATCH message: a JSON object whose `type` says so.
fn carries_data(line: &str) -> bool {
    serde_json::from_str::<Value>(line)
        .ok()
        .and_then(|v| v.get("type").and_then(Value::as_str).map(String::from))
        .is_some_and(|t| t == "RECORD" || t == "BATCH")
}

/// Starts the plugin in its own process group with stdout and stderr on one pipe (as Meltano
/// reads them), returning the child and the pipe's read end.
fn spawn_merged(ready: &Ready, stdin: Stdio) -> Result<(Child, File), RunError> {
    let (reader, writer) = pipe().map_err(|e| spawn_error(ready, e))?;
    let second = writer.try_clone().map_err(|e| spawn_error(ready, e))?;
    let mut cmd = Command::new(&ready.program);
    cmd.args(&ready.args)
        .env_clear()
        .envs(ready.prepared.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&ready.prepared.cwd)
        .stdin(stdin)
        .stdout(writer)
        .stderr(second);
    own_process_group(&mut cmd);
    // `cmd` holds the write ends until it is dropped: then only the child has them, and the
    // reader sees the end of the stream when the child (and anything it started) is gone.
    let child = cmd.spawn().map_err(|e| spawn_error(ready, e))?;
    drop(cmd);
    Ok((child, reader))
}

/// A pipe (close-on-exec on both ends): the read end, the write end.
fn pipe() -> std::io::Result<(File, File)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a live array of two ints, exactly what pipe2 writes into.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else; the
    // OwnedFds take them over and close them once.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((File::from(r), File::from(w)))
}

fn spawn_error(ready: &Ready, source: std::io::Error) -> RunError {
    RunError::Spawn {
        kind: ready.prepared.plugin.plugin_type.singular(),
        name: ready.prepared.plugin.name.to_string(),
        program: ready.program.display().to_string(),
        source,
    }
}

/// The plugin's output, line by line, trimmed; each non-empty line logged at debug level
/// (masked) and remembered as the last one.
struct Lines {
    inner: BoundedLines<BufReader<File>>,
    masker: std::sync::Arc<Masker>,
    last: Option<String>,
}

impl Lines {
    fn new(reader: File, masker: std::sync::Arc<Masker>) -> Lines {
        Lines {
            inner: BoundedLines::new(BufReader::with_capacity(1 << 16, reader), LINE_CAP),
            masker,
            last: None,
        }
    }

    /// The next line (as the plugin wrote it; the remembered copy is masked), or None at the end of the stream or on a read error.
    fn next_line(&mut self) -> Option<String> {
        let raw = self.inner.next_line().ok()??;
        let line = raw.to_text().trim().to_string();
        if !line.is_empty() {
            let shown = self.masker.mask(&line).into_owned();
            tracing::debug!(target: "eltr::plugin", "{shown}");
            self.last = Some(shown);
        }
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loader_messages_are_written_with_pythons_separators() {
        let m = test_messages(false);
        assert_eq!(m.len(), 3);
        assert_eq!(
            m[2],
            r#"{"type": "STATE", "value": {"bookmarks": {"meltano_test_stream": {"last_record": 1}}}}"#
        );
        assert_eq!(test_messages(true).len(), 4);
    }

    #[test]
    fn a_record_is_valid_even_when_the_stopped_tap_exits_non_zero() {
        assert_eq!(extractor_verdict(true, false, None, "t"), Verdict::Valid);
        assert_eq!(
            extractor_verdict(false, false, Some("boom".into()), "t"),
            Verdict::Invalid("boom".into())
        );
        assert!(
            matches!(extractor_verdict(false, true, None, "t"), Verdict::Invalid(m) if m.contains("No RECORD"))
        );
    }

    #[test]
    fn only_records_and_batches_carry_data() {
        assert!(carries_data(r#"{"type":"RECORD","stream":"s"}"#));
        assert!(carries_data(r#"{"type":"BATCH"}"#));
        assert!(!carries_data(r#"{"type":"STATE"}"#));
        assert!(!carries_data("3"));
        assert!(!carries_data("not json"));
    }
}
