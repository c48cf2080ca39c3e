//! `eltr run` end to end (DESIGN.md §4, §5): the built binary runs the example Singer programs
//! (`examples/singer_tap.rs`, `singer_target.rs`, `singer_mapper.rs`) on small fixture projects
//! (`tests/fixtures/run-*`), and the tests look at what landed: records in the target's output
//! folder, the stored state, exit codes and stderr. Also `invoke`, `select` and `state`.

mod common;
#[path = "common/run.rs"]
mod support;

use common::{Run, TempProject, eltr, wait_until};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use support::{
    completed_bookmark, files_under, meltano_doc, output_ids, output_records, project, spawn_eltr,
    state_path, stored_json, stored_text,
};

/// Generous ceiling for anything a test waits on; a healthy run takes well under a second.
const LIMIT: Duration = Duration::from_secs(60);

fn run(p: &TempProject, args: &[&str]) -> Run {
    eltr(&p.dir, args, &[])
}

#[track_caller]
fn assert_stderr_lacks(r: &Run, needle: &str) {
    assert!(
        !r.stderr.contains(needle),
        "stderr of `{}` should not contain {needle:?}; stderr:\n{}",
        r.command,
        r.stderr
    );
}

/// Files under `.eltr/run` that hold a plugin's run-time config, catalog or state: any
/// `*.json` except the catalog cache kept at `.eltr/run/<plugin>/tap.properties.json`.
fn leftover_run_files(p: &TempProject) -> Vec<PathBuf> {
    let base = p.path(".eltr/run");
    files_under(&base)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "json"))
        .filter(|f| {
            let rel = f.strip_prefix(&base).expect("under .eltr/run");
            !(rel.components().count() == 2
                && f.file_name().is_some_and(|n| n == "tap.properties.json"))
        })
        .collect()
}

#[track_caller]
fn assert_no_run_files_left(p: &TempProject, after: &str) {
    let left = leftover_run_files(p);
    assert!(
        left.is_empty(),
        "config/run files left behind after {after}: {left:#?}"
    );
}

/// `N` from the target's `target: received N state messages` summary line.
#[track_caller]
fn states_received_by_target(r: &Run) -> u64 {
    r.stderr
        .lines()
        .find_map(|l| {
            let rest = l.split("target: received ").nth(1)?;
            rest.strip_suffix(" state messages")?.trim().parse().ok()
        })
        .unwrap_or_else(|| panic!("no target state summary in stderr:\n{}", r.stderr))
}

// ---------------------------------------------------------------------------------------------
// Incremental state
// ---------------------------------------------------------------------------------------------

#[test]
fn first_run_stores_meltano_state_and_second_run_resumes_after_the_bookmark() {
    let p = project("run-basic");
    let first = run(&p, &["run", "tap-x", "target-y"]);
    first.success();
    assert_stderr_lacks(&first, "state: {");
    assert_eq!(output_ids(&p, "items"), vec![1, 2, 3, 4, 5]);
    assert_eq!(
        stored_text(&p, "dev:tap-x-to-target-y"),
        meltano_doc("items", 5),
        "stored state must be Meltano's document, Python separators"
    );

    let second = run(&p, &["run", "tap-x", "target-y"]);
    second
        .success()
        .stderr_has(r#"state: {"bookmarks":{"items":{"replication_key_value":5}}}"#);
    assert_eq!(output_ids(&p, "items"), (1..=10).collect::<Vec<_>>());
    assert_eq!(
        stored_text(&p, "dev:tap-x-to-target-y"),
        meltano_doc("items", 10)
    );
}

#[test]
fn run_resumes_from_a_state_set_with_the_state_command() {
    let p = project("run-basic");
    run(
        &p,
        &[
            "state",
            "set",
            "--force",
            "dev:tap-x-to-target-y",
            r#"{"singer_state": {"bookmarks": {"items": {"replication_key_value": 40}}}}"#,
        ],
    )
    .success();
    run(&p, &["run", "tap-x", "target-y"])
        .success()
        .stderr_has(r#"state: {"bookmarks":{"items":{"replication_key_value":40}}}"#);
    assert_eq!(output_ids(&p, "items"), vec![41, 42, 43, 44, 45]);
    assert_eq!(
        stored_text(&p, "dev:tap-x-to-target-y"),
        meltano_doc("items", 45)
    );
}

// ---------------------------------------------------------------------------------------------
// State ids
// ---------------------------------------------------------------------------------------------

#[test]
fn state_id_is_environment_colon_extractor_to_loader() {
    let p = project("run-basic");
    run(&p, &["run", "tap-x", "target-y"]).success();
    assert!(state_path(&p, "dev:tap-x-to-target-y").is_file());
    let list = run(&p, &["state", "list"]);
    list.success();
    assert_eq!(list.stdout.trim(), "dev:tap-x-to-target-y");
}

#[test]
fn state_id_suffix_flag_is_appended() {
    let p = project("run-basic");
    run(
        &p,
        &["run", "--state-id-suffix", "nightly", "tap-x", "target-y"],
    )
    .success();
    assert_eq!(
        stored_text(&p, "dev:tap-x-to-target-y:nightly"),
        meltano_doc("items", 5)
    );
    assert!(!state_path(&p, "dev:tap-x-to-target-y").exists());
}

#[test]
fn state_id_suffix_from_env_var_is_appended() {
    let p = project("run-basic");
    eltr(
        &p.dir,
        ["run", "tap-x", "target-y"],
        &[("ELTR_RUN_STATE_ID_SUFFIX", "fromenv")],
    )
    .success();
    assert!(state_path(&p, "dev:tap-x-to-target-y:fromenv").is_file());
}

#[test]
fn environment_state_id_suffix_is_appended_and_the_flag_overrides_it() {
    let p = project("run-basic");
    run(
        &p,
        &["--environment", "staging", "run", "tap-x", "target-y"],
    )
    .success();
    assert_eq!(
        stored_text(&p, "staging:tap-x-to-target-y:blue"),
        meltano_doc("items", 5)
    );
    run(
        &p,
        &[
            "--environment",
            "staging",
            "run",
            "--state-id-suffix",
            "red",
            "tap-x",
            "target-y",
        ],
    )
    .success();
    assert!(state_path(&p, "staging:tap-x-to-target-y:red").is_file());
}

#[test]
fn no_environment_state_id_has_no_environment_prefix() {
    let p = project("run-basic");
    run(&p, &["--no-environment", "run", "tap-x", "target-y"]).success();
    assert_eq!(
        stored_text(&p, "tap-x-to-target-y"),
        meltano_doc("items", 5)
    );
    assert!(!state_path(&p, "dev:tap-x-to-target-y").exists());
}

#[test]
fn state_id_suffix_with_a_colon_is_rejected() {
    let p = project("run-basic");
    let r = run(
        &p,
        &["run", "--state-id-suffix", "a:b", "tap-x", "target-y"],
    );
    r.failure().stderr_has("a:b").stderr_has("':'");
    assert!(!p.path("out").exists(), "nothing may run");
}

// ---------------------------------------------------------------------------------------------
// Failures: who is blamed, what state is kept
// ---------------------------------------------------------------------------------------------

#[test]
fn tap_crash_names_the_extractor_and_keeps_the_last_confirmed_state() {
    let p = project("run-failures");
    let r = run(&p, &["run", "tap-crash", "target-y"]);
    r.exits(1)
        .stderr_has("extractor 'tap-crash'")
        .stderr_has("exit code 3")
        .stderr_has("fatal: simulated crash");
    // STATE after records 3 and 6, crash after record 7: the last confirmed bookmark is 6.
    assert_eq!(
        stored_text(&p, "dev:tap-crash-to-target-y"),
        meltano_doc("items", 6)
    );
    assert_no_run_files_left(&p, "a tap crash");
}

#[test]
fn tap_crash_before_any_state_keeps_the_previous_state() {
    let p = project("run-failures");
    run(
        &p,
        &[
            "state",
            "set",
            "--force",
            "dev:tap-crash-early-to-target-y",
            r#"{"singer_state": {"bookmarks": {"items": {"replication_key_value": 100}}}}"#,
        ],
    )
    .success();
    let r = run(&p, &["run", "tap-crash-early", "target-y"]);
    r.exits(1)
        .stderr_has("extractor 'tap-crash-early'")
        .stderr_has("fatal: simulated crash");
    assert_eq!(
        stored_text(&p, "dev:tap-crash-early-to-target-y"),
        meltano_doc("items", 100),
        "records after the bookmark were never confirmed; the stored state must not move"
    );
}

#[test]
fn target_crash_names_the_loader_and_keeps_the_last_confirmed_state() {
    let p = project("run-failures");
    let r = run(&p, &["run", "tap-x", "target-crash"]);
    r.exits(1)
        .stderr_has("loader 'target-crash'")
        .stderr_has("exit code 4")
        .stderr_has("fatal: target exploded");
    // tap-x: STATE after records 2 and 4; the target dies on record 5.
    assert_eq!(
        stored_text(&p, "dev:tap-x-to-target-crash"),
        meltano_doc("items", 4)
    );
    assert_no_run_files_left(&p, "a target crash");
}

#[test]
fn states_the_target_did_not_confirm_are_never_stored() {
    let p = project("run-failures");
    // tap-ten sends a STATE after every record; target-batched confirms only when it flushes
    // every 4 records (the state pending at record 4 is the one after record 3), then dies on
    // record 7 with states 4..6 received but unconfirmed.
    let r = run(&p, &["run", "tap-ten", "target-batched"]);
    r.failure().stderr_has("loader 'target-batched'");
    assert_eq!(
        stored_text(&p, "dev:tap-ten-to-target-batched"),
        meltano_doc("items", 3)
    );
}

#[test]
fn mapper_crash_names_the_mapper() {
    let p = project("run-failures");
    let r = run(&p, &["run", "tap-ten", "mapper-crash", "target-y"]);
    r.exits(1)
        .stderr_has("mapper 'mapper-crash'")
        .stderr_has("exit code 5")
        .stderr_has("fatal: mapper crashed");
    // The mapper passed record 1, its STATE and record 2, then died.
    assert_eq!(
        stored_text(&p, "dev:tap-ten-to-target-y"),
        meltano_doc("items", 1)
    );
    assert_no_run_files_left(&p, "a mapper crash");
}

#[test]
fn loader_exiting_successfully_before_the_extractor_finished_fails_the_run() {
    let p = project("run-failures");
    let r = run(&p, &["run", "tap-trickle", "target-early"]);
    r.exits(1)
        .stderr_has("target-early")
        .stderr_has("before the extractor finished");
    assert_eq!(output_ids(&p, "items"), vec![1, 2, 3]);
    // The target confirmed the states after records 1 and 2, then left before the third.
    assert_eq!(
        stored_text(&p, "dev:tap-trickle-to-target-early"),
        meltano_doc("items", 2)
    );
    assert_no_run_files_left(&p, "a loader that exited early");
}

#[test]
fn garbage_line_from_the_tap_fails_the_loader_which_is_named_with_its_stderr() {
    let p = project("run-failures");
    let r = run(&p, &["run", "tap-garbage", "target-y"]);
    r.exits(1)
        .stderr_has("loader 'target-y'")
        .stderr_has("exit code 2")
        .stderr_has("invalid JSON line: this is not json {garbage");
}

#[test]
fn timeout_stops_a_hanging_tap() {
    let p = project("run-failures");
    let r = run(&p, &["run", "--timeout", "1", "tap-hang", "target-y"]);
    r.exits(1).stderr_has("timed out");
    assert_eq!(output_ids(&p, "items"), vec![1, 2]);
    assert_no_run_files_left(&p, "a timeout");
}

#[test]
fn first_failing_block_stops_the_run() {
    let p = project("run-failures");
    let r = run(&p, &["run", "tap-crash", "target-y", "tap-x", "target-y"]);
    r.failure().stderr_has("extractor 'tap-crash'");
    assert!(
        !state_path(&p, "dev:tap-x-to-target-y").exists(),
        "the second block must not run; stderr:\n{}",
        r.stderr
    );
    assert_stderr_lacks(&r, "tap-x |");
}

#[test]
fn missing_plugin_executable_suggests_eltr_install() {
    let p = project("run-basic");
    let r = run(&p, &["run", "tap-missing", "target-y"]);
    r.failure()
        .stderr_has("tap-that-is-not-installed")
        .stderr_has("eltr install tap-missing");
    assert!(!p.path("out").exists());
}

// ---------------------------------------------------------------------------------------------
// Run files
// ---------------------------------------------------------------------------------------------

#[test]
fn config_files_are_removed_after_a_successful_run() {
    let p = project("run-basic");
    run(&p, &["run", "tap-x", "mapper-up", "target-y"]).success();
    assert_no_run_files_left(&p, "a successful run");
    assert!(
        p.path(".eltr/run/tap-x/tap.properties.json").is_file(),
        "the discovered catalog is cached"
    );
}

#[test]
fn config_files_are_private_while_the_run_is_in_progress() {
    use std::os::unix::fs::PermissionsExt;
    let p = project("run-slow");
    let bg = spawn_eltr(&p.dir, &["run", "tap-slow", "target-y"], &[]);
    let find = |plugin: &str, file: &str| -> Option<PathBuf> {
        files_under(&p.path(".eltr/run").join(plugin))
            .into_iter()
            .find(|f| f.file_name().is_some_and(|n| n == file))
    };
    let mut found = Vec::new();
    wait_until(LIMIT, "the run's config files", || {
        found = [("tap-slow", "extractor.json"), ("target-y", "loader.json")]
            .iter()
            .filter_map(|(plugin, file)| find(plugin, file))
            .collect();
        found.len() == 2
    });
    wait_until(LIMIT, "a first stored state", || {
        state_path(&p, "dev:tap-slow-to-target-y").is_file()
    });
    for f in &found {
        let mode = std::fs::metadata(f)
            .unwrap_or_else(|e| panic!("stat {}: {e}", f.display()))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{} has mode {:o}", f.display(), mode);
        let config: Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        assert!(config.is_object(), "{} holds {config}", f.display());
    }
    bg.signal(libc::SIGTERM);
    let r = bg.finish(LIMIT);
    r.stderr_has("env MELTANO_EXTRACTOR_NAME=tap-slow");
    assert_no_run_files_left(&p, "SIGTERM");
}

// ---------------------------------------------------------------------------------------------
// Signals and locks
// ---------------------------------------------------------------------------------------------

/// Starts the slow pipeline, waits for its first confirmed state, sends `sig`, and returns
/// the finished run.
fn interrupt_slow_run(p: &TempProject, sig: libc::c_int) -> Run {
    let bg = spawn_eltr(&p.dir, &["run", "tap-slow", "target-y"], &[]);
    wait_until(LIMIT, "a first stored state", || {
        state_path(p, "dev:tap-slow-to-target-y").is_file()
    });
    bg.signal(sig);
    bg.finish(LIMIT)
}

#[test]
fn sigterm_exits_143_and_keeps_the_last_confirmed_state() {
    let p = project("run-slow");
    let r = interrupt_slow_run(&p, libc::SIGTERM);
    r.exits(143).stderr_has("SIGTERM");
    // A STATE follows every record, so the target's k-th confirmed state is bookmark k.
    let confirmed = states_received_by_target(&r);
    assert!(confirmed > 0);
    let doc = stored_json(&p, "dev:tap-slow-to-target-y");
    assert_eq!(
        completed_bookmark(&doc, "items"),
        confirmed,
        "stored state must be the last one the target confirmed; stderr:\n{}",
        r.stderr
    );
    assert_eq!(doc["partial"], json!({}));
    let ids = output_ids(&p, "items");
    assert!(ids.len() as u64 >= confirmed);
    assert!((ids.len() as u64) < 2000, "the run was not stopped early");
    assert_no_run_files_left(&p, "SIGTERM");
    assert!(
        !p.path(".eltr/state/dev:tap-slow-to-target-y/lock").exists(),
        "lock released"
    );
}

#[test]
fn sigint_exits_130_and_keeps_the_last_confirmed_state() {
    let p = project("run-slow");
    let r = interrupt_slow_run(&p, libc::SIGINT);
    r.exits(130).stderr_has("SIGINT");
    let doc = stored_json(&p, "dev:tap-slow-to-target-y");
    assert_eq!(
        completed_bookmark(&doc, "items"),
        states_received_by_target(&r)
    );
    assert_no_run_files_left(&p, "SIGINT");
}

#[test]
fn second_concurrent_run_of_a_state_id_fails_fast_naming_the_holder_and_force_takes_over() {
    let p = project("run-slow");
    let mut first = spawn_eltr(
        &p.dir,
        &[
            "run",
            "--run-id",
            "00000000-0000-4000-8000-000000000001",
            "tap-slow",
            "target-y",
        ],
        &[],
    );
    wait_until(LIMIT, "the first run's stored state", || {
        state_path(&p, "dev:tap-slow-to-target-y").is_file()
    });
    assert!(
        p.path(".eltr/state/dev:tap-slow-to-target-y/lock")
            .is_file()
    );

    // A short second run (3 records), so a broken lock shows up as a success, not a hang.
    let short = [("SINGER_TAP_RECORDS", "3")];
    let second = eltr(&p.dir, ["run", "tap-slow", "target-y"], &short);
    second
        .exits(1)
        .stderr_has("00000000-0000-4000-8000-000000000001")
        .stderr_has(&format!("pid {}", first.pid));
    assert!(
        first.running(),
        "the second run must fail while the first still runs (not wait for it)"
    );
    assert_stderr_lacks(&second, "tap-slow | argv");
    let meddle = run(
        &p,
        &[
            "state",
            "set",
            "--force",
            "dev:tap-slow-to-target-y",
            r#"{"singer_state": {}}"#,
        ],
    );
    meddle
        .failure()
        .stderr_has("00000000-0000-4000-8000-000000000001");

    let forced = eltr(&p.dir, ["run", "--force", "tap-slow", "target-y"], &short);
    forced.success();
    assert!(
        forced.stderr.contains("tap-slow | argv"),
        "the forced run ran its tap; stderr:\n{}",
        forced.stderr
    );

    // The first run, its lock taken, still stops as an interrupted run does.
    first.signal(libc::SIGTERM);
    let first = first.finish(LIMIT);
    first.exits(143);
}

/// Waits until eltr prepares `plugin` (its run folder holds its config file).
fn wait_until_preparing(p: &TempProject, plugin: &str) {
    let dir = p.path(".eltr/run").join(plugin);
    wait_until(LIMIT, &format!("eltr to prepare {plugin}"), || {
        files_under(&dir)
            .iter()
            .any(|f| f.file_name().is_some_and(|n| n == "extractor.json"))
    });
}

#[test]
fn sigterm_while_the_first_block_is_prepared_exits_143_and_leaves_nothing_behind() {
    let p = project("run-slow");
    // tap-slow-discover's discovery takes 3 s; the signal arrives during it.
    let bg = spawn_eltr(&p.dir, &["run", "tap-slow-discover", "target-y"], &[]);
    wait_until_preparing(&p, "tap-slow-discover");
    bg.signal(libc::SIGTERM);
    let r = bg.finish(LIMIT);
    let mut problems = Vec::new();
    if r.code() != Some(143) {
        problems.push(format!(
            "eltr must exit 143 (not die of the signal); status: {}",
            r.status
        ));
    }
    let left = leftover_run_files(&p);
    if !left.is_empty() {
        problems.push(format!("run files left behind: {left:?}"));
    }
    if p.path(".eltr/state/dev:tap-slow-discover-to-target-y/lock")
        .exists()
    {
        problems.push("lock not released".into());
    }
    assert!(
        problems.is_empty(),
        "{}\nstderr:\n{}",
        problems.join("\n"),
        r.stderr
    );
}

#[test]
fn sigterm_between_blocks_starts_no_further_block() {
    let p = project("run-slow");
    let bg = spawn_eltr(
        &p.dir,
        &["run", "tap-x", "target-y", "tap-slow-discover", "target-y"],
        &[],
    );
    // The first block is done once the second is being prepared.
    wait_until_preparing(&p, "tap-slow-discover");
    bg.signal(libc::SIGTERM);
    let r = bg.finish(LIMIT);
    r.exits(143);
    assert_eq!(
        stored_text(&p, "dev:tap-x-to-target-y"),
        meltano_doc("items", 5),
        "the finished block keeps its state"
    );
    assert_stderr_lacks(&r, "tap-slow-discover | argv");
    assert_eq!(
        output_ids(&p, "items"),
        vec![1, 2, 3, 4, 5],
        "the block after the signal must not run; stderr:\n{}",
        r.stderr
    );
    assert!(!state_path(&p, "dev:tap-slow-discover-to-target-y").exists());
}

#[test]
fn lock_of_a_killed_run_is_taken_over_without_force() {
    let p = project("run-slow");
    let bg = spawn_eltr(&p.dir, &["run", "tap-slow", "target-y"], &[]);
    wait_until(LIMIT, "a first stored state", || {
        state_path(&p, "dev:tap-slow-to-target-y").is_file()
    });
    bg.signal(libc::SIGKILL);
    bg.finish(LIMIT).killed_by(libc::SIGKILL);
    assert!(
        p.path(".eltr/state/dev:tap-slow-to-target-y/lock")
            .is_file()
    );
    let before = completed_bookmark(&stored_json(&p, "dev:tap-slow-to-target-y"), "items");
    let r = eltr(
        &p.dir,
        ["run", "tap-slow", "target-y"],
        &[("SINGER_TAP_RECORDS", "3")],
    );
    r.success();
    let after = completed_bookmark(&stored_json(&p, "dev:tap-slow-to-target-y"), "items");
    assert!(after >= before + 3, "resumed from {before}, stored {after}");
}

// ---------------------------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------------------------

#[test]
fn full_refresh_passes_no_state_and_merges_into_partial() {
    let p = project("run-basic");
    run(
        &p,
        &[
            "state",
            "set",
            "--force",
            "dev:tap-x-to-target-y",
            r#"{"singer_state": {"bookmarks": {"items": {"replication_key_value": 100}, "other": {"replication_key_value": 7}}}}"#,
        ],
    )
    .success();
    let r = run(&p, &["run", "--full-refresh", "tap-x", "target-y"]);
    r.success();
    assert_stderr_lacks(&r, "state: {");
    assert_stderr_lacks(&r, "--state");
    assert_eq!(output_ids(&p, "items"), vec![1, 2, 3, 4, 5]);
    assert_eq!(
        stored_text(&p, "dev:tap-x-to-target-y"),
        r#"{"completed": {"singer_state": {"bookmarks": {"items": {"replication_key_value": 100}, "other": {"replication_key_value": 7}}}}, "partial": {"singer_state": {"bookmarks": {"items": {"replication_key_value": 5}}}}}"#
    );
    let get = run(&p, &["state", "get", "dev:tap-x-to-target-y"]);
    assert_eq!(
        get.success().json(),
        json!({"singer_state": {"bookmarks": {
            "items": {"replication_key_value": 5},
            "other": {"replication_key_value": 7}
        }}})
    );
}

#[test]
fn full_refresh_with_overwrite_strategy_replaces_the_completed_state() {
    let p = project("run-basic");
    run(
        &p,
        &[
            "state",
            "set",
            "--force",
            "dev:tap-x-to-target-y",
            r#"{"singer_state": {"bookmarks": {"items": {"replication_key_value": 100}, "other": {"replication_key_value": 7}}}}"#,
        ],
    )
    .success();
    run(
        &p,
        &[
            "run",
            "--full-refresh",
            "--state-strategy",
            "overwrite",
            "tap-x",
            "target-y",
        ],
    )
    .success();
    assert_eq!(
        stored_text(&p, "dev:tap-x-to-target-y"),
        meltano_doc("items", 5)
    );
}

#[test]
fn run_flags_are_read_from_env_vars_set_to_1_or_true() {
    let p = project("run-basic");
    run(&p, &["run", "tap-x", "target-y"]).success();
    for (var, value) in [
        ("ELTR_RUN_FULL_REFRESH", "true"),
        ("ELTR_RUN_FULL_REFRESH", "1"),
        ("MELTANO_RUN_FULL_REFRESH", "true"),
        ("MELTANO_RUN_FULL_REFRESH", "1"),
    ] {
        let r = eltr(&p.dir, ["run", "tap-x", "target-y"], &[(var, value)]);
        r.success();
        assert_stderr_lacks(&r, "state: {");
    }
}

#[test]
fn extractor_with_properties_capability_gets_properties_and_never_state() {
    let p = project("run-basic");
    for _ in 0..2 {
        let r = run(&p, &["run", "tap-props", "target-y"]);
        r.success().stderr_has("--properties ");
        assert_stderr_lacks(&r, "--catalog");
        assert_stderr_lacks(&r, "--state");
    }
    assert_eq!(output_ids(&p, "items"), vec![1, 2, 1, 2]);
    assert_eq!(
        stored_text(&p, "dev:tap-props-to-target-y"),
        meltano_doc("items", 2)
    );
}

#[test]
fn no_state_update_writes_no_state() {
    let p = project("run-basic");
    let r = run(&p, &["run", "--no-state-update", "tap-x", "target-y"]);
    r.success();
    assert_eq!(output_ids(&p, "items"), vec![1, 2, 3, 4, 5]);
    assert!(
        !state_path(&p, "dev:tap-x-to-target-y").exists(),
        "no state may be written"
    );
}

#[test]
fn no_state_update_leaves_a_stored_state_untouched() {
    let p = project("run-basic");
    let doc = r#"{"singer_state": {"bookmarks": {"items": {"replication_key_value": 20}}}}"#;
    run(
        &p,
        &["state", "set", "--force", "dev:tap-x-to-target-y", doc],
    )
    .success();
    let before = stored_text(&p, "dev:tap-x-to-target-y");
    let r = run(&p, &["run", "--no-state-update", "tap-x", "target-y"]);
    r.success();
    assert_stderr_lacks(&r, "--state");
    assert_eq!(stored_text(&p, "dev:tap-x-to-target-y"), before);
}

#[test]
fn dry_run_spawns_nothing_and_lists_the_blocks() {
    let p = project("run-basic");
    let r = run(&p, &["run", "--dry-run", "daily"]);
    r.success();
    // The plan is what the command was asked to print: stdout.
    for label in [
        "block 1: tap-x → target-y",
        "block 2: tap-x → upper-name → target-y",
    ] {
        assert!(r.stdout.contains(label), "{label:?} not in:\n{}", r.stdout);
    }
    assert!(!p.path("out").exists(), "no target ran");
    assert!(!p.path(".eltr/state").exists(), "no state written");
    assert!(
        !p.path(".eltr/run/tap-x/tap.properties.json").exists(),
        "no discovery ran"
    );
}

#[test]
fn dry_run_prints_the_plan_as_json() {
    let p = project("run-basic");
    let r = run(
        &p,
        &[
            "run",
            "--dry-run",
            "--format",
            "json",
            "--run-id",
            "0b6f1c1e-6f5c-4e4b-9d0a-1a2b3c4d5e6f",
            "daily",
        ],
    );
    r.success();
    let plan = r.json();
    assert_eq!(plan["run_id"], "0b6f1c1e-6f5c-4e4b-9d0a-1a2b3c4d5e6f");
    let blocks = plan["blocks"].as_array().expect("blocks");
    assert_eq!(blocks.len(), 2, "{plan:#}");
    let second = &blocks[1];
    assert_eq!(second["kind"], "extract_load");
    assert_eq!(second["state_id"], "dev:tap-x-to-target-y");
    assert_eq!(second["state"]["read"], "store");
    assert_eq!(second["state"]["write"], true);
    assert_eq!(second["state"]["strategy"], "overwrite");
    assert!(
        second["state"]["lock"]["timeout_seconds"].is_number(),
        "{second:#}"
    );
    let roles: Vec<&str> = second["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["extractor", "mapper", "loader"]);
    assert_eq!(second["plugins"][1]["mapping"], "upper-name");
    assert!(
        plan["store"].as_str().unwrap().starts_with("local "),
        "{plan:#}"
    );
    assert!(!p.path(".eltr/state").exists(), "planning wrote state");
    assert!(!p.path(".eltr/run").exists(), "planning prepared plugins");
}

#[test]
fn a_full_refresh_plan_reads_no_state_and_merges() {
    let p = project("run-basic");
    let r = run(
        &p,
        &[
            "run",
            "--dry-run",
            "--format",
            "json",
            "--full-refresh",
            "tap-x",
            "target-y",
        ],
    );
    r.success();
    let block = &r.json()["blocks"][0];
    assert_eq!(block["state"]["read"], serde_json::Value::Null);
    assert_eq!(block["state"]["strategy"], "merge");
    assert_eq!(block["refresh_catalog"], true);
}

// ---------------------------------------------------------------------------------------------
// Blocks: jobs, mappers, mappings, unknown words
// ---------------------------------------------------------------------------------------------

#[test]
fn job_name_expands_to_its_tasks_in_order() {
    let p = project("run-basic");
    run(&p, &["run", "daily"]).success();
    // Task 1 extracts 1..5 as is; task 2 resumes from its bookmark through the mapping.
    let names: Vec<String> = output_records(&p, "items")
        .iter()
        .map(|m| m["record"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "name-1", "name-2", "name-3", "name-4", "name-5", "NAME-6", "NAME-7", "NAME-8",
            "NAME-9", "NAME-10"
        ]
    );
    assert_eq!(
        stored_text(&p, "dev:tap-x-to-target-y"),
        meltano_doc("items", 10)
    );
}

#[test]
fn mapper_in_the_middle_transforms_records() {
    let p = project("run-basic");
    run(&p, &["run", "tap-x", "mapper-up", "target-y"]).success();
    let recs = output_records(&p, "items");
    assert_eq!(recs.len(), 5);
    assert_eq!(recs[0]["record"]["name"], "NAME-1");
    assert_eq!(recs[4]["record"]["name"], "NAME-5");
    // Mapper names are not part of the state id.
    assert_eq!(
        stored_text(&p, "dev:tap-x-to-target-y"),
        meltano_doc("items", 5)
    );
}

#[test]
fn mapping_name_runs_its_mapper_with_the_mapping_config() {
    let p = project("run-basic");
    run(&p, &["run", "tap-x", "upper-name", "target-y"]).success();
    let recs = output_records(&p, "items");
    assert_eq!(recs[0]["record"]["name"], "NAME-1");
    run(&p, &["run", "tap-x", "as-is", "target-y"]).success();
    let recs = output_records(&p, "items");
    assert_eq!(recs.len(), 10);
    assert_eq!(recs[5]["record"]["name"], "name-6");
}

#[test]
fn unknown_block_word_suggests_the_closest_name() {
    let p = project("run-basic");
    let r = run(&p, &["run", "tap-x", "targt-y"]);
    r.failure()
        .stderr_has("targt-y")
        .stderr_has("did you mean 'target-y'");
    assert!(!p.path("out").exists());
}

// ---------------------------------------------------------------------------------------------
// Data path
// ---------------------------------------------------------------------------------------------

#[test]
fn hundred_megabyte_line_passes_through_intact() {
    let p = project("run-failures");
    let r = run(&p, &["run", "tap-huge", "target-y"]);
    r.success();
    let out = std::fs::read(p.path("out/items.jsonl")).expect("target output");
    let lengths: Vec<usize> = out
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::len)
        .collect();
    assert_eq!(lengths, vec![200, 100_000_000, 200]);
    let huge: Value = serde_json::from_slice(out.split(|b| *b == b'\n').nth(1).unwrap())
        .expect("the huge line is still valid JSON");
    assert_eq!(huge["record"]["id"], 2);
}

// ---------------------------------------------------------------------------------------------
// invoke and select
// ---------------------------------------------------------------------------------------------

#[test]
fn invoke_discover_prints_the_catalog_on_stdout() {
    let p = project("run-basic");
    let r = run(&p, &["invoke", "tap-x", "--discover"]);
    let catalog = r.success().json();
    assert_eq!(catalog["streams"][0]["tap_stream_id"], "items");
    assert!(catalog["streams"][0]["schema"]["properties"]["payload"].is_object());
}

#[test]
fn invoke_passes_the_plugin_exit_code_back() {
    let p = project("run-basic");
    let r = run(&p, &["invoke", "tap-x", "--no-such-flag"]);
    r.exits(2);
}

#[test]
fn select_list_all_follows_the_select_patterns() {
    let p = project("run-basic");
    let r = run(&p, &["select", "tap-sel", "--list", "--all"]);
    r.success();
    let status_of = |prop: &str| -> String {
        r.stdout
            .lines()
            .find(|l| l.trim_end().ends_with(&format!("] {prop}")))
            .unwrap_or_else(|| panic!("no row for {prop} in:\n{}", r.stdout))
            .to_string()
    };
    assert!(status_of("items.id").contains("automatic"));
    assert!(status_of("items.name").contains("selected"));
    assert!(status_of("items.payload").contains("excluded"));
    assert!(status_of("items.updated_at").contains("excluded"));
    assert!(status_of("other.name").contains("excluded"));

    let shown = run(&p, &["select", "tap-sel", "--list"]);
    shown.success();
    assert!(shown.stdout.contains("] items.name"), "{}", shown.stdout);
    assert!(
        !shown.stdout.contains("] items.payload"),
        "excluded rows only with --all:\n{}",
        shown.stdout
    );
}

#[test]
fn run_hands_the_tap_a_catalog_selecting_the_patterns() {
    let p = project("run-basic");
    let r = run(&p, &["run", "tap-sel", "target-y"]);
    r.success()
        .stderr_has(r#"catalog: ["items"]"#)
        .stderr_has(r#"catalog properties items: ["id","name"]"#);
    let recs = output_records(&p, "items");
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0]["record"], json!({"id": 1, "name": "name-1"}));
    assert!(!p.path("out/other.jsonl").exists());
}

// ---------------------------------------------------------------------------------------------
// eltr state
// ---------------------------------------------------------------------------------------------

fn state_get(p: &TempProject, id: &str) -> String {
    let r = run(p, &["state", "get", id]);
    r.success();
    r.stdout.trim_end().to_string()
}

fn state_list(p: &TempProject) -> Vec<String> {
    let r = run(p, &["state", "list"]);
    r.success();
    r.stdout.lines().map(str::to_string).collect()
}

#[test]
fn state_commands_set_get_list_merge_copy_move_and_clear() {
    let p = project("run-basic");
    let a = "dev:tap-x-to-target-y";
    run(
        &p,
        &[
            "state",
            "set",
            "--force",
            a,
            r#"{"singer_state": {"bookmarks": {"items": {"replication_key_value": 3}}}}"#,
        ],
    )
    .success();
    assert_eq!(stored_text(&p, a), meltano_doc("items", 3));
    assert_eq!(
        state_get(&p, a),
        r#"{"singer_state":{"bookmarks":{"items":{"replication_key_value":3}}}}"#
    );
    assert_eq!(state_list(&p), vec![a]);

    run(
        &p,
        &[
            "state",
            "merge",
            a,
            r#"{"singer_state": {"bookmarks": {"other": {"replication_key_value": 9}}}}"#,
        ],
    )
    .success();
    let merged = json!({"singer_state": {"bookmarks": {
        "items": {"replication_key_value": 3},
        "other": {"replication_key_value": 9}
    }}});
    assert_eq!(
        serde_json::from_str::<Value>(&state_get(&p, a)).unwrap(),
        merged
    );

    run(&p, &["state", "copy", "--force", a, "b-copy"]).success();
    assert_eq!(
        serde_json::from_str::<Value>(&state_get(&p, "b-copy")).unwrap(),
        merged
    );
    run(&p, &["state", "move", "--force", "b-copy", "c-moved"]).success();
    assert_eq!(state_get(&p, "b-copy"), "{}");
    assert_eq!(
        serde_json::from_str::<Value>(&state_get(&p, "c-moved")).unwrap(),
        merged
    );
    assert_eq!(state_list(&p), vec!["c-moved", a]);
    let filtered = run(&p, &["state", "list", "--pattern", "dev:*"]);
    assert_eq!(filtered.success().stdout.trim(), a);

    run(&p, &["state", "clear", "--force", a]).success();
    assert_eq!(state_list(&p), vec!["c-moved"]);
    assert_eq!(state_get(&p, a), "{}");

    run(
        &p,
        &["state", "set", "--force", "d", r#"{"singer_state": {}}"#],
    )
    .success();
    run(&p, &["state", "clear", "--force", "--all"]).success();
    assert!(state_list(&p).is_empty());
}

#[test]
fn state_set_requires_singer_state_unless_no_validate() {
    let p = project("run-basic");
    let bare = r#"{"bookmarks": {"items": {"replication_key_value": 1}}}"#;
    let r = run(&p, &["state", "set", "--force", "x", bare]);
    r.failure().stderr_has("singer_state");
    assert!(!state_path(&p, "x").exists());
    run(&p, &["state", "set", "--force", "--no-validate", "x", bare]).success();
    assert!(state_path(&p, "x").is_file());
}

#[test]
fn stored_state_escapes_non_ascii_keys_like_python() {
    let p = project("run-basic");
    run(
        &p,
        &[
            "state",
            "set",
            "--force",
            "x",
            r#"{"singer_state": {"bookmarks": {"café": {"v": "ü"}}}}"#,
        ],
    )
    .success();
    // Python: json.dumps({"completed": {"singer_state": ...}, "partial": {}})
    assert_eq!(
        stored_text(&p, "x"),
        r#"{"completed": {"singer_state": {"bookmarks": {"caf\u00e9": {"v": "\u00fc"}}}}, "partial": {}}"#
    );
}

#[test]
fn stored_state_writes_floats_like_python() {
    let p = project("run-basic");
    run(
        &p,
        &[
            "state",
            "set",
            "--force",
            "x",
            r#"{"singer_state": {"a": 1e20, "b": 1.5e-7, "c": 0.1, "d": 2.0}}"#,
        ],
    )
    .success();
    // Python: json.dumps({"completed": {"singer_state": {"a": 1e20, "b": 1.5e-7, "c": 0.1, "d": 2.0}}, "partial": {}})
    assert_eq!(
        stored_text(&p, "x"),
        r#"{"completed": {"singer_state": {"a": 1e+20, "b": 1.5e-07, "c": 0.1, "d": 2.0}}, "partial": {}}"#
    );
}

// ---------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------

#[test]
fn sensitive_setting_is_masked_in_plugin_logs() {
    let p = project("run-basic");
    let r = run(&p, &["run", "tap-secret", "target-y"]);
    r.success().stderr_has("connecting with password=*****");
    assert_stderr_lacks(&r, "hunter2-s3cr3t");
    assert!(!r.stdout.contains("hunter2-s3cr3t"));
}

#[test]
fn sensitive_setting_is_masked_in_the_failure_message() {
    let p = project("run-basic");
    let r = run(&p, &["run", "tap-secret-crash", "target-y"]);
    r.failure()
        .stderr_has("extractor 'tap-secret-crash'")
        .stderr_has("password=*****");
    assert_stderr_lacks(&r, "hunter2-s3cr3t");
}
