//! Editing commands against Meltano 4.4.1: each test runs the same command with Meltano (from
//! the venv `scripts/test-env.sh` builds, `ELTR_TEST_MELTANO`) and with eltr on two copies of
//! the modular fixture `tests/fixtures/editing/modular`, then compares
//!
//! - the data of the resulting project (every file merged, empty values and Meltano's
//!   canonical spellings normalised), `.env` variables and lockfiles: the same;
//! - eltr's files line by line with the originals: every line the edit has no reason to
//!   touch, comments included, is still there byte for byte and in order; files the edit has
//!   no reason to touch are byte-identical.
//!
//! Hub tests serve `tests/fixtures/editing/hub` from a local HTTP server (both tools pointed
//! at it with `MELTANO_HUB_URL`). A property test applies random edit sequences to a
//! commented project with the library's editor and checks every result loads to the
//! intended data.

mod common;
#[path = "common/hub.rs"]
mod fake_hub;

use common::{Run, eltr};
use fake_hub::hub;
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const FIXTURE: &str = "editing/modular";

/// Meltano 4.4.1's executable (`ELTR_TEST_MELTANO`, else the test venv).
fn meltano_bin() -> PathBuf {
    let path = std::env::var_os("ELTR_TEST_MELTANO")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("target/test-tools/venvs/meltano/bin/meltano")
        });
    assert!(
        path.is_file(),
        "Meltano 4.4.1 is not installed at {}; run the suite with scripts/test.sh (or set \
         ELTR_TEST_MELTANO)",
        path.display()
    );
    path
}

/// Two copies of the fixture, one for each tool.
struct Pair {
    _tmp: tempfile::TempDir,
    meltano: PathBuf,
    eltr: PathBuf,
    home: PathBuf,
}

fn pair() -> Pair {
    let tmp = tempfile::tempdir().unwrap();
    let src = common::fixture_source(FIXTURE);
    let meltano = tmp.path().join("meltano");
    let eltr = tmp.path().join("eltr");
    copy_dir(&src, &meltano);
    copy_dir(&src, &eltr);
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    Pair {
        _tmp: tmp,
        meltano,
        eltr,
        home,
    }
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

impl Pair {
    /// Runs Meltano in its copy; panics unless it succeeds.
    fn meltano(&self, args: &[&str], stdin: &str, hub: Option<&str>) -> String {
        let mut cmd = Command::new(meltano_bin());
        cmd.current_dir(&self.meltano)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(h) = hub {
            cmd.env("MELTANO_HUB_URL", h);
        }
        let mut child = cmd.spawn().expect("start meltano");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "meltano {args:?} failed:\n{text}");
        text
    }

    /// Runs eltr in its copy.
    fn eltr(&self, args: &[&str], hub: Option<&str>) -> Run {
        let vars: Vec<(&str, &str)> = hub.map(|h| ("MELTANO_HUB_URL", h)).into_iter().collect();
        eltr(&self.eltr, args, &vars)
    }

    /// Runs both; eltr must succeed. Then compares their data.
    #[track_caller]
    fn both(&self, meltano: &[&str], eltr_args: &[&str]) {
        self.meltano(meltano, "", None);
        self.eltr(eltr_args, None).success();
        self.same_data();
    }

    /// The two projects mean the same (files merged and normalised, `.env`, lockfiles).
    #[track_caller]
    fn same_data(&self) {
        let (m, e) = (project_data(&self.meltano), project_data(&self.eltr));
        assert_eq!(
            e,
            m,
            "eltr's project (left) differs from Meltano's (right):\neltr:    {}\nmeltano: {}",
            serde_json::to_string(&e).unwrap(),
            serde_json::to_string(&m).unwrap()
        );
    }

    /// eltr's copy of a fixture file.
    fn eltr_text(&self, rel: &str) -> String {
        std::fs::read_to_string(self.eltr.join(rel)).unwrap_or_default()
    }
}

/// The original text of a fixture file.
fn original(rel: &str) -> String {
    std::fs::read_to_string(common::fixture_source(FIXTURE).join(rel)).unwrap()
}

/// Every file of the fixture other than `changed` is byte-identical in eltr's copy, and in
/// each changed file every original line is still there in order, except lines whose
/// trimmed text is in `may_go`.
#[track_caller]
fn kept_byte_for_byte(p: &Pair, changed: &[&str], may_go: &[&str]) {
    let src = common::fixture_source(FIXTURE);
    for rel in fixture_files(&src) {
        let before = original(&rel);
        let after = p.eltr_text(&rel);
        if !changed.contains(&rel.as_str()) {
            assert_eq!(
                after, before,
                "{rel} changed but the edit had no reason to touch it"
            );
            continue;
        }
        let mut rest = after.lines();
        for line in before.lines().filter(|l| !may_go.contains(&l.trim())) {
            assert!(
                rest.any(|l| l == line),
                "{rel}: line {line:?} was lost or changed; eltr wrote:\n{after}"
            );
        }
    }
}

fn fixture_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walk(dir) {
        out.push(e.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name()
                .is_some_and(|n| n == ".meltano" || n == ".eltr")
            {
                continue;
            }
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A project's meaning: the root file's own keys, every plugin, environment, job and
/// schedule by name (from whichever file holds it), `.env` variables and lockfiles.
fn project_data(dir: &Path) -> Value {
    let root: Value = read_yaml(&dir.join("meltano.yml"));
    let mut files = vec![dir.join("meltano.yml")];
    for pattern in root["include_paths"].as_array().into_iter().flatten() {
        let glob = globset::Glob::new(pattern.as_str().unwrap().trim_start_matches("./"))
            .unwrap()
            .compile_matcher();
        let mut matched: Vec<PathBuf> = walk(dir)
            .into_iter()
            .filter(|p| glob.is_match(p.strip_prefix(dir).unwrap()))
            .collect();
        matched.sort();
        files.extend(matched);
    }
    let mut out =
        json!({"root": {}, "plugins": {}, "environments": {}, "jobs": {}, "schedules": {}});
    for f in files {
        let data = read_yaml(&f);
        for (k, v) in data.as_object().cloned().unwrap_or_default() {
            match k.as_str() {
                "plugins" => {
                    for (t, list) in v.as_object().cloned().unwrap_or_default() {
                        for p in list.as_array().cloned().unwrap_or_default() {
                            let key = format!("{t}/{}", p["name"].as_str().unwrap());
                            out["plugins"][key] = p;
                        }
                    }
                }
                "environments" | "jobs" | "schedules" => {
                    for item in v.as_array().cloned().unwrap_or_default() {
                        let name = item["name"].as_str().unwrap().to_string();
                        out[k.as_str()][name] = item;
                    }
                }
                "include_paths" => {}
                _ => {
                    out["root"][k.as_str()] = v;
                }
            }
        }
    }
    let env: Map<String, Value> = match std::fs::read(dir.join(".env")) {
        Ok(bytes) => dotenvy::from_read_iter(bytes.as_slice())
            .map(|r| r.unwrap())
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
        Err(_) => Map::new(),
    };
    out["dotenv"] = Value::Object(env);
    let mut locks = Map::new();
    for f in walk(&dir.join("plugins")) {
        if f.extension().is_some_and(|e| e == "lock") {
            let rel = f.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            locks.insert(
                rel,
                serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap(),
            );
        }
    }
    out["lockfiles"] = Value::Object(locks);
    normalize(&mut out);
    out
}

fn read_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let v: Value = serde_norway::from_str(&text).unwrap_or(Value::Null);
    if v.is_null() { json!({}) } else { v }
}

/// Meltano drops empty values when it writes (`config: {}`, `env: {}`) and spells a
/// `kind: password` setting as a sensitive string: neither changes what a project means.
fn normalize(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("kind").and_then(Value::as_str) == Some("password") {
                map.insert("kind".into(), json!("string"));
                map.insert("sensitive".into(), json!(true));
            }
            for item in map.values_mut() {
                normalize(item);
            }
            map.retain(|_, item| !is_empty(item));
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// config set | unset | reset
// ---------------------------------------------------------------------------------------------

#[test]
fn config_set_replaces_a_value_in_the_plugins_own_file() {
    let p = pair();
    p.both(
        &["config", "set", "tap-orders", "page_size", "50"],
        &["config", "set", "tap-orders", "page_size", "50"],
    );
    kept_byte_for_byte(
        &p,
        &["plugins/extractors/tap-orders.yml"],
        &["page_size: 100"],
    );
    assert!(
        p.eltr_text("plugins/extractors/tap-orders.yml")
            .contains("        page_size: 50\n")
    );
}

#[test]
fn config_set_of_a_secret_writes_dotenv_0600_never_yaml() {
    let p = pair();
    p.both(
        &["config", "set", "tap-orders", "api_key", "s3cr3t"],
        &["config", "set", "tap-orders", "api_key", "s3cr3t"],
    );
    kept_byte_for_byte(&p, &[".env"], &[]);
    assert_eq!(
        std::fs::read_to_string(p.eltr.join(".env")).unwrap(),
        std::fs::read_to_string(p.meltano.join(".env")).unwrap()
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(p.eltr.join(".env"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn config_set_nested_and_typed_values_like_meltano() {
    let p = pair();
    for args in [
        vec!["config", "set", "tap-orders", "auth.user", "bob"],
        vec!["config", "set", "tap-orders", "include_deleted", "true"],
        vec!["config", "set", "tap-orders", "start_date", "2024-01-01"],
        vec!["config", "set", "tap-orders", "custom_list", "[1,2]"],
        vec!["config", "set", "tap-orders", "extra", "deep", "key", "1"],
    ] {
        p.meltano(&args, "", None);
        p.eltr(&args, None).success();
    }
    p.same_data();
    kept_byte_for_byte(&p, &["plugins/extractors/tap-orders.yml"], &[]);
}

#[test]
fn config_set_with_an_environment_writes_its_overlay() {
    let p = pair();
    for env in ["dev", "prod"] {
        let args = [
            "--environment",
            env,
            "config",
            "set",
            "tap-orders",
            "page_size",
            "20",
        ];
        p.meltano(&args, "", None);
        p.eltr(&args, None).success();
    }
    p.same_data();
    kept_byte_for_byte(&p, &["envs_config.yml"], &["page_size: 10", "env: {}"]);
}

#[test]
fn config_unset_removes_from_every_store() {
    let p = pair();
    std::fs::write(
        p.meltano.join(".env"),
        "# mine\nTAP_ORDERS_API_KEY=x\nOTHER=1\n",
    )
    .unwrap();
    std::fs::write(
        p.eltr.join(".env"),
        "# mine\nTAP_ORDERS_API_KEY=x\nOTHER=1\n",
    )
    .unwrap();
    p.both(
        &["config", "unset", "tap-orders", "page_size"],
        &["config", "unset", "tap-orders", "page_size"],
    );
    p.both(
        &["config", "unset", "tap-orders", "api_key"],
        &["config", "unset", "tap-orders", "api_key"],
    );
    p.both(
        &[
            "--environment",
            "dev",
            "config",
            "unset",
            "tap-orders",
            "page_size",
        ],
        &[
            "--environment",
            "dev",
            "config",
            "unset",
            "tap-orders",
            "page_size",
        ],
    );
    kept_byte_for_byte(
        &p,
        &["plugins/extractors/tap-orders.yml", "envs_config.yml"],
        &["page_size: 100", "page_size: 10", "config:"],
    );
    assert_eq!(
        std::fs::read_to_string(p.eltr.join(".env")).unwrap(),
        "# mine\nOTHER=1\n"
    );
}

#[test]
fn config_reset_clears_the_plugin_but_keeps_other_dotenv_lines() {
    let p = pair();
    let dotenv = "# mine\nTAP_ORDERS_API_KEY=x\nOTHER=1\n";
    std::fs::write(p.meltano.join(".env"), dotenv).unwrap();
    std::fs::write(p.eltr.join(".env"), dotenv).unwrap();
    p.meltano(&["config", "reset", "tap-orders", "--yes"], "", None);
    p.eltr(&["config", "reset", "tap-orders", "--yes"], None)
        .success();
    // Different on purpose: Meltano deletes the whole .env (every plugin's secrets).
    assert!(!p.meltano.join(".env").exists());
    assert_eq!(
        std::fs::read_to_string(p.eltr.join(".env")).unwrap(),
        "# mine\nOTHER=1\n"
    );
    std::fs::remove_file(p.eltr.join(".env")).unwrap();
    p.same_data();
    kept_byte_for_byte(
        &p,
        &["plugins/extractors/tap-orders.yml", ".env"],
        &[
            "config:",
            "api_url: https://api.example.com  # the public endpoint",
            "page_size: 100",
            "select:",
            "- orders.*",
            "- '!orders.secret'",
        ],
    );
}

#[test]
fn config_reset_needs_yes() {
    let p = pair();
    p.eltr(&["config", "reset", "tap-orders"], None)
        .failure()
        .stderr_has("--yes");
    kept_byte_for_byte(&p, &[], &[]);
}

#[test]
fn old_word_orders_keep_working() {
    let p = pair();
    p.eltr(
        &[
            "config",
            "tap-orders",
            "set",
            "api_url",
            "https://b.example",
        ],
        None,
    )
    .success();
    let printed = p.eltr(&["config", "tap-orders", "print"], None);
    assert_eq!(
        printed.success().json()["api_url"],
        json!("https://b.example")
    );
    let printed = p.eltr(&["config", "print", "tap-orders"], None);
    assert_eq!(
        printed.success().json()["api_url"],
        json!("https://b.example")
    );
}

#[test]
fn a_failed_edit_leaves_every_file_as_it_was() {
    let p = pair();
    // page_size is an integer setting: the value cannot be cast, nothing is written.
    p.eltr(&["config", "set", "tap-orders", "page_size", "many"], None)
        .failure()
        .stderr_has("not an integer");
    p.eltr(&["select", "tap-orders", "nothing", "here", "--rm"], None)
        .failure();
    kept_byte_for_byte(&p, &[], &[]);
}

// ---------------------------------------------------------------------------------------------
// select
// ---------------------------------------------------------------------------------------------

#[test]
fn select_adds_excludes_and_removes_patterns() {
    let p = pair();
    p.both(
        &["select", "tap-orders", "customers", "id"],
        &["select", "tap-orders", "customers", "id"],
    );
    p.both(
        &[
            "select",
            "tap-orders",
            "orders",
            "secret",
            "--exclude",
            "--rm",
        ],
        &[
            "select",
            "tap-orders",
            "orders",
            "secret",
            "--exclude",
            "--rm",
        ],
    );
    p.both(
        &[
            "--environment",
            "dev",
            "select",
            "tap-orders",
            "orders",
            "--exclude",
        ],
        &[
            "--environment",
            "dev",
            "select",
            "tap-orders",
            "orders",
            "--exclude",
        ],
    );
    kept_byte_for_byte(
        &p,
        &["plugins/extractors/tap-orders.yml", "envs_config.yml"],
        &["- '!orders.secret'"],
    );
}

// ---------------------------------------------------------------------------------------------
// job, schedule, environment
// ---------------------------------------------------------------------------------------------

#[test]
fn job_add_set_remove_like_meltano() {
    let p = pair();
    let tasks = r#"["tap-orders target-jsonl", ["tap-customers target-jsonl"]]"#;
    p.both(
        &["job", "add", "both", "--tasks", tasks],
        &["job", "add", "both", "--tasks", tasks],
    );
    p.both(
        &[
            "job",
            "set",
            "orders-to-jsonl",
            "--tasks",
            "tap-customers target-jsonl",
        ],
        &[
            "job",
            "set",
            "orders-to-jsonl",
            "--tasks",
            "tap-customers target-jsonl",
        ],
    );
    kept_byte_for_byte(
        &p,
        &["meltano.yml", "pipelines/orders.yml"],
        &["- tap-orders target-jsonl"],
    );
    p.both(&["job", "remove", "both"], &["job", "remove", "both"]);
    p.eltr(
        &["job", "add", "bad", "--tasks", "tap-nope target-jsonl"],
        None,
    )
    .failure()
    .stderr_has("tap-nope");
}

#[test]
fn schedule_add_set_remove_like_meltano() {
    let p = pair();
    p.both(
        &[
            "schedule",
            "add",
            "hourly-orders",
            "--job",
            "orders-to-jsonl",
            "--interval",
            "@hourly",
        ],
        &[
            "schedule",
            "add",
            "hourly-orders",
            "--job",
            "orders-to-jsonl",
            "--interval",
            "@hourly",
        ],
    );
    p.both(
        &[
            "schedule",
            "add",
            "elt",
            "--extractor",
            "tap-orders",
            "--loader",
            "target-jsonl",
            "--interval",
            "0 3 * * *",
        ],
        &[
            "schedule",
            "add",
            "elt",
            "--extractor",
            "tap-orders",
            "--loader",
            "target-jsonl",
            "--interval",
            "0 3 * * *",
        ],
    );
    p.both(
        &["schedule", "set", "daily-orders", "--interval", "@weekly"],
        &["schedule", "set", "daily-orders", "--interval", "@weekly"],
    );
    kept_byte_for_byte(
        &p,
        &["meltano.yml", "pipelines/orders.yml"],
        &["interval: '@daily'"],
    );
    p.both(
        &["schedule", "remove", "elt"],
        &["schedule", "remove", "elt"],
    );
    p.eltr(
        &[
            "schedule",
            "add",
            "x",
            "--job",
            "orders-to-jsonl",
            "--interval",
            "every day",
        ],
        None,
    )
    .failure();
}

#[test]
fn environment_add_list_remove_like_meltano() {
    let p = pair();
    p.both(
        &["environment", "add", "staging"],
        &["environment", "add", "staging"],
    );
    let listed = p.eltr(&["environment", "list"], None);
    // Meltano lists the root file's environments first, then the included files'.
    assert_eq!(listed.success().stdout, "staging\ndev\nprod\n");
    p.both(
        &["environment", "remove", "prod"],
        &["environment", "remove", "prod"],
    );
    kept_byte_for_byte(
        &p,
        &["meltano.yml", "envs_config.yml"],
        &["- name: prod", "env: {}"],
    );
}

#[test]
fn new_things_go_to_the_file_named_with_file() {
    let p = pair();
    p.eltr(
        &["environment", "add", "staging", "--file", "envs_config.yml"],
        None,
    )
    .success();
    kept_byte_for_byte(&p, &["envs_config.yml"], &[]);
    assert!(
        p.eltr_text("envs_config.yml")
            .ends_with("  - name: staging\n")
    );
    p.eltr(
        &[
            "job",
            "add",
            "j",
            "--tasks",
            "tap-orders target-jsonl",
            "--file",
            "nowhere.yml",
        ],
        None,
    )
    .failure();
}

// ---------------------------------------------------------------------------------------------
// add, remove, lock (Meltano Hub served locally)
// ---------------------------------------------------------------------------------------------

#[test]
fn add_from_the_hub_writes_the_entry_and_a_lockfile_identical_to_meltanos() {
    let p = pair();
    let hub = hub();
    p.meltano(&["add", "tap-github", "--no-install"], "", Some(&hub));
    p.eltr(&["add", "tap-github"], Some(&hub)).success();
    p.meltano(
        &[
            "add",
            "tap-github",
            "--variant",
            "singer-io",
            "--as",
            "tap-gh2",
            "--no-install",
        ],
        "",
        Some(&hub),
    );
    p.eltr(
        &[
            "add",
            "tap-github",
            "--variant",
            "singer-io",
            "--as",
            "tap-gh2",
        ],
        Some(&hub),
    )
    .success();
    p.meltano(
        &[
            "add",
            "target-jsonl2",
            "--inherit-from",
            "target-jsonl",
            "--no-install",
        ],
        "",
        Some(&hub),
    );
    p.eltr(
        &["add", "target-jsonl2", "--inherit-from", "target-jsonl"],
        Some(&hub),
    )
    .success();
    p.same_data();
    for lock in ["tap-github--meltanolabs.lock", "tap-github--singer-io.lock"] {
        let rel = format!("plugins/extractors/{lock}");
        assert_eq!(
            std::fs::read_to_string(p.eltr.join(&rel)).unwrap(),
            std::fs::read_to_string(p.meltano.join(&rel)).unwrap(),
            "{rel} differs from Meltano's"
        );
    }
    kept_byte_for_byte(&p, &["meltano.yml"], &[]);
}

#[test]
fn add_custom_takes_meltanos_prompt_answers_as_flags() {
    let p = pair();
    p.meltano(
        &["add", "--custom", "tap-new", "--no-install"],
        "tap_new\ntap-new==1.0\ntap-new\ncatalog,discover,state\nusername,password:password,port:integer\n",
        None,
    );
    p.eltr(
        &[
            "add",
            "--custom",
            "tap-new",
            "--pip-url",
            "tap-new==1.0",
            "--executable",
            "tap-new",
            "--capabilities",
            "catalog,discover,state",
            "--settings",
            "username,password:password,port:integer",
        ],
        None,
    )
    .success();
    // All defaults: Meltano's prompts accepted with Return.
    p.meltano(
        &["add", "--custom", "target-new", "--no-install"],
        "\n\n\n\n",
        None,
    );
    p.eltr(&["add", "--custom", "target-new"], None).success();
    p.same_data();
    kept_byte_for_byte(&p, &["meltano.yml"], &[]);
}

#[test]
fn add_from_ref_needs_no_network() {
    let p = pair();
    let reference = p.eltr.parent().unwrap().join("ref.yml");
    std::fs::write(
        &reference,
        "name: tap-ref\nnamespace: tap_ref\npip_url: tap-ref==2\nexecutable: tap-ref\ncapabilities: [catalog, discover]\nsettings:\n  - name: token\n    sensitive: true\n",
    )
    .unwrap();
    let r = reference.to_str().unwrap();
    p.meltano(
        &["add", "tap-ref", "--from-ref", r, "--no-install"],
        "",
        None,
    );
    p.eltr(&["add", "tap-ref", "--from-ref", r], None).success();
    p.same_data();
}

#[test]
fn remove_deletes_the_definition_and_its_lockfiles_only() {
    let p = pair();
    let hub = hub();
    p.meltano(&["add", "tap-github", "--no-install"], "", Some(&hub));
    p.eltr(&["add", "tap-github"], Some(&hub)).success();
    p.meltano(&["remove", "tap-github"], "", None);
    p.eltr(&["remove", "tap-github"], None).success();
    p.meltano(&["remove", "tap-customers"], "", None);
    p.eltr(&["remove", "tap-customers"], None).success();
    p.same_data();
    kept_byte_for_byte(
        &p,
        &["meltano.yml", "plugins/extractors/tap-orders.yml"],
        &[
            "# Customers, same API.",
            "- name: tap-customers",
            "namespace: tap_customers",
            "pip_url: tap-customers==0.3.1",
            "executable: tap-customers",
            "config: {}",
        ],
    );
    assert!(
        !p.eltr
            .join("plugins/extractors/tap-github--meltanolabs.lock")
            .exists()
    );
}

#[test]
fn lock_writes_meltanos_lockfiles_and_install_asks_for_it() {
    let p = pair();
    let hub = hub();
    for dir in [&p.meltano, &p.eltr] {
        let root = dir.join("meltano.yml");
        let mut text = std::fs::read_to_string(&root).unwrap();
        text.push_str("plugins:\n  loaders:\n    - name: target-jsonl-hub\n      inherit_from: target-jsonl\n  extractors:\n    - name: tap-github\n      variant: singer-io\n");
        std::fs::write(root, text).unwrap();
    }
    p.eltr(&["install", "tap-github"], None)
        .failure()
        .stderr_has("run `eltr lock tap-github`");
    p.meltano(&["lock", "tap-github"], "", Some(&hub));
    p.eltr(&["lock", "tap-github"], Some(&hub)).success();
    p.same_data();
    let rel = "plugins/extractors/tap-github--singer-io.lock";
    assert_eq!(
        p.eltr_text(rel),
        std::fs::read_to_string(p.meltano.join(rel)).unwrap()
    );
    // An unreachable Hub is a clear error, after retries.
    p.eltr(
        &["lock", "tap-github", "--update"],
        Some("http://127.0.0.1:9"),
    )
    .failure()
    .stderr_has("could not reach Meltano Hub");
}

// ---------------------------------------------------------------------------------------------
// Property: random edit sequences load and mean what was intended.
// ---------------------------------------------------------------------------------------------

const COMMENTED: &str = "\
# A project with comments everywhere.
version: 1   # the schema
plugins:
  # Extractors first.
  extractors:
    - name: tap-a   # the first
      config:
        # connection
        host: db    # where
        port: 5432
      select: [a.*, '!a.secret']
    - name: tap-b
      config: {}
  loaders:
  - name: target-a
    config:
      path: out
environments:
  - name: dev
    env: {A: '1'}
jobs: []
";

/// A small deterministic generator (xorshift), so a failure reproduces from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn random_scalar(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 => json!(rng.below(1000)),
        1 => json!(rng.below(2) == 0),
        2 => json!("yes"),
        3 => json!("2024-01-01"),
        4 => json!("it's: a # test"),
        5 => json!(["x", {"k": "v"}]),
        6 => json!({"nested": {"deep": 1}}),
        _ => json!(format!("v{}", rng.below(100))),
    }
}

#[test]
fn random_edit_sequences_load_and_mean_what_was_intended() {
    use eltr::project::edit::{Document, Seg};
    for seed in 1..=150u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut doc = Document::parse(COMMENTED).unwrap();
        let mut model: Value = serde_norway::from_str(COMMENTED).unwrap();
        for step in 0..12 {
            let plugin = rng.below(2);
            let keys = ["host", "port", "user", "extra", "secret"];
            let key = keys[rng.below(keys.len())];
            let op = rng.below(5);
            let base = vec![
                Seg::from("plugins"),
                Seg::from("extractors"),
                Seg::Index(plugin),
            ];
            let what = match op {
                0 | 1 => {
                    let v = random_scalar(&mut rng);
                    let mut path = base.clone();
                    path.extend([Seg::from("config"), Seg::from(key)]);
                    doc.set(&path, v.clone()).unwrap_or_else(|e| {
                        panic!("seed {seed} step {step}: set {key}: {e}\n{}", doc.text())
                    });
                    model["plugins"]["extractors"][plugin]["config"][key] = v;
                    format!("set {key}")
                }
                2 => {
                    let mut path = base.clone();
                    path.extend([Seg::from("config"), Seg::from(key)]);
                    doc.remove(&path).unwrap_or_else(|e| {
                        panic!("seed {seed} step {step}: unset {key}: {e}\n{}", doc.text())
                    });
                    if let Some(m) =
                        model["plugins"]["extractors"][plugin]["config"].as_object_mut()
                    {
                        m.shift_remove(key);
                    }
                    format!("unset {key}")
                }
                3 => {
                    let name = format!("job{}", rng.below(1000));
                    let job = json!({"name": name, "tasks": ["tap-a target-a"]});
                    doc.push(&[Seg::from("jobs")], job.clone())
                        .unwrap_or_else(|e| {
                            panic!("seed {seed} step {step}: add job: {e}\n{}", doc.text())
                        });
                    model["jobs"].as_array_mut().unwrap().push(job);
                    "add job".into()
                }
                _ => {
                    let n = model["jobs"].as_array().unwrap().len();
                    if n == 0 {
                        continue;
                    }
                    let i = rng.below(n);
                    doc.remove(&[Seg::from("jobs"), Seg::Index(i)])
                        .unwrap_or_else(|e| {
                            panic!("seed {seed} step {step}: remove job: {e}\n{}", doc.text())
                        });
                    model["jobs"].as_array_mut().unwrap().remove(i);
                    "remove job".into()
                }
            };
            let loaded: Value = serde_norway::from_str(doc.text()).unwrap_or_else(|e| {
                panic!(
                    "seed {seed} step {step} ({what}): does not load: {e}\n{}",
                    doc.text()
                )
            });
            assert_eq!(
                loaded,
                model,
                "seed {seed} step {step} ({what}):\n{}",
                doc.text()
            );
            let typed: Result<eltr::project::model::ProjectFile, _> =
                eltr::project::yaml::parse(Path::new("meltano.yml"), doc.text().as_bytes());
            assert!(
                typed.is_ok(),
                "seed {seed} step {step}: {:?}\n{}",
                typed.err(),
                doc.text()
            );
        }
        // Comments of what was never removed survive.
        for comment in [
            "# A project with comments everywhere.",
            "# Extractors first.",
        ] {
            assert!(
                doc.text().contains(comment),
                "seed {seed}: lost {comment}\n{}",
                doc.text()
            );
        }
    }
}

#[test]
fn random_cli_sequences_match_meltano() {
    let p = pair();
    let mut rng = Rng(0x5EED_1234_ABCD);
    let settings = [
        ("page_size", "7"),
        ("api_url", "https://b.example"),
        ("include_deleted", "false"),
        ("auth.user", "ann"),
        ("custom_x", "y"),
    ];
    for _ in 0..8 {
        let (s, v) = settings[rng.below(settings.len())];
        let env: &[&str] = if rng.below(3) == 0 {
            &["--environment", "prod"]
        } else {
            &[]
        };
        let mut args: Vec<&str> = env.to_vec();
        match rng.below(4) {
            0 | 1 => args.extend(["config", "set", "tap-orders", s, v]),
            2 => args.extend(["config", "unset", "tap-orders", s]),
            _ => args.extend(["select", "tap-orders", "s", s]),
        }
        p.meltano(&args, "", None);
        p.eltr(&args, None).success();
        p.same_data();
    }
}
