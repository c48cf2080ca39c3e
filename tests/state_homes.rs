//! Every place Meltano keeps state, both ways, with real Meltano 4.4.1: Meltano runs
//! incrementally, eltr continues from its bookmark, Meltano continues from eltr's; the two
//! tools respect each other's locks; a kill -9 in the middle of state writes loses no saved
//! bookmark; and a project that never names a backend finds Meltano's state where Meltano
//! left it.
//!
//! Meltano (`meltano[gcs,postgres]==4.4.1`) comes from the venv `scripts/test-env.sh` builds
//! (`$ELTR_TEST_VENV/meltano`, or `ELTR_TEST_MELTANO` naming its `meltano` program); the
//! PostgreSQL cluster from `scripts/emulators.sh` (`ELTR_TEST_POSTGRES_URI`). These tests fail
//! (never skip) when either is missing.

mod common;
#[path = "common/stores.rs"]
mod stores;
#[path = "common/run.rs"]
mod support;

use common::{Run, eltr, project_dir, wait_until};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use stores::{Raw, gcs_create_bucket, postgres_database, required_var, unique};
use support::{examples_dir, meltano_doc, spawn_eltr};

const ID: &str = "dev:tap-x-to-target-y";
const SLOW_ID: &str = "dev:tap-slow-to-target-y";
const LIMIT: Duration = Duration::from_secs(120);

/// The `meltano` program of the test venv.
fn meltano_bin() -> PathBuf {
    let bin = std::env::var_os("ELTR_TEST_MELTANO")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(stores::required_var("ELTR_TEST_VENV")).join("meltano/bin/meltano")
        });
    assert!(
        bin.is_file(),
        "{} does not exist: run the suite with scripts/test.sh (scripts/test-env.sh installs Meltano 4.4.1)",
        bin.display()
    );
    bin
}

/// A Meltano project (no `state_backend`: Meltano's default, its system database) whose
/// plugins are the example Singer programs; `top` adds top-level keys.
fn project(top: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = project_dir();
    let ex = examples_dir();
    let yml = format!(
        r#"version: 1
default_environment: dev
project_id: 00000000-0000-4000-8000-0000000000aa
{top}environments:
- name: dev
plugins:
  extractors:
  - name: tap-x
    namespace: tap_x
    executable: "{tap}"
    capabilities: [state, catalog, discover]
    config: {{records: 5, state_every: 2}}
  - name: tap-slow
    namespace: tap_slow
    executable: "{tap}"
    capabilities: [state, catalog, discover]
    config: {{records: 150, state_every: 1, sleep_ms_per_record: 20}}
  - name: tap-many
    namespace: tap_many
    executable: "{tap}"
    capabilities: [state, catalog, discover]
    config: {{records: 200000, state_every: 1, record_bytes: 60}}
  loaders:
  - name: target-y
    namespace: target_y
    executable: "{target}"
"#,
        tap = ex.join("singer_tap").display(),
        target = ex.join("singer_target").display(),
    );
    std::fs::write(dir.join("meltano.yml"), yml).unwrap();
    (tmp, dir)
}

/// Runs Meltano in `dir` with only the variables it needs and `vars`.
fn meltano(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let home = dir.join(".home");
    std::fs::create_dir_all(&home).unwrap();
    let out = Command::new(meltano_bin())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("MELTANO_CLI_DISABLE_VERSION_CHECK", "true")
        .env("NO_COLOR", "1")
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("start meltano");
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        command: format!("(cd {}) meltano {}", dir.display(), args.join(" ")),
    }
}

/// What the tap was handed, as it echoes it on stderr (`state: {…}`).
fn handed(bookmark: u64) -> String {
    format!(r#"state: {{"bookmarks":{{"items":{{"replication_key_value":{bookmark}}}}}}}"#)
}

/// Meltano → eltr → Meltano on the system database `raw`, each resuming from the last.
fn round_trip(dir: &Path, raw: &Raw, vars: &[(&str, &str)]) {
    let state = format!("{ID}/state.json");
    meltano(dir, &["run", "tap-x", "target-y"], vars).success();
    assert_eq!(
        raw.get(&state).map(String::from_utf8).unwrap().unwrap(),
        meltano_doc("items", 5)
    );

    // eltr, with no backend named, finds Meltano's state and continues from it.
    let r = eltr(dir, ["run", "tap-x", "target-y"], vars);
    r.success().stderr_has(&handed(5));
    assert_eq!(
        raw.get(&state).map(String::from_utf8).unwrap().unwrap(),
        meltano_doc("items", 10)
    );
    assert!(raw.lock_of(ID).is_none(), "eltr's runs row must have ended");

    // Meltano continues from eltr's bookmark, and reads it with `state get`.
    let get = meltano(dir, &["state", "get", ID], vars);
    get.success();
    assert_eq!(
        get.stdout.trim_end(),
        r#"{"singer_state":{"bookmarks":{"items":{"replication_key_value":10}}}}"#
    );
    meltano(dir, &["run", "tap-x", "target-y"], vars)
        .success()
        .stderr_has(&handed(10));
    assert_eq!(
        raw.get(&state).map(String::from_utf8).unwrap().unwrap(),
        meltano_doc("items", 15)
    );

    // eltr's state commands and Meltano's see the same rows.
    eltr(
        dir,
        [
            "state",
            "merge",
            ID,
            r#"{"singer_state": {"bookmarks": {"b": {"v": 1}}}}"#,
        ],
        vars,
    )
    .success();
    let get = meltano(dir, &["state", "get", ID], vars);
    assert_eq!(
        get.stdout.trim_end(),
        r#"{"singer_state":{"bookmarks":{"items":{"replication_key_value":15},"b":{"v":1}}}}"#
    );
    let export = meltano(dir, &["state", "export"], vars);
    export.success();
    let eltr_export = eltr(dir, ["state", "export"], vars);
    eltr_export.success();
    assert_eq!(
        serde_json::from_str::<Value>(&eltr_export.stdout).unwrap(),
        serde_json::from_str::<Value>(&export.stdout).unwrap(),
        "both tools export the same states"
    );
}

#[test]
fn sqlite_systemdb_meltano_eltr_meltano() {
    let (_tmp, dir) = project("");
    let raw = Raw::Sqlite(dir.join(".meltano/meltano.db"));
    round_trip(&dir, &raw, &[]);
}

#[test]
fn postgres_systemdb_meltano_eltr_meltano() {
    let (admin, db) = postgres_database("homes_round_trip");
    let url = format!("{admin}/{db}");
    let sqlalchemy = url.replacen("postgresql://", "postgresql+psycopg://", 1);
    let (_tmp, dir) = project("");
    let raw = Raw::Postgres(url);
    round_trip(&dir, &raw, &[("MELTANO_DATABASE_URI", &sqlalchemy)]);
}

/// GCS through the emulator (`STORAGE_EMULATOR_HOST`, which Meltano's Google client and eltr
/// both honour): a bucket of its own, the project naming `gs://BUCKET/meltano-state`.
fn gcs_project() -> (tempfile::TempDir, PathBuf, Raw, String) {
    let host = required_var("ELTR_TEST_GCS_HOST");
    let bucket = unique("homes").to_lowercase();
    gcs_create_bucket(&host, &bucket);
    let (tmp, dir) = project(&format!(
        "state_backend: {{uri: 'gs://{bucket}/meltano-state'}}\n"
    ));
    let raw = Raw::Gcs {
        host: host.clone(),
        bucket,
        prefix: "meltano-state".into(),
    };
    (tmp, dir, raw, format!("http://{host}"))
}

#[test]
fn gcs_meltano_eltr_meltano() {
    let (_tmp, dir, raw, emulator) = gcs_project();
    round_trip(&dir, &raw, &[("STORAGE_EMULATOR_HOST", &emulator)]);
}

/// Meltano reads a lock object's body as a bare timestamp and waits while it is fresh: with
/// an eltr run holding the lock (heartbeat in the body), Meltano's `state set` waits for it
/// instead of failing on the body, and goes ahead once eltr released it.
#[test]
fn gcs_meltano_waits_for_a_live_eltr_lock() {
    let (_tmp, dir, raw, emulator) = gcs_project();
    let vars = [("STORAGE_EMULATOR_HOST", emulator.as_str())];
    let mut slow = spawn_eltr(&dir, &["run", "tap-slow", "target-y"], &vars);
    wait_until(LIMIT, "eltr's lock", || raw.lock_of(SLOW_ID).is_some());
    let started = std::time::Instant::now();
    meltano(
        &dir,
        &[
            "state",
            "set",
            "--force",
            SLOW_ID,
            r#"{"singer_state": {"bookmarks": {"items": {"replication_key_value": 1000}}}}"#,
        ],
        &vars,
    )
    .success();
    assert!(
        !slow.running(),
        "Meltano wrote state after {:?} while eltr still held the lock",
        started.elapsed()
    );
    slow.finish(LIMIT).success();
    let r = eltr(&dir, ["state", "get", SLOW_ID], &vars);
    assert_eq!(
        r.stdout.trim_end(),
        r#"{"singer_state":{"bookmarks":{"items":{"replication_key_value":1000}}}}"#
    );
}

#[test]
fn gcs_kill_9_mid_write_keeps_the_last_saved_bookmark() {
    let (_tmp, dir, raw, emulator) = gcs_project();
    killed_mid_write(&dir, &raw, &[("STORAGE_EMULATOR_HOST", &emulator)]);
}

/// A database eltr created (Meltano's tables, at Meltano's Alembic revision) is one Meltano
/// uses as it is.
#[test]
fn meltano_uses_the_system_database_eltr_created() {
    let (_tmp, dir) = project("state_backend: {uri: systemdb}\n");
    eltr(&dir, ["run", "tap-x", "target-y"], &[]).success();
    meltano(&dir, &["run", "tap-x", "target-y"], &[])
        .success()
        .stderr_has(&handed(5));
    let raw = Raw::Sqlite(dir.join(".meltano/meltano.db"));
    assert_eq!(
        raw.get(&format!("{ID}/state.json"))
            .map(String::from_utf8)
            .unwrap()
            .unwrap(),
        meltano_doc("items", 10)
    );
}

/// While an eltr run holds the state, Meltano refuses to start the same pipeline, as it
/// refuses while another Meltano run holds it; and the other way round.
#[test]
fn meltano_and_eltr_refuse_each_others_running_pipeline() {
    let (_tmp, dir) = project("");
    // A first run creates the database with state, so eltr's default is the system database.
    meltano(&dir, &["run", "tap-x", "target-y"], &[]).success();
    let raw = Raw::Sqlite(dir.join(".meltano/meltano.db"));
    // 600 records at 20 ms: the eltr run outlasts Meltano's start-up on a busy machine.
    let mut slow = spawn_eltr(
        &dir,
        &["run", "tap-slow", "target-y"],
        &[("SINGER_TAP_RECORDS", "600")],
    );
    wait_until(LIMIT, "eltr's lock", || raw.lock_of(SLOW_ID).is_some());
    meltano(&dir, &["run", "tap-slow", "target-y"], &[])
        .failure()
        .stderr_has("is already running");
    assert!(slow.running(), "the eltr run (12 s) must still be going");
    slow.finish(LIMIT).success();

    // The other way round: a Meltano run in progress.
    let mut cmd = Command::new(meltano_bin());
    cmd.args(["run", "tap-slow", "target-y"])
        .current_dir(&dir)
        .env("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("MELTANO_CLI_DISABLE_VERSION_CHECK", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut m = cmd.spawn().unwrap();
    wait_until(LIMIT, "Meltano's running job", || {
        raw.lock_of(SLOW_ID).is_some()
    });
    eltr(&dir, ["run", "tap-slow", "target-y"], &[])
        .failure()
        .stderr_has("is locked by run");
    assert!(m.wait().unwrap().success());
}

/// A project that names no backend, with state both in `.eltr/state` and in Meltano's
/// database, is ambiguous: eltr stops and says how to choose, rather than pick one.
#[test]
fn state_in_both_default_homes_stops_with_a_way_out() {
    let (_tmp, dir) = project("");
    meltano(&dir, &["run", "tap-x", "target-y"], &[]).success();
    let local = dir.join(".eltr/state").join(ID);
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("state.json"), meltano_doc("items", 99)).unwrap();
    let r = eltr(&dir, ["run", "tap-x", "target-y"], &[]);
    r.failure()
        .stderr_has("state is kept in two places")
        .stderr_has("state_backend.uri");
    assert!(!r.stderr.contains("state: {"), "no tap may start");
    // Naming the backend settles it.
    eltr(
        &dir,
        ["run", "tap-x", "target-y"],
        &[("MELTANO_STATE_BACKEND_URI", "systemdb")],
    )
    .success()
    .stderr_has(&handed(5));
}

/// kill -9 at random moments of a run that writes a state a second: every time, what is
/// stored is a whole document, its bookmark never goes back, and Meltano reads it.
fn killed_mid_write(dir: &Path, raw: &Raw, vars: &[(&str, &str)]) {
    let state = "dev:tap-many-to-target-y/state.json";
    let mut last = 0;
    for (i, after_ms) in [1300u64, 2100, 1700, 2600].into_iter().enumerate() {
        let run = spawn_eltr(dir, &["run", "tap-many", "target-y"], vars);
        std::thread::sleep(Duration::from_millis(after_ms));
        run.signal(libc::SIGKILL);
        run.finish(LIMIT).killed_by(libc::SIGKILL);
        let text = raw
            .get(state)
            .map(|b| String::from_utf8(b).unwrap())
            .unwrap_or_else(|| panic!("kill {i}: nothing stored after {after_ms} ms"));
        let doc: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("kill {i}: stored state is not whole ({e}): {text}"));
        let b = support::completed_bookmark(&doc, "items");
        assert!(
            b >= last,
            "kill {i}: the bookmark went back from {last} to {b}"
        );
        last = b;
    }
    let get = meltano(dir, &["state", "get", "dev:tap-many-to-target-y"], vars);
    get.success();
    assert_eq!(
        get.stdout.trim_end(),
        format!(
            r#"{{"singer_state":{{"bookmarks":{{"items":{{"replication_key_value":{last}}}}}}}}}"#
        )
    );
}

#[test]
fn sqlite_kill_9_mid_write_keeps_the_last_saved_bookmark() {
    let (_tmp, dir) = project("state_backend: {uri: systemdb}\n");
    let raw = Raw::Sqlite(dir.join(".meltano/meltano.db"));
    killed_mid_write(&dir, &raw, &[]);
}

#[test]
fn postgres_kill_9_mid_write_keeps_the_last_saved_bookmark() {
    let (admin, db) = postgres_database("homes_kill");
    let url = format!("{admin}/{db}");
    let sqlalchemy = url.replacen("postgresql://", "postgresql+psycopg://", 1);
    let (_tmp, dir) = project(&format!(
        "database_uri: {sqlalchemy}\nstate_backend: {{uri: systemdb}}\n"
    ));
    let raw = Raw::Postgres(url);
    killed_mid_write(&dir, &raw, &[]);
}

/// `--database-uri` (Meltano's per-command option, global in eltr) points both tools at one
/// system database, over `MELTANO_DATABASE_URI`.
#[test]
fn database_uri_option_wins_over_the_variable_in_both_tools() {
    let (_tmp, dir) = project("");
    let db = dir.join("elsewhere/system.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let uri = format!("sqlite:///{}", db.display());
    let decoy = format!("sqlite:///{}", dir.join("decoy.db").display());
    let vars = [("MELTANO_DATABASE_URI", decoy.as_str())];
    meltano(
        &dir,
        &["run", "--database-uri", &uri, "tap-x", "target-y"],
        &vars,
    )
    .success();
    eltr(
        &dir,
        ["run", "--database-uri", &uri, "tap-x", "target-y"],
        &vars,
    )
    .success()
    .stderr_has(&handed(5));
    let raw = Raw::Sqlite(db);
    assert_eq!(
        raw.get(&format!("{ID}/state.json"))
            .map(String::from_utf8)
            .unwrap()
            .unwrap(),
        meltano_doc("items", 10)
    );
    assert!(!dir.join("decoy.db").exists(), "the variable was used");
    assert!(!dir.join(".meltano/meltano.db").exists());
}
