//! Bad input never makes eltr panic, hang or store a state nobody confirmed (DESIGN.md §6):
//!
//! * Malformed project files (`tests/fixtures/bad-input/yaml/<case>/`, plus a few generated
//!   here: a file of several MB, deep nesting, a FIFO, a symlink loop, a bad `.env`): each
//!   must fail with one `error:` line naming the file, and `file:LINE:COL` where YAML knows the
//!   place; exit 1, never a panic or a signal, and quickly.
//! * Malformed Singer lines from the tap (`tests/fixtures/bad-input/singer`, `tap-lines`) and
//!   on the target's stdout (`target-lines`): a clear failure naming the plugin, or a logged
//!   warning; never a panic, and the stored state is always one the target emitted, as it
//!   emitted it.
//! * Regression tests for what `scripts/fuzz.sh` found (`fuzz/`).

mod common;
#[path = "common/run.rs"]
mod support;

use common::{Run, TempProject, fixture};
use serde_json::Value;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::{files_under, spawn_eltr};

/// Ceiling for one eltr command on bad input: rejecting a file takes milliseconds.
const QUICK: Duration = Duration::from_secs(5);
/// Ceiling for a run of the Singer fixtures.
const LIMIT: Duration = Duration::from_secs(60);

/// Runs `eltr ARGS` in `dir`, killed (and the test failed) after `limit`.
#[track_caller]
fn eltr_in(dir: &Path, args: &[&str], vars: &[(&str, &str)], limit: Duration) -> Run {
    spawn_eltr(dir, args, vars).finish(limit)
}

/// Whatever the input: exited on its own (no signal), no panic, no Rust backtrace.
#[track_caller]
fn assert_no_crash(r: &Run) {
    assert!(
        r.status.code().is_some(),
        "`{}` died of a signal ({}); stderr:\n{}",
        r.command,
        r.status,
        r.stderr
    );
    for bad in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        assert!(
            !r.stderr.contains(bad),
            "`{}` printed {bad:?}; stderr:\n{}",
            r.command,
            r.stderr
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Project files
// ---------------------------------------------------------------------------------------------

/// Where the error must point.
#[derive(Debug, Clone, Copy)]
enum At {
    /// `file:LINE:COL: `
    LineCol(usize, usize),
    /// `file:LINE:` (any column)
    Line(usize),
    /// `file:N:M: ` for some line and column (the YAML library reports the enclosing
    /// mapping, not the exact key).
    SomeLine,
    /// The file is named; no line (not a YAML-level error).
    File,
    /// Not an error: loaded, with `says` in stderr when it is not empty.
    Accepted,
}

/// Checks one malformed project: `eltr compile` and `eltr run --dry-run` both fail with one
/// `error:` line naming `file` (relative to the project) at `at` and containing `says`.
#[track_caller]
fn check_project(p: &TempProject, file: &str, at: At, says: &str) {
    for args in [
        &["compile"][..],
        &["run", "--dry-run", "tap-a", "target-b"][..],
    ] {
        let started = Instant::now();
        let r = eltr_in(&p.dir, args, &[], QUICK);
        let took = started.elapsed();
        assert_no_crash(&r);
        if let At::Accepted = at {
            if args[0] == "compile" {
                r.success();
            }
            if !says.is_empty() {
                r.stderr_has(says);
            }
            continue;
        }
        assert_eq!(
            r.status.code(),
            Some(1),
            "`{}` must fail; stdout:\n{}\nstderr:\n{}",
            r.command,
            r.stdout,
            r.stderr
        );
        let errors: Vec<&str> = r
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect();
        assert_eq!(errors.len(), 1, "one `error:` line expected:\n{}", r.stderr);
        let line = errors[0];
        let path = p.dir.join(file).display().to_string();
        let problem = match at {
            At::LineCol(l, c) => (!line.contains(&format!("{path}:{l}:{c}: ")))
                .then(|| format!("`{path}:{l}:{c}: `")),
            At::Line(l) => {
                (!line.contains(&format!("{path}:{l}:"))).then(|| format!("`{path}:{l}:`"))
            }
            At::SomeLine => {
                let rest = line.split(&format!("{path}:")).nth(1).unwrap_or("");
                let mut parts = rest.splitn(3, ':');
                let numeric = |s: Option<&str>| {
                    s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                };
                (!(numeric(parts.next()) && numeric(parts.next())))
                    .then(|| format!("`{path}:LINE:COL`"))
            }
            At::File => (!line.contains(&path)).then(|| format!("the file {path}")),
            At::Accepted => unreachable!(),
        };
        if let Some(want) = problem {
            panic!("the error must name {want}: {line}");
        }
        assert!(line.contains(says), "the error must say {says:?}: {line}");
        assert!(line.len() < 600, "the error is too long: {line}");
        assert!(
            took < QUICK,
            "`{}` took {took:?} to reject bad input",
            r.command
        );
    }
}

/// Generates one test per malformed project under `tests/fixtures/bad-input/yaml/`.
macro_rules! project_cases {
    ($($name:ident: $dir:literal, $file:literal, $at:expr, $says:literal;)*) => {
        /// Every case folder, to check none is left untested.
        const PROJECT_CASES: &[&str] = &[$($dir),*];
        $(
            #[test]
            fn $name() {
                let p = fixture(concat!("bad-input/yaml/", $dir));
                check_project(&p, $file, $at, $says);
            }
        )*
    };
}

project_cases! {
    yaml_syntax_unclosed_flow: "syntax-unclosed-flow", "meltano.yml", At::LineCol(6, 10), "did not find expected ',' or ']'";
    yaml_syntax_bad_indentation: "syntax-bad-indentation", "meltano.yml", At::LineCol(5, 12), "mapping values are not allowed";
    yaml_syntax_undefined_alias: "syntax-undefined-alias", "meltano.yml", At::LineCol(5, 13), "unknown anchor";
    yaml_tab_indentation: "tabs-indentation", "meltano.yml", At::LineCol(3, 1), "found character that cannot start any token";
    yaml_tab_in_a_plugin: "tabs-in-plugin", "meltano.yml", At::LineCol(5, 3), "tab character";
    type_plugins_integer: "type-plugins-integer", "meltano.yml", At::LineCol(2, 10), "plugins: invalid type: integer `3`, expected a map";
    type_extractors_string: "type-extractors-string", "meltano.yml", At::LineCol(3, 15), "plugins.extractors: invalid type: string";
    type_job_tasks_integer: "type-job-tasks-integer", "meltano.yml", At::LineCol(4, 10), "jobs[0].tasks: invalid type";
    type_environment_name_list: "type-environment-name-list", "meltano.yml", At::LineCol(3, 9), "environments[0].name: invalid type";
    type_include_paths_integer: "type-include-paths-integer", "meltano.yml", At::LineCol(2, 16), "include_paths: invalid type";
    type_root_is_a_list: "type-root-is-a-list", "meltano.yml", At::LineCol(1, 1), "invalid type: sequence";
    type_plugin_entry_null: "type-plugin-entry-null", "meltano.yml", At::LineCol(4, 5), "plugins.extractors[0]: invalid type";
    type_plugin_config_list: "type-plugin-config-list", "meltano.yml", At::LineCol(5, 13), "plugins.extractors[0].config: invalid type: sequence";
    missing_plugin_name: "missing-plugin-name", "meltano.yml", At::LineCol(4, 5), "missing field `name`";
    unknown_plugin_type: "unknown-plugin-type", "meltano.yml", At::Line(5), "unknown plugin type 'widgets'";
    duplicate_key_top_level: "duplicate-key-top-level", "meltano.yml", At::SomeLine, "duplicate entry with key \"version\"";
    duplicate_key_in_a_plugin: "duplicate-key-in-plugin", "meltano.yml", At::SomeLine, "duplicate entry with key \"name\"";
    duplicate_key_in_a_plugin_config: "duplicate-key-in-config", "meltano.yml", At::SomeLine, "duplicate";
    non_utf8_bytes: "non-utf8", "meltano.yml", At::LineCol(2, 16), "not valid UTF-8";
    nul_byte: "nul-byte", "meltano.yml", At::Line(2), "control characters are not allowed";
    multiple_documents: "multiple-documents", "meltano.yml", At::SomeLine, "more than one document";
    // The YAML library stops an alias bomb without saying where: the file is named.
    alias_bomb_is_refused: "alias-bomb", "meltano.yml", At::File, "repetition limit exceeded";
    unknown_default_environment: "unknown-default-environment", "meltano.yml", At::File, "'prod'";
    include_of_itself_is_ignored: "include-self", "meltano.yml", At::Accepted, "";
    include_paths_in_an_included_file_are_ignored_with_a_warning: "include-recursive", "pipelines/loop.yml", At::Accepted, "include_paths is only read from the root file";
    include_with_a_syntax_error: "include-syntax-error", "plugins/broken.yml", At::LineCol(5, 1), "did not find expected ',' or '}'";
    include_with_non_utf8_bytes: "include-non-utf8", "plugins/latin1.yml", At::LineCol(3, 15), "not valid UTF-8";
    include_of_a_binary_file: "include-binary", "data/program.yml", At::LineCol(1, 25), "not valid UTF-8";
    include_with_a_bad_glob: "include-bad-glob", "meltano.yml", At::File, "is not a valid glob";
    include_defining_a_plugin_twice: "include-duplicate-plugin", "plugins/again.yml", At::File, "extractor 'tap-a' is defined twice";
    empty_project_file_is_an_empty_project: "empty-file", "meltano.yml", At::Accepted, "";
}

#[test]
fn every_bad_project_fixture_has_a_test() {
    let dir = common::fixture_source("bad-input/yaml");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut listed: Vec<String> = PROJECT_CASES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed, "fixtures and project_cases! differ");
}

/// An empty project in a temporary folder, with `meltano.yml` holding `text`.
fn project_with(text: &[u8]) -> TempProject {
    let p = fixture("bad-input/yaml/empty-file");
    std::fs::write(p.path("meltano.yml"), text).unwrap();
    p
}

/// A few MB of valid plugins with a syntax error on the last line: found, and named by its
/// line, in seconds.
#[test]
fn huge_project_file_error_names_its_last_line() {
    let mut text = String::from("version: 1\nplugins:\n  extractors:\n");
    let n = 40_000;
    for i in 0..n {
        text.push_str(&format!(
            "  - name: tap-{i}\n    config: {{host: db-{i}.example.com, port: {i}, user: loader}}\n"
        ));
    }
    text.push_str("  - name: broken\n    config: {a: [1, 2\n");
    assert!(text.len() > 3_000_000, "{} bytes", text.len());
    let p = project_with(text.as_bytes());
    let lines = 3 + 2 * n + 2;
    check_project(
        &p,
        "meltano.yml",
        At::Line(lines + 1),
        "did not find expected",
    );
}

/// Deeply nested flow collections: the YAML library stops at its recursion limit, but eltr
/// must also get there quickly (a project file is read by every command).
#[test]
fn deeply_nested_project_file_is_rejected_quickly() {
    let depth = 50_000;
    let text = format!(
        "version: 1\nenv: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let p = project_with(text.as_bytes());
    let started = Instant::now();
    let r = eltr_in(&p.dir, &["compile"], &[], Duration::from_secs(3));
    assert_no_crash(&r);
    r.failure();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

/// `{a: {a: …}}` 10 000 deep: a clear error, no stack overflow.
#[test]
fn deeply_nested_mappings_hit_the_recursion_limit() {
    let depth = 10_000;
    let text = format!(
        "version: 1\nx: {}1{}\n",
        "{a: ".repeat(depth),
        "}".repeat(depth)
    );
    let p = project_with(text.as_bytes());
    // eltr refuses absurd nesting itself, before the YAML library's recursion limit.
    check_project(
        &p,
        "meltano.yml",
        At::SomeLine,
        "nested more than 256 levels deep",
    );
}

/// A FIFO matched by `include_paths` must not block eltr (reading it would wait forever).
#[test]
fn include_of_a_fifo_fails_without_blocking() {
    let p = project_with(b"version: 1\ninclude_paths:\n- ./plugins/*.yml\n");
    std::fs::create_dir_all(p.path("plugins")).unwrap();
    let fifo = p.path("plugins/pipe.yml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) on a path in the test's own temporary folder.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    check_project(&p, "meltano.yml", At::File, "not a regular file");
}

/// An included symlink to a device outside the project is refused, never read.
#[test]
fn include_of_a_symlink_to_dev_zero_is_refused() {
    let p = project_with(b"version: 1\ninclude_paths:\n- ./plugins/*.yml\n");
    std::fs::create_dir_all(p.path("plugins")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", p.path("plugins/zero.yml")).unwrap();
    check_project(&p, "meltano.yml", At::File, "outside the project root");
}

/// `**` over a symlink that points back up must terminate.
#[test]
fn include_glob_over_a_symlink_loop_terminates() {
    let p = project_with(
        b"version: 1\ninclude_paths:\n- ./sub/**/*.yml\nplugins:\n  extractors:\n  - name: tap-a\n",
    );
    std::fs::create_dir_all(p.path("sub")).unwrap();
    std::os::unix::fs::symlink("..", p.path("sub/loop")).unwrap();
    check_project(&p, "meltano.yml", At::Accepted, "");
}

/// A `.env` with bytes that are not UTF-8 (written here: `.env` files are git-ignored).
#[test]
fn env_file_with_non_utf8_bytes() {
    let p = project_with(b"version: 1\n");
    std::fs::write(p.path(".env"), b"A=1\nB=caf\xe9\n").unwrap();
    check_project(&p, ".env", At::File, "UTF-8");
}

// ---------------------------------------------------------------------------------------------
// Singer lines
// ---------------------------------------------------------------------------------------------

/// A value no other run uses, for the fixture's sensitive `password`.
fn secret() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!(
        "bad-input-pw-{:x}{:x}-{}",
        t.as_nanos(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The Singer fixture with its placeholders filled in.
struct SingerProject {
    p: TempProject,
    password: String,
}

impl SingerProject {
    fn new() -> SingerProject {
        let p = support::project("bad-input/singer");
        let password = secret();
        let yml = p.path("meltano.yml");
        let text = std::fs::read_to_string(&yml).unwrap();
        std::fs::write(&yml, text.replace("{PASSWORD}", &password)).unwrap();
        SingerProject { p, password }
    }

    /// `eltr run TAP TARGET` with `TAP_LINES` / `TARGET_LINES` pointing at `lines`.
    fn run(&self, tap: &str, target: &str, lines: &[u8], vars: &[(&str, &str)]) -> Run {
        let file = self.p.path("lines.bin");
        std::fs::write(&file, lines).unwrap();
        let file = file.to_str().unwrap().to_string();
        let mut all = vec![
            ("TAP_LINES", file.as_str()),
            ("TARGET_LINES", file.as_str()),
        ];
        all.extend_from_slice(vars);
        let r = eltr_in(&self.p.dir, &["run", tap, target], &all, LIMIT);
        assert_no_crash(&r);
        self.assert_clean(&r);
        r
    }

    /// The stored state document of `tap-to-target`, as text.
    fn stored(&self, tap: &str, target: &str) -> Option<String> {
        std::fs::read_to_string(support::state_path(
            &self.p,
            &format!("dev:{tap}-to-{target}"),
        ))
        .ok()
    }

    /// No secret in the output, the run log or any file of the project but its project file;
    /// no config file left.
    #[track_caller]
    fn assert_clean(&self, r: &Run) {
        for (what, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
            assert!(
                !text.contains(&self.password),
                "the password leaked into {what} of `{}`:\n{text}",
                r.command
            );
        }
        for f in files_under(&self.p.dir) {
            // The project file sets it; lines.bin is the input a test wrote with it.
            if f.ends_with("meltano.yml") || f.ends_with("lines.bin") {
                continue;
            }
            let bytes = std::fs::read(&f).unwrap_or_default();
            assert!(
                !bytes
                    .windows(self.password.len())
                    .any(|w| w == self.password.as_bytes()),
                "the password leaked into {}",
                f.display()
            );
        }
        let run_dir = self.p.path(".eltr/run");
        let left: Vec<_> = files_under(&run_dir)
            .into_iter()
            .filter(|f| f.strip_prefix(&run_dir).unwrap().components().count() > 2)
            .filter(|f| !f.ends_with("owner.pid"))
            .collect();
        assert!(left.is_empty(), "run files left: {left:?}");
    }
}

const SCHEMA: &str = r#"{"type":"SCHEMA","stream":"items","schema":{"type":"object","properties":{"id":{"type":"integer"}}},"key_properties":["id"]}"#;

/// Tap output: a schema, record 1 and its state, then `bad`, then record 2 and its state.
fn tap_output(bad: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in [
        SCHEMA.as_bytes(),
        b"\n",
        br#"{"type":"RECORD","stream":"items","record":{"id":1}}"#,
        b"\n",
        br#"{"type":"STATE","value":{"bookmarks":{"items":{"replication_key_value":1}}}}"#,
        b"\n",
        bad,
        br#"{"type":"RECORD","stream":"items","record":{"id":2}}"#,
        b"\n",
        br#"{"type":"STATE","value":{"bookmarks":{"items":{"replication_key_value":2}}}}"#,
        b"\n",
    ] {
        out.extend_from_slice(part);
    }
    out
}

/// What a run over bad tap output must end with.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// Exit 0 with the last bookmark (2).
    Ok,
    /// Exit 1 naming the loader, bookmark 1 kept.
    LoaderFails,
}

fn check_tap_lines(name: &str, bad: &[u8], strict: Outcome, lenient: Outcome) {
    let sp = SingerProject::new();
    for (target, want) in [("target-y", strict), ("target-lenient", lenient)] {
        let r = sp.run("tap-lines", target, &tap_output(bad), &[]);
        let stored = sp.stored("tap-lines", target);
        let bookmark = |b: u64| Some(support::meltano_doc("items", b));
        match want {
            Outcome::Ok => {
                assert!(
                    r.status.success(),
                    "{name} → {target}: must succeed; stderr:\n{}",
                    r.stderr
                );
                assert_eq!(stored, bookmark(2), "{name} → {target}");
                // Something in the log says what was wrong, unless nothing was.
                let warned = ["not JSON", "skipping invalid JSON line", "not a JSON state"]
                    .iter()
                    .any(|w| r.stderr.contains(w));
                assert!(
                    warned || !bad.contains(&0) && bad.iter().all(|b| b.is_ascii()),
                    "{name} → {target}: no warning about the bad line:\n{}",
                    r.stderr
                );
            }
            Outcome::LoaderFails => {
                assert_eq!(
                    r.status.code(),
                    Some(1),
                    "{name} → {target}: stderr:\n{}",
                    r.stderr
                );
                r.stderr_has(&format!("loader '{target}' failed with exit code 2"));
                assert_eq!(stored, bookmark(1), "{name} → {target}");
            }
        }
    }
}

#[test]
fn tap_sends_invalid_json() {
    check_tap_lines(
        "invalid JSON",
        b"{\"type\": \"RECORD\", \"stream\": \"items\", \"record\": {\"id\": 3\n",
        Outcome::LoaderFails,
        Outcome::Ok,
    );
}

#[test]
fn tap_sends_a_state_without_value() {
    check_tap_lines(
        "STATE without value",
        b"{\"type\":\"STATE\"}\n",
        Outcome::LoaderFails,
        Outcome::LoaderFails,
    );
}

#[test]
fn tap_sends_a_state_whose_value_is_not_an_object() {
    check_tap_lines(
        "STATE value [1,2]",
        b"{\"type\":\"STATE\",\"value\":[1,2]}\n",
        Outcome::Ok,
        Outcome::Ok,
    );
}

#[test]
fn tap_sends_binary_garbage() {
    let mut bad: Vec<u8> = (0u16..600).map(|i| (i * 37 % 251) as u8).collect();
    bad.retain(|&b| b != b'\n');
    bad.push(b'\n');
    check_tap_lines("binary garbage", &bad, Outcome::LoaderFails, Outcome::Ok);
}

#[test]
fn tap_sends_a_nul_byte_line() {
    check_tap_lines("NUL line", b"\0\n", Outcome::LoaderFails, Outcome::Ok);
}

#[test]
fn tap_sends_a_twenty_megabyte_garbage_line() {
    let mut bad = vec![b'x'; 20 << 20];
    bad.push(b'\n');
    check_tap_lines(
        "20 MB garbage line",
        &bad,
        Outcome::LoaderFails,
        Outcome::Ok,
    );
}

#[test]
fn tap_sends_crlf_line_ends_and_no_final_newline() {
    let sp = SingerProject::new();
    let mut out: Vec<u8> = tap_output(b"")
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .flat_map(|l| l.iter().copied().chain(*b"\r\n"))
        .collect();
    out.truncate(out.len() - 2);
    let r = sp.run("tap-lines", "target-y", &out, &[]);
    r.success();
    assert_eq!(
        sp.stored("tap-lines", "target-y"),
        Some(support::meltano_doc("items", 2))
    );
}

/// Target stdout: `{"b":1}`, then `bad`, then (unless `last` is false) `{"b":2}`.
fn target_output(bad: &[u8], last: bool) -> Vec<u8> {
    let mut out = b"{\"b\":1}\n".to_vec();
    out.extend_from_slice(bad);
    if last {
        out.extend_from_slice(b"{\"b\":2}\n");
    }
    out
}

/// Meltano's document for a completed state written as `singer_state_json` (Python separators).
fn doc(singer_state_json: &str) -> String {
    format!(r#"{{"completed": {{"singer_state": {singer_state_json}}}, "partial": {{}}}}"#)
}

/// Runs `tap-x → target-lines` with `lines` on the target's stdout; returns the run and the
/// stored document.
fn target_says(lines: &[u8], vars: &[(&str, &str)]) -> (SingerProject, Run, Option<String>) {
    let sp = SingerProject::new();
    let r = sp.run("tap-x", "target-lines", lines, vars);
    let stored = sp.stored("tap-x", "target-lines");
    (sp, r, stored)
}

#[test]
fn target_prints_garbage_with_a_secret_in_it() {
    let sp = SingerProject::new();
    let bad = format!("connecting with password={}\n", sp.password);
    let r = sp.run(
        "tap-x",
        "target-lines",
        &target_output(bad.as_bytes(), true),
        &[],
    );
    r.success()
        .stderr_has("target-lines printed a line on stdout that is not a JSON state; ignored");
    assert_eq!(sp.stored("tap-x", "target-lines"), Some(doc(r#"{"b": 2}"#)));
}

#[test]
fn target_prints_json_that_is_not_an_object() {
    let (_sp, r, stored) = target_says(
        &target_output(b"[1,2]\n42\n\"text\"\nnull\ntrue\n", true),
        &[],
    );
    r.success();
    assert_eq!(
        r.stderr.matches("is not a JSON state; ignored").count(),
        5,
        "{}",
        r.stderr
    );
    assert_eq!(stored, Some(doc(r#"{"b": 2}"#)));
}

#[test]
fn target_prints_a_twenty_megabyte_garbage_line() {
    let mut bad = vec![b'y'; 20 << 20];
    bad.push(b'\n');
    let (_sp, r, stored) = target_says(&target_output(&bad, true), &[]);
    r.success().stderr_has("not a JSON state; ignored");
    assert!(
        r.stderr.len() < 100_000,
        "the warning must not print the whole line ({} bytes of stderr)",
        r.stderr.len()
    );
    assert_eq!(stored, Some(doc(r#"{"b": 2}"#)));
}

#[test]
fn target_prints_a_two_megabyte_state() {
    let big = "z".repeat(2 << 20);
    let line = format!("{{\"blob\":\"{big}\"}}\n");
    let (_sp, r, stored) = target_says(&target_output(line.as_bytes(), false), &[]);
    r.success();
    assert_eq!(stored, Some(doc(&format!(r#"{{"blob": "{big}"}}"#))));
}

#[test]
fn target_prints_a_deeply_nested_line() {
    let depth = 100_000;
    let line = format!("{}1{}\n", "{\"a\":".repeat(depth), "}".repeat(depth));
    let (_sp, r, stored) = target_says(&target_output(line.as_bytes(), true), &[]);
    r.success().stderr_has("not a JSON state; ignored");
    assert_eq!(stored, Some(doc(r#"{"b": 2}"#)));
}

#[test]
fn target_prints_a_nul_byte_line() {
    let (_sp, r, stored) = target_says(&target_output(b"\0\n", true), &[]);
    r.success().stderr_has("not a JSON state; ignored");
    assert_eq!(stored, Some(doc(r#"{"b": 2}"#)));
}

#[test]
fn target_dies_in_the_middle_of_a_state_line() {
    let (_sp, r, stored) = target_says(
        &target_output(b"{\"b\":2,\"c\":[1,", false),
        &[("TARGET_EXIT", "3")],
    );
    assert_eq!(r.status.code(), Some(1), "stderr:\n{}", r.stderr);
    r.stderr_has("loader 'target-lines' failed with exit code 3");
    assert_eq!(stored, Some(doc(r#"{"b": 1}"#)));
}

#[test]
fn target_prints_an_empty_state_which_changes_nothing() {
    let (_sp, r, stored) = target_says(&target_output(b"{}\n", false), &[]);
    r.success();
    assert_eq!(stored, Some(doc(r#"{"b": 1}"#)));
}

/// JSON text is UTF-8. A state line with other bytes inside a string is not JSON: storing it
/// with the bytes replaced by U+FFFD would store a bookmark the target never emitted.
#[test]
fn target_state_with_bytes_that_are_not_utf8_is_not_stored_altered() {
    let (_sp, r, stored) = target_says(&target_output(b"{\"b\":\"caf\xe9\"}\n", false), &[]);
    assert_no_crash(&r);
    assert_eq!(stored, Some(doc(r#"{"b": 1}"#)), "stderr:\n{}", r.stderr);
}

/// A bookmark is often an integer id. Python (Meltano) keeps integers of any size exactly; a
/// stored state must hold the number the target emitted, not a rounded float.
#[test]
fn target_state_with_integers_beyond_64_bits_is_stored_exactly() {
    let big = "123456789012345678901234567890";
    let negative = "-9223372036854775809";
    let line = format!("{{\"b\":{big},\"c\":{negative}}}\n");
    let (sp, r, stored) = target_says(&target_output(line.as_bytes(), false), &[]);
    r.success();
    assert_eq!(
        stored,
        Some(doc(&format!(r#"{{"b": {big}, "c": {negative}}}"#))),
        "the bookmarks must be stored as the target emitted them"
    );
    // And the tap gets them back unchanged.
    let again = sp.run("tap-x", "target-lines", b"", &[]);
    again.success().stderr_has(&format!("state: {{\"b\":{big}"));
}

// ---------------------------------------------------------------------------------------------
// Regressions found by scripts/fuzz.sh
// ---------------------------------------------------------------------------------------------

/// fuzz/artifacts/singer_scan/crash-62b1659c78f8d1b67c72616e0d1a7924f57b3ae6: a 39-digit
/// number on a state line. What eltr stores (`pyjson::to_string`) must parse back to the value
/// it parsed: the stored state is read again by the next run.
#[test]
fn fuzz_state_numbers_survive_a_store_and_load() {
    let mut changed = Vec::new();
    for text in [
        "555555525555555555555555552555555555555",
        "123456789012345678901234567890",
        "0.30000000000000004",
        "1e308",
        "-2.2250738585072014e-308",
        "18446744073709551616",
    ] {
        let parsed: Value = serde_json::from_str(text).unwrap();
        let stored = eltr::pyjson::to_string(&parsed);
        let back: Value = serde_json::from_str(&stored)
            .unwrap_or_else(|e| panic!("{text}: stored {stored:?} is not JSON: {e}"));
        if back != parsed {
            changed.push(format!(
                "{text}: parsed as {parsed}, stored as {stored}, read back as {back}"
            ));
        }
    }
    assert!(
        changed.is_empty(),
        "numbers changed by a store and load:\n{}",
        changed.join("\n")
    );
}

/// The Singer scanner on the fuzz corpus' shapes: never a panic.
#[test]
fn fuzz_singer_scan_on_odd_lines() {
    use eltr::singer::scan::{Kind, scan};
    for line in [
        &b""[..],
        b"{",
        b"{\"",
        b"{\"type\"",
        b"{\"type\":",
        b"{\"type\":\"REC",
        b"{\"type\":\"RECORD\",\"stream\":",
        b"{\"type\":\"RECORD\",\"stream\":\"a\\",
        b"{\"stream\":\"a\",\"type\":\"STATE\"",
        b"{\"a\":{\"type\":\"RECORD\"}}",
        b"\xff\xfe{",
        b" \t{\"type\":\"SCHEMA\"}",
    ] {
        let s = scan(line);
        if line.starts_with(b"\xff") {
            assert_eq!(s.kind, Kind::NotJson);
        }
    }
}

/// What this file tries, for the record (`-- --nocapture` shows it).
#[test]
fn summary_of_bad_inputs() {
    let generated = 7; // huge, deep x2, FIFO, /dev/zero, symlink loop, .env
    let singer_tap = 6 * 2 + 1;
    let singer_target = 10;
    eprintln!(
        "[bad_input] project files: {} fixtures + {generated} generated; Singer lines: {} from \
         the tap, {} on the target's stdout; fuzz regressions: 2; total {}",
        PROJECT_CASES.len(),
        singer_tap,
        singer_target,
        PROJECT_CASES.len() + generated + singer_tap + singer_target + 2
    );
}
