//! `eltr completions bash|zsh|fish`: the script each shell loads completes subcommands and the
//! project's names (plugins by the type the position wants, mappings, jobs, schedules,
//! environments), found the way the command would find the project, and stays silent on a
//! project that does not load.
//!
//! Each test runs the real shell on a driver under `tests/fixtures/completions/` (its README
//! says how each one asks its shell for completions) in a copy of the seed fixture.

mod common;

use common::{TempProject, eltr_bin, fixture, fixture_source, wait_until};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// What the shell offers for `line` (the cursor at its end), run from `cwd`, with `vars`.
fn complete_in(shell: &str, cwd: &Path, line: &str, vars: &[(&str, &str)]) -> BTreeSet<String> {
    let driver = fixture_source("completions").join(format!("complete.{shell}"));
    let home = tempfile::tempdir().expect("a HOME for the shell");
    let no_config: &[&str] = match shell {
        "bash" => &["--norc", "--noprofile"],
        "zsh" => &["-f"],
        _ => &["--no-config"],
    };
    let mut child = Command::new(shell)
        .args(no_config)
        .arg(&driver)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("TERM", "xterm")
        .env("ELTR", eltr_bin())
        .env("LINE", line)
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{shell} must be installed (scripts/test-env.sh): {e}"));
    let what = format!("{shell} to complete '{line}'");
    wait_until(Duration::from_secs(60), &what, || {
        child.try_wait().expect("wait for the shell").is_some()
    });
    let out = child.wait_with_output().expect("the shell's output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed: {stderr}");
    assert!(
        stderr.trim().is_empty(),
        "{what} printed on stderr: {stderr}"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn complete(shell: &str, project: &TempProject, line: &str) -> BTreeSet<String> {
    complete_in(shell, &project.dir, line, &[])
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The cases every shell must get right, on the seed project (plugins spread over included
/// files, mappers with mappings, jobs, schedules, environments).
fn completes_project_names(shell: &str) {
    let p = fixture("seed");
    assert_eq!(
        complete(shell, &p, "eltr run tap-p"),
        set(&["tap-postgres", "tap-postgres--orders"]),
        "run: extractors of the project"
    );
    assert_eq!(
        complete(shell, &p, "eltr el tap-postgres target-"),
        set(&["target-postgres", "target-postgres--orders", "target-jsonl"]),
        "el's second position takes loaders only"
    );
    assert_eq!(
        complete(shell, &p, "eltr el t"),
        set(&["tap-postgres", "tap-postgres--orders", "tap-okta"]),
        "el's first position takes extractors only"
    );
    assert_eq!(
        complete(shell, &p, "eltr run tap-postgres h"),
        set(&["hash-emails"]),
        "run: a mapper's mapping names"
    );
    assert_eq!(
        complete(shell, &p, "eltr run n"),
        set(&["nightly"]),
        "run: job names"
    );
    assert_eq!(
        complete(shell, &p, "eltr --environment p"),
        set(&["prod"]),
        "--environment: the project's environments"
    );
    assert_eq!(
        complete(shell, &p, "eltr invoke tap-p"),
        set(&["tap-postgres", "tap-postgres--orders"]),
        "invoke: the plugin first"
    );
    assert_eq!(
        complete(shell, &p, "eltr invoke tap-postgres tap-p"),
        set(&[]),
        "invoke: the words after the plugin are its own"
    );
    assert_eq!(
        complete(shell, &p, "eltr config tap-postgres se"),
        set(&["set"]),
        "config: an action after the plugin"
    );
    assert_eq!(
        complete(shell, &p, "eltr config tap-postgres set tap-p"),
        set(&[]),
        "config: a setting after the plugin and the action"
    );
    assert_eq!(
        complete(shell, &p, "eltr sched"),
        set(&["schedule"]),
        "subcommands"
    );
}

#[test]
fn bash_completes_plugin_job_and_environment_names_from_the_project() {
    completes_project_names("bash");
}

#[test]
fn zsh_completes_plugin_job_and_environment_names_from_the_project() {
    completes_project_names("zsh");
}

#[test]
fn fish_completes_plugin_job_and_environment_names_from_the_project() {
    completes_project_names("fish");
}

#[test]
fn names_come_from_the_project_that_cwd_or_project_root_points_at() {
    let p = fixture("seed");
    let outside = p.tmp();
    let dir = p.dir.to_str().expect("a UTF-8 temp path");
    assert_eq!(
        complete_in(
            "bash",
            outside,
            &format!("eltr --cwd {dir} schedule remove o"),
            &[]
        ),
        set(&["okta-to-jsonl", "orders-pipeline-daily"]),
        "--cwd: schedule names"
    );
    assert_eq!(
        complete_in(
            "bash",
            outside,
            &format!("eltr --project-root={dir} job set o"),
            &[]
        ),
        set(&["orders-pipeline"]),
        "--project-root=: job names"
    );
    assert_eq!(
        complete_in(
            "bash",
            outside,
            "eltr select tap-o",
            &[("ELTR_PROJECT_ROOT", dir)]
        ),
        set(&["tap-okta"]),
        "ELTR_PROJECT_ROOT: extractor names"
    );
    assert_eq!(
        complete_in("bash", outside, "eltr select tap-o", &[]),
        set(&[]),
        "no project here: no names"
    );
}

#[test]
fn a_project_that_does_not_load_gives_no_candidates_and_no_error() {
    let p = fixture("seed");
    std::fs::write(p.path("meltano.yml"), "plugins: [unclosed\n").expect("break the root file");
    for shell in ["bash", "zsh", "fish"] {
        assert_eq!(
            complete(shell, &p, "eltr run tap-p"),
            set(&[]),
            "{shell}: a broken project offers nothing"
        );
    }
    // The request itself, as the scripts make it: nothing on stdout or stderr.
    let out = Command::new(eltr_bin())
        .args(["--", "eltr", "run", "tap-p"])
        .current_dir(&p.dir)
        .env("ELTR_COMPLETE", "fish")
        .output()
        .expect("run eltr");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
}

/// bash and zsh send the whole line with the index of the word under the cursor (what a
/// cursor in the middle of the line gives), and bash splits `--opt=value` at `=`.
#[test]
fn the_word_under_the_cursor_decides_not_the_last_one() {
    let p = fixture("seed");
    let request = |index: &str, words: &[&str]| -> BTreeSet<String> {
        let out = Command::new(eltr_bin())
            .arg("--")
            .args(words)
            .current_dir(&p.dir)
            .env("ELTR_COMPLETE", "bash")
            .env("_CLAP_COMPLETE_INDEX", index)
            .env("_CLAP_IFS", "\n")
            .output()
            .expect("run the completion request");
        assert!(out.status.success(), "{words:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect()
    };
    let line = ["eltr", "invoke", "tap-p", "--dump=config"];
    assert_eq!(
        request("2", &line),
        set(&["tap-postgres", "tap-postgres--orders"]),
        "invoke's plugin, with the plugin's arguments after the cursor"
    );
    let line = ["eltr", "config", "tap-postgres", "se", "tap-x"];
    assert_eq!(
        request("3", &line),
        set(&["set"]),
        "config's action mid-line"
    );
    let line = ["eltr", "--cwd", "=", ".", "invoke", "tap-postgres", "tap-p"];
    assert_eq!(
        request("6", &line),
        set(&[]),
        "after --cwd=. (split by bash) the plugin is given"
    );
}
