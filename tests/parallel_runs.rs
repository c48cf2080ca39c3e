//! Doing independent work at the same time (issue 19): `eltr run JOB --parallel N` runs the
//! blocks that share no plugin and no state id side by side, and `--split-streams N` shares a
//! tap's streams out over N tap → target pairs whose bookmarks merge into the one state.
//! The fixture (`tests/fixtures/run-parallel`) runs the example Singer programs; overlap is
//! read from the run summary's timestamps, and a run is interrupted on events it causes
//! (a state stored), never after a fixed sleep.

mod common;
#[path = "common/run.rs"]
mod support;

use common::{Run, TempProject, eltr, wait_until};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;
use support::{output_ids, project, spawn_eltr, stored_json};

/// Generous ceiling for anything a test waits on.
const LIMIT: Duration = Duration::from_secs(60);

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
fn a_command_block_runs_alone_between_the_blocks_around_it() {
    let p = project("run-parallel");
    // The utility fails unless block a has finished and block b has not started.
    let (r, s) = run_with_summary(&p, &["with-command", "--parallel", "3"], &[]);
    r.success().stderr_has("between: ok");
    let a = span(block(&s, "tap-a → target-a"));
    let b = span(block(&s, "tap-b → target-b"));
    assert!(a.1 <= b.0 + 0.05, "{a:?} {b:?}");
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

// ---------------------------------------------------------------------------------------------
// --split-streams
// ---------------------------------------------------------------------------------------------

const MANY: &str = "dev:tap-many-to-target-y";
const STREAMS: [&str; 8] = ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"];

/// Runs `tap-many target-y` (plus `extra` flags) with `records` records per stream.
fn run_many(p: &TempProject, extra: &[&str], records: u64) -> Run {
    let mut args = vec!["run", "tap-many", "target-y"];
    args.extend_from_slice(extra);
    let n = records.to_string();
    eltr(&p.dir, &args, &[("SINGER_TAP_RECORDS", &n)])
}

/// The bookmark of each stream in the stored state (0 when it has none).
fn bookmarks(p: &TempProject, state_id: &str) -> Vec<u64> {
    let state = singer_state(p, state_id);
    STREAMS
        .iter()
        .map(|s| {
            state["bookmarks"][s]["replication_key_value"]
                .as_u64()
                .unwrap_or(0)
        })
        .collect()
}

/// Asserts every stream's output holds each id from 1 to `n` exactly once.
#[track_caller]
fn assert_each_stream_has_once(p: &TempProject, n: u64) {
    for s in STREAMS {
        assert_eq!(output_ids(p, s), (1..=n).collect::<Vec<_>>(), "stream {s}");
    }
}

#[test]
fn split_state_equals_the_state_of_a_sequential_run_of_the_same_data() {
    let one = project("run-parallel");
    let four = project("run-parallel");
    run_many(&one, &[], 30).success();
    let (r, s) = run_with_summary(
        &four,
        &["tap-many", "target-y", "--split-streams", "4"],
        &[],
    );
    r.success().stderr_has(
        "streams of 'tap-many' split over 4 copies: [s1 s5], [s2 s6], [s3 s7], [s4 s8]",
    );
    // The same document, to the byte: bookmarks merged per stream, in the order one tap
    // writes them.
    assert_eq!(
        support::stored_text(&four, MANY),
        support::stored_text(&one, MANY)
    );
    assert_each_stream_has_once(&four, 30);
    let b = block(&s, "tap-many → target-y");
    assert_eq!(
        (b["copies"].as_u64(), b["records"].as_u64()),
        (Some(4), Some(240))
    );
    let processes: Vec<&str> = b["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(processes.len(), 8, "{processes:?}");
    assert!(processes.contains(&"tap-many[4]") && processes.contains(&"target-y[4]"));
    // Each copy got a catalog selecting its share only.
    r.stderr_has(r#"tap-many[2] | catalog: ["s2","s6"]"#);
}

#[test]
fn resuming_split_after_sequential_and_sequential_after_split() {
    let p = project("run-parallel");
    run_many(&p, &[], 10).success();
    assert_eq!(bookmarks(&p, MANY), [10; 8]);
    // Split: every copy starts from the sequential run's bookmarks.
    let split = run_many(&p, &["--split-streams", "3"], 10);
    split.success();
    for k in 1..=3 {
        split.stderr_has(&format!(
            r#"tap-many[{k}] | state: {{"bookmarks":{{"s1":{{"replication_key_value":10}}"#
        ));
    }
    assert_eq!(bookmarks(&p, MANY), [20; 8]);
    // Sequential again: one tap resumes every stream where its copy stopped.
    run_many(&p, &[], 10)
        .success()
        .stderr_has(r#"state: {"bookmarks":{"s1":{"replication_key_value":20}"#);
    assert_eq!(bookmarks(&p, MANY), [30; 8]);
    // And split once more, from the sequential state, balanced by the last run's counts.
    run_many(&p, &["--split-streams", "2"], 10).success();
    assert_eq!(bookmarks(&p, MANY), [40; 8]);
    assert_each_stream_has_once(&p, 40);
}

#[test]
fn a_failing_copy_keeps_the_bookmarks_the_other_copies_confirmed() {
    let p = project("run-parallel");
    let id = "dev:tap-many-crash-to-target-y";
    let r = run(
        &p,
        &["run", "tap-many-crash", "target-y", "--split-streams", "4"],
    );
    // Copy 2 syncs s2, then dies when s6 is due.
    r.exits(1)
        .stderr_has("extractor 'tap-many-crash[2]' failed with exit code 3")
        .stderr_has("simulated crash in stream s6");
    let stored = bookmarks(&p, id);
    // s2's last confirmed state came after its 28th record (a STATE every 4 records).
    assert_eq!(stored, [30, 28, 30, 30, 30, 0, 30, 30], "{stored:?}");
    // The next run, not split, resumes every stream where its copy stopped.
    let yml = p.path("meltano.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    std::fs::write(
        &yml,
        text.replace("crash_on_stream: s6", "crash_on_stream: none"),
    )
    .unwrap();
    run(&p, &["run", "tap-many-crash", "target-y"])
        .success()
        .stderr_has(r#""s2":{"replication_key_value":28}"#);
    let resumed = bookmarks(&p, id);
    assert_eq!(resumed, [60, 58, 60, 60, 60, 30, 60, 60]);
    // Nothing was lost: every record up to each bookmark is in the output (the two of s2
    // sent after its last confirmed state are there twice, at least once as promised).
    for (s, b) in STREAMS.iter().zip(resumed) {
        let mut ids = output_ids(&p, s);
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids, (1..=b).collect::<Vec<_>>(), "stream {s}");
    }
}

#[test]
fn a_state_the_copies_cannot_share_is_refused() {
    let p = project("run-parallel");
    run(
        &p,
        &[
            "state",
            "set",
            "--force",
            MANY,
            r#"{"singer_state": {"currently_syncing": "s2", "bookmarks": {"s1": {"replication_key_value": 3}}}}"#,
        ],
    )
    .success();
    let r = run_many(&p, &["--split-streams", "2"], 5);
    r.exits(1).stderr_has(
        "cannot split the streams of tap-many → target-y: the state of 'dev:tap-many-to-target-y': its state says `currently_syncing: \"s2\"`",
    );
    r.stderr_has("run it without --split-streams");
    assert!(!p.path("out").exists(), "nothing ran");
    // Without the flag the same state runs.
    run_many(&p, &[], 5).success();
}

#[test]
fn blocks_that_cannot_be_split_are_refused_before_anything_runs() {
    let p = project("run-parallel");
    run(
        &p,
        &[
            "run",
            "tap-many",
            "mapper-up",
            "target-y",
            "--split-streams",
            "2",
        ],
    )
    .exits(1)
    .stderr_has("only tap → target blocks can be split");
    run(
        &p,
        &["run", "tap-no-catalog", "target-y", "--split-streams", "2"],
    )
    .exits(1)
    .stderr_has("extractor 'tap-no-catalog' takes no catalog");
    run(&p, &["run", "tap-many", "target-y", "--split-streams", "x"])
        .exits(2)
        .stderr_has("--split-streams");
    assert!(!p.path("out").exists());
}

// ---------------------------------------------------------------------------------------------
// kill -9 of a split run
// ---------------------------------------------------------------------------------------------

/// Records per stream of the split run the kill interrupts: 4 ms apart, so each copy's two
/// streams take over three seconds.
const LONG: u64 = 400;

/// The record ids in the output of `stream`, tolerating a last line cut short by the kill.
fn ids_after_kill(p: &TempProject, stream: &str) -> BTreeSet<u64> {
    let text =
        std::fs::read_to_string(p.path("out").join(format!("{stream}.jsonl"))).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|m| m["record"]["id"].as_u64())
        .collect()
}

/// Plugin processes of the project still alive (their command line names its folder).
fn live_plugins(p: &TempProject) -> Vec<i32> {
    let needle = p.dir.display().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = stat.rsplit(") ").next().is_some_and(|s| s.starts_with('Z'));
        if !zombie && String::from_utf8_lossy(&cmd).contains(&needle) {
            out.push(pid);
        }
    }
    out
}

/// The stored bookmarks, or zeros while nothing is stored (or the file is being replaced).
fn bookmarks_so_far(p: &TempProject) -> Vec<u64> {
    let text = std::fs::read_to_string(support::state_path(p, MANY)).unwrap_or_default();
    let doc: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let state = &doc["completed"]["singer_state"];
    STREAMS
        .iter()
        .map(|s| {
            state["bookmarks"][s]["replication_key_value"]
                .as_u64()
                .unwrap_or(0)
        })
        .collect()
}

/// A split run of four copies is killed with SIGKILL once `moment` holds of the stored
/// bookmarks; afterwards no bookmark stored before the kill is gone, every stored bookmark
/// is backed by the target's output, and the next run (split again, or not) resumes each
/// stream where its copy stopped.
fn kill9_split_case(moment: &str, ready: fn(&[u64]) -> bool, resume_split: bool) {
    let p = project("run-parallel");
    let n = LONG.to_string();
    let bg = spawn_eltr(
        &p.dir,
        &["run", "tap-many", "target-y", "--split-streams", "4"],
        &[("SINGER_TAP_RECORDS", &n)],
    );
    // Copies: [s1 s5], [s2 s6], [s3 s7], [s4 s8].
    let mut seen = Vec::new();
    wait_until(LIMIT, moment, || {
        seen = bookmarks_so_far(&p);
        ready(&seen)
    });
    bg.signal(libc::SIGKILL);
    let killed = bg.finish(LIMIT);
    assert_eq!(
        killed.code(),
        None,
        "eltr died of the kill: {}",
        killed.stderr
    );
    wait_until(
        Duration::from_secs(10),
        "the plugins to die with eltr",
        || live_plugins(&p).is_empty(),
    );

    let stored = bookmarks(&p, MANY);
    assert!(
        stored.iter().any(|b| *b < LONG),
        "killed mid-run: {stored:?}"
    );
    for ((s, before), after) in STREAMS.iter().zip(&seen).zip(&stored) {
        assert!(
            after >= before,
            "{s}: bookmark {before} stored before the kill, {after} after"
        );
        let ids = ids_after_kill(&p, s);
        let missing: Vec<u64> = (1..=*after).filter(|i| !ids.contains(i)).collect();
        assert!(
            missing.is_empty(),
            "{s}: bookmark {after} stored, records {missing:?} not in the output"
        );
    }

    // The dead run's lock names a dead process: the next run takes it over at once.
    let extra: &[&str] = if resume_split {
        &["--split-streams", "4"]
    } else {
        &[]
    };
    run_many(&p, extra, 5).success();
    let resumed = bookmarks(&p, MANY);
    for ((s, before), after) in STREAMS.iter().zip(&stored).zip(&resumed) {
        assert_eq!(*after, before + 5, "{s} resumes after its bookmark");
        let ids = ids_after_kill(&p, s);
        assert!((1..=*after).all(|i| ids.contains(&i)), "{s}: records lost");
    }
}

#[test]
fn kill9_once_every_copy_confirmed_loses_no_confirmed_bookmark() {
    kill9_split_case(
        "a stored bookmark from every copy",
        |b| b[..4].iter().all(|v| *v > 0),
        true,
    );
}

#[test]
fn kill9_while_every_copy_is_on_its_second_stream_loses_no_confirmed_bookmark() {
    kill9_split_case(
        "a stored bookmark of every copy's second stream",
        |b| b[4..].iter().all(|v| *v > 0),
        false,
    );
}
