//! The README's example project, run for real: its own stdlib-Python tap (`tap-orders`) into
//! `target-jsonl` 0.1.4 from PyPI (the test virtualenv `scripts/test-env.sh` made, named by
//! `ELTR_TEST_VENV`), through the main job `orders-to-jsonl`. Checks what lands, what the
//! `select` rules leave out, and that a second run is incremental: the tap is handed the stored
//! bookmarks and sends nothing new. Also the way the Docker image runs it (prod environment,
//! output and state folders from variables), and the schedules the Airflow DAG file reads.

mod common;

use common::{Run, eltr};
use serde_json::Value;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const JOB: &str = "orders-to-jsonl";

/// A copy of `example-project` (without what runs leave in it: `.eltr/`, `output/`) whose
/// `target-jsonl` is the test virtualenv's, so nothing is installed.
struct Example {
    _tmp: TempDir,
    dir: PathBuf,
}

impl Example {
    fn new() -> Example {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("example-project");
        copy_project(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("example-project"),
            &dir,
        );
        let loaders = dir.join("plugins/loaders/loaders_config.yml");
        let text = std::fs::read_to_string(&loaders).expect("read loaders_config.yml");
        let pin = "      pip_url: target-jsonl==0.1.4\n";
        assert!(
            text.contains(pin),
            "loaders_config.yml no longer pins {pin:?}:\n{text}"
        );
        let exe = common::test_venvs().join("target-jsonl/bin/target-jsonl");
        let text = text.replace(pin, &format!("{pin}      executable: {}\n", exe.display()));
        std::fs::write(&loaders, text).expect("write loaders_config.yml");
        Example { _tmp: tmp, dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    fn run(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        eltr(&self.dir, args, vars)
    }
}

fn copy_project(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("create project copy");
    for entry in std::fs::read_dir(src).expect("read example-project") {
        let entry = entry.expect("example-project entry");
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let (from, to) = (entry.path(), dst.join(&*name));
        if entry.file_type().expect("entry type").is_dir() {
            if [".eltr", ".meltano", "output", "__pycache__"].contains(&&*name) {
                continue;
            }
            copy_project(&from, &to);
        } else if name != ".env" {
            // std::fs::copy keeps the permission bits: the tap script stays executable.
            std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
        }
    }
}

/// The records of a JSON-lines file.
#[track_caller]
fn records(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no output at {}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

fn ids(rows: &[Value]) -> Vec<i64> {
    let mut ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    ids.sort();
    ids
}

/// Checks the 5 orders and 3 customers of the example data in `out`.
#[track_caller]
fn assert_all_rows_landed(out: &Path) {
    let orders = records(&out.join("orders.jsonl"));
    assert_eq!(ids(&orders), [1, 2, 3, 4, 5], "{orders:?}");
    let third = orders.iter().find(|r| r["id"] == 3).unwrap();
    assert_eq!(third["amount"], Value::from(42.1), "{third}");
    assert_eq!(third["status"], "pending", "{third}");
    let customers = records(&out.join("customers.jsonl"));
    assert_eq!(ids(&customers), [1, 2, 3], "{customers:?}");
    for c in &customers {
        assert!(
            c.get("internal_note").is_none(),
            "`!customers.internal_note` should deselect it: {c}"
        );
        for key in ["name", "email", "updated_at"] {
            assert!(c.get(key).is_some(), "customer lacks {key}: {c}");
        }
    }
}

/// The stored bookmarks of the job's pipeline in `state_dir` (a local store folder).
#[track_caller]
fn bookmarks(state_dir: &Path, env: &str) -> Value {
    let path = state_dir
        .join(format!("{env}:tap-orders--sales-to-target-jsonl--sales"))
        .join("state.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no stored state at {}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).expect("stored state is JSON");
    doc["completed"]["singer_state"]["bookmarks"].clone()
}

#[track_caller]
fn assert_bookmarks_at_newest_rows(b: &Value) {
    assert_eq!(b["orders"]["updated_at"], "2024-03-03T08:05:00Z", "{b}");
    assert_eq!(b["customers"]["updated_at"], "2024-02-05T00:00:00Z", "{b}");
}

#[test]
fn the_main_job_loads_every_row_then_runs_incrementally_from_the_stored_state() {
    let p = Example::new();

    let first = p.run(&["run", JOB], &[]);
    first
        .success()
        .stderr_has("tap-orders: orders: 5 new rows since 2024-01-01T00:00:00Z")
        .stderr_has("tap-orders: customers: 3 new rows since 2024-01-01T00:00:00Z");
    let out = p.path("output/dev");
    assert_all_rows_landed(&out);
    assert_bookmarks_at_newest_rows(&bookmarks(&p.path(".eltr/state"), "dev"));

    // The tap prints the bookmark it was handed: the stored one, so no row is sent again.
    let second = p.run(&["run", JOB], &[]);
    second
        .success()
        .stderr_has("resuming 'dev:tap-orders--sales-to-target-jsonl--sales'")
        .stderr_has("tap-orders: orders: 0 new rows since 2024-03-03T08:05:00Z")
        .stderr_has("tap-orders: customers: 0 new rows since 2024-02-05T00:00:00Z");
    assert_all_rows_landed(&out);
    assert_bookmarks_at_newest_rows(&bookmarks(&p.path(".eltr/state"), "dev"));

    // A full refresh ignores the stored bookmarks.
    let third = p.run(&["run", JOB, "--full-refresh"], &[]);
    third
        .success()
        .stderr_has("tap-orders: orders: 5 new rows since 2024-01-01T00:00:00Z");
}

/// As the Docker image runs it: prod, with the output and a file:// state store named by
/// variables (the image mounts volumes there), and a secret from the environment.
#[test]
fn prod_takes_output_and_state_locations_and_secrets_from_variables() {
    let p = Example::new();
    let tmp = common::empty_dir();
    let out = tmp.path().join("output");
    let state = tmp.path().join("state");
    let state_uri = format!("file://{}", state.display());
    let vars = [
        ("ELTR_ENVIRONMENT", "prod"),
        ("OUTPUT_DIR", out.to_str().unwrap()),
        ("ELTR_STATE_BACKEND_URI", state_uri.as_str()),
        ("TAP_ORDERS_API_TOKEN", "not-a-real-token"),
    ];

    p.run(&["run", JOB, "--environment", "prod"], &vars)
        .success();
    assert_all_rows_landed(&out);
    assert_bookmarks_at_newest_rows(&bookmarks(&state, "prod"));
    assert!(
        !p.path(".eltr/state").exists(),
        "the project's own store should stay unused"
    );
    assert!(!p.path("output").exists(), "output should go to OUTPUT_DIR");

    p.run(&["run", JOB], &vars)
        .success()
        .stderr_has("tap-orders: orders: 0 new rows since 2024-03-03T08:05:00Z");

    let config = p.run(&["config", "print", "tap-orders--sales", "--unsafe"], &vars);
    config.success();
    assert_eq!(
        config.json()["api_token"],
        "not-a-real-token",
        "{}",
        config.stdout
    );
    let masked = p.run(&["config", "print", "tap-orders--sales"], &vars);
    assert!(
        !masked.success().stdout.contains("not-a-real-token"),
        "{}",
        masked.stdout
    );
}

/// What `orchestrate/airflow/dags/eltr_dags.py` reads: one schedule, `orders-daily`, running
/// the job's one task every day.
#[test]
fn schedule_list_gives_the_airflow_dags_their_schedule_and_tasks() {
    let p = Example::new();
    let run = p.run(&["schedule", "list", "--format", "json"], &[]);
    let doc = run.success().json();
    let jobs = doc["schedules"]["job"].as_array().expect("job schedules");
    assert_eq!(jobs.len(), 1, "{doc}");
    let s = &jobs[0];
    assert_eq!(s["name"], "orders-daily", "{s}");
    assert_eq!(s["interval"], "@daily", "{s}");
    assert_eq!(s["cron_interval"], "0 0 * * *", "{s}");
    assert_eq!(s["job"]["name"], JOB, "{s}");
    assert_eq!(
        s["job"]["tasks"],
        serde_json::json!(["tap-orders--sales target-jsonl--sales"]),
        "{s}"
    );
    assert_eq!(doc["schedules"]["elt"], serde_json::json!([]), "{doc}");
}
