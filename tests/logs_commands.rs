//! `eltr logs list|show|dir` (Meltano's log commands, over eltr's own run records): each block
//! run is listed with its state id, outcome and run id, newest first; `show` prints the
//! record and the block's log (or its last lines); an unknown id is an error.

mod common;
#[path = "common/run.rs"]
mod support;

use common::eltr;
use serde_json::Value;
use support::project;

fn runs(dir: &std::path::Path) -> Vec<Value> {
    let doc = eltr(dir, ["logs", "list", "--format", "json"], &[])
        .success()
        .json();
    assert_eq!(
        doc["total"].as_u64().unwrap() as usize,
        doc["runs"].as_array().unwrap().len()
    );
    doc["runs"].as_array().unwrap().clone()
}

#[test]
fn logs_list_and_show_each_block_run() {
    let p = project("run-failures");
    let none = eltr(&p.dir, ["logs", "list"], &[]);
    assert_eq!(none.success().stdout.trim(), "No job runs found.");

    eltr(&p.dir, ["run", "tap-x", "target-y"], &[]).success();
    eltr(&p.dir, ["run", "tap-crash", "target-y"], &[]).failure();
    let listed = runs(&p.dir);
    assert_eq!(listed.len(), 2, "{listed:#?}");
    // Newest first: the crash, then the good run.
    assert_eq!(listed[0]["job_name"], "dev:tap-crash-to-target-y");
    assert_eq!(listed[0]["state"], "FAIL");
    assert_eq!(listed[1]["job_name"], "dev:tap-x-to-target-y");
    assert_eq!(listed[1]["state"], "SUCCESS");
    assert!(listed[1]["duration_seconds"].as_f64().unwrap() >= 0.0);
    let limited = eltr(&p.dir, ["logs", "list", "-l", "1", "--format", "json"], &[])
        .success()
        .json();
    assert_eq!(limited["runs"].as_array().unwrap().len(), 1);

    let id = listed[1]["log_id"].as_str().unwrap();
    let shown = eltr(&p.dir, ["logs", "show", id], &[])
        .success()
        .stdout
        .clone();
    assert!(shown.contains(&format!("Run ID: {id}")), "{shown}");
    assert!(shown.contains("State: SUCCESS"), "{shown}");
    assert!(shown.contains("tap-x"), "the log is missing: {shown}");
    let tail = eltr(&p.dir, ["logs", "show", id, "--tail", "2"], &[])
        .success()
        .stdout
        .clone();
    let after = tail
        .split("Last 2 lines:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{tail}"));
    assert_eq!(after.lines().count(), 2, "{tail}");

    let text = eltr(&p.dir, ["logs", "list"], &[]).success().stdout.clone();
    assert!(
        text.contains("\u{2717} FAIL") && text.contains("\u{2713} PASS"),
        "{text}"
    );

    eltr(
        &p.dir,
        ["logs", "show", "00000000-0000-4000-8000-000000000000"],
        &[],
    )
    .failure()
    .clean_error(&["No job found with log ID"]);
    let dir = eltr(&p.dir, ["logs", "dir"], &[])
        .success()
        .stdout
        .trim()
        .to_string();
    assert!(
        std::path::Path::new(&dir)
            .join(listed[0]["job_name"].as_str().unwrap())
            .is_dir()
    );
}

/// `logs` resolves every plugin only to learn its secrets for masking; nothing runs, so a
/// variable the project leaves unset is not warned about there (a command that resolves a
/// plugin to use it still warns).
#[test]
fn logs_do_not_warn_about_variables_nothing_uses() {
    let tmp = common::empty_dir();
    std::fs::write(
        tmp.path().join("meltano.yml"),
        "plugins:\n  extractors:\n  - name: tap-quiet\n    namespace: tap_quiet\n    \
         config:\n      password: ${LOGS_TEST_UNSET_PASSWORD}\n",
    )
    .unwrap();
    let warning = "'LOGS_TEST_UNSET_PASSWORD' is not set";
    eltr(tmp.path(), ["config", "print", "tap-quiet"], &[])
        .success()
        .stderr_has(warning);
    for args in [
        vec!["logs", "list"],
        vec!["logs", "list", "--format", "json"],
    ] {
        let listed = eltr(tmp.path(), &args, &[]);
        listed.success();
        assert!(!listed.stderr.contains(warning), "{}", listed.stderr);
    }
}
