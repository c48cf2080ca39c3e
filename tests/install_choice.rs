//! Whether a command installs its plugins first, as in Meltano: `--install`, `--no-install`,
//! `--only-install`, and without a flag the `auto_install` project setting (the root file or
//! `MELTANO_AUTO_INSTALL`). The plugin is a real one from PyPI (cowsay), built with the uv of
//! the test tools (`ELTR_UV`, set by scripts/test.sh; the tests fail without it).

mod common;

use common::{Run, eltr};
use std::path::Path;

const PROJECT: &str = r#"version: 1
default_environment: dev
environments: [{name: dev}]
auto_install: false
plugins:
  utilities:
  - name: cow
    namespace: cow
    pip_url: cowsay==6.1
    executable: cowsay
    commands:
      moo:
        args: -t moo-from-the-command
"#;

fn uv() -> String {
    std::env::var("ELTR_UV")
        .ok()
        .filter(|v| !v.is_empty())
        .expect("ELTR_UV is not set: run the suite with scripts/test.sh (it installs uv)")
}

fn run(dir: &Path, args: &[&str], extra: &[(&str, &str)]) -> Run {
    let uv = uv();
    let network = common::network_vars();
    let mut vars = vec![("ELTR_UV", uv.as_str())];
    vars.extend(network.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    vars.extend_from_slice(extra);
    eltr(dir, args, &vars)
}

fn venv_exists(dir: &Path, name: &str) -> bool {
    dir.join(".eltr/utilities")
        .join(name)
        .join("venv/bin/cowsay")
        .is_file()
}

#[test]
fn auto_install_false_is_honoured_and_the_flags_override_it() {
    let (_tmp, dir) = common::project_dir();
    std::fs::write(dir.join("meltano.yml"), PROJECT).unwrap();

    // auto_install: false → nothing is installed, and the run says what is missing.
    let r = run(&dir, &["run", "cow:moo"], &[]);
    r.failure();
    assert!(
        !venv_exists(&dir, "cow"),
        "installed despite auto_install: false"
    );

    // --only-install installs and stops: the command does not run.
    let r = run(&dir, &["run", "--only-install", "cow:moo"], &[]);
    r.success();
    assert!(venv_exists(&dir, "cow"));
    assert!(!r.stderr.contains("moo-from-the-command"), "{}", r.stderr);

    // --no-install with the plugin present runs it.
    run(&dir, &["run", "--no-install", "cow:moo"], &[])
        .success()
        .stderr_has("moo-from-the-command");
}

#[test]
fn the_variable_turns_auto_install_back_on_and_invoke_install_overrides_the_file() {
    let (_tmp, dir) = common::project_dir();
    std::fs::write(dir.join("meltano.yml"), PROJECT).unwrap();
    run(
        &dir,
        &["run", "cow:moo"],
        &[("MELTANO_AUTO_INSTALL", "true")],
    )
    .success()
    .stderr_has("moo-from-the-command");
    assert!(venv_exists(&dir, "cow"));

    let (_tmp2, other) = common::project_dir();
    std::fs::write(other.join("meltano.yml"), PROJECT).unwrap();
    let r = run(
        &other,
        &["invoke", "--install", "cow", "-t", "hello-invoke"],
        &[],
    );
    r.success();
    assert!(r.stdout.contains("hello-invoke"), "{}", r.stdout);
}

#[test]
fn add_install_builds_the_plugin_added() {
    let (_tmp, dir) = common::project_dir();
    std::fs::write(dir.join("meltano.yml"), "version: 1\nplugins: {}\n").unwrap();
    let add = [
        "add",
        "--custom",
        "utility",
        "cow2",
        "--pip-url",
        "cowsay==6.1",
        "--executable",
        "cowsay",
        "--install",
    ];
    run(&dir, &add, &[]).success();
    assert!(venv_exists(&dir, "cow2"), "`add --install` did not install");
    let yml = std::fs::read_to_string(dir.join("meltano.yml")).unwrap();
    assert!(yml.contains("cow2"), "{yml}");

    // Without --install, `add` only edits the project (eltr's default).
    let add3 = [
        "add",
        "--custom",
        "utility",
        "cow3",
        "--pip-url",
        "cowsay==6.1",
        "--executable",
        "cowsay",
    ];
    run(&dir, &add3, &[]).success();
    assert!(!venv_exists(&dir, "cow3"));
}

#[test]
fn install_schedule_builds_only_the_plugins_the_schedule_runs() {
    let (_tmp, dir) = common::project_dir();
    let yml = PROJECT.replace("auto_install: false\n", "")
        + r#"  - name: cow-unused
    namespace: cow_unused
    pip_url: cowsay==6.1
    executable: cowsay
jobs:
- name: moo-job
  tasks:
  - cow:moo
schedules:
- name: moo-daily
  interval: '@daily'
  job: moo-job
"#;
    std::fs::write(dir.join("meltano.yml"), yml).unwrap();
    run(&dir, &["install", "--schedule", "moo-daily"], &[]).success();
    assert!(
        venv_exists(&dir, "cow"),
        "the schedule's plugin was not installed"
    );
    assert!(
        !venv_exists(&dir, "cow-unused"),
        "a plugin the schedule does not run was installed"
    );
    run(&dir, &["install", "-s", "moo-dayly"], &[])
        .failure()
        .clean_error(&["Schedule 'moo-dayly' was not found", "moo-daily"]);
}
