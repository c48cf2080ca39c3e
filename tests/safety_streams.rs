//! Every stream eltr reads has bounded memory (DESIGN.md §7): a plugin writing hundreds of
//! megabytes to stderr without a newline, in a run or in catalog discovery, leaves eltr's
//! memory flat and the log shows where the line was cut; the target's states are read whole
//! up to a large size, and a state beyond it is an error that says so instead of a silent loss.
//!
//! The taps are the example `singer_tap` with its flooding options, on
//! `tests/fixtures/safety-streams`. Peak memory is the `ru_maxrss` that `wait4` reports for
//! the eltr process (which includes the plugins it waited for; they stay small here).

mod common;
#[path = "common/run.rs"]
mod support;

use common::{Run, TempProject, eltr, eltr_bin};
use std::io::Read;
use std::process::{Command, Stdio};
use support::{output_ids, project, state_path, stored_json};

/// Bytes of stderr the flooding taps write as one line.
const FLOOD: u64 = 200_000_000;
/// Bytes of a log line eltr keeps.
const KEPT: u64 = 64 * 1024;
/// Peak memory eltr may reach while a tap floods it; reading the line whole took more than
/// `FLOOD`.
const MAX_RSS: u64 = 100 << 20;

/// Runs `eltr ARGS` in the project (environment: `PATH` and `HOME` only) to its end; returns
/// what it did and its peak resident memory in bytes.
#[expect(
    clippy::zombie_processes,
    reason = "the child is reaped with wait4, which also reports its memory"
)]
fn eltr_measured(p: &TempProject, args: &[&str]) -> (Run, u64) {
    let mut cmd = Command::new(eltr_bin());
    cmd.current_dir(&p.dir)
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for keep in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(keep) {
            cmd.env(keep, v);
        }
    }
    let mut child = cmd.spawn().expect("start eltr");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let mut err = Vec::new();
    let _ = stderr.read_to_end(&mut err);
    let out = out.join().expect("stdout reader");
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 on the pid of a child this test started and has not reaped.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "wait4: {e}");
    }
    let run = Run {
        status: std::os::unix::process::ExitStatusExt::from_raw(status),
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        command: format!("(cd {} && eltr {})", p.dir.display(), args.join(" ")),
    };
    // Linux reports ru_maxrss in KiB.
    (run, usage.ru_maxrss as u64 * 1024)
}

#[track_caller]
fn assert_rss_bounded(r: &Run, rss: u64) {
    assert!(
        rss < MAX_RSS,
        "`{}` peaked at {} MiB of memory (limit {} MiB)",
        r.command,
        rss >> 20,
        MAX_RSS >> 20
    );
}

/// The marker eltr puts where it cut the flooding line.
fn cut_marker() -> String {
    format!("… [cut: {} bytes]", FLOOD - KEPT)
}

#[test]
fn stderr_flood_without_a_newline_keeps_memory_flat_and_marks_the_cut() {
    let p = project("safety-streams");
    let (r, rss) = eltr_measured(&p, &["run", "tap-flood", "target-y"]);
    r.success()
        .stderr_has(&cut_marker())
        // The lines after the flood are logged as usual.
        .stderr_has("tap: emitted 3 records");
    assert_rss_bounded(&r, rss);
    assert_eq!(output_ids(&p, "items"), vec![1, 2, 3]);
    let flood_lines = r.stderr.lines().filter(|l| l.contains("xxxxxxxx")).count();
    assert_eq!(
        flood_lines,
        1,
        "one cut line; stderr has {} bytes",
        r.stderr.len()
    );
    assert!(
        (r.stderr.len() as u64) < 4 * KEPT,
        "eltr printed {} bytes of stderr for one cut line",
        r.stderr.len()
    );
}

#[test]
fn discovery_stderr_flood_keeps_memory_flat_and_its_tail_shows_the_cut() {
    let p = project("safety-streams");
    let (r, rss) = eltr_measured(&p, &["run", "tap-flood-discovery", "target-y"]);
    r.failure()
        .stderr_has("discovery failed")
        .stderr_has(&cut_marker());
    assert_rss_bounded(&r, rss);
    assert!(
        (r.stderr.len() as u64) < 4 * KEPT,
        "the error printed {} bytes",
        r.stderr.len()
    );
}

#[test]
fn a_state_of_megabytes_is_read_whole_and_stored() {
    let p = project("safety-streams");
    eltr(&p.dir, ["run", "tap-big-state", "target-y"], &[]).success();
    let doc = stored_json(&p, "dev:tap-big-state-to-target-y");
    let padding = doc
        .pointer("/completed/singer_state/padding")
        .and_then(|v| v.as_str())
        .expect("the padding of the state is stored");
    assert_eq!(padding.len(), 3_000_000);
}

#[test]
fn a_state_beyond_the_limit_fails_the_run_naming_it_instead_of_losing_it_silently() {
    let p = project("safety-streams");
    let r = eltr(&p.dir, ["run", "tap-huge-state", "target-y"], &[]);
    assert_eq!(r.status.code(), Some(1), "stderr:\n{}", r.stderr);
    r.stderr_has("loader 'target-y' printed a state of")
        .stderr_has("more than the 64 MiB eltr reads; that state was not saved");
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert!(
        !state_path(&p, "dev:tap-huge-state-to-target-y").exists(),
        "no state may be stored from a state that was not read"
    );
    // The records themselves went through.
    assert_eq!(output_ids(&p, "items"), vec![1, 2, 3]);
}
