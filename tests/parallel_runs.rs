//! Doing independent work at the same time (issue 19): `eltr run JOB --parallel N` runs the
//! blocks that share no plugin and no state id side by side, and `--split-streams N` shares a
//! tap's streams out over N tap → target pairs whose bookmarks merge into the one state.
//! The fixture (`tests/fixtures/run-parallel`) runs the example Singer programs; overlap is
//! read from the run summary's timestamps, and a run is interrupted on events it causes
//! (a state stored), never after a fixed sleep.

mod common;
#[path = "common/run.rs"]
mod support;

use common::{Run, TempProject, eltr};
use serde_json::Value;
use support::{output_ids, project, stored_json};

fn run(p: &TempProject, args: &[&str]) -> Run {
    eltr(&p.dir, args, &[])
}

/// Runs `eltr run ARGS --summary-json FILE` and returns the run and the summary.
fn run_with_summary(p: &TempProject, args: &[&str], vars: &[(&str, &str)]) -> (Run, Value) {
    let file = p.tmp().join("summary.json");
    let _ = std::fs::remove_file(&file);
    let file_s = file.to_str().expect("UTF-8 path").to_string();
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--summary-json", &file_s]);
    let r = eltr(&p.dir, &all, vars);
    let summary = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    (r, summary)
}

/// The summary of the block labelled `label`.
#[track_caller]
fn block<'a>(summary: &'a Value, label: &str) -> &'a Value {
    summary["blocks"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["block"] == label))
        .unwrap_or_else(|| panic!("no block {label} in {summary}"))
}

/// When a block started and ended, in seconds into the run.
fn span(b: &Value) -> (f64, f64) {
    let start = b["started_seconds"].as_f64().expect("started_seconds");
    (start, start + b["seconds"].as_f64().expect("seconds"))
}

fn overlap(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// The stored Singer state of `state_id` (completed, with partial merged over it).
#[track_caller]
fn singer_state(p: &TempProject, state_id: &str) -> Value {
    let doc = stored_json(p, state_id);
    let mut state = doc["completed"]["singer_state"].clone();
    if let Some(partial) = doc["partial"]["singer_state"].as_object() {
        for (k, v) in partial {
            state[k] = v.clone();
        }
    }
    state
}

// ---------------------------------------------------------------------------------------------
// --parallel
// ---------------------------------------------------------------------------------------------

#[test]
fn parallel_runs_independent_blocks_at_once_and_stores_each_state() {
    let p = project("run-parallel");
    let (r, s) = run_with_summary(&p, &["three", "--parallel", "3"], &[]);
    r.success();
    let spans: Vec<(f64, f64)> = ["tap-a → target-a", "tap-b → target-b", "tap-c → target-c"]
        .iter()
        .map(|l| span(block(&s, l)))
        .collect();
    // Each block trickles its records for over half a second: started together, they overlap.
    assert!(
        overlap(spans[0], spans[1]) && overlap(spans[1], spans[2]),
        "{spans:?}"
    );
    for (tap, stream) in [("tap-a", "a"), ("tap-b", "b"), ("tap-c", "c")] {
        let id = format!("dev:{tap}-to-target-{stream}");
        assert_eq!(
            singer_state(&p, &id)["bookmarks"][stream]["replication_key_value"],
            40,
            "{id}"
        );
        assert_eq!(output_ids(&p, stream), (1..=40).collect::<Vec<_>>());
    }
    // Summaries come in the order of the plan; the timeline shows the overlap.
    let labels: Vec<&str> = s["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["block"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        ["tap-a → target-a", "tap-b → target-b", "tap-c → target-c"]
    );
    r.stderr_has("3 blocks in ")
        .stderr_has("up to 3 at once; one after another they took");
}

#[test]
fn parallel_lines_say_their_block_and_each_run_log_holds_only_its_own() {
    let p = project("run-parallel");
    let id = "00000000-0000-4000-8000-0000000000a1";
    let r = run(&p, &["run", "three", "--parallel", "3", "--run-id", id]);
    r.success();
    for (tap, stream) in [("tap-a", "a"), ("tap-b", "b"), ("tap-c", "c")] {
        let label = format!("[{tap} → target-{stream}] ");
        // The tap's own stderr lines, and the block's summary, carry the block's label.
        r.stderr_has(&format!("{label} INFO {tap} | argv: "))
            .stderr_has(&format!("{label}{tap} → target-{stream}: 40 records"));
        let log = p.path(&format!(".eltr/logs/dev:{tap}-to-target-{stream}/{id}.log"));
        let text = std::fs::read_to_string(&log).expect("run log");
        assert!(text.contains(&format!("{tap} | argv: ")), "{text}");
        assert!(
            !text.contains(&label),
            "no label inside the block's own log:\n{text}"
        );
        for other in ["tap-a", "tap-b", "tap-c"].iter().filter(|t| **t != tap) {
            assert!(
                !text.contains(&format!("{other} | ")),
                "{other}'s lines in {tap}'s log:\n{text}"
            );
        }
    }
}

#[test]
fn parallel_json_lines_name_their_block_and_state_id() {
    let p = project("run-parallel");
    let r = run(
        &p,
        &["run", "--log-format", "json", "three", "--parallel", "2"],
    );
    r.success();
    let mut seen = 0;
    for line in r.stderr.lines().filter(|l| l.starts_with('{')) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let Some(plugin) = v["plugin"].as_str() else {
            continue;
        };
        let stream = &plugin[plugin.len() - 1..];
        assert_eq!(
            v["block"],
            format!("tap-{stream} → target-{stream}"),
            "{line}"
        );
        assert_eq!(
            v["state_id"],
            format!("dev:tap-{stream}-to-target-{stream}"),
            "{line}"
        );
        seen += 1;
    }
    assert!(seen >= 6, "{}", r.stderr);
}

#[test]
fn blocks_sharing_a_plugin_wait_for_each_other() {
    let p = project("run-parallel");
    let (r, s) = run_with_summary(&p, &["sharing", "--parallel", "2"], &[]);
    r.success();
    let a = span(block(&s, "tap-a → target-a"));
    let b = span(block(&s, "tap-b → target-a"));
    assert!(
        a.1 <= b.0 + 0.05,
        "the second block must start after the first: {a:?} {b:?}"
    );
}

#[test]
fn parallel_is_read_from_the_environment_and_checked() {
    let p = project("run-parallel");
    let (r, s) = run_with_summary(&p, &["three"], &[("ELTR_RUN_PARALLEL", "3")]);
    r.success();
    let a = span(block(&s, "tap-a → target-a"));
    let c = span(block(&s, "tap-c → target-c"));
    assert!(overlap(a, c), "{a:?} {c:?}");
    let bad = run(&p, &["run", "three", "--parallel", "0"]);
    bad.exits(2).stderr_has("--parallel");
}

#[test]
fn a_failing_block_stops_what_follows_and_the_running_ones_finish() {
    let p = project("run-parallel");
    let (r, s) = run_with_summary(&p, &["failing", "--parallel", "2"], &[]);
    // The exit status is the sequential run's: 1, with the failed block's error.
    r.exits(1)
        .stderr_has("extractor 'tap-crash' failed with exit code 3")
        .stderr_has("no further block starts");
    // The block running beside the failed one finished and kept its bookmarks.
    assert_eq!(
        singer_state(&p, "dev:tap-a-to-target-a")["bookmarks"]["a"]["replication_key_value"],
        40
    );
    assert_eq!(output_ids(&p, "a"), (1..=40).collect::<Vec<_>>());
    // The block after the failed one never started, as one after another.
    assert!(!p.path("out/c.jsonl").exists());
    assert!(!p.path(".eltr/state/dev:tap-c-to-target-c").exists());
    r.stderr_has("| not started");
    assert_eq!(s["success"], false);
}
