//! No secret is printed, in any escaping: every line eltr prints (compile, config, run logs,
//! the stderr tail of a failure, JSON logs, the run log file, the summary file, errors) goes
//! through one masker that knows each sensitive value in its raw, JSON-escaped, Python-repr
//! and percent-encoded forms.
//!
//! The secrets below hold quotes, a backslash and non-ASCII characters, so each escaping
//! changes them; and each holds a plain ASCII core (`Wh1sp3r…`) that every escaped form still
//! contains, so "the core appears nowhere" proves no form leaked.

mod common;

use common::{Run, eltr};
use std::fs;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// The active environment's value of the tap's sensitive `password`.
const DEV_CORE: &str = "Wh1sp3rDev";
const DEV_SECRET: &str = "q\"Wh1sp3rDev\\ö'€😀";
/// The other environment's value: never resolved in `dev`, still never printed.
const PROD_CORE: &str = "Wh1sp3rProd";
/// A value coming from `.env`.
const DOTENV_CORE: &str = "Wh1sp3rDotEnv";

/// A tap that prints its config to stderr in every way a Python program might, then fails.
const LEAKY_TAP: &str = r#"#!/usr/bin/env python3
import json, sys
args = sys.argv
cfg = json.load(open(args[args.index("--config") + 1]))
pw = cfg["password"]
print("raw", pw, file=sys.stderr)
print("json", json.dumps(cfg), file=sys.stderr)
print("json-utf8", json.dumps(cfg, ensure_ascii=False), file=sys.stderr)
print("repr", repr(cfg), file=sys.stderr)
print("repr-str", repr(pw), file=sys.stderr)
print("ascii", ascii(cfg), file=sys.stderr)
print("nested", json.dumps({"msg": json.dumps(cfg)}), file=sys.stderr)
print("sdk", json.dumps({"level": "INFO", "message": "config %r" % cfg}), file=sys.stderr)
print("token", cfg.get("api_token", ""), file=sys.stderr)
sys.exit(3)
"#;

fn project() -> (TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    fs::create_dir_all(&dir).unwrap();
    let yml = format!(
        r#"version: 1
default_environment: dev
environments:
- name: dev
  config:
    plugins:
      extractors:
      - name: tap-leaky
        config:
          password: {dev}
- name: prod
  env:
    DB_PASSWORD: {prod}-env
  config:
    plugins:
      extractors:
      - name: tap-leaky
        config:
          password: {prod}
plugins:
  extractors:
  - name: tap-leaky
    executable: ./leaky_tap.py
    capabilities: [state]
    settings:
    - name: password
      sensitive: true
    - name: api_token
      kind: password
  loaders:
  - name: target-y
    executable: /bin/cat
"#,
        dev = serde_json::to_string(DEV_SECRET).unwrap(),
        prod = format!("{PROD_CORE}-é\\\""),
    );
    fs::write(dir.join("meltano.yml"), yml).unwrap();
    fs::write(
        dir.join(".env"),
        format!("TAP_LEAKY_API_TOKEN='{DOTENV_CORE}\"ü'\n"),
    )
    .unwrap();
    let tap = dir.join("leaky_tap.py");
    fs::write(&tap, LEAKY_TAP).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&tap, fs::Permissions::from_mode(0o755)).unwrap();
    (tmp, dir)
}

#[track_caller]
fn assert_no_secret(what: &str, text: &str) {
    for core in [DEV_CORE, PROD_CORE, DOTENV_CORE] {
        assert!(
            !text.contains(core),
            "{what} shows the secret {core}:\n{text}"
        );
    }
}

#[track_caller]
fn assert_run_masked(run: &Run) {
    assert_no_secret("stdout", &run.stdout);
    assert_no_secret("stderr", &run.stderr);
}

fn run_logs(dir: &Path) -> String {
    let mut all = String::new();
    let logs = dir.join(".eltr/logs");
    for entry in walk(&logs) {
        all.push_str(&fs::read_to_string(entry).unwrap_or_default());
    }
    all
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_failing_plugin_printing_its_secret_in_every_escaping_shows_none() {
    let (_tmp, dir) = project();
    let summary = dir.join("summary.json");
    let run = eltr(
        &dir,
        [
            "run",
            "tap-leaky",
            "target-y",
            "--summary-json",
            summary.to_str().unwrap(),
        ],
        &[],
    );
    run.failure().stderr_has("exit code 3");
    // The lines are there (masked), so the test is looking at the right output.
    for line in [
        "raw *****",
        "json {\"password\": \"*****\"",
        "repr {'password': '*****'",
    ] {
        run.stderr_has(line);
    }
    run.stderr_has("nested {\"msg\": \"{\\\"password\\\": \\\"*****\\\"");
    assert_run_masked(&run);
    let log = run_logs(&dir);
    assert!(log.contains("raw *****"), "run log:\n{log}");
    assert_no_secret("the run log", &log);
    assert_no_secret("the summary file", &fs::read_to_string(&summary).unwrap());
}

#[test]
fn json_logs_mask_the_plugin_lines_and_the_final_error() {
    let (_tmp, dir) = project();
    let run = eltr(
        &dir,
        ["--log-format", "json", "run", "tap-leaky", "target-y"],
        &[],
    );
    run.failure();
    let final_error = run
        .stderr
        .lines()
        .find(|l| l.starts_with('{') && l.contains("\"level\":\"error\""));
    assert!(final_error.is_some(), "no JSON error line:\n{}", run.stderr);
    assert_run_masked(&run);
}

#[test]
fn compile_masks_overlays_of_every_environment_and_secret_env_blocks() {
    let (_tmp, dir) = project();
    let run = eltr(&dir, ["compile", "--print"], &[]);
    run.success();
    assert_run_masked(&run);
    // The proof the check can fail: --unsafe shows the values.
    let shown = eltr(&dir, ["compile", "--print", "--unsafe"], &[]);
    shown.success();
    assert!(shown.stdout.contains(PROD_CORE) && shown.stdout.contains(DEV_CORE));
}

#[test]
fn config_commands_mask_values_from_the_environment_and_dotenv() {
    let (_tmp, dir) = project();
    for env in ["dev", "prod"] {
        for args in [
            &["config", "tap-leaky"][..],
            &["config", "tap-leaky", "list"][..],
            &["config", "tap-leaky", "--format", "env"][..],
            &["config", "print", "tap-leaky"][..],
        ] {
            let mut all = vec!["--environment", env];
            all.extend_from_slice(args);
            let run = eltr(&dir, &all, &[]);
            run.success();
            assert_run_masked(&run);
        }
    }
}

#[test]
fn a_dotenv_line_that_cannot_be_parsed_is_named_not_echoed() {
    let (_tmp, dir) = project();
    fs::write(
        dir.join(".env"),
        format!("A=1\nTAP_LEAKY_API_TOKEN=\"{DOTENV_CORE}\nB=2\n"),
    )
    .unwrap();
    let run = eltr(&dir, ["compile", "--print"], &[]);
    run.failure()
        .stderr_has(".env:2:")
        .stderr_has("TAP_LEAKY_API_TOKEN");
    assert_run_masked(&run);
    // A pasted secret on a line of its own is not even shown as a key.
    fs::write(dir.join(".env"), format!("{DOTENV_CORE}'x\n")).unwrap();
    let run = eltr(&dir, ["compile", "--print"], &[]);
    run.failure().stderr_has(".env:1:");
    assert_run_masked(&run);
}

#[test]
fn state_backend_credentials_are_masked_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::write(
        dir.join("meltano.yml"),
        format!(
            "version: 1\nstate_backend:\n  uri: azure://c/p\n  azure:\n    connection_string: \"DefaultEndpointsProtocol=http;AccountName=a;AccountKey={DEV_CORE}xyz==;BlobEndpoint=http://127.0.0.1:9/a;\"\n"
        ),
    )
    .unwrap();
    let run = eltr(dir, ["compile", "--print"], &[]);
    run.success();
    assert_run_masked(&run);
    let run = eltr(dir, ["state", "list"], &[]);
    assert_run_masked(&run);
}
