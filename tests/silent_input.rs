//! A user's mistake is never silently ignored: each case that used to be read as "nothing"
//! (and so selected every stream, dropped a bookmark or installed nothing) is now an error or
//! a warning that names the file and line, or the variable.

mod common;

use common::eltr;
use std::fs;
use std::path::Path;

fn project(yml: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("meltano.yml"), yml).unwrap();
    tmp
}

const TAP: &str = "version: 1
plugins:
  extractors:
  - name: tap-x
    executable: /bin/true
    capabilities: [state]
  loaders:
  - name: target-y
    executable: /bin/true
";

#[test]
fn a_misspelled_plugin_key_warns_with_its_line_and_the_right_name() {
    let tmp = project(
        "version: 1\nplugins:\n  extractors:\n  - name: tap-x\n    pip_ulr: tap-x==1.0\n    executable: /bin/true\n",
    );
    let run = eltr(tmp.path(), ["compile", "--print"], &[]);
    run.success()
        .stderr_has("meltano.yml:5:5: unknown key 'pip_ulr' in extractor 'tap-x'")
        .stderr_has("did you mean 'pip_url'?");
}

#[test]
fn known_keys_of_meltano_and_hub_definitions_do_not_warn() {
    let tmp = project(
        "version: 1\nplugins:\n  extractors:\n  - name: tap-x\n    label: X\n    description: d\n    docs: https://example.com\n    repo: https://example.com\n    logo_url: x.png\n    executable: /bin/true\n",
    );
    let run = eltr(tmp.path(), ["compile", "--print"], &[]);
    run.success();
    assert!(!run.stderr.contains("unknown key"), "{}", run.stderr);
}

#[test]
fn a_pip_url_with_an_unbalanced_quote_fails_the_install_naming_the_line() {
    let tmp = project(
        "version: 1\nplugins:\n  loaders:\n  - name: target-x\n    pip_url: \"target-x 'git+https://example.com/x.git\"\n",
    );
    let run = eltr(tmp.path(), ["install"], &[]);
    run.clean_error(&[
        "meltano.yml:5:",
        "pip_url of loader 'target-x' cannot be split",
        "1 plugin(s) failed to install: target-x",
    ]);
    assert!(!tmp.path().join(".eltr/loaders/target-x/venv").exists());
}

#[test]
fn malformed_extra_variables_are_errors_naming_the_variable() {
    let tmp = project(TAP);
    for (var, value, expected) in [
        ("TAP_X__SELECT", "orders.*", "a JSON list of strings"),
        ("TAP_X__SELECT", "{\"a\": 1}", "a JSON list of strings"),
        ("TAP_X__SELECT_FILTER", "[1, 2]", "a JSON list of strings"),
        ("TAP_X__METADATA", "[\"x\"]", "a JSON object"),
        ("TAP_X__METADATA", "{broken", "a JSON object"),
        ("TAP_X__SCHEMA", "3", "a JSON object"),
        ("TAP_X__USE_CACHED_CATALOG", "maybe", "true or false"),
    ] {
        for args in [
            &["compile", "--print"][..],
            &["run", "tap-x", "target-y"][..],
        ] {
            let run = eltr(tmp.path(), args, &[(var, value)]);
            run.clean_error(&[&format!("variable {var}"), expected]);
        }
    }
    // The same variable from .env says so.
    fs::write(tmp.path().join(".env"), "TAP_X__SELECT=nope\n").unwrap();
    let run = eltr(tmp.path(), ["compile", "--print"], &[]);
    run.clean_error(&["variable TAP_X__SELECT (from .env)"]);
}

#[test]
fn well_formed_extra_variables_still_work() {
    let tmp = project(TAP);
    let run = eltr(
        tmp.path(),
        ["compile", "--print"],
        &[
            ("TAP_X__SELECT", "[\"orders.*\"]"),
            ("TAP_X__USE_CACHED_CATALOG", "false"),
        ],
    );
    run.success();
    let doc = run.json();
    let tap = &doc["plugins"]["extractors"][0];
    assert_eq!(tap["select"], serde_json::json!(["orders.*"]), "{tap}");
}

#[test]
fn a_corrupt_state_file_named_by_the_state_extra_stops_the_run() {
    let tmp = project(TAP);
    let yml = TAP.replace(
        "    capabilities: [state]\n",
        "    capabilities: [state]\n    state: bookmarks.json\n",
    );
    fs::write(tmp.path().join("meltano.yml"), yml).unwrap();
    fs::write(
        tmp.path().join("bookmarks.json"),
        "{\"bookmarks\": {\"orders\": ",
    )
    .unwrap();
    let run = eltr(tmp.path(), ["run", "tap-x", "target-y"], &[]);
    run.clean_error(&["bookmarks.json named by its `state` extra is not valid JSON"]);
}

#[test]
fn an_unreadable_folder_under_include_paths_is_an_error() {
    let tmp = project("version: 1\ninclude_paths: ['./plugins/**/*.yml']\n");
    let plugins = tmp.path().join("plugins");
    fs::create_dir_all(plugins.join("extractors")).unwrap();
    fs::write(
        plugins.join("extractors/tap.yml"),
        "plugins:\n  extractors:\n  - name: tap-x\n",
    )
    .unwrap();
    // A symbolic link loop (a folder that cannot be read, even by root, who ignores modes).
    std::os::unix::fs::symlink(".", plugins.join("loaders")).unwrap();
    let run = eltr(tmp.path(), ["compile", "--print"], &[]);
    run.clean_error(&[
        "plugins/loaders",
        "include_paths pattern './plugins/**/*.yml'",
    ]);
    fs::remove_file(plugins.join("loaders")).unwrap();
    eltr(tmp.path(), ["compile", "--print"], &[]).success();
}

#[test]
fn a_dangling_link_under_include_paths_is_an_error() {
    let tmp = project("version: 1\ninclude_paths: ['./plugins/*.yml']\n");
    let plugins = tmp.path().join("plugins");
    fs::create_dir_all(&plugins).unwrap();
    std::os::unix::fs::symlink(Path::new("/nonexistent/eltr/x.yml"), plugins.join("x.yml"))
        .unwrap();
    let run = eltr(tmp.path(), ["compile", "--print"], &[]);
    run.clean_error(&["plugins/x.yml"]);
}
