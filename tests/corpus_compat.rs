//! Differences from Meltano 4.4.1 found by running both tools on public Meltano projects
//! (scripts/compare-corpus.sh), each reproduced in a few lines of `tests/fixtures/compat-corpus`
//! and compared with the reference Meltano (`ELTR_TEST_MELTANO`, set by scripts/test.sh) on a
//! copy of the same fixture.

mod common;
#[path = "common/meltano.rs"]
mod reference;

use common::{TempProject, eltr, fixture};
use reference::{QUIET, meltano, rooted};
use serde_json::Value;

const FIXTURE: &str = "compat-corpus";

/// A manifest `compile` wrote, the project folder written as `ROOT`; Meltano's without the
/// state backend it names for every project that names none (a documented difference).
fn manifest(p: &TempProject, file: &str) -> String {
    let path = p.path(".meltano/manifests").join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    rooted(&text, &p.dir).replace("        \"MELTANO_STATE_BACKEND_URI\": \"systemdb\",\n", "")
}

fn extractor<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["plugins"]["extractors"]
        .as_array()
        .and_then(|list| list.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no extractor {name} in {doc}"))
}

#[test]
fn compile_matches_meltano_for_custom_parents_labels_kinds_and_empty_secrets() {
    let (theirs, ours) = (fixture(FIXTURE), fixture(FIXTURE));
    meltano(&theirs.dir, &["compile"], &[]).success();
    eltr(&ours.dir, ["compile"], &QUIET).success();
    for file in ["meltano-manifest.json", "meltano-manifest.dev.json"] {
        assert_eq!(manifest(&ours, file), manifest(&theirs, file), "{file}");
    }
    // What both agreed on, so a change in both tools would still show.
    let doc: Value = serde_json::from_str(&manifest(&ours, "meltano-manifest.json")).unwrap();
    let child = extractor(&doc, "tap-app--hello");
    for borrowed in ["label", "namespace", "plugin_type"] {
        assert!(child.get(borrowed).is_none(), "{borrowed} on the child");
    }
    let locked = &extractor(&doc, "tap-app")["settings"];
    let written = |name: &str| {
        let all: Vec<&Value> = locked
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["name"] == name)
            .collect();
        // The project's copy, then the definition Meltano makes of it.
        assert_eq!(all.len(), 2, "{name}: {locked}");
        all[1].clone()
    };
    assert_eq!(written("token")["kind"], "password");
    assert_eq!(written("token")["sensitive"], true);
    assert_eq!(written("internal")["kind"], "hidden");
    assert_eq!(written("internal")["hidden"], true);
    assert_eq!(written("flagged")["kind"], "string");
    let utility = &doc["plugins"]["utilities"][0];
    assert_eq!(utility["label"], "A labelled utility");
    // Secrets false to Python are written as they are, not redacted.
    let env = &extractor(&doc, "tap-app")["env"];
    assert_eq!(env["TAP_APP_EMPTY_SECRET"], "");
    assert_eq!(env["TAP_APP_ZERO_SECRET"], "0");
}

#[test]
fn plugin_list_shows_pip_urls_as_written() {
    let p = fixture(FIXTURE);
    for format in ["text", "json"] {
        let args = ["plugin", "list", "--format", format];
        let m = meltano(&p.dir, &args, &[]);
        let e = eltr(&p.dir, args, &QUIET);
        assert_eq!(e.success().stdout, m.success().stdout, "--format {format}");
    }
    let rows = eltr(&p.dir, ["plugin", "list", "--format", "json"], &QUIET).json();
    let urls: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["pip_url"].as_str())
        .collect();
    assert!(
        urls.iter()
            .any(|u| u.contains("-r $MELTANO_PROJECT_ROOT/apps"))
    );
    assert!(
        urls.iter()
            .any(|u| u.ends_with("${MELTANO__PYTHON_VERSION}.txt"))
    );
}

#[test]
fn config_print_matches_meltano_byte_for_byte_in_settings_order() {
    let p = fixture(FIXTURE);
    for args in [
        &["config", "print", "tap-app", "--format", "env"][..],
        &["config", "print", "tap-app--hello", "--format", "env"][..],
        &[
            "config",
            "print",
            "tap-app--hello",
            "--extras",
            "--format",
            "env",
        ][..],
        &["config", "print", "util-locked", "--format", "env"][..],
        &["config", "print", "util-locked"][..],
        &["config", "print", "util-labelled", "--format", "env"][..],
    ] {
        let m = meltano(&p.dir, args, &[]);
        let e = eltr(&p.dir, args, &QUIET);
        assert_eq!(e.success().stdout, m.success().stdout, "{args:?}");
    }
    // What both agreed on: the blank line after the last variable, a zero secret shown.
    let e = eltr(
        &p.dir,
        ["config", "print", "tap-app", "--format", "env"],
        &QUIET,
    );
    assert!(e.stdout.ends_with("'\n\n"), "{:?}", e.stdout);
    assert!(
        e.stdout.contains("TAP_APP_ZERO_SECRET='0'\n"),
        "{}",
        e.stdout
    );
    // The lockfile's settings the project does not declare again come first, then the
    // project's, in its order.
    let e = eltr(
        &p.dir,
        ["config", "print", "util-locked", "--format", "env"],
        &QUIET,
    );
    let order: Vec<&str> = e
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("UTIL_LOCKED_"))
        .filter_map(|l| l.split('=').next())
        .collect();
    assert_eq!(order, ["PORT", "FOLDER", "PAUSED", "HOME"], "{}", e.stdout);
    // A setting written twice in one file keeps its first place and its last value.
    let e = eltr(
        &p.dir,
        ["config", "print", "util-labelled", "--format", "env"],
        &QUIET,
    );
    let first = e.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("UTIL_LABELLED_PROJECT_DIR="),
        "{}",
        e.stdout
    );
    assert!(first.ends_with("/second'"), "{}", e.stdout);
}

#[test]
fn invoke_print_var_prints_before_the_missing_executable_fails() {
    let (theirs, ours) = (fixture(FIXTURE), fixture(FIXTURE));
    let args = [
        "invoke",
        "--no-install",
        "--print-var",
        "MELTANO_PROJECT_ROOT",
        "--print-var",
        "UTIL_LOCKED_PORT",
        "--print-var",
        "NOT_SET_ANYWHERE",
        "util-locked",
    ];
    let m = meltano(&theirs.dir, &args, &[]);
    let e = eltr(&ours.dir, args, &QUIET);
    m.failure();
    e.failure()
        .stderr_has("cannot find the executable 'util_locked'");
    assert_eq!(rooted(&e.stdout, &ours.dir), rooted(&m.stdout, &theirs.dir));
    // What both agreed on.
    assert_eq!(
        rooted(&e.stdout, &ours.dir),
        "MELTANO_PROJECT_ROOT=ROOT\nUTIL_LOCKED_PORT=8080\nNOT_SET_ANYWHERE=None\n"
    );
}
