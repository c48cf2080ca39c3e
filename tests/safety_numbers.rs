//! Numbers and other values users give eltr are checked where they are read (DESIGN.md §7): a
//! NaN, infinite, negative, huge or garbled value is a one-line error that names the setting
//! (and the file and line that set it), never a panic (exit 101). Also: an `inherit_from`
//! chain thousands deep resolves in linear time, and a percent-escape in a store credential
//! that splits a character is an error, not a crash.
//!
//! The run tests use the example Singer programs on `tests/fixtures/safety-numbers`.

mod common;
#[path = "common/run.rs"]
mod support;

use common::{Run, TempProject, eltr};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{output_ids, project};

fn run(p: &TempProject, args: &[&str], vars: &[(&str, &str)]) -> Run {
    eltr(&p.dir, args, vars)
}

/// Asserts eltr ended with `code` and an error on its first stderr line holding every one of
/// `says`, without a panic.
#[track_caller]
fn assert_error(r: &Run, code: i32, says: &[&str]) {
    assert_eq!(
        r.status.code(),
        Some(code),
        "exit code of `{}`; stderr:\n{}",
        r.command,
        r.stderr
    );
    assert!(
        !r.stderr.contains("panicked"),
        "`{}` panicked:\n{}",
        r.command,
        r.stderr
    );
    let first = r.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("error: "),
        "`{}` should start its stderr with the error; stderr:\n{}",
        r.command,
        r.stderr
    );
    for needle in says {
        assert!(
            first.contains(needle),
            "the error of `{}` lacks {needle:?}: {first}",
            r.command
        );
    }
}

/// Appends a top-level block to the project file; returns the 1-based line of its second line.
fn append(p: &TempProject, block: &str) -> usize {
    let path = p.path("meltano.yml");
    let mut text = std::fs::read_to_string(&path).expect("read meltano.yml");
    let second_line = text.lines().count() + 2;
    text.push_str(block);
    std::fs::write(&path, text).expect("write meltano.yml");
    second_line
}

// ---------------------------------------------------------------------------------------------
// run --timeout
// ---------------------------------------------------------------------------------------------

#[test]
fn run_timeout_that_is_not_a_sane_number_is_a_usage_error() {
    let p = project("safety-numbers");
    let cases = [
        ("-1", "expected more than 0 seconds"),
        ("0", "expected more than 0 seconds"),
        ("NaN", "not a finite number"),
        ("inf", "not a finite number"),
        ("-inf", "not a finite number"),
        ("1e400", "not a finite number"),
        ("1e300", "more than a year"),
        ("31536001", "more than a year"),
        ("abc", "not a number of seconds"),
        ("10s", "not a number of seconds"),
    ];
    for (value, says) in cases {
        let flag = format!("--timeout={value}");
        let r = run(&p, &["run", &flag, "tap-x", "target-y"], &[]);
        assert_error(&r, 2, &[&format!("'{value}'"), "--timeout", says]);
    }
    // A negative number given as its own word is the flag's value, not an unknown option.
    let r = run(&p, &["run", "--timeout", "-5", "tap-x", "target-y"], &[]);
    assert_error(&r, 2, &["'-5'", "expected more than 0 seconds"]);
    assert!(!p.path("out").exists(), "nothing may have run");
}

#[test]
fn run_timeout_variables_are_checked_like_the_flag() {
    let p = project("safety-numbers");
    let r = run(
        &p,
        &["run", "tap-x", "target-y"],
        &[("ELTR_RUN_TIMEOUT", "nan")],
    );
    assert_error(&r, 2, &["'nan'", "not a finite number"]);
    // Meltano's variable is read too (Meltano takes whole seconds; fractions work here).
    let r = run(
        &p,
        &["run", "tap-x", "target-y"],
        &[("MELTANO_RUN_TIMEOUT", "-3")],
    );
    assert_error(
        &r,
        1,
        &["MELTANO_RUN_TIMEOUT: '-3': expected more than 0 seconds"],
    );
    assert!(!p.path("out").exists(), "nothing may have run");
}

#[test]
fn a_sane_fractional_timeout_lets_the_run_finish() {
    let p = project("safety-numbers");
    run(&p, &["run", "--timeout", "120.5", "tap-x", "target-y"], &[]).success();
    assert_eq!(output_ids(&p, "items"), vec![1, 2, 3]);
    run(
        &p,
        &["run", "tap-x", "target-y"],
        &[("MELTANO_RUN_TIMEOUT", "300")],
    )
    .success();
}

// ---------------------------------------------------------------------------------------------
// state_backend.lock_timeout_seconds
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_lock_timeout_in_the_project_file_names_its_file_and_line() {
    let cases = [
        ("-5", "state_backend.lock_timeout_seconds: '-5': negative"),
        (
            "'abc'",
            "state_backend.lock_timeout_seconds: 'abc': not a number",
        ),
        ("1e300", "more than a year"),
        (
            ".nan",
            "state_backend.lock_timeout_seconds: .nan is not a finite number",
        ),
        ("-.inf", "-.inf is not a finite number"),
    ];
    for (value, says) in cases {
        let p = project("safety-numbers");
        let line = append(
            &p,
            &format!("state_backend:\n  lock_timeout_seconds: {value}\n"),
        );
        let r = run(&p, &["run", "tap-x", "target-y"], &[]);
        let at = format!("meltano.yml:{line}:3: ");
        assert_error(&r, 1, &[&at, says]);
        assert!(!p.path("out").exists(), "nothing may have run");
    }
}

#[test]
fn bad_lock_timeout_in_a_variable_names_the_variable() {
    let p = project("safety-numbers");
    for (var, value, says) in [
        ("ELTR_STATE_BACKEND_LOCK_TIMEOUT_SECONDS", "-1", "negative"),
        (
            "MELTANO_STATE_BACKEND_LOCK_TIMEOUT_SECONDS",
            "inf",
            "finite",
        ),
    ] {
        let r = run(&p, &["run", "tap-x", "target-y"], &[(var, value)]);
        assert_error(&r, 1, &[&format!("{var}: '{value}': "), says]);
        // `state set` takes the lock too.
        let doc = r#"{"singer_state": {}}"#;
        let r = run(
            &p,
            &["state", "set", "--force", "dev:tap-x-to-target-y", doc],
            &[(var, value)],
        );
        assert_error(&r, 1, &[var, says]);
    }
    assert!(!p.path("out").exists(), "nothing may have run");
}

#[test]
fn a_sane_lock_timeout_is_accepted() {
    let p = project("safety-numbers");
    append(&p, "state_backend:\n  lock_timeout_seconds: 2.5\n");
    run(&p, &["run", "tap-x", "target-y"], &[]).success();
    assert_eq!(output_ids(&p, "items"), vec![1, 2, 3]);
}

// ---------------------------------------------------------------------------------------------
// Other numbers: the kill grace period, install parallelism
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_kill_grace_period_stops_the_run_before_it_starts() {
    let p = project("safety-numbers");
    for (value, says) in [
        ("-1", "negative"),
        ("nan", "finite"),
        ("soon", "not a number"),
    ] {
        let r = run(
            &p,
            &["run", "tap-x", "target-y"],
            &[("ELTR_KILL_GRACE_SECONDS", value)],
        );
        assert_error(
            &r,
            1,
            &[&format!("ELTR_KILL_GRACE_SECONDS: '{value}'"), says],
        );
    }
    assert!(!p.path("out").exists(), "nothing may have run");
}

#[test]
fn install_parallelism_is_a_checked_count() {
    let p = project("safety-numbers");
    for (value, says) in [
        ("0", "expected 1 or more"),
        ("100000000", "more than 1024"),
        ("1.5", "not a whole number"),
    ] {
        let flag = format!("--parallelism={value}");
        let r = run(&p, &["install", &flag], &[]);
        assert_error(&r, 2, &[&format!("'{value}'"), says]);
    }
}

// ---------------------------------------------------------------------------------------------
// Deep inherit_from chains
// ---------------------------------------------------------------------------------------------

/// A project of `depth` extractors, each inheriting from the one before; the first inherits
/// from `first_parent` when given (closing a cycle).
fn chain_project(dir: &Path, depth: usize, first_parent: Option<&str>) {
    let mut text = String::from("version: 1\nplugins:\n  extractors:\n");
    text.push_str("  - name: tap-0\n    namespace: tap_base\n    pip_url: tap-base\n");
    if let Some(parent) = first_parent {
        text.push_str(&format!("    inherit_from: {parent}\n"));
    }
    text.push_str("    config: {a: 1}\n");
    for i in 1..depth {
        text.push_str(&format!(
            "  - name: tap-{i}\n    inherit_from: tap-{}\n",
            i - 1
        ));
        if i == depth / 2 {
            text.push_str("    config: {b: 2}\n");
        }
    }
    std::fs::write(dir.join("meltano.yml"), text).expect("write meltano.yml");
}

/// Far above the time a linear resolution takes even in a debug build on a busy machine, far
/// below what the cubic one took (800 levels: 12 s in release).
const CHAIN_LIMIT: Duration = Duration::from_secs(30);

#[test]
fn a_four_thousand_deep_inherit_from_chain_compiles_quickly() {
    let dir = common::empty_dir();
    chain_project(dir.path(), 4000, None);
    let started = Instant::now();
    let r = eltr(dir.path(), ["compile", "--print"], &[]);
    let took = started.elapsed();
    r.success();
    assert!(took < CHAIN_LIMIT, "compile took {took:?}");
    let doc = r.json();
    let taps = doc["plugins"]["extractors"]
        .as_array()
        .expect("extractors listed");
    assert_eq!(taps.len(), 4000);
    let last = &taps[3999];
    assert_eq!(last["inherit_from"], "tap-3998");
    assert_eq!(last["config"], serde_json::json!({"a": 1, "b": 2}));
    assert_eq!(last["venv"], "tap-0", "the chain shares the root's venv");
    assert_eq!(taps[1000]["config"], serde_json::json!({"a": 1}));

    // One plugin at the end of the chain, alone.
    let started = Instant::now();
    let r = eltr(dir.path(), ["config", "tap-3999"], &[]);
    r.success();
    assert!(started.elapsed() < CHAIN_LIMIT);
    let config: Value = r.json();
    assert_eq!(config, serde_json::json!({"a": 1, "b": 2}));
}

#[test]
fn a_deep_inherit_from_cycle_is_a_clear_error() {
    let dir = common::empty_dir();
    chain_project(dir.path(), 3000, Some("tap-2999"));
    let started = Instant::now();
    let r = eltr(dir.path(), ["compile", "--print"], &[]);
    assert!(started.elapsed() < CHAIN_LIMIT);
    assert_error(
        &r,
        1,
        &[
            "inherit_from cycle: tap-0 -> tap-2999 -> tap-2998 -> ",
            " -> tap-1 -> tap-0",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Percent-escapes in a store credential
// ---------------------------------------------------------------------------------------------

#[test]
fn a_sas_escape_that_splits_a_character_is_an_error_not_a_panic() {
    let p = project("safety-numbers");
    // `%Cé`: the escape's second digit is the first byte of `é` (this panicked); `%C3` alone
    // leaves a character unfinished. Both are checked before any connection is tried.
    let conn = "AccountName=acct;AccountKey=aGVsbG8=;BlobEndpoint=http://127.0.0.1:9/acct;\
                SharedAccessSignature=sv=%Cé&sig=s3cr3t%C3";
    let vars = [
        ("ELTR_STATE_BACKEND_URI", "azure://container/prefix"),
        ("ELTR_STATE_BACKEND_AZURE_CONNECTION_STRING", conn),
    ];
    let r = run(&p, &["state", "list"], &vars);
    assert_error(
        &r,
        1,
        &["azure://container/prefix", "percent-escape in 'sig'"],
    );
    assert!(
        !r.stderr.contains("s3cr3t"),
        "the credential leaked:\n{}",
        r.stderr
    );
}
