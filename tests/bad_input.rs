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
/// Ceiling for reading a project file of several MB: about 3 s in a debug build on a busy
/// 2-core machine (it is the size, not a hang, that takes the time).
const HUGE: Duration = Duration::from_secs(20);
/// Ceiling for a run of the Singer fixtures.
const LIMIT: Duration = Duration::from_secs(60);

/// Runs `eltr ARGS` in `dir`, killed (and the test failed) after `limit`.
#[track_caller]
fn eltr_in(dir: &Path, args: &[&str], vars: &[(&str, &str)], limit: Duration) -> Run {
    spawn_eltr(dir, args, vars).finish(limit)
}

/// How the run crashed, if it did: died of a signal, exited 101 (Rust's exit code for a
/// panic), or printed a panic or a Rust backtrace.
fn crash_of(r: &Run) -> Option<String> {
    let Some(code) = r.status.code() else {
        return Some(format!("died of a signal ({})", r.status));
    };
    if code == 101 {
        return Some("exited 101 (a panic)".into());
    }
    ["panicked", "RUST_BACKTRACE", "stack backtrace"]
        .into_iter()
        .find(|bad| r.stderr.contains(bad))
        .map(|bad| format!("printed {bad:?}"))
}

/// Whatever the input: exited on its own (no signal), no panic, no Rust backtrace.
#[track_caller]
fn assert_no_crash(r: &Run) {
    if let Some(crash) = crash_of(r) {
        panic!("`{}` {crash}; stderr:\n{}", r.command, r.stderr);
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

/// What is wrong with how eltr treats one malformed project, if anything: `eltr compile` and
/// `eltr run --dry-run` must both fail (exit 1, no crash, quickly) with one `error:` line
/// naming `file` (relative to the project) at `at` and containing `says`, each within `limit`.
fn project_problems(
    p: &TempProject,
    file: &str,
    at: At,
    says: &str,
    limit: Duration,
) -> Vec<String> {
    let mut problems = Vec::new();
    for args in [
        &["compile", "--print"][..],
        &["run", "--dry-run", "tap-a", "target-b"][..],
    ] {
        let started = Instant::now();
        let r = eltr_in(&p.dir, args, &[], limit);
        let took = started.elapsed();
        let mut problem = |what: String| {
            problems.push(format!("`{}`: {what}; stderr:\n{}", r.command, r.stderr));
        };
        if let Some(crash) = crash_of(&r) {
            problem(crash);
            continue;
        }
        if let At::Accepted = at {
            if args[0] == "compile" && !r.status.success() {
                problem(format!("must load, exited {}", r.status));
            }
            if !r.stderr.contains(says) {
                problem(format!("must say {says:?}"));
            }
            continue;
        }
        if r.status.code() != Some(1) {
            problem(format!("must exit 1, exited {}", r.status));
        }
        if took >= limit {
            problem(format!("took {took:?} to reject bad input"));
        }
        let errors = r.error_lines();
        let [line] = errors[..] else {
            problem(format!("{} `error:` lines, expected one", errors.len()));
            continue;
        };
        let path = p.dir.join(file).display().to_string();
        let place = match at {
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
        if let Some(want) = place {
            problem(format!("the error must name {want}: {line}"));
        }
        if !line.contains(says) {
            problem(format!("the error must say {says:?}: {line}"));
        }
        if line.len() >= 600 {
            problem(format!("the error is too long: {line}"));
        }
    }
    problems
}

/// Asserts [`project_problems`] finds nothing, each command done within [`QUICK`].
#[track_caller]
fn check_project(p: &TempProject, file: &str, at: At, says: &str) {
    check_project_within(p, file, at, says, QUICK);
}

#[track_caller]
fn check_project_within(p: &TempProject, file: &str, at: At, says: &str, limit: Duration) {
    let problems = project_problems(p, file, at, says, limit);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// One malformed project, `tests/fixtures/bad-input/yaml/<dir>/`: the behaviour it shows, the
/// file the error must name, where, and what the error must say.
struct Case {
    behaviour: &'static str,
    dir: &'static str,
    file: &'static str,
    at: At,
    says: &'static str,
}

const fn case(
    behaviour: &'static str,
    dir: &'static str,
    file: &'static str,
    at: At,
    says: &'static str,
) -> Case {
    Case {
        behaviour,
        dir,
        file,
        at,
        says,
    }
}

#[rustfmt::skip]
const PROJECT_CASES: &[Case] = &[
    case("yaml syntax unclosed flow", "syntax-unclosed-flow", "meltano.yml", At::LineCol(6, 10), "did not find expected ',' or ']'"),
    case("yaml syntax bad indentation", "syntax-bad-indentation", "meltano.yml", At::LineCol(5, 12), "mapping values are not allowed"),
    case("yaml syntax undefined alias", "syntax-undefined-alias", "meltano.yml", At::LineCol(5, 13), "unknown anchor"),
    case("yaml tab indentation", "tabs-indentation", "meltano.yml", At::LineCol(3, 1), "found character that cannot start any token"),
    case("yaml tab in a plugin", "tabs-in-plugin", "meltano.yml", At::LineCol(5, 3), "tab character"),
    case("type plugins integer", "type-plugins-integer", "meltano.yml", At::LineCol(2, 10), "plugins: invalid type: integer `3`, expected a map"),
    case("type extractors string", "type-extractors-string", "meltano.yml", At::LineCol(3, 15), "plugins.extractors: invalid type: string"),
    case("type job tasks integer", "type-job-tasks-integer", "meltano.yml", At::LineCol(4, 10), "jobs[0].tasks: invalid type"),
    case("type environment name list", "type-environment-name-list", "meltano.yml", At::LineCol(3, 9), "environments[0].name: invalid type"),
    case("type include paths integer", "type-include-paths-integer", "meltano.yml", At::LineCol(2, 16), "include_paths: invalid type"),
    case("type root is a list", "type-root-is-a-list", "meltano.yml", At::LineCol(1, 1), "invalid type: sequence"),
    case("type plugin entry null", "type-plugin-entry-null", "meltano.yml", At::LineCol(4, 5), "plugins.extractors[0]: invalid type"),
    case("type plugin config list", "type-plugin-config-list", "meltano.yml", At::LineCol(5, 13), "plugins.extractors[0].config: invalid type: sequence"),
    case("missing plugin name", "missing-plugin-name", "meltano.yml", At::LineCol(4, 5), "missing field `name`"),
    case("unknown plugin type", "unknown-plugin-type", "meltano.yml", At::Line(5), "unknown plugin type 'widgets'"),
    case("duplicate key top level", "duplicate-key-top-level", "meltano.yml", At::SomeLine, "duplicate entry with key \"version\""),
    case("duplicate key in a plugin", "duplicate-key-in-plugin", "meltano.yml", At::SomeLine, "duplicate entry with key \"name\""),
    case("duplicate key in a plugin config", "duplicate-key-in-config", "meltano.yml", At::SomeLine, "duplicate"),
    case("non utf8 bytes", "non-utf8", "meltano.yml", At::LineCol(2, 16), "not valid UTF-8"),
    case("nul byte", "nul-byte", "meltano.yml", At::Line(2), "control characters are not allowed"),
    case("multiple documents", "multiple-documents", "meltano.yml", At::SomeLine, "more than one document"),
    // The YAML library stops an alias bomb without saying where: the file is named.
    case("alias bomb is refused", "alias-bomb", "meltano.yml", At::File, "repetition limit exceeded"),
    case("unknown default environment", "unknown-default-environment", "meltano.yml", At::File, "'prod'"),
    case("include of itself is ignored", "include-self", "meltano.yml", At::Accepted, ""),
    case("include paths in an included file are ignored with a warning", "include-recursive", "pipelines/loop.yml", At::Accepted, "include_paths is only read from the root file"),
    case("include with a syntax error", "include-syntax-error", "plugins/broken.yml", At::LineCol(5, 1), "did not find expected ',' or '}'"),
    case("include with non utf8 bytes", "include-non-utf8", "plugins/latin1.yml", At::LineCol(3, 15), "not valid UTF-8"),
    case("include of a binary file", "include-binary", "data/program.yml", At::LineCol(1, 25), "not valid UTF-8"),
    case("include with a bad glob", "include-bad-glob", "meltano.yml", At::File, "is not a valid glob"),
    case("include defining a plugin twice", "include-duplicate-plugin", "plugins/again.yml", At::File, "extractor 'tap-a' is defined twice"),
    case("empty project file is an empty project", "empty-file", "meltano.yml", At::Accepted, ""),
];

/// Every fixture folder has a case, and every case, run through `compile` and
/// `run --dry-run`, fails as its row says (or loads, for the accepted ones). The problems of
/// all cases are reported together.
#[test]
fn every_bad_project_fixture_fails_as_its_case_says() {
    let dir = common::fixture_source("bad-input/yaml");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut listed: Vec<String> = PROJECT_CASES.iter().map(|c| c.dir.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed, "fixture folders and PROJECT_CASES differ");

    let failed: Vec<String> = PROJECT_CASES
        .iter()
        .filter_map(|c| {
            let p = fixture(&format!("bad-input/yaml/{}", c.dir));
            let problems = project_problems(&p, c.file, c.at, c.says, QUICK);
            (!problems.is_empty())
                .then(|| format!("{} ({}):\n{}", c.behaviour, c.dir, problems.join("\n")))
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} cases:\n\n{}",
        failed.len(),
        PROJECT_CASES.len(),
        failed.join("\n\n")
    );
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
    check_project_within(
        &p,
        "meltano.yml",
        At::Line(lines + 1),
        "did not find expected",
        HUGE,
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
    let r = eltr_in(&p.dir, &["compile", "--print"], &[], Duration::from_secs(3));
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

/// `**` over a symlink that points back up must terminate: with an error naming the loop (a
/// folder under `include_paths` that cannot be read is an error, never silently skipped).
#[test]
fn include_glob_over_a_symlink_loop_terminates() {
    let p = project_with(
        b"version: 1\ninclude_paths:\n- ./sub/**/*.yml\nplugins:\n  extractors:\n  - name: tap-a\n",
    );
    std::fs::create_dir_all(p.path("sub")).unwrap();
    std::os::unix::fs::symlink("..", p.path("sub/loop")).unwrap();
    check_project(&p, "sub/loop", At::File, "a symbolic link loop");
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

/// What a run over bad tap output must end with, and the lines of its log that say what was
/// wrong with the bad line.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// Exit 0 with the last bookmark (2).
    Ok(&'static [&'static str]),
    /// Exit 1 naming the loader (which exits 2), bookmark 1 kept.
    LoaderFails(&'static [&'static str]),
}

/// `target-y` fails on a line that is not a JSON object; `target-lenient` skips it.
fn check_tap_lines(name: &str, bad: &[u8], strict: Outcome, lenient: Outcome) {
    let sp = SingerProject::new();
    for (target, want) in [("target-y", strict), ("target-lenient", lenient)] {
        let r = sp.run("tap-lines", target, &tap_output(bad), &[]);
        let stored = sp.stored("tap-lines", target);
        let what = format!("{name} → {target}");
        let says = match want {
            Outcome::Ok(says) => {
                assert!(
                    r.status.success(),
                    "{what}: must succeed; stderr:\n{}",
                    r.stderr
                );
                assert_eq!(stored, Some(support::meltano_doc("items", 2)), "{what}");
                says
            }
            Outcome::LoaderFails(says) => {
                assert_eq!(r.status.code(), Some(1), "{what}: stderr:\n{}", r.stderr);
                r.stderr_has(&format!("loader '{target}' failed with exit code 2"));
                assert_eq!(stored, Some(support::meltano_doc("items", 1)), "{what}");
                says
            }
        };
        for needle in says {
            assert!(
                r.stderr.contains(needle),
                "{what}: the log does not say {needle:?}:\n{}",
                r.stderr
            );
        }
    }
}

/// eltr's own warning about lines on the pipe that are not JSON at all.
const NOT_JSON: &str = "1 lines on the pipe were not JSON";

#[test]
fn tap_sends_invalid_json() {
    check_tap_lines(
        "invalid JSON",
        b"{\"type\": \"RECORD\", \"stream\": \"items\", \"record\": {\"id\": 3\n",
        Outcome::LoaderFails(&["invalid JSON line: {\"type\": \"RECORD\""]),
        Outcome::Ok(&["skipping invalid JSON line: {\"type\": \"RECORD\""]),
    );
}

#[test]
fn tap_sends_a_state_without_value() {
    let says = &["fatal: STATE message without value"][..];
    check_tap_lines(
        "STATE without value",
        b"{\"type\":\"STATE\"}\n",
        Outcome::LoaderFails(says),
        Outcome::LoaderFails(says),
    );
}

#[test]
fn tap_sends_a_state_whose_value_is_not_an_object() {
    check_tap_lines(
        "STATE value [1,2]",
        b"{\"type\":\"STATE\",\"value\":[1,2]}\n",
        Outcome::Ok(&[
            "target-y printed a line on stdout that is not a JSON state; ignored: [1,2]",
        ]),
        Outcome::Ok(&[
            "target-lenient printed a line on stdout that is not a JSON state; ignored: [1,2]",
        ]),
    );
}

#[test]
fn tap_sends_binary_garbage() {
    let mut bad: Vec<u8> = (0u16..600).map(|i| (i * 37 % 251) as u8).collect();
    bad.retain(|&b| b != b'\n');
    bad.push(b'\n');
    check_tap_lines(
        "binary garbage",
        &bad,
        Outcome::LoaderFails(&["invalid JSON line: ", NOT_JSON]),
        Outcome::Ok(&["skipping invalid JSON line: ", NOT_JSON]),
    );
}

#[test]
fn tap_sends_a_nul_byte_line() {
    check_tap_lines(
        "NUL line",
        b"\0\n",
        Outcome::LoaderFails(&["invalid JSON line: ", NOT_JSON]),
        Outcome::Ok(&["skipping invalid JSON line: ", NOT_JSON]),
    );
}

#[test]
fn tap_sends_a_twenty_megabyte_garbage_line() {
    let mut bad = vec![b'x'; 20 << 20];
    bad.push(b'\n');
    check_tap_lines(
        "20 MB garbage line",
        &bad,
        Outcome::LoaderFails(&["invalid JSON line: xxxxxxxx", NOT_JSON]),
        Outcome::Ok(&["skipping invalid JSON line: xxxxxxxx", NOT_JSON]),
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

/// The Singer scanner on the fuzz corpus' shapes: never a panic, and the kind it tells where
/// one is certain (`None`: a line cut short, where the scanner may guess either way; the
/// line's full parse decides).
#[test]
fn fuzz_singer_scan_on_odd_lines() {
    use eltr::singer::scan::{Kind, scan};
    let cases: [(&[u8], Option<Kind>); 12] = [
        (b"", Some(Kind::NotJson)),
        (b"{", None),
        (b"{\"", None),
        (b"{\"type\"", None),
        (b"{\"type\":", None),
        (b"{\"type\":\"REC", None),
        (b"{\"type\":\"RECORD\",\"stream\":", None),
        (b"{\"type\":\"RECORD\",\"stream\":\"a\\", None),
        (b"{\"stream\":\"a\",\"type\":\"STATE\"", Some(Kind::State)),
        // A `type` inside a nested object is not the message's type.
        (b"{\"a\":{\"type\":\"RECORD\"}}", Some(Kind::Other)),
        (b"\xff\xfe{", Some(Kind::NotJson)),
        (b" \t{\"type\":\"SCHEMA\"}", Some(Kind::Schema)),
    ];
    let mut wrong = Vec::new();
    for (line, want) in cases {
        let got = scan(line).kind;
        if want.is_some_and(|want| got != want) {
            wrong.push(format!(
                "{:?}: {got:?}, expected {want:?}",
                String::from_utf8_lossy(line)
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
