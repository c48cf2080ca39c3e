//! The reliability promise of `eltr run` (DESIGN.md §4–§6), tested by breaking runs on purpose:
//! whatever happens to a run, no bookmark the target confirmed is lost, no bookmark it did not
//! confirm is stored, the stored state is never corrupt, and the error says what to do.
//!
//! * `kill9_at_20_random_moments::{local,s3,azure}`: eltr killed with SIGKILL at moments drawn
//!   from a seeded PRNG; the stored state must be one the target confirmed (and its records
//!   durable in the target's output), the next run must resume from it, no lock may block
//!   that run, and the dead run's config files are swept by it.
//! * `fault_scenarios::*`: a tap, target or mapper that crashes, a tap that fails after
//!   sending everything, a target that exits 0 early, a tap that never ends (`--timeout`),
//!   plugins that ignore SIGTERM (SIGKILL after the grace period), a plugin killed from
//!   outside, SIGTERM to eltr: exit code, message and stored state, on each store.
//! * `eight_state_ids_side_by_side::*`: eight pipelines with different state ids at once.
//! * `store_*`: an S3 / Azure emulator of the test's own, stopped in the middle of a run and
//!   restarted (or not).
//! * `kill9_of_eltr_leaves_no_stubborn_plugin_running`: plugins die with eltr.
//! * Every project has a sensitive `password` setting with a value unique to it; every output
//!   of every run, the run logs and every file the runs leave are searched for it.
//!
//! The S3 and Azure tests need the emulators `scripts/test.sh` starts (ELTR_TEST_S3_ENDPOINT,
//! ELTR_TEST_S3_BUCKET, ELTR_TEST_AZURE_CONNECTION_STRING, ELTR_TEST_AZURE_CONTAINER,
//! ELTR_TEST_VENV, ELTR_TEST_TOOLS) and fail, not skip, without them.

mod common;
#[path = "common/stores.rs"]
mod stores;
#[path = "common/run.rs"]
mod support;

use common::{Run, eltr, empty_dir, project_dir, wait_until};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
// Where a project's stored objects are, read without eltr.
use stores::Raw as Store;
use stores::{
    Kind, azure_create_container, free_port, per_store, required_var, s3_create_bucket, unique,
};
use support::{examples_dir, files_under, spawn_eltr};
use tempfile::TempDir;

/// Ceiling for any single eltr command; a healthy one takes about a second.
const LIMIT: Duration = Duration::from_secs(60);
/// Seeds of the kill -9 test, per store.
const KILL_SEEDS: u64 = 20;
/// Worker threads running kill -9 cases side by side (per store).
const KILL_WORKERS: usize = 3;
/// Records of the long pipeline the kill -9 test interrupts, and its STATE period.
const LONG_RECORDS: u64 = 200;
const LONG_STATE_EVERY: u64 = 7;
/// Pipelines run at once by the concurrency test.
const CONCURRENT: usize = 8;

// ---------------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------------

/// SplitMix64: a small deterministic PRNG, so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

// ---------------------------------------------------------------------------------------------
// Stores, read without eltr
// ---------------------------------------------------------------------------------------------

impl Store {
    /// The shared emulator's store of `kind` under a fresh prefix, for a project in `dir`.
    fn new(kind: Kind, test: &str, dir: &Path) -> Store {
        match kind {
            Kind::Local => Store::Local(dir.join(".eltr/state")),
            Kind::S3 => Store::S3 {
                endpoint: required_var("ELTR_TEST_S3_ENDPOINT"),
                bucket: required_var("ELTR_TEST_S3_BUCKET"),
                prefix: format!("reliability/{}", unique(test)),
            },
            Kind::Azure => Store::Azure {
                conn: required_var("ELTR_TEST_AZURE_CONNECTION_STRING"),
                container: required_var("ELTR_TEST_AZURE_CONTAINER"),
                prefix: format!("reliability/{}", unique(test)),
            },
            Kind::Sqlite | Kind::Postgres | Kind::Gcs => {
                unreachable!("these scenarios run on per_store's three")
            }
        }
    }

    /// The URI eltr names the store by in messages (remote stores).
    fn uri(&self) -> String {
        match self {
            Store::Local(base) => base.display().to_string(),
            Store::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
            Store::Azure {
                container, prefix, ..
            } => format!("azure://{container}/{prefix}"),
            Store::Sqlite(_) | Store::Postgres(_) | Store::Gcs { .. } => {
                unreachable!("not a reliability store")
            }
        }
    }

    /// The project's `state_backend` (none for the default local store).
    fn backend(&self, lock_timeout_seconds: Option<f64>) -> Option<Value> {
        let mut b = match self {
            Store::Local(_) => json!({}),
            Store::S3 { endpoint, .. } => json!({
                "uri": self.uri(),
                "s3": {
                    "aws_access_key_id": "testing",
                    "aws_secret_access_key": "testing",
                    "endpoint_url": endpoint,
                    "region": "us-east-1",
                },
            }),
            Store::Azure { conn, .. } => json!({
                "uri": self.uri(),
                "azure": { "connection_string": conn },
            }),
            Store::Sqlite(_) | Store::Postgres(_) | Store::Gcs { .. } => {
                unreachable!("not a reliability store")
            }
        };
        if let Some(t) = lock_timeout_seconds {
            b["lock_timeout_seconds"] = json!(t);
        }
        (b != json!({})).then_some(b)
    }

    fn state(&self, id: &str) -> Option<Vec<u8>> {
        self.get(&format!("{id}/state.json"))
    }

    fn lock(&self, id: &str) -> Option<Vec<u8>> {
        self.get(&format!("{id}/lock"))
    }
}

// ---------------------------------------------------------------------------------------------
// Projects
// ---------------------------------------------------------------------------------------------

/// The extractors and loaders of every project: (name, config).
/// Plugins by name, with their config.
type Plugins = Vec<(&'static str, Value)>;

fn plugin_table() -> (Plugins, Plugins) {
    let taps = vec![
        (
            "tap-long",
            json!({"records": LONG_RECORDS, "state_every": LONG_STATE_EVERY, "sleep_ms_per_record": 5}),
        ),
        ("tap-x", json!({"records": 5, "state_every": 2})),
        ("tap-ten", json!({"records": 10, "state_every": 1})),
        // STATE after records 3 and 6, `fatal: simulated crash` (exit 3) after record 7.
        (
            "tap-crash",
            json!({"records": 10, "state_every": 3, "crash_after": 7}),
        ),
        // Sends everything (STATE at 4, 8 and the final 10), then exits 1.
        (
            "tap-fail-at-end",
            json!({"records": 10, "state_every": 4, "exit_code": 1}),
        ),
        ("tap-hang", json!({"records": 2, "hang": true})),
        (
            "tap-stubborn",
            json!({"records": 2, "hang": true, "ignore_sigterm": true}),
        ),
        (
            "tap-trickle",
            json!({"records": 1000, "state_every": 1, "sleep_ms_per_record": 5}),
        ),
        (
            "tap-stubborn-trickle",
            json!({"records": 2000, "state_every": 1, "sleep_ms_per_record": 5, "ignore_sigterm": true}),
        ),
        (
            "tap-fault",
            json!({"records": 300, "state_every": 1, "sleep_ms_per_record": 10}),
        ),
        (
            "tap-conc",
            json!({"records": 10, "state_every": 1, "sleep_ms_per_record": 10}),
        ),
    ];
    let targets = vec![
        ("target-y", json!({"output_dir": "out"})),
        (
            "target-crash",
            json!({"output_dir": "out", "crash_after": 5}),
        ),
        // Confirms only every 4 records, then explodes on its 7th record.
        (
            "target-batched",
            json!({"output_dir": "out", "state_on_flush_only": true, "batch_size": 4, "crash_after": 7}),
        ),
        (
            "target-early",
            json!({"output_dir": "out", "exit_early_after": 3}),
        ),
        (
            "target-stubborn",
            json!({"output_dir": "out", "ignore_sigterm": true}),
        ),
    ];
    (taps, targets)
}

/// A project in a temporary folder, its plugins the example Singer programs, each with a
/// sensitive `password` whose value is unique to the project.
struct Project {
    _tmp: TempDir,
    dir: PathBuf,
    store: Store,
    password: String,
    /// Everything every run printed, searched for the password at the end.
    outputs: Mutex<Vec<String>>,
}

impl Project {
    fn new(kind: Kind, test: &str, lock_timeout_seconds: Option<f64>) -> Project {
        let (tmp, dir) = project_dir();
        let store = Store::new(kind, test, &dir);
        Project::with_store(tmp, dir, store, lock_timeout_seconds)
    }

    fn with_store(
        tmp: TempDir,
        dir: PathBuf,
        store: Store,
        lock_timeout_seconds: Option<f64>,
    ) -> Project {
        let password = format!("pw-{}-Qx7", unique("secret"));
        let ex = examples_dir();
        let settings = r#"[{"name": "password", "kind": "password", "sensitive": true}]"#;
        let mut yml =
            String::from("version: 1\ndefault_environment: dev\nenvironments:\n- name: dev\n");
        if let Some(b) = store.backend(lock_timeout_seconds) {
            // JSON is YAML: URIs and connection strings need no quoting rules.
            yml.push_str(&format!("state_backend: {b}\n"));
        }
        let (taps, targets) = plugin_table();
        let mappers = vec![("mapper-crash", json!({"crash_after": 2}))];
        yml.push_str("plugins:\n");
        for (title, exe, list) in [
            ("extractors", "singer_tap", taps),
            ("loaders", "singer_target", targets),
            ("mappers", "singer_mapper", mappers),
        ] {
            yml.push_str(&format!("  {title}:\n"));
            for (name, mut config) in list {
                config["password"] = json!(password);
                yml.push_str(&format!(
                    "  - name: {name}\n    executable: \"{}\"\n    settings: {settings}\n    config: {config}\n",
                    ex.join(exe).display()
                ));
            }
        }
        std::fs::write(dir.join("meltano.yml"), yml).unwrap();
        Project {
            _tmp: tmp,
            dir,
            store,
            password,
            outputs: Mutex::new(Vec::new()),
        }
    }

    fn keep(&self, r: &Run) {
        let mut o = self.outputs.lock().unwrap();
        o.push(format!("{}\n{}\n{}", r.command, r.stdout, r.stderr));
    }

    /// Runs `eltr ARGS` with `vars` to the end (at most `LIMIT`).
    #[track_caller]
    fn eltr(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let r = spawn_eltr(&self.dir, args, vars).finish(LIMIT);
        self.keep(&r);
        r
    }

    /// The stored state of `id`: it must be Meltano's document for one `items` bookmark,
    /// byte for byte (so valid JSON, nothing partial); returns the bookmark.
    #[track_caller]
    fn bookmark(&self, id: &str) -> Option<u64> {
        let bytes = self.store.state(id)?;
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|e| panic!("stored state of {id} is not UTF-8: {e}"));
        let doc: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("stored state of {id} is not JSON ({e}): {text:?}"));
        let b = doc
            .pointer("/completed/singer_state/bookmarks/items/replication_key_value")
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("stored state of {id} has no items bookmark: {text}"));
        assert_eq!(
            text,
            support::meltano_doc("items", b),
            "stored state of {id} is not Meltano's document"
        );
        Some(b)
    }

    /// True when `id` has no lock, or one whose heartbeat is older than `timeout` seconds.
    fn lock_is_stale(&self, id: &str, timeout: f64) -> bool {
        let Some(bytes) = self.store.lock(id) else {
            return true;
        };
        // The body is Meltano's bare timestamp: the holder's last heartbeat.
        let text = String::from_utf8_lossy(&bytes);
        let beat: f64 = text
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("lock of {id} is not a bare timestamp ({e}): {text:?}"));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        now - beat > timeout
    }

    #[track_caller]
    fn assert_no_lock(&self, id: &str) {
        let lock = self.store.lock(id);
        assert!(
            lock.is_none(),
            "lock of {id} left behind in {}: {:?}",
            self.store.uri(),
            lock.map(|l| String::from_utf8_lossy(&l).into_owned())
        );
    }

    /// Config, catalog and state files of runs: `.eltr/run/<plugin>/<run_id>/*` but the owner
    /// marker. (Files right under `.eltr/run/<plugin>/` are the catalog cache.)
    fn run_files(&self) -> Vec<PathBuf> {
        let base = self.dir.join(".eltr/run");
        files_under(&base)
            .into_iter()
            .filter(|f| {
                let rel = f.strip_prefix(&base).unwrap();
                rel.components().count() > 2 && !f.ends_with("owner.pid")
            })
            .collect()
    }

    #[track_caller]
    fn assert_no_run_files(&self, after: &str) {
        let left = self.run_files();
        assert!(left.is_empty(), "run files left after {after}: {left:#?}");
    }

    /// Checks that every run file present now is readable by its owner only; returns how many
    /// there were.
    fn check_run_file_modes(&self) -> usize {
        use std::os::unix::fs::PermissionsExt;
        let mut n = 0;
        for f in self.run_files() {
            let Ok(meta) = std::fs::metadata(&f) else {
                continue; // removed meanwhile
            };
            let mode = meta.permissions().mode() & 0o777;
            assert_eq!(
                mode,
                0o600,
                "{} has mode {mode:o} while running",
                f.display()
            );
            n += 1;
        }
        n
    }

    /// No output of any run, no run log and no file left in the project (but the project
    /// file that sets it) holds the password.
    #[track_caller]
    fn assert_secret_kept(&self) {
        for out in self.outputs.lock().unwrap().iter() {
            assert!(
                !out.contains(&self.password),
                "the password leaked into the output of:\n{out}"
            );
        }
        let logs = files_under(&self.dir.join(".eltr/logs"));
        assert!(!logs.is_empty(), "runs write logs under .eltr/logs");
        for f in files_under(&self.dir) {
            if f == self.dir.join("meltano.yml") {
                continue;
            }
            let bytes = std::fs::read(&f).unwrap_or_default();
            assert!(
                memchr_find(&bytes, self.password.as_bytes()).is_none(),
                "the password leaked into {}",
                f.display()
            );
        }
    }

    /// Plugin processes of this project still alive (their command line names a file under
    /// the project folder).
    fn live_plugins(&self) -> Vec<(i32, String)> {
        processes_mentioning(&self.dir.display().to_string())
    }

    /// Waits (up to `within`) until no plugin of this project runs; kills and reports any
    /// left.
    #[track_caller]
    fn assert_no_plugin_left(&self, within: Duration, after: &str) {
        let start = Instant::now();
        loop {
            let live = self.live_plugins();
            if live.is_empty() {
                return;
            }
            if start.elapsed() > within {
                for (pid, _) in &live {
                    // SAFETY: kill(2) of a plugin process this test's eltr started.
                    unsafe {
                        libc::kill(*pid, libc::SIGKILL);
                    }
                }
                panic!("plugin processes still running {within:?} after {after}: {live:#?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        // Never leave a plugin of a failed test running.
        for (pid, _) in self.live_plugins() {
            // SAFETY: kill(2) of a plugin process this test's eltr started.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Live (non-zombie) processes whose command line contains `needle`.
fn processes_mentioning(needle: &str) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if !cmd.contains(needle) {
            continue;
        }
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
        if state != Some('Z') {
            out.push((pid, cmd));
        }
    }
    out
}

/// The record ids in the target's output, tolerating a last line cut short by a kill.
fn output_ids(p: &Project) -> BTreeSet<u64> {
    let text = std::fs::read_to_string(p.dir.join("out/items.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|m| m["record"]["id"].as_u64())
        .collect()
}

/// `state: {...}`, the tap's echo of the state it was handed, for a single `items` bookmark.
fn tap_got(bookmark: u64) -> String {
    format!(r#"state: {{"bookmarks":{{"items":{{"replication_key_value":{bookmark}}}}}}}"#)
}

fn state_doc(bookmark: u64) -> String {
    format!(
        r#"{{"singer_state": {{"bookmarks": {{"items": {{"replication_key_value": {bookmark}}}}}}}}}"#
    )
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Local => "local",
        Kind::S3 => "s3",
        Kind::Azure => "azure",
        Kind::Sqlite => "sqlite",
        Kind::Postgres => "postgres",
        Kind::Gcs => "gcs",
    }
}

/// Runs `f` on `items` with `workers` threads; panics with every failure at once.
fn in_parallel<T: Sync>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T) -> String + Sync,
) -> Vec<String> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Result<String, String>)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= items.len() {
                        break;
                    }
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&items[i])))
                        .map_err(|e| {
                            e.downcast_ref::<String>()
                                .cloned()
                                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_else(|| "panic".into())
                        });
                    results.lock().unwrap().push((i, r));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(i, r)| r.as_ref().err().map(|e| format!("case {i}: {e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        items.len(),
        failures.join("\n\n")
    );
    results.into_iter().map(|(_, r)| r.unwrap()).collect()
}

per_store!(
    kill9_at_20_random_moments,
    fault_scenarios,
    eight_state_ids_side_by_side,
);

// ---------------------------------------------------------------------------------------------
// 1. kill -9 at random moments
// ---------------------------------------------------------------------------------------------

const LONG_ID: &str = "dev:tap-long-to-target-y";

/// The bookmarks the target of `tap-long` confirms when it starts after `start`: one every
/// `LONG_STATE_EVERY` records and the final one.
fn long_confirmable(start: u64) -> BTreeSet<u64> {
    let mut s: BTreeSet<u64> = (1..=LONG_RECORDS / LONG_STATE_EVERY)
        .map(|j| start + j * LONG_STATE_EVERY)
        .collect();
    s.insert(start + LONG_RECORDS);
    s
}

fn kill9_at_20_random_moments(kind: Kind) {
    let seeds: Vec<u64> = (0..KILL_SEEDS).collect();
    let started = Instant::now();
    let lines = in_parallel(&seeds, KILL_WORKERS, |&seed| kill9_case(kind, seed));
    let mid_run = lines.iter().filter(|l| l.contains("mid-run")).count();
    eprintln!(
        "[reliability] kill -9 on {}: {} runs killed ({} mid-run) in {:?}\n  {}",
        kind_name(kind),
        lines.len(),
        mid_run,
        started.elapsed(),
        lines.join("\n  ")
    );
    // The draws must have hit the interesting window, after a first checkpoint and before the
    // end, for a good share of the seeds.
    assert!(
        mid_run >= 5,
        "too few kills landed mid-run:\n{}",
        lines.join("\n")
    );
}

/// One seed: maybe a stored bookmark to start from, a run of `tap-long` killed with SIGKILL
/// after a random delay, then a short run that must resume from what was stored.
fn kill9_case(kind: Kind, seed: u64) -> String {
    let mut rng = Rng::new(seed * 3 + kind as u64);
    let p = Project::new(kind, &format!("kill9-{seed}"), Some(1.0));
    let start = if rng.range(0, 2) == 1 {
        let b0 = rng.range(1, 10_000);
        p.eltr(&["state", "set", "--force", LONG_ID, &state_doc(b0)], &[])
            .success();
        Some(b0)
    } else {
        None
    };
    let base = start.unwrap_or(0);
    let valid: BTreeSet<u64> = long_confirmable(base).into_iter().chain(start).collect();
    let delay = Duration::from_millis(rng.range(0, 1300));

    let bg = spawn_eltr(&p.dir, &["run", "tap-long", "target-y"], &[]);
    // The kill lands after a random delay, not on an event: the moment is what this test
    // draws at random (before, during and after checkpoints), so there is nothing to wait for.
    // Meanwhile the run's files are checked to be private.
    let t0 = Instant::now();
    let mut private_files = 0;
    while t0.elapsed() < delay {
        private_files = private_files.max(p.check_run_file_modes());
        std::thread::sleep(Duration::from_millis(5));
    }
    bg.signal(libc::SIGKILL);
    let first = bg.finish(LIMIT);
    p.keep(&first);
    let completed = first.status.success();
    assert!(
        completed || first.code().is_none(),
        "eltr must have died of the signal, or finished before it: {}\n{}",
        first.status,
        first.stderr
    );
    // The plugins get SIGTERM when eltr dies and must go away.
    p.assert_no_plugin_left(Duration::from_secs(10), "kill -9 of eltr");

    let stored = p.bookmark(LONG_ID);
    if let Some(b) = stored {
        assert!(
            valid.contains(&b),
            "seed {seed}: stored bookmark {b} was never confirmed by the target (valid: {valid:?})"
        );
        // What the target confirmed is durable in its output.
        let ids = output_ids(&p);
        let missing: Vec<u64> = (base + 1..=b).filter(|i| !ids.contains(i)).collect();
        assert!(
            missing.is_empty(),
            "seed {seed}: bookmark {b} stored but records {missing:?} are not in the output"
        );
    }
    let lock_left = p.store.lock(LONG_ID).is_some();
    // Records the target had received past the stored bookmark: the next run sends them again
    // (at least once, never lost).
    let resent = output_ids(&p)
        .last()
        .map_or(0, |max| max.saturating_sub(stored.unwrap_or(base)));

    // The next run: not blocked by the dead run's lock (or only until the lock is stale: its
    // heartbeat older than the 1 s timeout), resumes from the stored bookmark and sweeps the
    // dead run's files.
    let resumed = Instant::now();
    let next_run = || {
        p.eltr(
            &["run", "tap-long", "target-y"],
            &[("SINGER_TAP_RECORDS", "3")],
        )
    };
    let mut second = next_run();
    if !second.status.success() && second.stderr.contains("is locked by") {
        wait_until(LIMIT, "the dead run's lock to go stale", || {
            p.lock_is_stale(LONG_ID, 1.0)
        });
        second = next_run();
    }
    let waited = resumed.elapsed();
    second.success();
    assert!(
        waited < Duration::from_secs(20),
        "seed {seed}: the next run took {waited:?}"
    );
    match stored {
        Some(b) => {
            second.stderr_has(&tap_got(b));
            assert_eq!(p.bookmark(LONG_ID), Some(b + 3), "seed {seed}");
        }
        None => {
            assert!(
                !second.stderr.contains("state: {"),
                "seed {seed}: nothing was stored, yet the tap got a state:\n{}",
                second.stderr
            );
            assert_eq!(p.bookmark(LONG_ID), Some(3), "seed {seed}");
        }
    }
    p.assert_no_lock(LONG_ID);
    p.assert_no_run_files("the run after a kill -9");
    // A write cut short leaves its temporary file (never the state itself half-written).
    let temp_files = files_under(&p.dir.join(".eltr"))
        .iter()
        .filter(|f| f.to_string_lossy().ends_with(".tmp"))
        .count();
    p.assert_no_plugin_left(Duration::from_secs(5), "the run after a kill -9");
    p.assert_secret_kept();

    let when = match stored {
        _ if completed => "after the run had finished".to_string(),
        None => "before the first checkpoint".to_string(),
        Some(b) if b == base + LONG_RECORDS => "after the last checkpoint".to_string(),
        Some(b) if Some(b) == start => "before the first checkpoint (kept the old state)".into(),
        Some(b) => format!("mid-run at bookmark {}", b - base),
    };
    format!(
        "seed {seed:2}: start {start:?}, killed after {delay:?} {when} ({resent} records to resend); lock \
         left: {lock_left}; {private_files} private run files seen; {temp_files} temp files \
         left; next run took {waited:?}"
    )
}

// ---------------------------------------------------------------------------------------------
// 2. Crashes, early exits, timeouts, stubborn plugins, signals
// ---------------------------------------------------------------------------------------------

/// What a scenario must end with.
struct Expect {
    /// Exit code of eltr.
    code: i32,
    /// Texts stderr must contain.
    says: &'static [&'static str],
    /// The stored bookmark afterwards (exactly), or `None` for "one the target confirmed".
    bookmark: Option<u64>,
    /// The run must end within this long.
    within: Duration,
}

/// One fault scenario: a name, the eltr arguments, extra environment, and what to do while
/// it runs.
struct Scenario {
    name: &'static str,
    args: &'static [&'static str],
    vars: &'static [(&'static str, &'static str)],
    during: During,
    expect: Expect,
}

enum During {
    Nothing,
    /// SIGTERM to eltr once the first state is stored.
    SigtermEltr,
    /// SIGKILL to the plugin whose command line names this program, once the first state is
    /// stored.
    KillPlugin(&'static str),
}

fn scenarios() -> Vec<Scenario> {
    let grace = &[("ELTR_KILL_GRACE_SECONDS", "1")];
    vec![
        Scenario {
            name: "tap crash after states",
            args: &["run", "tap-crash", "target-y"],
            vars: &[],
            during: During::Nothing,
            expect: Expect {
                code: 1,
                says: &[
                    "extractor 'tap-crash' failed with exit code 3",
                    "fatal: simulated crash",
                ],
                bookmark: Some(6),
                within: Duration::from_secs(30),
            },
        },
        Scenario {
            name: "tap exits 1 after sending everything",
            args: &["run", "tap-fail-at-end", "target-y"],
            vars: &[],
            during: During::Nothing,
            expect: Expect {
                code: 1,
                says: &["extractor 'tap-fail-at-end' failed with exit code 1"],
                bookmark: Some(10),
                within: Duration::from_secs(30),
            },
        },
        Scenario {
            name: "target crash",
            args: &["run", "tap-x", "target-crash"],
            vars: &[],
            during: During::Nothing,
            expect: Expect {
                code: 1,
                says: &[
                    "loader 'target-crash' failed with exit code 4",
                    "fatal: target exploded",
                ],
                bookmark: Some(4),
                within: Duration::from_secs(30),
            },
        },
        Scenario {
            name: "target crash with unconfirmed states pending",
            args: &["run", "tap-ten", "target-batched"],
            vars: &[],
            during: During::Nothing,
            expect: Expect {
                code: 1,
                says: &["loader 'target-batched' failed with exit code 4"],
                bookmark: Some(3),
                within: Duration::from_secs(30),
            },
        },
        Scenario {
            name: "mapper crash after a state",
            args: &["run", "tap-ten", "mapper-crash", "target-y"],
            vars: &[],
            during: During::Nothing,
            expect: Expect {
                code: 1,
                says: &[
                    "mapper 'mapper-crash' failed with exit code 5",
                    "fatal: mapper crashed",
                ],
                bookmark: Some(1),
                within: Duration::from_secs(30),
            },
        },
        Scenario {
            name: "target exits 0 early",
            args: &["run", "tap-trickle", "target-early"],
            vars: &[],
            during: During::Nothing,
            expect: Expect {
                code: 1,
                says: &[
                    "loader 'target-early' exited",
                    "before the extractor finished",
                ],
                bookmark: Some(2),
                within: Duration::from_secs(30),
            },
        },
        Scenario {
            name: "tap never ends (--timeout 1)",
            args: &["run", "--timeout", "1", "tap-hang", "target-y"],
            vars: grace,
            during: During::Nothing,
            expect: Expect {
                code: 1,
                says: &["timed out", "last confirmed state was kept"],
                bookmark: Some(2),
                within: Duration::from_secs(8),
            },
        },
        Scenario {
            name: "tap ignores SIGTERM (--timeout 1, grace 1 s)",
            args: &["run", "--timeout", "1", "tap-stubborn", "target-y"],
            vars: grace,
            during: During::Nothing,
            expect: Expect {
                code: 1,
                says: &["timed out", "ignored the signal; killing it"],
                bookmark: Some(2),
                within: Duration::from_secs(8),
            },
        },
        Scenario {
            name: "tap and target ignore SIGTERM (--timeout 1, grace 1 s)",
            args: &["run", "--timeout", "1", "tap-stubborn", "target-stubborn"],
            vars: grace,
            during: During::Nothing,
            expect: Expect {
                code: 1,
                says: &["timed out", "ignored the signal; killing it"],
                bookmark: Some(2),
                within: Duration::from_secs(8),
            },
        },
        // The target is stopped after the grace period; the tap, still sending, then dies of
        // the closed pipe.
        Scenario {
            name: "SIGTERM to eltr; a sending tap ignores SIGTERM (grace 1 s)",
            args: &["run", "tap-stubborn-trickle", "target-y"],
            vars: grace,
            during: During::SigtermEltr,
            expect: Expect {
                code: 143,
                says: &["interrupted by SIGTERM", "last confirmed state was kept"],
                bookmark: None,
                within: Duration::from_secs(10),
            },
        },
        // A tap that neither sends nor stops: only SIGKILL ends it.
        Scenario {
            name: "SIGTERM to eltr; a hanging tap ignores SIGTERM (grace 1 s)",
            args: &["run", "tap-stubborn", "target-y"],
            vars: grace,
            during: During::SigtermEltr,
            expect: Expect {
                code: 143,
                says: &["interrupted by SIGTERM", "ignored the signal; killing it"],
                bookmark: Some(2),
                within: Duration::from_secs(10),
            },
        },
        Scenario {
            name: "tap killed with SIGKILL from outside",
            args: &["run", "tap-trickle", "target-y"],
            vars: &[],
            during: During::KillPlugin("singer_tap"),
            expect: Expect {
                code: 1,
                says: &["extractor 'tap-trickle' failed with"],
                bookmark: None,
                within: Duration::from_secs(30),
            },
        },
    ]
}

/// Every scenario on the store: each must end as its `Expect` says (`fault_case` checks the
/// exit code, the error line, the stored bookmark, locks, files, plugins and the secret);
/// the failures of all scenarios are reported together.
fn fault_scenarios(kind: Kind) {
    let all = scenarios();
    let lines = in_parallel(&all, 3, |s| fault_case(kind, s));
    eprintln!(
        "[reliability] faults on {}: {} runs\n  {}",
        kind_name(kind),
        lines.len(),
        lines.join("\n  ")
    );
}

fn fault_case(kind: Kind, s: &Scenario) -> String {
    let p = Project::new(kind, "faults", None);
    let tap = s.args.iter().find(|a| a.starts_with("tap-")).unwrap();
    let target = s.args.iter().find(|a| a.starts_with("target-")).unwrap();
    let id = format!("dev:{tap}-to-{target}");
    let started = Instant::now();
    let bg = spawn_eltr(&p.dir, s.args, s.vars);
    match s.during {
        During::Nothing => {}
        During::SigtermEltr => {
            // A stored state means the plugins run, and so have set up their signal
            // handling (the stubborn tap ignores SIGTERM before it sends anything).
            wait_until(LIMIT, "a first stored state", || {
                p.store.state(&id).is_some()
            });
            bg.signal(libc::SIGTERM);
        }
        During::KillPlugin(program) => {
            wait_until(LIMIT, "a first stored state", || {
                p.store.state(&id).is_some()
            });
            let victims: Vec<(i32, String)> = p
                .live_plugins()
                .into_iter()
                .filter(|(_, cmd)| cmd.contains(program))
                .collect();
            assert_eq!(victims.len(), 1, "one {program} process: {victims:?}");
            // SAFETY: kill(2) of a plugin process this test's eltr started.
            unsafe {
                libc::kill(victims[0].0, libc::SIGKILL);
            }
        }
    }
    let r = bg.finish(LIMIT);
    let took = started.elapsed();
    p.keep(&r);
    let what = format!("{} on {}", s.name, kind_name(kind));
    assert_eq!(
        r.code(),
        Some(s.expect.code),
        "{what}: exit status {}; stderr:\n{}",
        r.status,
        r.stderr
    );
    for needle in s.expect.says {
        assert!(
            r.stderr.contains(needle),
            "{what}: stderr lacks {needle:?}:\n{}",
            r.stderr
        );
    }
    assert!(
        !r.stderr.contains("panicked"),
        "{what}: eltr panicked:\n{}",
        r.stderr
    );
    let error_lines = r.error_lines();
    assert_eq!(
        error_lines.len(),
        1,
        "{what}: one `error:` line expected:\n{}",
        r.stderr
    );
    assert!(
        took < s.expect.within,
        "{what}: took {took:?}, more than {:?}; stderr:\n{}",
        s.expect.within,
        r.stderr
    );
    let b = p.bookmark(&id);
    match s.expect.bookmark {
        Some(want) => assert_eq!(
            b,
            Some(want),
            "{what}: stored bookmark; stderr:\n{}",
            r.stderr
        ),
        None => {
            // Trickling taps send a STATE after every record: the stored bookmark must be one
            // whose records all reached the target's output.
            let b = b.unwrap_or_else(|| panic!("{what}: nothing stored; stderr:\n{}", r.stderr));
            let ids = output_ids(&p);
            assert!(
                (1..=b).all(|i| ids.contains(&i)),
                "{what}: bookmark {b} stored but the output has only {} records",
                ids.len()
            );
        }
    }
    p.assert_no_lock(&id);
    p.assert_no_run_files(&what);
    p.assert_no_plugin_left(Duration::from_secs(3), &what);
    p.assert_secret_kept();
    format!(
        "{:60} exit {:?} in {took:.1?}, bookmark {b:?}",
        s.name,
        r.code()
    )
}

// ---------------------------------------------------------------------------------------------
// 3. Different state ids side by side
// ---------------------------------------------------------------------------------------------

fn eight_state_ids_side_by_side(kind: Kind) {
    let p = Project::new(kind, "concurrency", None);
    let id = |i: usize| format!("dev:tap-conc-to-target-y:c{i}");
    // Round 1: pipeline i sends 10 + i records; round 2: 5 more, resuming from its own state.
    for round in [1, 2] {
        let procs: Vec<_> = (0..CONCURRENT)
            .map(|i| {
                let suffix = format!("c{i}");
                let records = if round == 1 { 10 + i } else { 5 }.to_string();
                spawn_eltr(
                    &p.dir,
                    &["run", "--state-id-suffix", &suffix, "tap-conc", "target-y"],
                    &[("SINGER_TAP_RECORDS", &records)],
                )
            })
            .collect();
        for (i, bg) in procs.into_iter().enumerate() {
            let r = bg.finish(LIMIT);
            p.keep(&r);
            r.success();
            if round == 2 {
                r.stderr_has(&tap_got((10 + i) as u64));
            }
        }
        for i in 0..CONCURRENT {
            let want = if round == 1 { 10 + i } else { 15 + i } as u64;
            assert_eq!(
                p.bookmark(&id(i)),
                Some(want),
                "pipeline {i}, round {round}"
            );
            p.assert_no_lock(&id(i));
        }
    }
    p.assert_no_run_files("concurrent runs");
    p.assert_secret_kept();
}

// ---------------------------------------------------------------------------------------------
// 4. The store goes away in the middle of a run
// ---------------------------------------------------------------------------------------------

/// An emulator process of the test's own, on a port of its own, that can be stopped and
/// started again.
struct Emulator {
    what: &'static str,
    port: u16,
    /// Azurite's data folder (kept across restarts).
    data: Option<TempDir>,
    log: PathBuf,
    child: Option<Child>,
}

impl Emulator {
    fn moto(log_dir: &Path) -> Emulator {
        let mut e = Emulator {
            what: "moto",
            port: free_port(),
            data: None,
            log: log_dir.join("moto.log"),
            child: None,
        };
        e.start();
        e
    }

    fn azurite(log_dir: &Path) -> Emulator {
        let mut e = Emulator {
            what: "azurite",
            port: free_port(),
            data: Some(tempfile::tempdir().unwrap()),
            log: log_dir.join("azurite.log"),
            child: None,
        };
        e.start();
        e
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The well-known development account of the Azure emulators (public, not a secret).
    fn azure_conn(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:{}/devstoreaccount1;",
            self.port
        )
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = if self.what == "moto" {
            let mut c = Command::new(
                PathBuf::from(required_var("ELTR_TEST_VENV")).join("emulators/bin/moto_server"),
            );
            c.args(["-H", "127.0.0.1", "-p", &self.port.to_string()]);
            c
        } else {
            let mut c = Command::new(
                PathBuf::from(required_var("ELTR_TEST_TOOLS"))
                    .join("azurite/node_modules/.bin/azurite-blob"),
            );
            let data = self.data.as_ref().unwrap().path();
            c.args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &self.port.to_string(),
            ])
            .arg("--location")
            .arg(data)
            .arg("--skipApiVersionCheck")
            .current_dir(data);
            c
        };
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.child = Some(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.what)),
        );
        let url = format!("{}/", self.endpoint());
        let start = Instant::now();
        loop {
            let up = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "--max-time", "1"])
                .arg(&url)
                .status()
                .is_ok_and(|s| s.success());
            if up {
                break;
            }
            if let Some(Some(status)) = self.child.as_mut().map(|c| c.try_wait().unwrap()) {
                panic!(
                    "{} exited ({status}) at start:\n{}",
                    self.what,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{} did not start",
                self.what
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the emulator (SIGTERM, so Azurite writes its data down) and waits for it.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) of the emulator process this test started.
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
            let start = Instant::now();
            while c.try_wait().unwrap().is_none() {
                if start.elapsed() > Duration::from_secs(10) {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

const FAULT_ID: &str = "dev:tap-fault-to-target-y";

/// A project whose state lives in `emu`, under a fresh prefix of the `eltr-fault` bucket or
/// container (created here).
fn project_on(emu: &Emulator, test: &str) -> Project {
    let (tmp, dir) = project_dir();
    let prefix = format!("reliability/{}", unique(test));
    let store = if emu.what == "moto" {
        s3_create_bucket(&emu.endpoint(), "eltr-fault");
        Store::S3 {
            endpoint: emu.endpoint(),
            bucket: "eltr-fault".into(),
            prefix,
        }
    } else {
        azure_create_container(&emu.azure_conn(), "eltr-fault");
        Store::Azure {
            conn: emu.azure_conn(),
            container: "eltr-fault".into(),
            prefix,
        }
    };
    Project::with_store(tmp, dir, store, None)
}

/// Starts `tap-fault` (300 records, a STATE after each, 10 ms apart: about 3 s) with a run
/// summary, and waits for its first stored state; returns the run and the stored bookmark.
fn start_fault_run(p: &Project, summary: &Path) -> (support::Background, u64) {
    let bg = spawn_eltr(
        &p.dir,
        &[
            "run",
            "--summary-json",
            summary.to_str().unwrap(),
            "tap-fault",
            "target-y",
        ],
        &[],
    );
    let mut first = None;
    wait_until(LIMIT, "a first stored state", || {
        first = p.bookmark(FAULT_ID);
        first.is_some_and(|b| b >= 20)
    });
    (bg, first.unwrap())
}

/// Waits until the run has found the store down: a checkpoint write failed and is retried.
fn wait_for_a_failed_write(bg: &support::Background) {
    wait_until(LIMIT, "the run to find the store down", || {
        bg.stderr_so_far().contains("state write failed")
    });
}

fn summary_of(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no run summary at {}: {e}", path.display()));
    serde_json::from_str::<Value>(&text).unwrap()["blocks"][0].clone()
}

/// The run goes on while the store is down (from the moment a checkpoint write fails until the
/// emulator has restarted); checkpoints are retried, so the run succeeds and the last bookmark
/// is stored. Azurite keeps its data on
/// disk, so this is a store outage and nothing else.
#[test]
fn store_azure_down_then_back_the_run_succeeds_with_the_last_bookmark() {
    let logs = empty_dir();
    let mut emu = Emulator::azurite(logs.path());
    let p = project_on(&emu, "azure-back");
    let summary = p.dir.join("summary.json");
    let (bg, before) = start_fault_run(&p, &summary);
    emu.stop();
    wait_for_a_failed_write(&bg);
    emu.start();
    let r = bg.finish(LIMIT);
    p.keep(&r);
    r.success();
    assert_eq!(p.bookmark(FAULT_ID), Some(300), "stderr:\n{}", r.stderr);
    p.assert_no_lock(FAULT_ID);
    let s = summary_of(&summary);
    eprintln!(
        "[reliability] Azure down after bookmark {before}: run ok, {} states confirmed, {} writes",
        s["states_confirmed"], s["state_writes"]
    );
    p.assert_no_run_files("a store outage");
    p.assert_secret_kept();
}

/// The store goes down and stays down until the run is over: the run fails with one line
/// naming the store and saying what to check; once the store is back, the state stored is
/// not older than the last checkpoint seen before the outage, is one the target confirmed,
/// and the dead lock does not block the next run.
#[test]
fn store_azure_stays_down_the_run_fails_naming_the_store_and_keeps_the_checkpoint() {
    let logs = empty_dir();
    let mut emu = Emulator::azurite(logs.path());
    let p = project_on(&emu, "azure-down");
    let summary = p.dir.join("summary.json");
    let (bg, mut before) = start_fault_run(&p, &summary);
    if let Some(b) = p.bookmark(FAULT_ID) {
        before = b;
    }
    emu.stop();
    let r = bg.finish(LIMIT);
    p.keep(&r);
    assert_store_down_error(&r, &p.store.uri(), "connection string");
    emu.start();
    let after = p
        .bookmark(FAULT_ID)
        .expect("the state stored before the outage is still there");
    assert!(
        (before..=300).contains(&after),
        "stored bookmark {after} is older than the checkpoint {before} seen before the outage"
    );
    let s = summary_of(&summary);
    eprintln!(
        "[reliability] Azure down from bookmark {before} on: run failed; stored {after}; summary: \
         {} states confirmed, {} writes, last {}",
        s["states_confirmed"], s["state_writes"], s["last_state"]
    );
    // The lock of the failed run could not be removed; the next run takes it over.
    let next = p.eltr(
        &["run", "tap-fault", "target-y"],
        &[("SINGER_TAP_RECORDS", "3")],
    );
    next.success().stderr_has(&tap_got(after));
    assert_eq!(p.bookmark(FAULT_ID), Some(after + 3));
    p.assert_no_lock(FAULT_ID);
    p.assert_no_run_files("a store outage");
    p.assert_secret_kept();
}

/// moto is stopped in the middle of a run and started again once a checkpoint write failed. moto
/// keeps everything in memory: after the restart the bucket, the state and the run's lock are
/// gone (the test creates the bucket again at once), so this is a store that lost its data,
/// not only an outage. The run must end with a clear outcome (success with the last bookmark,
/// or one error line naming the store), never store a bookmark the target did not confirm,
/// and the next run must start from what is stored.
#[test]
fn store_s3_moto_restarted_mid_run_empty() {
    let logs = empty_dir();
    let mut emu = Emulator::moto(logs.path());
    let p = project_on(&emu, "s3-restart");
    let summary = p.dir.join("summary.json");
    let (bg, before) = start_fault_run(&p, &summary);
    emu.stop();
    wait_for_a_failed_write(&bg);
    emu.start();
    s3_create_bucket(&emu.endpoint(), "eltr-fault");
    let r = bg.finish(LIMIT);
    p.keep(&r);
    let s = summary_of(&summary);
    let stored = p.bookmark(FAULT_ID);
    let errors = r.error_lines();
    eprintln!(
        "[reliability] moto restarted (empty) after bookmark {before}: exit {:?}, stored \
         {stored:?}, {} confirmed, {} writes; error: {errors:?}",
        r.code(),
        s["states_confirmed"],
        s["state_writes"],
    );
    if let Some(b) = stored {
        assert!(
            (1..=300).contains(&b),
            "stored bookmark {b} was never confirmed"
        );
    }
    if r.status.success() {
        assert_eq!(stored, Some(300), "stderr:\n{}", r.stderr);
    } else {
        r.exits(1);
        assert_eq!(errors.len(), 1, "one `error:` line expected:\n{}", r.stderr);
        assert!(
            errors[0].contains(&p.store.uri()),
            "the error must name the store: {}",
            errors[0]
        );
    }
    p.assert_no_lock(FAULT_ID);
    let next = p.eltr(
        &["run", "tap-fault", "target-y"],
        &[("SINGER_TAP_RECORDS", "3")],
    );
    next.success();
    match stored {
        Some(b) => {
            next.stderr_has(&tap_got(b));
            assert_eq!(p.bookmark(FAULT_ID), Some(b + 3));
        }
        None => assert_eq!(p.bookmark(FAULT_ID), Some(3)),
    }
    p.assert_no_run_files("a store restart");
    p.assert_secret_kept();
}

/// moto stopped for good in the middle of a run: one line naming the store and what to
/// check; the summary says how far the checkpoints got.
#[test]
fn store_s3_stays_down_the_run_fails_naming_the_store() {
    let logs = empty_dir();
    let mut emu = Emulator::moto(logs.path());
    let p = project_on(&emu, "s3-down");
    let summary = p.dir.join("summary.json");
    let (bg, before) = start_fault_run(&p, &summary);
    emu.stop();
    let r = bg.finish(LIMIT);
    p.keep(&r);
    assert_store_down_error(&r, &p.store.uri(), "endpoint_url");
    let s = summary_of(&summary);
    assert!(
        s["state_writes"].as_u64().unwrap() >= 1,
        "at least the checkpoint seen before the outage was written: {s}"
    );
    assert_eq!(
        s["last_state"],
        json!({"bookmarks": {"items": {"replication_key_value": 300}}}),
        "the target confirmed every state"
    );
    eprintln!(
        "[reliability] moto down from bookmark {before} on: run failed as it must; summary: {} \
         writes",
        s["state_writes"]
    );
    p.assert_no_run_files("a store outage");
    p.assert_secret_kept();
}

/// The run failed because the store is unreachable: exit 1, exactly one `error:` line, short,
/// naming the store and what to check, no dump.
#[track_caller]
fn assert_store_down_error(r: &Run, store: &str, hint: &str) {
    r.exits(1);
    let errors = r.error_lines();
    assert_eq!(errors.len(), 1, "one `error:` line expected:\n{}", r.stderr);
    let line = errors[0];
    assert!(line.len() < 400, "error line too long: {line}");
    assert!(line.contains(store), "the error must name {store}: {line}");
    assert!(
        line.contains("cannot reach the store") && line.contains(hint),
        "the error must say what to check: {line}"
    );
    for bad in ["<?xml", "caused by", "panicked"] {
        assert!(!r.stderr.contains(bad), "{bad:?} in stderr:\n{}", r.stderr);
    }
}

// ---------------------------------------------------------------------------------------------
// 5. A plugin that ignores SIGTERM outlives a kill -9 of eltr?
// ---------------------------------------------------------------------------------------------

/// eltr starts its plugins so that they die with it (process.rs: PR_SET_PDEATHSIG). A tap
/// that ignores SIGTERM must not be left running forever when eltr itself is killed.
#[test]
fn kill9_of_eltr_leaves_no_stubborn_plugin_running() {
    let p = Project::new(Kind::Local, "stubborn-orphan", None);
    let bg = spawn_eltr(&p.dir, &["run", "tap-stubborn", "target-y"], &[]);
    wait_until(LIMIT, "the stubborn tap's state", || {
        p.store.state("dev:tap-stubborn-to-target-y").is_some()
    });
    bg.signal(libc::SIGKILL);
    let r = bg.finish(LIMIT);
    p.keep(&r);
    p.assert_no_plugin_left(Duration::from_secs(10), "kill -9 of eltr");
    // A killed eltr cannot clean up; the next command that prepares the plugin sweeps the
    // dead run's folder (config file included).
    let sweep = eltr(&p.dir, ["select", "tap-stubborn", "--list"], &[]);
    p.keep(&sweep);
    sweep.success();
    p.assert_no_run_files("the command after a kill -9");
    p.assert_secret_kept();
}
