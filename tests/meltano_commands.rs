//! Meltano's management commands (issue 14, point 7): `config test`, `test`, `compile`,
//! `job list` and `config print` of a mapping. Where the point is to do what Meltano does, the
//! test runs the reference Meltano 4.4.1 on a copy of the same fixture
//! (`tests/fixtures/compat-manage`) and compares.

mod common;
#[path = "common/meltano.rs"]
mod reference;
#[path = "common/run.rs"]
mod support;

use common::{Run, TempProject, eltr};
use reference::{QUIET, meltano};

/// The fixture copied twice (plugins pointing at the example Singer programs): one copy for
/// Meltano, one for eltr.
struct Pair {
    meltano: TempProject,
    eltr: TempProject,
}

fn pair() -> Pair {
    Pair {
        meltano: support::project("compat-manage"),
        eltr: support::project("compat-manage"),
    }
}

/// The line after "Plugin configuration is invalid" (the reason), with each tool's name for
/// itself written as `TOOL`.
fn invalid_reason(run: &Run) -> Option<String> {
    let mut lines = run.stderr.lines();
    lines.find(|l| l.contains("Plugin configuration is invalid"))?;
    let reason = lines.next()?;
    Some(
        reason
            .replace("'meltano ", "'TOOL ")
            .replace("'eltr ", "'TOOL "),
    )
}

#[test]
fn config_test_verdicts_match_meltanos() {
    let p = pair();
    for plugin in ["tap-ok", "tap-quiet", "tap-crash"] {
        let m = meltano(&p.meltano.dir, &["config", "test", plugin], &[]);
        let e = eltr(&p.eltr.dir, ["config", "test", plugin], &QUIET);
        assert_eq!(
            e.code(),
            m.code(),
            "{}\n{}\n{}",
            e.command,
            e.stderr,
            m.stderr
        );
        assert_eq!(e.stdout, m.stdout, "{}", e.command);
        assert_eq!(invalid_reason(&e), invalid_reason(&m), "{}", e.command);
    }
    // The values both agreed on, so a change in both tools would still show.
    let ok = eltr(&p.eltr.dir, ["config", "test", "tap-ok"], &QUIET);
    assert_eq!(ok.success().stdout, "Plugin configuration is valid\n");
    let crash = eltr(&p.eltr.dir, ["config", "tap-crash", "test"], &QUIET);
    assert_eq!(
        invalid_reason(crash.failure()).as_deref(),
        Some("fatal: simulated crash")
    );
    let quiet = eltr(&p.eltr.dir, ["config", "test", "tap-quiet"], &QUIET);
    assert!(
        invalid_reason(&quiet)
            .unwrap()
            .starts_with("No RECORD or BATCH message received")
    );
}

#[test]
fn config_test_of_a_plugin_meltano_cannot_test_fails_as_in_meltano() {
    let p = pair();
    for (plugin, message) in [
        ("mapper-m", "Operation not supported for mapper 'mapper-m'"),
        (
            "orders-enrich",
            "Operation not supported for mapper 'mapper-m'",
        ),
        ("checker", "Operation not supported for utility 'checker'"),
        (
            "meltano",
            "Testing of the Meltano project configuration is not supported",
        ),
    ] {
        meltano(&p.meltano.dir, &["config", "test", plugin], &[])
            .failure()
            .stderr_has(message);
        eltr(&p.eltr.dir, ["config", "test", plugin], &QUIET).clean_error(&[message]);
    }
}

#[test]
fn config_test_kills_a_tap_that_ignores_sigterm_once_it_sent_a_record() {
    let p = support::project("compat-manage");
    let grace = [("ELTR_KILL_GRACE_SECONDS", "1")];
    eltr(&p.dir, ["config", "test", "tap-stubborn"], &grace).success();
    let pid: u32 = std::fs::read_to_string(p.path("tap.pid"))
        .expect("the tap wrote its pid")
        .trim()
        .parse()
        .expect("a pid");
    // `eltr` waited for the tap before it returned: nothing of it is left.
    let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(!alive, "the tap (pid {pid}) outlived `config test`");
}

#[test]
fn config_test_of_a_loader_sends_meltanos_test_stream() {
    let p = support::project("compat-manage");
    let ok = eltr(&p.dir, ["config", "test", "target-ok"], &[]);
    assert_eq!(ok.success().stdout, "Plugin configuration is valid\n");
    ok.stderr_has("Testing a loader will write test data to your target system");
    let written = std::fs::read_to_string(p.path("out/meltano_test_stream.jsonl"))
        .expect("the loader wrote the test stream");
    let record: serde_json::Value = serde_json::from_str(written.trim()).expect("one record");
    assert_eq!(record["record"]["name"], "Meltano Test Record");
    let crash = eltr(&p.dir, ["config", "test", "target-crash"], &[]);
    crash.clean_error(&["Plugin configuration is invalid"]);
    assert_eq!(
        invalid_reason(&crash).as_deref(),
        Some("fatal: target exploded")
    );
}
