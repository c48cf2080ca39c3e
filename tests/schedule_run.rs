//! `eltr schedule run` does what Meltano 4.4.1's does, compared on two copies of one fixture
//! (tests/fixtures/schedule-run): a job schedule runs its job with the schedule's `env:` and
//! the environment asked for (else the default), options after the name reach the run, a
//! legacy schedule runs its pair with the schedule's name as state id, and an unknown name is
//! an error with the closest one.

mod common;
#[path = "common/meltano.rs"]
mod reference;
#[path = "common/run.rs"]
mod support;

use common::{Run, eltr};
use reference::{QUIET, meltano};
use support::project;

/// Runs the same command in a fresh copy of the fixture with each tool; returns
/// (Meltano's run, eltr's run, Meltano's copy, eltr's copy).
fn both(args: &[&str]) -> [(Run, common::TempProject); 2] {
    let m = project("schedule-run");
    let e = project("schedule-run");
    let mr = meltano(&m.dir, args, &[]);
    let er = eltr(&e.dir, args, &QUIET);
    [(mr, m), (er, e)]
}

fn seen(p: &common::TempProject) -> String {
    std::fs::read_to_string(p.path("seen.txt")).unwrap_or_default()
}

#[test]
fn a_job_schedule_runs_its_job_with_its_env_in_the_default_environment() {
    let [(mr, m), (er, e)] = both(&["schedule", "run", "noted-daily"]);
    mr.success();
    er.success();
    assert_eq!(seen(&m), "env=dev var=from-the-schedule\n");
    assert_eq!(seen(&e), seen(&m));
}

#[test]
fn the_environment_asked_for_reaches_the_run() {
    let [(mr, m), (er, e)] = both(&["--environment", "prod", "schedule", "run", "noted-daily"]);
    mr.success();
    er.success();
    assert_eq!(seen(&m), "env=prod var=from-the-schedule\n");
    assert_eq!(seen(&e), seen(&m));
}

#[test]
fn a_legacy_schedule_runs_its_pair_under_the_schedules_name() {
    let [(mr, m), (er, e)] = both(&["schedule", "run", "legacy-pair"]);
    mr.success();
    er.success();
    let stored = |run: Run| run.success().json()["singer_state"].clone();
    let m_state = stored(meltano(&m.dir, &["state", "get", "legacy-pair"], &[]));
    let e_state = stored(eltr(&e.dir, ["state", "get", "legacy-pair"], &QUIET));
    assert_eq!(m_state["bookmarks"]["items"]["replication_key_value"], 5);
    assert_eq!(e_state, m_state);
}

#[test]
fn options_after_the_name_reach_the_run() {
    // A second run of the pair with `--full-refresh` starts from no bookmark, so the stored
    // one stays where the first run left it (5), where a plain second run would reach 10.
    let [(mr, m), (er, e)] = both(&["schedule", "run", "legacy-pair"]);
    mr.success();
    er.success();
    let again = ["schedule", "run", "legacy-pair", "--full-refresh"];
    meltano(&m.dir, &again, &[]).success();
    eltr(&e.dir, again, &QUIET).success();
    let stored = |run: Run| run.success().json()["singer_state"].clone();
    let m_state = stored(meltano(&m.dir, &["state", "get", "legacy-pair"], &[]));
    let e_state = stored(eltr(&e.dir, ["state", "get", "legacy-pair"], &QUIET));
    assert_eq!(m_state["bookmarks"]["items"]["replication_key_value"], 5);
    assert_eq!(e_state, m_state);

    // An option the run does not know fails the run, in both tools, before the job runs.
    let bad = ["schedule", "run", "noted-daily", "--no-such-option"];
    let er = eltr(&e.dir, bad, &QUIET);
    let mr = meltano(&m.dir, &bad, &[]);
    assert_eq!(er.code(), mr.code(), "{}\n{}", er.stderr, mr.stderr);
    assert!(seen(&e).is_empty() && seen(&m).is_empty());
}

#[test]
fn an_unknown_schedule_names_the_closest_one() {
    let e = project("schedule-run");
    let r = eltr(&e.dir, ["schedule", "run", "noted-daly"], &QUIET);
    r.failure()
        .clean_error(&["Schedule 'noted-daly' was not found", "noted-daily"]);
    let mr = meltano(&e.dir, &["schedule", "run", "noted-daly"], &[]);
    assert!(
        mr.stderr.contains("Schedule 'noted-daly' was not found"),
        "{}",
        mr.stderr
    );
}
