//! Resolved settings as Meltano 4.4.1 resolves and prints them (issue 14, point 8): `config
//! print` (JSON), `--extras` and `--format env`, compared item by item (a JSON output's
//! top-level keys, an env output's variables) with the reference Meltano run on a copy of the
//! same fixture (`ELTR_TEST_MELTANO`, set by scripts/test.sh; the tests fail rather than skip
//! without it). The fixture `compat-settings` holds one case of each class of difference the
//! issue lists; scripts/compare-settings.sh runs the same comparison on any project folder.

mod common;
#[path = "common/meltano.rs"]
mod reference;

use common::{Run, TempProject, eltr, fixture};
use reference::QUIET;
use serde_json::{Map, Value};
use std::path::Path;

/// Runs `meltano ARGS` in `cwd` with only `PATH`, `HOME` and `QUIET` set, as `eltr` runs.
fn meltano(cwd: &Path, args: &[&str]) -> Run {
    reference::meltano(cwd, args, &[])
}

/// One output's items, the project folder written as `ROOT`.
fn items(run: &Run, root: &Path, env_format: bool) -> Map<String, Value> {
    run.success();
    let text = run
        .stdout
        .replace(root.to_str().expect("UTF-8 temp path"), "ROOT");
    if !env_format {
        return match serde_json::from_str(&text) {
            Ok(Value::Object(map)) => map,
            other => panic!("{}: not a JSON object: {other:?}\n{text}", run.command),
        };
    }
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect()
}

/// A relative date (`1 month ago`) resolves to the moment of the run: two runs a few seconds
/// apart agree to the minute.
fn same_moment(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_str(), b.as_str()) else {
        return false;
    };
    a.len() >= 16 && a.get(..16) == b.get(..16)
}

/// The items of `config print PLUGIN EXTRA` that differ between the two tools.
fn differences(m: &TempProject, e: &TempProject, plugin: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["--environment", "dev", "config", "print", plugin];
    args.extend(extra);
    let env_format = extra.contains(&"env");
    let theirs = items(&meltano(&m.dir, &args), &m.dir, env_format);
    let ours = items(&eltr(&e.dir, &args, &QUIET), &e.dir, env_format);
    let mut keys: Vec<&String> = theirs.keys().chain(ours.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| match (theirs.get(*k), ours.get(*k)) {
            (Some(a), Some(b)) => a != b && !(k.contains("start_date") && same_moment(a, b)),
            _ => true,
        })
        .map(|k| {
            format!(
                "{plugin} {extra:?} {k}: meltano {:?}, eltr {:?}",
                theirs.get(k),
                ours.get(k)
            )
        })
        .collect()
}

/// Every plugin of the fixture, each output; Meltano fails on `--format env` when a plugin
/// exports no variable at all, so those are left out.
#[test]
fn config_print_extras_and_env_match_meltano_item_by_item() {
    let (m, e) = (fixture("compat-settings"), fixture("compat-settings"));
    let json: &[&str] = &[];
    let cases: &[(&str, &[&[&str]])] = &[
        ("tap-set", &[json, &["--extras"], &["--format", "env"]]),
        (
            "tap-set--child",
            &[json, &["--extras"], &["--format", "env"]],
        ),
        ("target-set", &[json, &["--extras"], &["--format", "env"]]),
        ("map-set-one", &[json, &["--extras"], &["--format", "env"]]),
        ("util-set", &[json, &["--extras"], &["--format", "env"]]),
        ("airflow", &[json, &["--extras"], &["--format", "env"]]),
        ("files-set", &[json, &["--extras"]]),
    ];
    let mut diffs = Vec::new();
    for (plugin, extras) in cases {
        for extra in *extras {
            diffs.extend(differences(&m, &e, plugin, extra));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} items differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// The classes the comparison covers, stated on eltr's output alone so a failure names the
/// rule that broke (the comparison above proves each is Meltano's).
#[test]
fn each_class_of_point_8_shows_in_eltr_output() {
    let p = fixture("compat-settings");
    let print = |args: &[&str]| {
        let mut all = vec!["--environment", "dev", "config", "print"];
        all.extend(args);
        let run = eltr(&p.dir, &all, &QUIET);
        run.success();
        run.stdout.replace(p.dir.to_str().unwrap(), "ROOT")
    };
    let util: Value = serde_json::from_str(&print(&["util-set"])).unwrap();
    // Declared settings without a value are null; dotted names stay flat.
    assert_eq!(util["nothing"], Value::Null);
    assert_eq!(util["core.dags_folder"], "ROOT/dags");
    let tap: Value = serde_json::from_str(&print(&["tap-set"])).unwrap();
    // `$VAR` values cast to the setting's kind; an alias sets its setting.
    assert_eq!(tap["port"], 6543);
    assert_eq!(tap["flag"], true);
    assert_eq!(tap["items"], serde_json::json!(["a", "b"]));
    assert_eq!(tap["database"], "mydb");
    let child: Value = serde_json::from_str(&print(&["tap-set--child"])).unwrap();
    // The parent's environment-only key does not reach the child; its declared ones do.
    assert!(child.get("only_in_dev").is_none(), "{child}");
    assert_eq!(child["port"], 6543);
    let env = print(&["util-set", "--format", "env"]);
    // Per-setting `env:` names, the utility verb, Python's text of kind-less values.
    assert!(
        env.contains("UTILSET__CORE__LOAD_EXAMPLES='False'"),
        "{env}"
    );
    assert!(env.contains("MELTANO_UTILIZE_NUM='3'"), "{env}");
    assert!(env.contains(r#"UTIL_SET_LST='[1, "it\'s"]'"#), "{env}");
    let extras: Value = serde_json::from_str(&print(&["util-set", "--extras"])).unwrap();
    assert_eq!(extras["_ext_repo"], "https://example.com/util-ext");
    let mapping: Value = serde_json::from_str(&print(&["map-set-one", "--extras"])).unwrap();
    assert_eq!(mapping["_mappings"][0]["config"]["port"], "42");
    // A short secret (`text`) is masked in values, never inside names.
    assert_eq!(tap["document_text_property"], "page_content");
    assert_eq!(tap["text_key"], "*****");
    let list = eltr(
        &p.dir,
        ["--environment", "dev", "config", "list", "tap-set"],
        &QUIET,
    );
    list.success();
    assert!(
        list.stdout
            .contains("text_key [env: TAP_SET_TEXT_KEY] current value: (redacted)"),
        "{}",
        list.stdout
    );
    assert!(!list.stdout.contains("document_*****"), "{}", list.stdout);
}

/// `config print --extras` of the `config list` fixture: an undeclared extra holding an
/// object shows by its leaves only, extras whose variables are all unset are null, and a
/// child does not inherit its parent's environment-only metadata.
#[test]
fn config_print_extras_of_the_list_fixture_match_meltano() {
    let (m, e) = (fixture("compat-list"), fixture("compat-list"));
    let mut diffs = Vec::new();
    for plugin in [
        "tap-list",
        "tap-list--child",
        "target-list",
        "dbt-list",
        "util-list",
    ] {
        diffs.extend(differences(&m, &e, plugin, &["--extras"]));
    }
    assert!(
        diffs.is_empty(),
        "{} items differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
