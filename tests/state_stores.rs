//! The state-store contract (DESIGN.md §5), the same behaviours checked on each of the three
//! stores: the local folder (the default `.eltr/state`, or `file://`), S3 and Azure Blob.
//!
//! Every test spawns the built `eltr` on a project written into a temporary folder whose
//! plugins are the example Singer programs, and looks at the stored objects directly (the
//! local file; S3 with signed HTTP requests to the moto emulator through `curl --aws-sigv4`;
//! Azure with the `azure-storage-blob` Python package of the emulator venv), never through
//! eltr's code.
//!
//! The S3 and Azure tests need the emulators `scripts/test.sh` starts (see
//! `scripts/emulators.sh`): `ELTR_TEST_S3_ENDPOINT`, `ELTR_TEST_S3_BUCKET`,
//! `ELTR_TEST_AZURE_CONNECTION_STRING`, `ELTR_TEST_AZURE_CONTAINER` and `ELTR_TEST_VENV`. They
//! fail (not skip) when those are missing. Each test works under its own random prefix, so the
//! tests run in parallel on one bucket and one container.

mod common;
#[path = "common/stores.rs"]
mod stores;
#[path = "common/run.rs"]
mod support;

use common::{Run, fixture_source, golden_text, project_dir, wait_until};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use stores::{
    Kind, Raw, every_store, free_port as closed_port, required_var, run_tool, s3_create_bucket,
    s3_curl, unique,
};
use support::{examples_dir, meltano_doc, spawn_eltr};
use tempfile::TempDir;

/// Ceiling for any single eltr command; a healthy one takes well under a second.
const LIMIT: Duration = Duration::from_secs(60);
/// How long a command may take to give up on an unreachable store.
const UNREACHABLE_LIMIT: Duration = Duration::from_secs(30);
/// The state id `eltr run tap-x target-y` uses in the `dev` environment.
const TAP_X_ID: &str = "dev:tap-x-to-target-y";
/// The state id of Meltano 4.4.1's captured run (tests/fixtures/precedence/golden/run).
const MELTANO_ID: &str = "test:tap-prec--child-to-target-prec";

// ---------------------------------------------------------------------------------------------
// The emulators
// ---------------------------------------------------------------------------------------------

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

// ---------------------------------------------------------------------------------------------
// Stores, and raw access to what they hold
// ---------------------------------------------------------------------------------------------

/// One store as a project configures it.
#[derive(Debug, Clone)]
struct Store {
    /// What eltr names the store by in messages: the URI (remote), the base folder (local).
    name: String,
    /// The `state_backend` settings written into the project (without `lock_timeout_seconds`).
    backend: serde_json::Map<String, Value>,
    /// Other top-level keys of the project file (`database_uri`).
    top: serde_json::Map<String, Value>,
    /// Variables every eltr process of the project gets (`STORAGE_EMULATOR_HOST`).
    vars: Vec<(String, String)>,
    raw: Raw,
}

impl Store {
    /// The store of `kind` under a fresh prefix named after `test`, for a project in `dir`.
    fn new(kind: Kind, test: &str, dir: &Path) -> Store {
        match kind {
            Kind::Local => {
                let base = dir.join(".eltr/state");
                Store {
                    name: base.display().to_string(),
                    backend: Default::default(),
                    top: Default::default(),
                    vars: Vec::new(),
                    raw: Raw::Local(base),
                }
            }
            Kind::Sqlite => {
                // Meltano's default system database, named only by `uri: systemdb`.
                let path = dir.join(".meltano/meltano.db");
                Store {
                    name: format!("systemdb sqlite:///{}", path.display()),
                    backend: json!({"uri": "systemdb"}).as_object().unwrap().clone(),
                    top: Default::default(),
                    vars: Vec::new(),
                    raw: Raw::Sqlite(path),
                }
            }
            Kind::Postgres => Store::postgres(test),
            Kind::Gcs => {
                let host = required_var("ELTR_TEST_GCS_HOST");
                let bucket = required_var("ELTR_TEST_GCS_BUCKET");
                let prefix = format!("state-stores/{}", unique(test));
                Store {
                    name: format!("gs://{bucket}/{prefix}"),
                    backend: json!({"uri": format!("gs://{bucket}/{prefix}")})
                        .as_object()
                        .unwrap()
                        .clone(),
                    top: Default::default(),
                    vars: vec![("STORAGE_EMULATOR_HOST".into(), host.clone())],
                    raw: Raw::Gcs {
                        host,
                        bucket,
                        prefix,
                    },
                }
            }
            Kind::S3 => {
                let endpoint = required_var("ELTR_TEST_S3_ENDPOINT");
                let bucket = required_var("ELTR_TEST_S3_BUCKET");
                Store::s3_in(&endpoint, &bucket, test)
            }
            Kind::Azure => {
                let conn = required_var("ELTR_TEST_AZURE_CONNECTION_STRING");
                let container = required_var("ELTR_TEST_AZURE_CONTAINER");
                Store::azure_in(&conn, &container, test)
            }
        }
    }

    /// A local store named by a `file://` URI (as Meltano's file backend is configured).
    fn file_uri(base: PathBuf) -> Store {
        let mut backend = serde_json::Map::new();
        backend.insert("uri".into(), json!(format!("file://{}", base.display())));
        Store {
            name: base.display().to_string(),
            backend,
            top: Default::default(),
            vars: Vec::new(),
            raw: Raw::Local(base),
        }
    }

    /// `systemdb` on a new PostgreSQL database of the test cluster, named by the project's
    /// `database_uri` in SQLAlchemy's form (`postgresql+psycopg://`).
    fn postgres(test: &str) -> Store {
        let (admin, db) = stores::postgres_database(test);
        let url = format!("{admin}/{db}");
        let sqlalchemy = url.replacen("postgresql://", "postgresql+psycopg://", 1);
        let mut top = serde_json::Map::new();
        top.insert("database_uri".into(), json!(sqlalchemy));
        Store {
            name: format!("systemdb {url}"),
            backend: json!({"uri": "systemdb"}).as_object().unwrap().clone(),
            top,
            vars: Vec::new(),
            raw: Raw::Postgres(url),
        }
    }

    /// An S3 store in `bucket` at `endpoint`, configured in the project file.
    fn s3_in(endpoint: &str, bucket: &str, test: &str) -> Store {
        let prefix = format!("state-stores/{}", unique(test));
        let uri = format!("s3://{bucket}/{prefix}");
        let backend = json!({
            "uri": uri,
            "s3": {
                "aws_access_key_id": "testing",
                "aws_secret_access_key": "testing",
                "endpoint_url": endpoint,
                "region": "us-east-1",
            },
        });
        Store {
            name: uri,
            backend: backend.as_object().unwrap().clone(),
            top: Default::default(),
            vars: Vec::new(),
            raw: Raw::S3 {
                endpoint: endpoint.to_string(),
                bucket: bucket.to_string(),
                prefix,
            },
        }
    }

    /// An Azure store in `container`, the connection string in the project file.
    fn azure_in(conn: &str, container: &str, test: &str) -> Store {
        let prefix = format!("state-stores/{}", unique(test));
        let uri = format!("azure://{container}/{prefix}");
        let backend = json!({
            "uri": uri,
            "azure": { "connection_string": conn },
        });
        Store {
            name: uri,
            backend: backend.as_object().unwrap().clone(),
            top: Default::default(),
            vars: Vec::new(),
            raw: Raw::Azure {
                conn: conn.to_string(),
                container: container.to_string(),
                prefix,
            },
        }
    }

    /// Writes `{prefix}/{key}` directly.
    fn put(&self, key: &str, bytes: &[u8]) {
        self.raw.put(key, bytes)
    }

    /// Reads `{prefix}/{key}` directly (`None` when it does not exist).
    fn get(&self, key: &str) -> Option<String> {
        self.raw
            .get(key)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// Every key under the prefix (relative to it), sorted.
    fn keys(&self) -> Vec<String> {
        self.raw.keys()
    }

    /// The stored document of `id` as text.
    #[track_caller]
    fn state_text(&self, id: &str) -> String {
        self.get(&format!("{id}/state.json"))
            .unwrap_or_else(|| panic!("no stored state for {id} in {}", self.name))
    }

    /// The stored document of `id`, parsed.
    #[track_caller]
    fn state_json(&self, id: &str) -> Value {
        let text = self.state_text(id);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("stored state of {id} is not JSON ({e}): {text}"))
    }

    #[track_caller]
    fn assert_no_lock(&self, id: &str) {
        let lock = self.get(&format!("{id}/lock"));
        assert!(
            lock.is_none(),
            "lock of {id} left behind in {}: {lock:?}",
            self.name
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Projects
// ---------------------------------------------------------------------------------------------

/// A project in a temporary folder whose state lives in `store`.
struct Project {
    _tmp: TempDir,
    dir: PathBuf,
    store: Store,
}

impl Project {
    fn new(kind: Kind, test: &str) -> Project {
        let (tmp, dir) = project_dir();
        let store = Store::new(kind, test, &dir);
        Project::with_store(tmp, dir, store)
    }

    /// A project in a new temporary folder whose state lives in `store` (a remote one).
    fn on(store: Store) -> Project {
        let (tmp, dir) = project_dir();
        Project::with_store(tmp, dir, store)
    }

    fn with_store(tmp: TempDir, dir: PathBuf, store: Store) -> Project {
        let p = Project {
            _tmp: tmp,
            dir,
            store,
        };
        p.write_yml(None);
        if matches!(p.store.raw, Raw::Sqlite(_) | Raw::Postgres(_)) {
            // eltr creates Meltano's tables in a new system database; the raw access of the
            // tests needs them before anything else writes.
            p.eltr(&["state", "list"]).success();
        }
        p
    }

    /// Writes `meltano.yml`: the store's backend settings (and `lock_timeout_seconds` when
    /// given) and the example plugins.
    fn write_yml(&self, lock_timeout_seconds: Option<f64>) {
        let mut backend = self.store.backend.clone();
        if let Some(t) = lock_timeout_seconds {
            backend.insert("lock_timeout_seconds".into(), json!(t));
        }
        // JSON is YAML: values (URIs, connection strings) need no quoting rules.
        let mut backend = if backend.is_empty() {
            String::new()
        } else {
            format!("state_backend: {}\n", Value::Object(backend))
        };
        for (k, v) in &self.store.top {
            backend.push_str(&format!("{k}: {v}\n"));
        }
        let ex = examples_dir();
        let tap = ex.join("singer_tap");
        let target = ex.join("singer_target");
        let yml = format!(
            r#"version: 1
default_environment: dev
environments:
- name: dev
{backend}plugins:
  extractors:
  - name: tap-x
    executable: "{tap}"
    config: {{records: 5, state_every: 2}}
  - name: tap-slow
    executable: "{tap}"
    config: {{records: 150, state_every: 1, sleep_ms_per_record: 20}}
  - name: tap-many
    executable: "{tap}"
    config: {{records: 10000, state_every: 1, record_bytes: 60}}
  - name: tap-trickle
    executable: "{tap}"
    config: {{records: 2500, state_every: 1, sleep_ms_per_record: 1, record_bytes: 60}}
  loaders:
  - name: target-y
    executable: "{target}"
"#,
            tap = tap.display(),
            target = target.display()
        );
        std::fs::write(self.dir.join("meltano.yml"), yml).unwrap();
    }

    /// Runs `eltr ARGS` with the variables `extra`, killed after `limit`.
    #[track_caller]
    fn eltr_within(&self, args: &[&str], extra: &[(&str, &str)], limit: Duration) -> Run {
        self.spawn(args, extra).finish(limit)
    }

    /// Starts `eltr ARGS` with the store's variables and `extra`.
    fn spawn(&self, args: &[&str], extra: &[(&str, &str)]) -> support::Background {
        let mut vars: Vec<(&str, &str)> = self
            .store
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        vars.extend_from_slice(extra);
        spawn_eltr(&self.dir, args, &vars)
    }

    #[track_caller]
    fn eltr(&self, args: &[&str]) -> Run {
        self.eltr_within(args, &[], LIMIT)
    }

    /// `eltr state get ID`, which must succeed; its stdout without the newline.
    #[track_caller]
    fn get(&self, id: &str) -> String {
        let r = self.eltr(&["state", "get", id]);
        r.success();
        r.stdout.trim_end().to_string()
    }

    /// `eltr state list [ARGS]`, which must succeed; its stdout lines.
    #[track_caller]
    fn list(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["state", "list"];
        all.extend_from_slice(args);
        let r = self.eltr(&all);
        r.success();
        r.stdout.lines().map(String::from).collect()
    }
}

every_store!(
    cli_operations,
    export_import_and_edit,
    only_one_of_eight_concurrent_runs_gets_the_lock,
    only_one_of_eight_runs_takes_over_a_stale_lock,
    live_run_keeps_its_lock_fresh_past_the_timeout,
    lock_of_a_killed_run_is_taken_over_without_force,
    run_whose_lock_is_forced_away_stops_saving_state,
    stale_lock_is_taken_over_fresh_lock_refused_force_breaks_it,
    meltano_bare_timestamp_lock_is_respected,
    incremental_run_resumes_and_stores_meltanos_document,
    meltano_441_state_files_are_read_by_state_get,
    meltano_441_state_is_handed_to_the_tap_by_run,
    corrupt_stored_state_fails_and_is_kept,
    ten_thousand_checkpoints_end_with_the_last_bookmark,
);

// ---------------------------------------------------------------------------------------------
// Assertions on failures
// ---------------------------------------------------------------------------------------------

/// What is wrong with a failure message, if anything: the run must fail with exactly one
/// short `error:` line that names `store` and contains one of `hints` (what to check), and
/// print no multi-line dump (XML, repeated causes).
fn one_line_error_problem(r: &Run, store: &str, hints: &[&str]) -> Option<String> {
    let problem = |what: String| Some(format!("`{}`: {what}; stderr:\n{}", r.command, r.stderr));
    if r.status.success() {
        return problem(format!("exited 0 (stdout: {:?})", r.stdout));
    }
    let errors = r.error_lines();
    if errors.len() != 1 {
        return problem(format!("{} `error:` lines, expected one", errors.len()));
    }
    let line = errors[0];
    if let Some(bad) = ["<?xml", "</", "caused by"]
        .into_iter()
        .find(|bad| r.stderr.contains(bad))
    {
        return problem(format!("a multi-line dump ({bad:?}) instead of one line"));
    }
    if line.len() > 400 {
        return problem(format!("the error line is {} characters long", line.len()));
    }
    if !line.contains(store) {
        return problem(format!("the error does not name the store {store}"));
    }
    let lower = line.to_lowercase();
    if !hints.iter().any(|h| lower.contains(&h.to_lowercase())) {
        return problem(format!(
            "the error does not say what to check (expected one of {hints:?})"
        ));
    }
    None
}

#[track_caller]
fn assert_one_line_error(r: &Run, store: &str, hints: &[&str]) {
    if let Some(problem) = one_line_error_problem(r, store, hints) {
        panic!("{problem}");
    }
}

/// `eltr run --summary-json F TAP target-y`, which must succeed; the run, the numbers of its
/// block's states confirmed by the target and written to the store, and how long it took.
#[track_caller]
fn run_counting_writes(p: &Project, tap: &str) -> (Run, u64, u64, Duration) {
    let summary = p.dir.join(format!("summary-{tap}.json"));
    let started = Instant::now();
    let r = p.eltr(&[
        "run",
        "--summary-json",
        summary.to_str().unwrap(),
        tap,
        "target-y",
    ]);
    let elapsed = started.elapsed();
    r.success();
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let block = &doc["blocks"][0];
    let count = |key: &str| {
        block[key]
            .as_u64()
            .unwrap_or_else(|| panic!("no {key} in the run summary: {doc}"))
    };
    (r, count("states_confirmed"), count("state_writes"), elapsed)
}

// ---------------------------------------------------------------------------------------------
// 1. `eltr state …` on each store
// ---------------------------------------------------------------------------------------------

fn cli_operations(kind: Kind) {
    let p = Project::new(kind, "cli_operations");
    let s = &p.store;
    let (a, b, c, prod) = (
        "dev:tap-a-to-target-b",
        "dev:tap-c-to-target-b",
        "dev:tap-d-to-target-b",
        "prod:tap-a-to-target-b",
    );

    // Nothing stored yet.
    assert_eq!(p.list(&[]), Vec::<String>::new());
    assert_eq!(p.get(a), "{}");

    // set: Meltano's document, Python's separators, byte for byte.
    p.eltr(&[
        "state",
        "set",
        "--force",
        a,
        r#"{"singer_state": {"bookmarks": {"s1": {"v": 1}}}}"#,
    ])
    .success();
    assert_eq!(p.get(a), r#"{"singer_state":{"bookmarks":{"s1":{"v":1}}}}"#);
    assert_eq!(
        s.state_text(a),
        r#"{"completed": {"singer_state": {"bookmarks": {"s1": {"v": 1}}}}, "partial": {}}"#
    );
    s.assert_no_lock(a);

    // set refuses a state without singer_state and keeps the stored one.
    p.eltr(&["state", "set", "--force", a, r#"{"bookmarks": {}}"#])
        .failure()
        .stderr_has("singer_state");
    assert_eq!(p.get(a), r#"{"singer_state":{"bookmarks":{"s1":{"v":1}}}}"#);

    // set --input-file.
    let input = p.dir.join("input.json");
    std::fs::write(
        &input,
        r#"{"singer_state": {"bookmarks": {"s9": {"v": 9}}}}"#,
    )
    .unwrap();
    p.eltr(&[
        "state",
        "set",
        "--force",
        prod,
        "--input-file",
        input.to_str().unwrap(),
    ])
    .success();
    assert_eq!(
        p.get(prod),
        r#"{"singer_state":{"bookmarks":{"s9":{"v":9}}}}"#
    );

    // merge: a new stream and a changed bookmark, deep-merged over what is stored.
    p.eltr(&[
        "state",
        "merge",
        a,
        r#"{"singer_state": {"bookmarks": {"s1": {"v": 3}, "s2": {"v": 2}}}}"#,
    ])
    .success();
    assert_eq!(
        p.get(a),
        r#"{"singer_state":{"bookmarks":{"s1":{"v":3},"s2":{"v":2}}}}"#
    );
    // merge --from-state-id.
    p.eltr(&["state", "merge", a, "--from-state-id", prod])
        .success();
    assert_eq!(
        p.get(a),
        r#"{"singer_state":{"bookmarks":{"s1":{"v":3},"s2":{"v":2},"s9":{"v":9}}}}"#
    );
    let doc = s.state_json(a);
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["completed", "partial"],
        "stored document keeps Meltano's shape: {doc}"
    );
    s.assert_no_lock(a);

    // copy, move.
    p.eltr(&["state", "copy", "--force", a, b]).success();
    assert_eq!(p.get(b), p.get(a));
    assert_eq!(
        s.state_json(b)["completed"]["singer_state"],
        json!({"bookmarks": {"s1": {"v": 3}, "s2": {"v": 2}, "s9": {"v": 9}}}),
        "copy stores the effective state as completed"
    );
    p.eltr(&["state", "move", "--force", b, c]).success();
    assert_eq!(
        p.get(c),
        r#"{"singer_state":{"bookmarks":{"s1":{"v":3},"s2":{"v":2},"s9":{"v":9}}}}"#
    );
    assert_eq!(p.get(b), "{}", "move removes the source");
    assert_eq!(p.list(&[]), vec![a, c, prod]);

    // copy of a state id that has nothing stored fails and creates nothing.
    let missing = "dev:tap-none-to-target-b";
    p.eltr(&["state", "copy", "--force", missing, b])
        .failure()
        .stderr_has(missing);
    assert_eq!(p.get(b), "{}");

    // list --pattern.
    assert_eq!(p.list(&["--pattern", "dev:*"]), vec![a, c]);
    assert_eq!(p.list(&["--pattern", "*tap-a-*"]), vec![a, prod]);
    assert_eq!(p.list(&["--pattern", "nothing*"]), Vec::<String>::new());

    // clear one, then --all.
    p.eltr(&["state", "clear", "--force", a]).success();
    assert_eq!(p.get(a), "{}");
    assert_eq!(p.list(&[]), vec![c, prod]);
    p.eltr(&["state", "clear", "--force", "--all"]).success();
    assert_eq!(p.list(&[]), Vec::<String>::new());
    assert_eq!(
        s.keys(),
        Vec::<String>::new(),
        "clear --all leaves no state and no lock objects in {}",
        s.name
    );
}

/// `eltr state export` prints every state in Meltano's export format; `import` of that (or of
/// Meltano 4.4.1's own export, with its `null` partial) restores them; `edit` stores what the
/// editor saved.
fn export_import_and_edit(kind: Kind) {
    let p = Project::new(kind, "export_import");
    let (a, b) = ("dev:tap-a-to-target-b", "prod:tap-a-to-target-b");
    p.eltr(&[
        "state",
        "set",
        "--force",
        a,
        r#"{"singer_state": {"bookmarks": {"s1": {"v": 1}}}}"#,
    ])
    .success();
    p.eltr(&[
        "state",
        "merge",
        a,
        r#"{"singer_state": {"bookmarks": {"s2": {"v": 2}}}}"#,
    ])
    .success();
    p.eltr(&[
        "state",
        "set",
        "--force",
        b,
        r#"{"singer_state": {"bookmarks": {}}}"#,
    ])
    .success();
    let export = p.eltr(&["state", "export"]);
    export.success();
    let expected = r#"{"dev:tap-a-to-target-b":{"completed":{"singer_state":{"bookmarks":{"s1":{"v":1}}}},"partial":{"singer_state":{"bookmarks":{"s2":{"v":2}}}}},"prod:tap-a-to-target-b":{"completed":{"singer_state":{"bookmarks":{}}},"partial":{}}}"#;
    assert_eq!(
        export.stdout.trim_end(),
        expected,
        "Meltano's compact export format"
    );

    // Import into an empty store restores both documents, partial state included.
    let file = p.dir.join("states.json");
    std::fs::write(&file, &export.stdout).unwrap();
    p.eltr(&["state", "clear", "--force", "--all"]).success();
    p.eltr(&["state", "import", file.to_str().unwrap()])
        .success()
        .stderr_has("Successfully imported 2 state(s).");
    assert_eq!(p.eltr(&["state", "export"]).stdout.trim_end(), expected);
    assert_eq!(
        p.store.state_json(a),
        json!({"completed": {"singer_state": {"bookmarks": {"s1": {"v": 1}}}},
               "partial": {"singer_state": {"bookmarks": {"s2": {"v": 2}}}}})
    );

    // Meltano 4.4.1 exports `"partial": null` for a state its import gave no partial; from
    // standard input, replacing what is stored for that id only.
    let meltano =
        r#"{"dev:tap-a-to-target-b":{"completed":{"singer_state":{"z":1}},"partial":null}}"#;
    let mut child = std::process::Command::new(common::eltr_bin())
        .args(["state", "import"])
        .current_dir(&p.dir)
        .envs(p.store.vars.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), meltano.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(p.get(a), r#"{"singer_state":{"z":1}}"#);
    assert_eq!(p.get(b), r#"{"singer_state":{"bookmarks":{}}}"#);

    // A document that is not an export changes nothing.
    std::fs::write(&file, r#"{"x": 5}"#).unwrap();
    p.eltr(&["state", "import", file.to_str().unwrap()])
        .failure()
        .stderr_has("state 'x'");
    assert_eq!(p.list(&[]), vec![a, b]);

    // edit: the editor's saved text becomes the completed state; unchanged text stores nothing.
    p.eltr_within(
        &["state", "edit", "--force", a],
        &[("EDITOR", r#"sed -i 's/"z": 1/"z": 2/'"#)],
        LIMIT,
    )
    .success();
    assert_eq!(p.get(a), r#"{"singer_state":{"z":2}}"#);
    p.eltr_within(
        &["state", "edit", "--force", a],
        &[("EDITOR", "true")],
        LIMIT,
    )
    .success()
    .stderr_has("no changes");
    s_assert_no_lock(&p, a);
}

fn s_assert_no_lock(p: &Project, id: &str) {
    p.store.assert_no_lock(id);
}

// ---------------------------------------------------------------------------------------------
// 2. Lock exclusion
// ---------------------------------------------------------------------------------------------

/// What `n` runs of the slow pipeline started at once did: each run, when it ended (from the
/// common start), and its `--run-id`.
struct Race {
    runs: Vec<Run>,
    ended: Vec<Duration>,
    run_ids: Vec<String>,
}

impl Race {
    fn start(p: &Project, n: usize) -> Race {
        let run_ids: Vec<String> = (0..n)
            .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
            .collect();
        let start = Instant::now();
        let mut procs: Vec<_> = run_ids
            .iter()
            .map(|rid| p.spawn(&["run", "--run-id", rid, "tap-slow", "target-y"], &[]))
            .collect();
        let mut ended: Vec<Option<Duration>> = vec![None; n];
        while ended.iter().any(Option::is_none) {
            assert!(start.elapsed() < LIMIT, "runs still going after {LIMIT:?}");
            for (i, b) in procs.iter_mut().enumerate() {
                if ended[i].is_none() && !b.running() {
                    ended[i] = Some(start.elapsed());
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Race {
            runs: procs.into_iter().map(|b| b.finish(LIMIT)).collect(),
            ended: ended.into_iter().map(Option::unwrap).collect(),
            run_ids,
        }
    }

    fn report(&self) -> String {
        self.runs
            .iter()
            .zip(&self.ended)
            .map(|(r, t)| format!("--- {} after {t:?}: {}\n{}", r.command, r.status, r.stderr))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The one run that succeeded (panics unless exactly one did).
    #[track_caller]
    fn winner(&self) -> usize {
        let winners: Vec<usize> = (0..self.runs.len())
            .filter(|&i| self.runs[i].status.success())
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "exactly one of {} concurrent runs must win the lock:\n{}",
            self.runs.len(),
            self.report()
        );
        winners[0]
    }

    /// Every other run failed before the winner ended, saying the state is locked (and by
    /// the winner, when `names_winner`).
    #[track_caller]
    fn assert_losers_failed_fast(&self, names_winner: bool) {
        let w = self.winner();
        let holder = if names_winner {
            format!("is locked by run {}", self.run_ids[w])
        } else {
            "is locked by".to_string()
        };
        for (i, r) in self.runs.iter().enumerate().filter(|(i, _)| *i != w) {
            assert!(
                r.stderr.contains(&holder),
                "loser {i} must say {holder:?}:\n{}",
                self.report()
            );
            assert!(
                self.ended[i] < self.ended[w] && self.ended[i] < Duration::from_secs(10),
                "loser {i} must fail fast (took {:?}; the winner took {:?})",
                self.ended[i],
                self.ended[w]
            );
        }
    }
}

/// The state id of `eltr run tap-slow target-y`.
const SLOW_ID: &str = "dev:tap-slow-to-target-y";

fn only_one_of_eight_concurrent_runs_gets_the_lock(kind: Kind) {
    let p = Project::new(kind, "lock_exclusion");
    // Discover the catalog once beforehand, so all eight start equally fast.
    p.eltr(&["run", "tap-x", "target-y"]).success();
    let race = Race::start(&p, 8);
    race.assert_losers_failed_fast(true);
    assert_eq!(
        support::completed_bookmark(&p.store.state_json(SLOW_ID), "items"),
        150
    );
    p.store.assert_no_lock(SLOW_ID);
}

/// Eight runs find the same stale lock at once: exactly one takes it over (DESIGN.md: "of
/// several runs racing for it exactly one wins"), and its heartbeat keeps it past the 1 s
/// timeout while its slow tap runs for 3 s.
fn only_one_of_eight_runs_takes_over_a_stale_lock(kind: Kind) {
    let p = Project::new(kind, "stale_race");
    p.write_yml(Some(1.0));
    p.eltr(&["run", "tap-x", "target-y"]).success();
    p.store.raw.put_lock(
        SLOW_ID,
        now() - 3600.0,
        Some(&holder("elsewhere.example", "dead-run", now() - 3600.0)),
    );
    let race = Race::start(&p, 8);
    race.assert_losers_failed_fast(false);
    assert_eq!(
        support::completed_bookmark(&p.store.state_json(SLOW_ID), "items"),
        150
    );
    p.store.assert_no_lock(SLOW_ID);
}

/// A run that lives longer than `lock_timeout_seconds` refreshes its heartbeat, so its lock is
/// never mistaken for a stale one.
fn live_run_keeps_its_lock_fresh_past_the_timeout(kind: Kind) {
    let p = Project::new(kind, "heartbeat");
    p.write_yml(Some(1.0));
    let mut first = p.spawn(
        &[
            "run",
            "--run-id",
            "00000000-0000-4000-8000-00000000100a",
            "tap-slow",
            "target-y",
        ],
        &[],
    );
    // Wait until the run has outlived the 1 s timeout: its lock's heartbeat (the body Meltano
    // reads, refreshed every 1/3 s) is then more than 1 s after its start, where a lock
    // without heartbeat would be stale. The slow tap runs for 3 s, so the run is still going.
    let mut held = None;
    wait_until(LIMIT, "a heartbeat past the 1 s lock timeout", || {
        let Some(lock) = p.store.raw.lock_of(SLOW_ID) else {
            assert!(
                first.running(),
                "the first run ended before taking its lock"
            );
            return false;
        };
        let holder = lock.holder.clone().expect("eltr's lock names its holder");
        let started = holder["started_at"].as_f64().expect("started_at");
        let fresh = lock.time() > started + 1.0;
        held = Some(lock);
        fresh
    });
    assert!(first.running(), "the first run must still run (3 s)");
    let held = held.unwrap();
    assert!(
        now() - held.time() < 1.0,
        "the heartbeat must be refreshed well within the 1 s timeout: {held:?}"
    );
    assert_eq!(
        held.holder.unwrap()["run_id"],
        "00000000-0000-4000-8000-00000000100a"
    );

    p.eltr_within(
        &["run", "tap-slow", "target-y"],
        &[("SINGER_TAP_RECORDS", "3")],
        LIMIT,
    )
    .failure()
    .stderr_has("is locked by run 00000000-0000-4000-8000-00000000100a");
    first.finish(LIMIT).success();
    assert_eq!(
        support::completed_bookmark(&p.store.state_json(SLOW_ID), "items"),
        150
    );
    p.store.assert_no_lock(SLOW_ID);
}

/// A run killed with SIGKILL leaves its lock; it names a dead process on this host, so the
/// next run takes it over at once, and resumes from the last bookmark that was saved.
fn lock_of_a_killed_run_is_taken_over_without_force(kind: Kind) {
    let p = Project::new(kind, "killed");
    let first = p.spawn(&["run", "tap-slow", "target-y"], &[]);
    let state = format!("{SLOW_ID}/state.json");
    wait_until(LIMIT, "a first saved state", || {
        p.store.get(&state).is_some()
    });
    first.signal(libc::SIGKILL);
    first.finish(LIMIT).killed_by(libc::SIGKILL);
    assert!(
        p.store.get(&format!("{SLOW_ID}/lock")).is_some(),
        "a killed run cannot release its lock"
    );
    let before = support::completed_bookmark(&p.store.state_json(SLOW_ID), "items");
    let started = Instant::now();
    p.eltr_within(
        &["run", "tap-slow", "target-y"],
        &[("SINGER_TAP_RECORDS", "3")],
        LIMIT,
    )
    .success()
    .stderr_has(&format!(
        r#"state: {{"bookmarks":{{"items":{{"replication_key_value":{before}}}}}}}"#
    ));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the dead run's lock must be taken over at once, not after the 10 s timeout"
    );
    assert_eq!(
        support::completed_bookmark(&p.store.state_json(SLOW_ID), "items"),
        before + 3
    );
    p.store.assert_no_lock(SLOW_ID);
}

/// `--force` takes the lock from a live run. The run that lost it finds out through its
/// heartbeat (every `lock_timeout_seconds / 3`, here 1/3 s) and must stop saving state, so
/// the two runs do not both write the bookmark: what is stored at the end is what the forcing
/// run saved.
fn run_whose_lock_is_forced_away_stops_saving_state(kind: Kind) {
    let p = Project::new(kind, "forced_away");
    p.write_yml(Some(1.0));
    let mut first = p.spawn(
        &[
            "run",
            "--run-id",
            "00000000-0000-4000-8000-00000000f125",
            "tap-slow",
            "target-y",
        ],
        &[],
    );
    let state = format!("{SLOW_ID}/state.json");
    wait_until(LIMIT, "a first saved state", || {
        p.store.get(&state).is_some()
    });
    // 30 records at 20 ms: the forcing run lasts well past the first run's next heartbeat.
    let forced = p.eltr_within(
        &[
            "run",
            "--force",
            "--run-id",
            "00000000-0000-4000-8000-0000000f0c1e",
            "tap-slow",
            "target-y",
        ],
        &[("SINGER_TAP_RECORDS", "30")],
        LIMIT,
    );
    forced.success();
    assert!(
        first.running(),
        "the first run (3 s) must still be going when the forcing run ends"
    );
    let resumed_from: u64 = forced
        .stderr
        .split(r#"state: {"bookmarks":{"items":{"replication_key_value":"#)
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "the forcing run resumed from no bookmark:\n{}",
                forced.stderr
            )
        });
    let first = first.finish(LIMIT);
    let stored = support::completed_bookmark(&p.store.state_json(SLOW_ID), "items");
    assert_eq!(
        stored,
        resumed_from + 30,
        "after losing its lock the first run kept saving state over the forcing run's \
         (first run: {}; stderr:\n{})",
        first.status,
        first.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Stale locks, fresh locks, --force
// ---------------------------------------------------------------------------------------------

/// The holder record of an eltr lock taken at `started_at` by `run_id` on `host`.
fn holder(host: &str, run_id: &str, started_at: f64) -> Value {
    json!({
        "host": host,
        "pid": 4242,
        "run_id": run_id,
        "started_at": started_at,
    })
}

fn stale_lock_is_taken_over_fresh_lock_refused_force_breaks_it(kind: Kind) {
    let p = Project::new(kind, "stale_lock");
    let s = &p.store;

    // A lock whose heartbeat stopped an hour ago on another machine, timeout 1 s: taken over.
    p.write_yml(Some(1.0));
    s.raw.put_lock(
        TAP_X_ID,
        now() - 3600.0,
        Some(&holder("elsewhere.example", "dead-run", now() - 3600.0)),
    );
    let r = p.eltr(&["run", "tap-x", "target-y"]);
    r.success().stderr_has("dead-run");
    assert_eq!(s.state_text(TAP_X_ID), meltano_doc("items", 5));
    s.assert_no_lock(TAP_X_ID);

    // A live lock from another machine (timeout 600 s here, so it stays fresh): refused, the
    // message names the holder, neither the state nor the other run's lock is touched.
    p.write_yml(Some(600.0));
    s.raw.put_lock(
        TAP_X_ID,
        now(),
        Some(&holder("elsewhere.example", "live-run", now())),
    );
    let before = s.raw.lock_of(TAP_X_ID);
    let r = p.eltr(&["run", "tap-x", "target-y"]);
    r.failure()
        .stderr_has("is locked by run live-run")
        .stderr_has("elsewhere.example");
    assert!(
        !r.stderr.contains("state: {"),
        "a refused run must not start the tap:\n{}",
        r.stderr
    );
    assert_eq!(s.state_text(TAP_X_ID), meltano_doc("items", 5));
    assert_eq!(
        s.raw.lock_of(TAP_X_ID),
        before,
        "a refused run must leave the holder's lock alone"
    );
    // The state commands respect it too.
    p.eltr(&["state", "clear", "--force", TAP_X_ID])
        .failure()
        .stderr_has("is locked by run live-run");
    p.eltr(&[
        "state",
        "set",
        "--force",
        TAP_X_ID,
        r#"{"singer_state": {"bookmarks": {}}}"#,
    ])
    .failure()
    .stderr_has("is locked by run live-run");
    assert_eq!(s.state_text(TAP_X_ID), meltano_doc("items", 5));

    // --force takes it at once, and the run releases it at the end.
    p.eltr(&["run", "--force", "tap-x", "target-y"])
        .success()
        .stderr_has(r#"state: {"bookmarks":{"items":{"replication_key_value":5}}}"#);
    assert_eq!(s.state_text(TAP_X_ID), meltano_doc("items", 10));
    s.assert_no_lock(TAP_X_ID);

    // `state set --break-lock` breaks a live lock as well (`--force` only skips the question).
    s.raw.put_lock(
        TAP_X_ID,
        now(),
        Some(&holder("elsewhere.example", "live-run-2", now())),
    );
    p.eltr(&[
        "state",
        "set",
        "--force",
        "--break-lock",
        TAP_X_ID,
        r#"{"singer_state": {"bookmarks": {"items": {"replication_key_value": 42}}}}"#,
    ])
    .success();
    assert_eq!(s.state_text(TAP_X_ID), meltano_doc("items", 42));
    s.assert_no_lock(TAP_X_ID);
}

/// Meltano's own lock object is a bare epoch timestamp; eltr must respect a fresh one and take
/// over a stale one.
fn meltano_bare_timestamp_lock_is_respected(kind: Kind) {
    let p = Project::new(kind, "meltano_lock");
    let s = &p.store;
    let lock = format!("{TAP_X_ID}/lock");
    p.write_yml(Some(600.0));
    s.raw.put_lock(TAP_X_ID, now(), None);
    p.eltr(&["run", "tap-x", "target-y"])
        .failure()
        .stderr_has("is locked by");
    assert!(s.get(&lock).is_some(), "Meltano's lock must stay");
    assert!(s.get(&format!("{TAP_X_ID}/state.json")).is_none());

    p.write_yml(Some(1.0));
    s.raw.put_lock(TAP_X_ID, now() - 3600.0, None);
    p.eltr(&["run", "tap-x", "target-y"]).success();
    assert_eq!(s.state_text(TAP_X_ID), meltano_doc("items", 5));
    s.assert_no_lock(TAP_X_ID);
}

// ---------------------------------------------------------------------------------------------
// 4. Incremental runs
// ---------------------------------------------------------------------------------------------

fn incremental_run_resumes_and_stores_meltanos_document(kind: Kind) {
    let p = Project::new(kind, "incremental");
    let s = &p.store;
    let first = p.eltr(&["run", "tap-x", "target-y"]);
    first.success();
    assert!(
        !first.stderr.contains("state: {"),
        "the first run has no state to hand over:\n{}",
        first.stderr
    );
    assert_eq!(
        s.state_text(TAP_X_ID),
        meltano_doc("items", 5),
        "stored object must be Meltano's document (Python separators)"
    );
    assert_eq!(
        s.keys(),
        vec![format!("{TAP_X_ID}/state.json")],
        "only {{prefix}}/{{state_id}}/state.json remains after a run"
    );

    p.eltr(&["run", "tap-x", "target-y"])
        .success()
        .stderr_has(r#"state: {"bookmarks":{"items":{"replication_key_value":5}}}"#);
    assert_eq!(s.state_text(TAP_X_ID), meltano_doc("items", 10));
    assert_eq!(
        p.get(TAP_X_ID),
        r#"{"singer_state":{"bookmarks":{"items":{"replication_key_value":10}}}}"#
    );
    assert_eq!(p.list(&[]), vec![TAP_X_ID]);
    s.assert_no_lock(TAP_X_ID);
}

// ---------------------------------------------------------------------------------------------
// 5. Meltano 4.4.1's files
// ---------------------------------------------------------------------------------------------

/// A file Meltano 4.4.1's file backend wrote (tests/fixtures/precedence/golden/run).
fn meltano_golden(name: &str) -> String {
    golden_text(&fixture_source("precedence/golden/run").join(name))
}

/// The local store of these tests is configured as Meltano's file backend was when it wrote
/// the golden files: `file://<project>/.meltano/state`.
fn meltano_project(kind: Kind, test: &str) -> Project {
    if kind != Kind::Local {
        return Project::new(kind, test);
    }
    let (tmp, dir) = project_dir();
    let store = Store::file_uri(dir.join(".meltano/state"));
    Project::with_store(tmp, dir, store)
}

fn meltano_441_state_files_are_read_by_state_get(kind: Kind) {
    let p = meltano_project(kind, "meltano_get");
    let s = &p.store;
    // run1 / run2: completed only.
    for (file, id) in [("run1.state.json", 1), ("run2.state.json", 2)] {
        s.put(
            &format!("{MELTANO_ID}/state.json"),
            meltano_golden(file).as_bytes(),
        );
        assert_eq!(
            p.get(MELTANO_ID),
            format!(r#"{{"singer_state":{{"bookmarks":{{"orders":{{"id":{id}}}}}}}}}"#),
            "{file}"
        );
    }
    // run3 (after --full-refresh): completed and partial; Meltano's `state get` printed
    // run3-full-refresh.state-get.json.
    s.put(
        &format!("{MELTANO_ID}/state.json"),
        meltano_golden("run3-full-refresh.state.json").as_bytes(),
    );
    assert_eq!(
        p.get(MELTANO_ID),
        meltano_golden("run3-full-refresh.state-get.json").trim_end()
    );
    // `state list` prints what Meltano's backend held after its `other` environment run.
    s.put(
        "other:tap-prec--child-to-target-prec:blue/state.json",
        meltano_golden("run1.state.json").as_bytes(),
    );
    assert_eq!(
        p.list(&[]).join("\n"),
        meltano_golden("state-ids.txt").trim_end()
    );
}

fn meltano_441_state_is_handed_to_the_tap_by_run(kind: Kind) {
    let p = meltano_project(kind, "meltano_run");
    let s = &p.store;
    s.put(
        &format!("{TAP_X_ID}/state.json"),
        meltano_golden("run1.state.json").as_bytes(),
    );
    // Given run1's state, Meltano handed its tap run2.tap.state.json; the example tap echoes
    // the state file it gets as compact JSON.
    let handed: Value = serde_json::from_str(&meltano_golden("run2.tap.state.json")).unwrap();
    p.eltr(&["run", "tap-x", "target-y"])
        .success()
        .stderr_has(&format!("state: {handed}"));

    // What eltr stores parses as Meltano's shape; the tap carried the orders bookmark over.
    let doc = s.state_json(TAP_X_ID);
    assert_eq!(
        doc,
        json!({
            "completed": {"singer_state": {"bookmarks": {
                "orders": {"id": 1},
                "items": {"replication_key_value": 5},
            }}},
            "partial": {},
        })
    );
    let text = s.state_text(TAP_X_ID);
    assert!(
        text.starts_with(r#"{"completed": {"singer_state": {"#)
            && text.ends_with(r#", "partial": {}}"#),
        "stored text must use Python's json.dumps separators, as Meltano writes: {text}"
    );
    s.assert_no_lock(TAP_X_ID);
}

// ---------------------------------------------------------------------------------------------
// 6. Errors
// ---------------------------------------------------------------------------------------------

fn corrupt_stored_state_fails_and_is_kept(kind: Kind) {
    let p = Project::new(kind, "corrupt");
    let s = &p.store;
    let garbage = b"{\"completed\": {\"singer_state\": ";
    s.put(&format!("{TAP_X_ID}/state.json"), garbage);

    let get = p.eltr(&["state", "get", TAP_X_ID]);
    assert_one_line_error(&get, &s.name, &["not valid json"]);
    let run = p.eltr(&["run", "tap-x", "target-y"]);
    assert_one_line_error(&run, &s.name, &["not valid json"]);
    assert_eq!(
        s.get(&format!("{TAP_X_ID}/state.json")).as_deref(),
        Some(std::str::from_utf8(garbage).unwrap()),
        "a run that cannot read the state must not replace it"
    );
    s.assert_no_lock(TAP_X_ID);

    // The fix the message suggests works.
    p.eltr(&["state", "clear", "--force", TAP_X_ID]).success();
    p.eltr(&["run", "tap-x", "target-y"]).success();
    assert_eq!(s.state_text(TAP_X_ID), meltano_doc("items", 5));
}

/// Runs each state command and a run against a broken store: each must fail with one line.
#[track_caller]
fn assert_every_command_fails(p: &Project, store: &str, hints: &[&str], extra: &[(&str, &str)]) {
    let set_state = r#"{"singer_state": {"bookmarks": {"items": {"replication_key_value": 99}}}}"#;
    let commands: [&[&str]; 6] = [
        &["state", "get", TAP_X_ID],
        &["state", "list"],
        &["state", "set", "--force", TAP_X_ID, set_state],
        &["state", "merge", TAP_X_ID, set_state],
        &["state", "clear", "--force", TAP_X_ID],
        &["run", "tap-x", "target-y"],
    ];
    let mut problems = Vec::new();
    for args in commands {
        let started = Instant::now();
        let r = p.eltr_within(args, extra, UNREACHABLE_LIMIT);
        let took = started.elapsed();
        problems.extend(one_line_error_problem(&r, store, hints));
        if took >= UNREACHABLE_LIMIT {
            problems.push(format!("`{}` took {took:?}", r.command));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} commands misbehaved:\n\n{}",
        problems.len(),
        commands.len(),
        problems.join("\n\n")
    );
}

const MISSING_HINTS: &[&str] = &["does not exist", "not found", "no such"];
const CREDENTIAL_HINTS: &[&str] = &["credential", "access denied", "accountkey", "key"];
const UNREACHABLE_HINTS: &[&str] = &["reach", "connect", "endpoint"];

#[test]
fn s3_missing_bucket_fails_with_one_line_naming_the_uri() {
    let endpoint = required_var("ELTR_TEST_S3_ENDPOINT");
    let bucket = unique("eltr-no-such-bucket");
    let p = Project::on(Store::s3_in(&endpoint, &bucket, "missing_bucket"));
    assert_every_command_fails(&p, &p.store.name, MISSING_HINTS, &[]);
}

#[test]
fn s3_unreachable_endpoint_fails_within_30s() {
    let bucket = required_var("ELTR_TEST_S3_BUCKET");
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let p = Project::on(Store::s3_in(&endpoint, &bucket, "unreachable"));
    assert_every_command_fails(&p, &p.store.name, UNREACHABLE_HINTS, &[]);
}

#[test]
fn azure_missing_container_fails_with_one_line_naming_the_uri() {
    let conn = required_var("ELTR_TEST_AZURE_CONNECTION_STRING");
    let p = Project::on(Store::azure_in(
        &conn,
        &unique("no-such-container"),
        "missing_container",
    ));
    assert_every_command_fails(&p, &p.store.name, MISSING_HINTS, &[]);
}

#[test]
fn azure_unreachable_endpoint_fails_within_30s() {
    let conn = required_var("ELTR_TEST_AZURE_CONNECTION_STRING");
    let container = required_var("ELTR_TEST_AZURE_CONTAINER");
    let port = closed_port();
    let conn = conn
        .split(';')
        .map(|part| match part.split_once('=') {
            Some(("BlobEndpoint", _)) => {
                format!("BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1")
            }
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(";");
    let p = Project::on(Store::azure_in(&conn, &container, "unreachable"));
    assert_every_command_fails(&p, &p.store.name, UNREACHABLE_HINTS, &[]);
}

#[test]
fn azure_wrong_account_key_fails_and_keeps_the_state() {
    let p = Project::new(Kind::Azure, "wrong_key");
    let s = p.store.clone();
    p.eltr(&["run", "tap-x", "target-y"]).success();
    let before = s.state_text(TAP_X_ID);

    // The same store with a wrong AccountKey (valid base64, wrong secret), given as the
    // standard variable this time (no connection string in the project).
    let conn = required_var("ELTR_TEST_AZURE_CONNECTION_STRING");
    let wrong = conn
        .split(';')
        .map(|part| match part.split_once('=') {
            Some(("AccountKey", _)) => format!("AccountKey={}", "d3Jvbmcta2V5LXdyb25nLWtleQ=="),
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(";");
    let mut bad = s.clone();
    bad.backend.remove("azure");
    let bad_project = Project::on(bad);
    assert_every_command_fails(
        &bad_project,
        &s.name,
        CREDENTIAL_HINTS,
        &[("AZURE_STORAGE_CONNECTION_STRING", &wrong)],
    );

    // Nothing was lost or left behind.
    assert_eq!(s.state_text(TAP_X_ID), before);
    s.assert_no_lock(TAP_X_ID);
    p.eltr(&["run", "tap-x", "target-y"])
        .success()
        .stderr_has(r#"state: {"bookmarks":{"items":{"replication_key_value":5}}}"#);
}

#[test]
fn local_store_in_an_unusable_folder_fails_with_one_line() {
    let (tmp, dir) = project_dir();
    // The store's folder would have to be inside a regular file.
    let blocker = dir.join("not-a-folder");
    std::fs::write(&blocker, "x").unwrap();
    let store = Store::file_uri(blocker.join("state"));
    let p = Project::with_store(tmp, dir, store);
    let r = p.eltr(&[
        "state",
        "set",
        "--force",
        TAP_X_ID,
        r#"{"singer_state": {"bookmarks": {}}}"#,
    ]);
    assert_one_line_error(&r, &blocker.display().to_string(), &["not a directory"]);
    let r = p.eltr(&["run", "tap-x", "target-y"]);
    assert_one_line_error(&r, &blocker.display().to_string(), &["not a directory"]);
}

// ---------------------------------------------------------------------------------------------
// 7. Checkpoints
// ---------------------------------------------------------------------------------------------

fn ten_thousand_checkpoints_end_with_the_last_bookmark(kind: Kind) {
    let p = Project::new(kind, "checkpoints");
    let (r, confirmed, written, elapsed) = run_counting_writes(&p, "tap-many");
    let id = "dev:tap-many-to-target-y";
    assert_eq!(p.store.state_text(id), meltano_doc("items", 10000));
    p.store.assert_no_lock(id);
    assert_eq!(confirmed, 10000, "{}", r.stderr);
    assert!(written >= 1);
    if kind != Kind::Local {
        // Remote stores: at most one write a second, plus the final one.
        let most = elapsed.as_secs() + 2;
        assert!(
            written <= most,
            "{written} writes to {} in {elapsed:?} (at most {most} expected)",
            p.store.name
        );
    }
}

/// Counts the PUTs of `state.json` the store received, not what eltr says: in a bucket of its
/// own with versioning on, every PUT is a version.
#[test]
fn s3_checkpoint_puts_are_throttled_to_one_a_second() {
    let endpoint = required_var("ELTR_TEST_S3_ENDPOINT");
    let bucket = unique("eltr-ckpt");
    s3_create_bucket(&endpoint, &bucket);
    run_tool(
        s3_curl(&["-f", "-X", "PUT", "--data-binary", "@-"]),
        &format!("{endpoint}/{bucket}?versioning"),
        Some(
            br#"<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>"#,
        ),
    );

    let store = Store::s3_in(&endpoint, &bucket, "checkpoint_puts");
    let Raw::S3 { prefix, .. } = store.raw.clone() else {
        unreachable!()
    };
    let p = Project::on(store);
    let puts_of = |id: &str| -> u64 {
        let key = format!("{prefix}/{id}/state.json");
        let url = format!("{endpoint}/{bucket}?versions&prefix={key}");
        let list = run_tool(s3_curl(&["-f"]), &url, None);
        String::from_utf8_lossy(&list).matches("<Version>").count() as u64
    };

    // 10,000 states in well under a second, then 2,500 trickling over about 3 s.
    for (tap, records, least) in [("tap-many", 10000, 1), ("tap-trickle", 2500, 2)] {
        let (_, confirmed, written, elapsed) = run_counting_writes(&p, tap);
        let id = format!("dev:{tap}-to-target-y");
        assert_eq!(p.store.state_text(&id), meltano_doc("items", records));
        let puts = puts_of(&id);
        assert_eq!(confirmed, records);
        assert_eq!(
            puts, written,
            "{tap}: eltr's summary must count the PUTs the store received"
        );
        let most = elapsed.as_secs() + 2;
        assert!(
            (least..=most).contains(&puts),
            "{tap}: {puts} PUTs of state.json for {records} confirmed states in {elapsed:?} \
             (expected {least}..={most}: at most one a second plus the last, and progress \
             saved while the run goes)"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Ways to configure a store
// ---------------------------------------------------------------------------------------------

/// Stores a state with `eltr state set` in a project without `state_backend`, configured by
/// `vars` only, and checks it landed in `store`.
#[track_caller]
fn assert_configured_by_vars(store: &Store, vars: &[(&str, &str)]) {
    let mut bare = store.clone();
    bare.backend.clear();
    let p = Project::on(bare);
    p.eltr_within(
        &[
            "state",
            "set",
            "--force",
            TAP_X_ID,
            r#"{"singer_state": {"bookmarks": {"items": {"replication_key_value": 7}}}}"#,
        ],
        vars,
        LIMIT,
    )
    .success();
    assert_eq!(store.state_text(TAP_X_ID), meltano_doc("items", 7));
    assert!(
        !p.dir.join(".eltr/state").exists(),
        "nothing may go to the local default store"
    );
}

#[test]
fn s3_settings_from_meltano_state_backend_variables() {
    let p = Project::new(Kind::S3, "meltano_vars");
    let endpoint = required_var("ELTR_TEST_S3_ENDPOINT");
    // ELTR_ beats MELTANO_: the MELTANO_ uri names a bucket that does not exist.
    assert_configured_by_vars(
        &p.store,
        &[
            ("ELTR_STATE_BACKEND_URI", &p.store.name),
            ("MELTANO_STATE_BACKEND_URI", "s3://eltr-no-such-bucket/x"),
            ("MELTANO_STATE_BACKEND_S3_ENDPOINT_URL", &endpoint),
            ("MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID", "testing"),
            ("MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY", "testing"),
            ("MELTANO_STATE_BACKEND_S3_REGION", "us-east-1"),
        ],
    );
}

#[test]
fn s3_credentials_from_standard_aws_variables() {
    let p = Project::new(Kind::S3, "aws_vars");
    let endpoint = required_var("ELTR_TEST_S3_ENDPOINT");
    assert_configured_by_vars(
        &p.store,
        &[
            ("ELTR_STATE_BACKEND_URI", &p.store.name),
            ("ELTR_STATE_BACKEND_S3_ENDPOINT_URL", &endpoint),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ],
    );
}

#[test]
fn azure_connection_string_from_the_standard_variable() {
    let p = Project::new(Kind::Azure, "azure_var");
    let conn = required_var("ELTR_TEST_AZURE_CONNECTION_STRING");
    assert_configured_by_vars(
        &p.store,
        &[
            ("MELTANO_STATE_BACKEND_URI", &p.store.name),
            ("AZURE_STORAGE_CONNECTION_STRING", &conn),
        ],
    );
}

/// `AWS_ENDPOINT_URL` is the standard variable boto3 (so Meltano's S3 backend) reads for an
/// S3-compatible endpoint such as MinIO or an emulator on plain http.
#[test]
fn s3_endpoint_from_the_standard_aws_endpoint_url_variable() {
    let p = Project::new(Kind::S3, "aws_endpoint_url");
    let endpoint = required_var("ELTR_TEST_S3_ENDPOINT");
    assert_configured_by_vars(
        &p.store,
        &[
            ("ELTR_STATE_BACKEND_URI", &p.store.name),
            ("AWS_ENDPOINT_URL", &endpoint),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ],
    );
}

/// A system database that cannot be reached: one line naming it with its password hidden.
#[test]
fn postgres_unreachable_fails_with_one_line_and_no_password() {
    let port = closed_port();
    let mut store = Store::postgres("unreachable");
    let uri = format!("postgresql+psycopg://bob:s3cret-pw@127.0.0.1:{port}/db");
    store.top.insert("database_uri".into(), json!(uri));
    let (_tmp, dir) = project_dir();
    let p = Project { _tmp, dir, store };
    p.write_yml(None);
    let shown = format!("systemdb postgresql://bob:********@127.0.0.1:{port}/db");
    assert_every_command_fails(&p, &shown, UNREACHABLE_HINTS, &[]);
    let r = p.eltr(&["state", "list"]);
    assert!(!r.stderr.contains("s3cret-pw"), "{}", r.stderr);
}

/// A `gs://` bucket that does not exist: one line naming the URI.
#[test]
fn gcs_missing_bucket_fails_with_one_line_naming_the_uri() {
    let host = required_var("ELTR_TEST_GCS_HOST");
    let bucket = unique("eltr-no-such-bucket");
    let uri = format!("gs://{bucket}/x");
    let store = Store {
        name: uri.clone(),
        backend: json!({ "uri": uri }).as_object().unwrap().clone(),
        top: Default::default(),
        vars: vec![("STORAGE_EMULATOR_HOST".into(), host.clone())],
        raw: Raw::Gcs {
            host,
            bucket,
            prefix: "x".into(),
        },
    };
    let p = Project::on(store);
    assert_every_command_fails(&p, &p.store.name, MISSING_HINTS, &[]);
}
