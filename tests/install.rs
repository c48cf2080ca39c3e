//! `eltr install` and the install-before-run of `eltr run`, end to end: the real binary builds
//! real virtualenvs from PyPI (`cowsay==6.1`, a small pure-Python package with a console script,
//! and `target-jsonl==0.1.4`) in small projects written into temporary folders.
//!
//! eltr installs with uv when `ELTR_UV` names it or it is on `PATH`, else with
//! `python3 -m venv` + pip. Both paths run on every machine: each test that builds a venv is
//! generated twice (`test_name::uv`, `test_name::pip`), the pip one with no uv in reach, and
//! each checks in the install log that the installer it meant to use is the one eltr used.
//! The uv tests need the uv `scripts/test-env.sh` installs (`ELTR_UV`, set by
//! `scripts/test.sh`) and fail, not skip, without it. The interrupted install uses a local
//! package whose build waits while a file exists, so the kill lands while pip (or uv) is
//! running, whatever the machine's speed.

mod common;
#[path = "common/run.rs"]
mod support;

use common::{Run, eltr_bin, wait_until};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};
use tempfile::TempDir;

const FINGERPRINT: &str = ".eltr-fingerprint";

/// The two ways eltr builds a venv.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Installer {
    /// uv, named by `ELTR_UV`: builds in a staging folder, moved into place when complete.
    Uv,
    /// `python3 -m venv` + pip, with no uv on `PATH`: builds in place.
    Pip,
}

/// Generates `scenario::uv` and `scenario::pip` for each `fn scenario(Installer)`.
macro_rules! with_each_installer {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[test]
                fn uv() {
                    super::$scenario(super::Installer::Uv)
                }
                #[test]
                fn pip() {
                    super::$scenario(super::Installer::Pip)
                }
            }
        )*
    };
}

with_each_installer!(
    install_builds_a_runnable_venv_then_is_a_noop_and_clean_rebuilds,
    an_inherited_plugin_without_pip_url_shares_the_parent_venv,
    a_bad_pip_url_fails_naming_the_plugin_while_the_others_install,
    an_interrupted_install_does_not_look_installed_and_the_next_install_completes_it,
    run_installs_a_missing_plugin_first_and_no_install_points_at_eltr_install,
    two_installs_at_once_build_the_venv_once_and_both_succeed,
    plugins_sharing_packages_install_side_by_side_from_an_empty_cache,
);

/// Programs the tests install; a `PATH` folder holding one is left out so that only the
/// project's own virtualenvs can provide them.
const INSTALLED_PROGRAMS: [&str; 3] = ["cowsay", "target-jsonl", "eltr-slow"];

/// The uv of the test tools; panics (never skips) when `ELTR_UV` is not set.
fn uv() -> String {
    match std::env::var("ELTR_UV") {
        Ok(uv) if !uv.is_empty() => uv,
        _ => panic!(
            "ELTR_UV is not set: the uv install tests need the uv scripts/test-env.sh installs \
             under target/test-tools/venvs/uv. Run the suite with scripts/test.sh (these tests \
             fail rather than skip)"
        ),
    }
}

/// A folder holding only a `python3` link to the test process's `python3`: under pip, the
/// `PATH` folders that hold a `uv` are left out, and this one keeps `python3` in reach.
fn python_only_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("install-python3-only");
    let link = dir.join("python3");
    if link.exists() {
        return dir;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let python = std::env::split_paths(&path)
        .map(|d| d.join("python3"))
        .find(|p| p.is_file())
        .expect("python3 on PATH");
    std::fs::create_dir_all(&dir).expect("create the python3-only folder");
    // Linked under a unique name, then renamed: tests running at once may all get here.
    let tmp = dir.join(format!("python3.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&python, &tmp).expect("link python3");
    std::fs::rename(&tmp, &link).expect("rename the python3 link");
    dir
}

/// `PATH` without the folders that hold one of [`INSTALLED_PROGRAMS`] (and, under pip, `uv`).
fn clean_path(inst: Installer) -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let hidden = |d: &Path| {
        INSTALLED_PROGRAMS.iter().any(|p| d.join(p).exists())
            || (inst == Installer::Pip && d.join("uv").exists())
    };
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|d| !hidden(d))
        .collect();
    if inst == Installer::Pip {
        dirs.insert(0, python_only_dir());
    }
    std::env::join_paths(dirs)
        .expect("PATH folders join")
        .into_string()
        .expect("PATH is UTF-8")
}

/// The variables every eltr run here gets besides `HOME`: the cleaned `PATH`, `ELTR_UV` under
/// uv, and what the network needs here (`common::network_vars`).
fn base_vars(inst: Installer) -> Vec<(String, String)> {
    let mut vars = vec![("PATH".to_string(), clean_path(inst))];
    if inst == Installer::Uv {
        vars.push(("ELTR_UV".to_string(), uv()));
    }
    vars.extend(common::network_vars());
    vars
}

/// Runs `eltr ARGS` in `dir` with [`base_vars`] plus `extra`. eltr's user cache (remembered
/// resolutions) is `<dir>/.user-cache` unless `extra` names one: a test never reads what
/// another test, or the machine's user, remembered.
fn eltr(inst: Installer, dir: &Path, args: &[&str], extra: &[(&str, &str)]) -> Run {
    let base = base_vars(inst);
    let mut vars: Vec<(&str, &str)> = base.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let own_cache = dir.join(".user-cache").display().to_string();
    if !extra.iter().any(|(k, _)| *k == "ELTR_CACHE_DIR") {
        vars.push(("ELTR_CACHE_DIR", &own_cache));
    }
    vars.extend_from_slice(extra);
    common::eltr(dir, args, &vars)
}

/// A project folder holding `meltano.yml` with `yaml`.
fn project(yaml: &str) -> TempDir {
    let tmp = common::empty_dir();
    std::fs::write(tmp.path().join("meltano.yml"), yaml).expect("write meltano.yml");
    tmp
}

/// A project folder (`<tmp>/project`) whose `meltano.yml` has the example tap as
/// `tap-fixture` (3 records of stream `items`) and `plugins` (YAML under `plugins:`, after the
/// extractors).
fn project_with_tap(tmp: &TempDir, plugins: &str) -> PathBuf {
    let root = tmp.path().join("project");
    std::fs::create_dir_all(&root).unwrap();
    let tap = support::examples_dir().join("singer_tap");
    let yaml = format!(
        r#"
version: 1
default_environment: dev
environments: [{{name: dev}}]
plugins:
  extractors:
    - name: tap-fixture
      namespace: tap_fixture
      executable: {tap}
      capabilities: []
      config: {{records: 3, streams: [items]}}
{plugins}"#,
        tap = tap.display()
    );
    std::fs::write(root.join("meltano.yml"), yaml).unwrap();
    root
}

/// `.eltr/<kind>/<name>` of the project.
fn plugin_dir(root: &Path, kind: &str, name: &str) -> PathBuf {
    root.join(".eltr").join(kind).join(name)
}

fn venv(root: &Path, kind: &str, name: &str) -> PathBuf {
    plugin_dir(root, kind, name).join("venv")
}

/// Asserts the last install of `plugin` (its log `.eltr/logs/install/<plugin>.log`, e.g.
/// `utility-cow`) made its venv with `inst`: `uv venv`, or `python3 -m venv`.
#[track_caller]
fn assert_built_with(root: &Path, plugin: &str, inst: Installer) {
    let log = root.join(format!(".eltr/logs/install/{plugin}.log"));
    let text = std::fs::read_to_string(&log)
        .unwrap_or_else(|e| panic!("no install log {}: {e}", log.display()));
    let create = text
        .lines()
        .find(|l| l.starts_with("$ "))
        .unwrap_or_else(|| panic!("no command in {}:\n{text}", log.display()));
    let by_uv = create.contains(" venv --quiet --relocatable ");
    let by_pip = create.contains(" -m venv ");
    assert!(
        match inst {
            Installer::Uv => by_uv && !by_pip,
            Installer::Pip => by_pip && !by_uv,
        },
        "{plugin} was not built with {inst:?}: {create}"
    );
}

/// Folders next to a plugin's venv other than the venv itself (staging, replaced venvs).
fn staging_leftovers(root: &Path, kind: &str, name: &str) -> Vec<String> {
    std::fs::read_dir(plugin_dir(root, kind, name))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n != "venv" && n != "install.lock")
                .collect()
        })
        .unwrap_or_default()
}

#[track_caller]
fn assert_no_staging_left(root: &Path, kind: &str, name: &str) {
    assert_eq!(
        staging_leftovers(root, kind, name),
        Vec::<String>::new(),
        "staging folders left next to the venv of {name}"
    );
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("mtime of {}: {e}", p.display()))
}

/// Runs an installed program and returns its stdout; panics unless it exits 0.
#[track_caller]
fn run_program(exe: &Path, args: &[&str]) -> String {
    let out = Command::new(exe)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
    assert!(
        out.status.success(),
        "{} failed: {}\n{}",
        exe.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts the venv's `cowsay` runs and says `text`.
#[track_caller]
fn assert_cowsay_runs(venv: &Path, text: &str) {
    let said = run_program(&venv.join("bin/cowsay"), &["-t", text]);
    assert!(said.contains(text), "{said}");
}

fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

const COW_PROJECT: &str = r#"
version: 1
default_environment: dev
environments: [{name: dev}]
plugins:
  utilities:
    - name: cow
      namespace: cow
      pip_url: cowsay==6.1
      executable: cowsay
"#;

fn install_builds_a_runnable_venv_then_is_a_noop_and_clean_rebuilds(inst: Installer) {
    let tmp = project(COW_PROJECT);
    let root = tmp.path();
    let eltr = |args: &[&str]| eltr(inst, root, args, &[]);

    eltr(&["install"])
        .success()
        .stderr_has("utility cow: installed in");
    assert_built_with(root, "utility-cow", inst);
    let venv = venv(root, "utilities", "cow");
    let fingerprint = venv.join(FINGERPRINT);
    assert!(
        fingerprint.is_file(),
        "no fingerprint in {}",
        venv.display()
    );
    assert_cowsay_runs(&venv, "hello from eltr");

    // Nothing to do: the venv is left as it is.
    let sentinel = venv.join("sentinel");
    std::fs::write(&sentinel, "x").unwrap();
    let stamp = mtime(&fingerprint);
    let started = Instant::now();
    let second = eltr(&["install"]);
    second.success().stderr_has("utility cow: up to date");
    assert!(
        !second.stderr.contains("installed in"),
        "second install rebuilt something:\n{}",
        second.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a no-op install took {:?}",
        started.elapsed()
    );
    assert_eq!(
        mtime(&fingerprint),
        stamp,
        "fingerprint rewritten by a no-op"
    );
    assert!(sentinel.is_file(), "a no-op install touched the venv");

    // What a build killed in a container (where eltr is pid 1) leaves: removed by the next
    // install even when there is nothing to rebuild.
    let killed = plugin_dir(root, "utilities", "cow").join("venv.installing-1-0-0");
    std::fs::create_dir_all(killed.join("bin")).unwrap();
    eltr(&["install"])
        .success()
        .stderr_has("utility cow: up to date");
    assert!(!killed.exists(), "a dead build's staging folder was kept");
    assert!(sentinel.is_file());

    // --clean rebuilds from scratch.
    eltr(&["install", "--clean"])
        .success()
        .stderr_has("utility cow: installed in");
    assert!(!sentinel.exists(), "--clean kept the old venv");
    assert!(
        mtime(&fingerprint) > stamp,
        "--clean did not rewrite the fingerprint"
    );
    assert_cowsay_runs(&venv, "again");

    // A changed pip_url no longer matches the fingerprint: the venv is rebuilt.
    let write_pip_url = |pip_url: &str| {
        std::fs::write(
            root.join("meltano.yml"),
            COW_PROJECT.replace("cowsay==6.1", pip_url),
        )
        .unwrap()
    };
    write_pip_url("cowsay==6.0");
    std::fs::write(&sentinel, "x").unwrap();
    eltr(&["install", "cow"])
        .success()
        .stderr_has("utility cow: installed in");
    assert!(!sentinel.exists(), "the venv of the old pip_url was kept");
    let version = run_program(
        &venv.join("bin/python"),
        &[
            "-c",
            "import importlib.metadata as m; print(m.version('cowsay'))",
        ],
    );
    assert_eq!(version.trim(), "6.0");
    assert_no_staging_left(root, "utilities", "cow");

    // A reinstall that fails. uv built in a staging folder, so the working venv is left as it
    // was and still runs. pip builds in place (its venvs cannot move): the old venv is gone
    // and nothing looks installed.
    write_pip_url("cowsay==0.0.404-no-such-version");
    eltr(&["install"])
        .failure()
        .stderr_has("utility cow: FAILED")
        .stderr_has("1 plugin(s) failed to install: cow");
    assert_no_staging_left(root, "utilities", "cow");
    match inst {
        Installer::Uv => assert_cowsay_runs(&venv, "still here"),
        Installer::Pip => assert!(!venv.exists(), "a failed pip build left its venv"),
    }
    // The next install with a good pip_url tries again.
    write_pip_url("cowsay==6.1");
    eltr(&["install"])
        .success()
        .stderr_has("utility cow: installed in");
    assert_cowsay_runs(&venv, "back");
}

fn an_inherited_plugin_without_pip_url_shares_the_parent_venv(inst: Installer) {
    let tmp = project(
        r#"
version: 1
default_environment: dev
environments: [{name: dev}]
plugins:
  utilities:
    - name: cow
      namespace: cow
      pip_url: cowsay==6.1
      executable: cowsay
    - name: cow-child
      inherit_from: cow
"#,
    );
    let root = tmp.path();
    let eltr = |args: &[&str]| eltr(inst, root, args, &[]);

    // Asking for the child alone installs the parent's venv.
    eltr(&["install", "cow-child"])
        .success()
        .stderr_has("utility cow: installed in")
        .stderr_has("utility cow-child: uses the virtualenv of 'cow'");
    assert_built_with(root, "utility-cow", inst);
    assert!(venv(root, "utilities", "cow").join(FINGERPRINT).is_file());
    assert!(
        !plugin_dir(root, "utilities", "cow-child").exists(),
        "a second venv folder was made for the child"
    );

    // All of them: the parent is up to date, the child still has no venv of its own.
    let all = eltr(&["install"]);
    all.success()
        .stderr_has("utility cow: up to date")
        .stderr_has("utility cow-child: uses the virtualenv of 'cow'");
    assert_eq!(
        all.stderr.matches("utility cow: ").count(),
        1,
        "the shared venv was handled twice:\n{}",
        all.stderr
    );
    assert!(!plugin_dir(root, "utilities", "cow-child").exists());

    // The child runs the parent's program (cowsay rejects the --config eltr passes, with its
    // own usage message, which shows it was started; nothing else on PATH provides it).
    let json = eltr(&["compile", "--print"]).success().json();
    let child = json["plugins"]["utilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "cow-child")
        .expect("cow-child in compile output");
    assert_eq!(child["venv"], "cow", "{child}");
    let invoked = eltr(&["invoke", "cow-child"]);
    assert!(
        invoked.stderr.contains("usage: Cowsay") && !invoked.stderr.contains("cannot find"),
        "cow-child did not run the parent's cowsay:\n{}",
        invoked.stderr
    );
}

fn a_bad_pip_url_fails_naming_the_plugin_while_the_others_install(inst: Installer) {
    let tmp = project(
        r#"
version: 1
default_environment: dev
environments: [{name: dev}]
plugins:
  utilities:
    - name: cow
      namespace: cow
      pip_url: cowsay==6.1
      executable: cowsay
  loaders:
    - name: target-bogus
      namespace: target_bogus
      pip_url: eltr-test-no-such-package-zzqx==1.0.0
      executable: target-bogus
"#,
    );
    let root = tmp.path();
    let eltr = |args: &[&str]| eltr(inst, root, args, &[]);

    // One at a time, so the failing plugin is attempted before the good one is.
    let run = eltr(&["install", "--parallelism", "1"]);
    run.failure()
        .stderr_has("loader target-bogus: FAILED after")
        .stderr_has("command: ")
        .stderr_has("eltr-test-no-such-package-zzqx==1.0.0")
        .stderr_has(".eltr/logs/install/loader-target-bogus.log")
        .stderr_has("error: 1 plugin(s) failed to install: target-bogus")
        .stderr_has("utility cow: installed in");
    assert_built_with(root, "loader-target-bogus", inst);
    let bogus_venv = venv(root, "loaders", "target-bogus");
    assert!(
        !bogus_venv.exists(),
        "a failed install left {}",
        bogus_venv.display()
    );
    let log = std::fs::read_to_string(root.join(".eltr/logs/install/loader-target-bogus.log"))
        .expect("the full log is kept");
    assert!(log.contains("eltr-test-no-such-package-zzqx"), "{log}");
    // The tail shown on stderr holds the installer's own complaint.
    let tail: Vec<String> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("  | "))
        .map(str::to_lowercase)
        .collect();
    assert!(!tail.is_empty() && tail.len() <= 30, "{}", run.stderr);
    let says_why: &[&str] = match inst {
        Installer::Pip => &["no matching distribution"],
        Installer::Uv => &["not found in the package registry", "no solution found"],
    };
    assert!(
        tail.iter().any(|l| says_why.iter().any(|w| l.contains(w))),
        "the tail does not say why ({says_why:?}):\n{}",
        run.stderr
    );

    let cow = venv(root, "utilities", "cow");
    assert!(cow.join(FINGERPRINT).is_file());
    assert_cowsay_runs(&cow, "still here");

    // Run again: the good one is up to date, the bad one fails again, still non-zero.
    eltr(&["install"])
        .failure()
        .stderr_has("utility cow: up to date")
        .stderr_has("loader target-bogus: FAILED");
    assert!(!bogus_venv.exists());

    // Under JSON logs every line is a JSON object, the failure and the final error included.
    let run = eltr(&["--log-format", "json", "install"]);
    run.failure();
    let events: Vec<serde_json::Value> = run
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let failed = events
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .unwrap_or("")
                .contains("target-bogus: FAILED")
        })
        .unwrap_or_else(|| panic!("no failure event:\n{}", run.stderr));
    assert_eq!(failed["level"], "error");
    assert!(
        failed["message"].as_str().unwrap().contains("\n  | "),
        "{failed}"
    );
    let last = events.last().unwrap();
    assert_eq!(last["level"], "error");
    assert_eq!(
        last["message"],
        "1 plugin(s) failed to install: target-bogus"
    );
}

/// Nothing is built here, so the installer does not matter: run without uv.
#[test]
fn a_plugin_without_pip_url_is_skipped_with_a_note_and_filters_apply() {
    let tmp = project(
        r#"
version: 1
default_environment: dev
environments: [{name: dev}]
plugins:
  extractors:
    - name: tap-local
      namespace: tap_local
      executable: ./tap-local.sh
  loaders:
    - name: target-local
      namespace: target_local
      executable: ./target-local.sh
"#,
    );
    let root = tmp.path();
    let eltr = |args: &[&str]| eltr(Installer::Pip, root, args, &[]);

    eltr(&["install"])
        .success()
        .stderr_has("extractor tap-local: no pip_url, nothing to install")
        .stderr_has("loader target-local: no pip_url, nothing to install");
    assert!(!plugin_dir(root, "extractors", "tap-local").exists());
    assert!(!plugin_dir(root, "loaders", "target-local").exists());

    let loaders = eltr(&["install", "--plugin-type", "loaders"]);
    loaders.success().stderr_has("loader target-local:");
    assert!(!loaders.stderr.contains("tap-local"), "{}", loaders.stderr);

    let one = eltr(&["install", "tap-local"]);
    one.success().stderr_has("extractor tap-local:");
    assert!(!one.stderr.contains("target-local"), "{}", one.stderr);

    eltr(&["install", "tap-nope"])
        .failure()
        .stderr_has("tap-nope");
    eltr(&["install", "--plugin-type", "widgets"])
        .failure()
        .stderr_has("unknown plugin type 'widgets'");
}

/// Files of a local package whose build waits while `hold` exists (after creating `building`),
/// so an install of it can be caught while pip is running.
fn write_slow_package(dir: &Path, building: &Path, hold: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("pyproject.toml"),
        "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("setup.py"),
        format!(
            r#"import os, time
from setuptools import setup
open({building:?}, "w").close()
while os.path.exists({hold:?}):
    time.sleep(0.1)
setup(
    name="eltr-slow",
    version="0.1",
    py_modules=["eltr_slow"],
    entry_points={{"console_scripts": ["eltr-slow=eltr_slow:main"]}},
)
"#,
            building = building.display().to_string(),
            hold = hold.display().to_string(),
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("eltr_slow.py"),
        "def main():\n    print(\"eltr-slow ok\")\n",
    )
    .unwrap();
}

/// A process started in a process group of its own, killed (the whole group) when dropped.
struct Group(Child);

impl Group {
    fn kill(&mut self) {
        // SAFETY: kill(2) of the process group of a child this test started.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            self.kill();
        }
    }
}

fn an_interrupted_install_does_not_look_installed_and_the_next_install_completes_it(
    inst: Installer,
) {
    use std::os::unix::process::CommandExt;

    let tmp = common::empty_dir();
    let building = tmp.path().join("BUILDING");
    let hold = tmp.path().join("HOLD");
    let root = project_with_tap(
        &tmp,
        r#"
  loaders:
    - name: target-slow
      namespace: target_slow
      pip_url: ./slowpkg
      executable: eltr-slow
"#,
    );
    write_slow_package(&root.join("slowpkg"), &building, &hold);
    std::fs::write(&hold, "").unwrap();

    // Start `eltr install` in its own process group, wait until the package build is under
    // way (pip or uv running, held by HOLD), then SIGKILL the whole group.
    let out_file = tmp.path().join("install.out");
    let out = std::fs::File::create(&out_file).unwrap();
    let mut cmd = Command::new(eltr_bin());
    cmd.current_dir(&root)
        .arg("install")
        .env_clear()
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .process_group(0);
    if let Some(home) = std::env::var_os("HOME") {
        cmd.env("HOME", home);
    }
    cmd.envs(base_vars(inst));
    cmd.env("ELTR_CACHE_DIR", root.join(".user-cache"));
    let mut group = Group(cmd.spawn().expect("start eltr install"));
    wait_until(
        Duration::from_secs(120),
        "the package build to start",
        || {
            if let Some(status) = group.0.try_wait().unwrap() {
                panic!(
                    "eltr install ended ({status}) before the package build started:\n{}",
                    std::fs::read_to_string(&out_file).unwrap_or_default()
                );
            }
            building.exists()
        },
    );
    assert!(
        group.0.try_wait().unwrap().is_none(),
        "eltr install ended although the build is held"
    );
    group.kill();
    assert_built_with(&root, "loader-target-slow", inst);

    // Nothing looks installed: uv was building in a staging folder, so there is no venv at
    // all and the staging folder is left over; pip was building in place, so there is a venv
    // without fingerprint.
    let venv = venv(&root, "loaders", "target-slow");
    assert!(
        !venv.join(FINGERPRINT).exists(),
        "an interrupted install left a fingerprint"
    );
    match inst {
        Installer::Uv => {
            assert!(!venv.exists(), "uv built in place: {}", venv.display());
            assert_eq!(
                staging_leftovers(&root, "loaders", "target-slow").len(),
                1,
                "the killed install's staging folder"
            );
        }
        Installer::Pip => {
            assert!(venv.join("bin/python").exists(), "pip built elsewhere");
            assert_no_staging_left(&root, "loaders", "target-slow");
        }
    }
    // The half-built venv is not used: the run says to install (with the flag or Meltano's
    // variable), and the plain `eltr run` would install it rather than run it.
    assert!(
        !venv.join("bin/eltr-slow").exists(),
        "the held build already produced the program"
    );
    for (args, vars) in [
        (
            &["run", "--no-install", "tap-fixture", "target-slow"][..],
            &[][..],
        ),
        (
            &["run", "tap-fixture", "target-slow"][..],
            &[("MELTANO_RUN_NO_INSTALL", "true")][..],
        ),
    ] {
        eltr(inst, &root, args, vars)
            .failure()
            .stderr_has("cannot find the executable 'eltr-slow'")
            .stderr_has("eltr install target-slow");
    }
    assert!(!venv.join(FINGERPRINT).exists());

    // The next install rebuilds it and completes.
    std::fs::remove_file(&hold).unwrap();
    eltr(inst, &root, &["install"], &[])
        .success()
        .stderr_has("loader target-slow: installed in");
    assert!(venv.join(FINGERPRINT).is_file());
    let said = run_program(&venv.join("bin/eltr-slow"), &[]);
    assert_eq!(said.trim(), "eltr-slow ok");
    eltr(inst, &root, &["install"], &[])
        .success()
        .stderr_has("loader target-slow: up to date");
    assert_no_staging_left(&root, "loaders", "target-slow");
}

/// What an install killed after pip wrote the plugin's program but before the fingerprint
/// leaves: a venv with `bin/<executable>` and no fingerprint. Nothing may run that program.
/// (Nothing is built here, so the installer does not matter: run without uv.)
#[test]
fn a_venv_without_fingerprint_is_never_used_even_when_it_holds_the_program() {
    let tmp = common::empty_dir();
    let marker = tmp.path().join("half-built-venv-used");
    let root = project_with_tap(
        &tmp,
        r#"
  loaders:
    - name: target-jsonl
      namespace: target_jsonl
      pip_url: target-jsonl==0.1.4
      executable: target-jsonl
  utilities:
    - name: cow
      namespace: cow
      pip_url: cowsay==6.1
      executable: cowsay
"#,
    );
    for (kind, exe) in [
        ("loaders/target-jsonl", "target-jsonl"),
        ("utilities/cow", "cowsay"),
    ] {
        let bin = root.join(".eltr").join(kind).join("venv/bin");
        std::fs::create_dir_all(&bin).unwrap();
        write_executable(
            &bin.join(exe),
            &format!(
                "#!/bin/sh\necho {exe} >> '{}'\ncat >/dev/null\n",
                marker.display()
            ),
        );
    }

    // (eltr arguments, extra variables, plugin the error must name)
    type Check<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let checks: [Check; 3] = [
        (
            &["run", "--no-install", "tap-fixture", "target-jsonl"],
            &[],
            "target-jsonl",
        ),
        (
            &["run", "tap-fixture", "target-jsonl"],
            &[("MELTANO_RUN_NO_INSTALL", "true")],
            "target-jsonl",
        ),
        (&["invoke", "--no-install", "cow"], &[], "cow"),
    ];
    let mut problems = Vec::new();
    for (args, vars, plugin) in checks {
        let run = eltr(Installer::Pip, &root, args, vars);
        let used = std::fs::read_to_string(&marker).unwrap_or_default();
        if marker.exists() {
            std::fs::remove_file(&marker).unwrap();
        }
        let hint = format!("eltr install {plugin}");
        if !used.is_empty() {
            problems.push(format!(
                "`{}` ran the program of a venv without fingerprint ({})",
                run.command,
                used.trim()
            ));
        } else if run.status.success()
            || !run.stderr.contains("cannot find the executable")
            || !run.stderr.contains(&hint)
        {
            problems.push(format!(
                "`{}` did not fail with `cannot find the executable` and `{hint}`:\n{}",
                run.command, run.stderr
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn run_installs_a_missing_plugin_first_and_no_install_points_at_eltr_install(inst: Installer) {
    let tmp = common::empty_dir();
    let root = project_with_tap(
        &tmp,
        r#"
  loaders:
    - name: target-jsonl
      namespace: target_jsonl
      pip_url: target-jsonl==0.1.4
      executable: target-jsonl
      config: {destination_path: out, do_timestamp_file: false}
"#,
    );
    let venv = venv(&root, "loaders", "target-jsonl");
    let eltr = |args: &[&str]| eltr(inst, &root, args, &[]);

    eltr(&["run", "--no-install", "tap-fixture", "target-jsonl"])
        .failure()
        .stderr_has("cannot find the executable 'target-jsonl'")
        .stderr_has("run `eltr install target-jsonl`");
    assert!(!venv.exists(), "--no-install installed anyway");
    assert!(!root.join("out").exists());

    eltr(&["run", "tap-fixture", "target-jsonl"])
        .success()
        .stderr_has("loader target-jsonl: installed in");
    assert_built_with(&root, "loader-target-jsonl", inst);
    assert!(venv.join(FINGERPRINT).is_file());
    let text = std::fs::read_to_string(root.join("out/items.jsonl")).expect("target output");
    let ids: Vec<i64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, [1, 2, 3], "{text}");

    // Installed now: the next run neither installs nor touches the venv.
    let stamp = mtime(&venv.join(FINGERPRINT));
    let again = eltr(&["run", "tap-fixture", "target-jsonl"]);
    again.success();
    assert!(!again.stderr.contains("installed in"), "{}", again.stderr);
    assert_eq!(mtime(&venv.join(FINGERPRINT)), stamp);
    eltr(&["install"])
        .success()
        .stderr_has("loader target-jsonl: up to date");
}

/// Two installs of the same project at once (an `eltr install` next to a run that installs
/// first, or two containers on one volume) build each venv once and both succeed.
fn two_installs_at_once_build_the_venv_once_and_both_succeed(inst: Installer) {
    let tmp = project(COW_PROJECT);
    let root = tmp.path().to_path_buf();
    let runs: Vec<Run> = std::thread::scope(|s| {
        let a = s.spawn(|| eltr(inst, &root, &["install"], &[]));
        let b = s.spawn(|| eltr(inst, &root, &["install"], &[]));
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    let mut built = 0;
    for run in &runs {
        run.success();
        if run.stderr.contains("utility cow: installed in") {
            built += 1;
        } else {
            run.stderr_has("utility cow: up to date");
        }
    }
    assert_eq!(built, 1, "the venv was built {built} times");
    assert_built_with(&root, "utility-cow", inst);
    assert_cowsay_runs(&venv(&root, "utilities", "cow"), "once");
    assert_no_staging_left(&root, "utilities", "cow");
}

/// Two plugins that share most of their packages, from an empty uv cache: both start at
/// once (no plugin waits for another: measured faster, see `plugin/schedule.rs`), and both
/// end up installed and runnable.
fn plugins_sharing_packages_install_side_by_side_from_an_empty_cache(inst: Installer) {
    let tmp = project(
        r#"
version: 1
default_environment: dev
environments: [{name: dev}]
plugins:
  utilities:
    - name: req-a
      namespace: req_a
      pip_url: requests==2.32.3
      executable: python
    - name: req-b
      namespace: req_b
      pip_url: requests==2.32.3 cowsay==6.1
      executable: cowsay
"#,
    );
    let root = tmp.path();
    // An empty uv cache: both download, and uv serialises what they share.
    let cache = common::empty_dir();
    let cache_dir = cache.path().display().to_string();
    let run = eltr(
        inst,
        root,
        &["--log-level", "debug", "install"],
        &[("UV_CACHE_DIR", &cache_dir)],
    );
    run.success()
        .stderr_has("utility req-a: installed in")
        .stderr_has("utility req-b: installed in");
    assert_built_with(root, "utility-req-a", inst);
    assert_built_with(root, "utility-req-b", inst);
    assert!(
        !run.stderr.contains("waits for"),
        "a plugin waited for another:\n{}",
        run.stderr
    );
    assert_cowsay_runs(&venv(root, "utilities", "req-b"), "b");
    let imported = run_program(
        &venv(root, "utilities", "req-a").join("bin/python"),
        &["-c", "import requests; print(requests.__version__)"],
    );
    assert_eq!(imported.trim(), "2.32.3");
}

// --- Pinned dependencies, remembered resolutions and venv.backend -----------------------

with_each_installer!(
    a_pin_file_is_installed_exactly_and_a_changed_pin_file_reinstalls,
    a_corrupt_or_stale_pin_file_is_an_error_naming_the_file_and_line,
    a_remembered_resolution_installs_offline_and_a_missing_cache_entry_falls_back,
);

/// `name==version` of every distribution in a venv, sorted, without the installers pip
/// seeds its venvs with.
fn distributions(venv: &Path) -> Vec<String> {
    let listed = run_program(
        &venv.join("bin/python"),
        &[
            "-c",
            "import importlib.metadata as m\n\
             for d in m.distributions(): print(f\"{d.metadata['Name'].lower()}=={d.version}\")",
        ],
    );
    let mut out: Vec<String> = listed
        .lines()
        .filter(|l| !l.starts_with("pip==") && !l.starts_with("setuptools=="))
        .map(str::to_string)
        .collect();
    out.sort();
    out
}

/// A project with utility `cow` installing `pip_url`.
fn cow_project(pip_url: &str) -> TempDir {
    project(&COW_PROJECT.replace("cowsay==6.1", pip_url))
}

/// Writes `pip_url` into the project's `meltano.yml`.
fn set_pip_url(root: &Path, pip_url: &str) {
    std::fs::write(
        root.join("meltano.yml"),
        COW_PROJECT.replace("cowsay==6.1", pip_url),
    )
    .unwrap();
}

/// The pin file `eltr lock` writes for `pip_url` (always with uv: pip cannot write one).
fn locked_pins(root: &Path, pip_url: &str) -> String {
    set_pip_url(root, pip_url);
    eltr(Installer::Uv, root, &["lock", "--update"], &[])
        .success()
        .stderr_has("Locked dependencies for utility cow in plugins/utilities/pylock.cow.toml");
    std::fs::read_to_string(root.join("plugins/utilities/pylock.cow.toml")).unwrap()
}

/// The venv holds exactly the pinned versions, although the `pip_url` alone would resolve
/// to newer ones; a changed pin file (only the file) rebuilds the venv; the same file again
/// is a no-op.
fn a_pin_file_is_installed_exactly_and_a_changed_pin_file_reinstalls(inst: Installer) {
    let tmp = cow_project("cowsay");
    let root = tmp.path();
    let old = locked_pins(root, "cowsay==6.0 idna==3.6");
    let new = locked_pins(root, "cowsay==6.1 idna==3.7");
    assert!(old.contains("version = \"6.0\"") && new.contains("version = \"3.7\""));
    let pins = root.join("plugins/utilities/pylock.cow.toml");
    set_pip_url(root, "cowsay idna");
    std::fs::write(&pins, &old).unwrap();

    eltr(inst, root, &["install"], &[])
        .success()
        .stderr_has("utility cow: installed in");
    assert_built_with(root, "utility-cow", inst);
    let venv = venv(root, "utilities", "cow");
    assert_eq!(distributions(&venv), ["cowsay==6.0", "idna==3.6"]);
    let log = std::fs::read_to_string(root.join(".eltr/logs/install/utility-cow.log")).unwrap();
    // The pins, not a resolution of the pip_url: uv reads the pin file itself, or gets its
    // pins as pip does when eltr gives it PyPI's caching headers (which one is decided by the
    // machine's uv configuration; `uv_gets_pypi_caching_headers_…` fixes it and checks both).
    let pin_file_itself = log.contains("-r ") && log.contains("pylock.cow.toml");
    let requirements = log.contains("--require-hashes --no-deps -r");
    match inst {
        Installer::Uv => assert!(pin_file_itself || requirements, "{log}"),
        Installer::Pip => assert!(requirements, "{log}"),
    }
    let resolved = log
        .lines()
        .any(|l| l.starts_with("$ ") && l.ends_with(" cowsay idna"));
    assert!(!resolved, "{log}");
    eltr(inst, root, &["install"], &[])
        .success()
        .stderr_has("utility cow: up to date");

    std::fs::write(&pins, &new).unwrap();
    eltr(inst, root, &["install"], &[])
        .success()
        .stderr_has("utility cow: installed in");
    assert_eq!(distributions(&venv), ["cowsay==6.1", "idna==3.7"]);
    assert_cowsay_runs(&venv, "pinned");
}

/// A pin file that is not TOML, or not PEP 751, stops the install with the file, line and
/// column; one locked for another version than the `pip_url` asks for says to lock again.
/// The other plugins still install.
fn a_corrupt_or_stale_pin_file_is_an_error_naming_the_file_and_line(inst: Installer) {
    let tmp = cow_project("cowsay==6.1");
    let root = tmp.path();
    let dir = root.join("plugins/utilities");
    std::fs::create_dir_all(&dir).unwrap();
    let pins = dir.join("pylock.cow.toml");
    std::fs::write(
        &pins,
        "lock-version = \"1.0\"\n\n[[packages]]\nname = \"cowsay\"\nversion = 6.1\n",
    )
    .unwrap();
    let run = eltr(inst, root, &["install"], &[]);
    run.failure()
        .stderr_has("utility cow: FAILED")
        .stderr_has(&format!(
            "{}:5:11: not a valid PEP 751 pin file",
            pins.display()
        ))
        .stderr_has("1 plugin(s) failed to install: cow");
    assert!(!venv(root, "utilities", "cow").exists());

    std::fs::write(
        &pins,
        "lock-version = \"1.0\"\n\n[[packages]]\nname = \"cowsay\"\nversion = \"6.0\"\n",
    )
    .unwrap();
    eltr(inst, root, &["install"], &[])
        .failure()
        .stderr_has("pip_url asks for cowsay==6.1 but the file pins cowsay 6.0")
        .stderr_has("eltr lock --update");
}

/// With uv, the first install remembers what the `pip_url` resolved to (in `ELTR_CACHE_DIR`);
/// another project's install of the same `pip_url` installs those pins with `--offline
/// --no-deps`. When uv's cache lacks them, the entry is damaged or older than its max age, or
/// the user asks for fresh data, the install resolves as usual and says why at debug level.
/// pip never uses remembered pins.
fn a_remembered_resolution_installs_offline_and_a_missing_cache_entry_falls_back(inst: Installer) {
    let cache = common::empty_dir();
    let cache_dir = cache.path().display().to_string();
    let install = |extra: &[(&str, &str)]| {
        let tmp = cow_project("cowsay==6.1");
        let mut vars = vec![("ELTR_CACHE_DIR", cache_dir.as_str())];
        vars.extend_from_slice(extra);
        let run = eltr(
            inst,
            tmp.path(),
            &["--log-level", "debug", "install"],
            &vars,
        );
        run.success().stderr_has("utility cow: installed in");
        assert_cowsay_runs(&venv(tmp.path(), "utilities", "cow"), "remembered");
        let log =
            std::fs::read_to_string(tmp.path().join(".eltr/logs/install/utility-cow.log")).unwrap();
        (run, log)
    };
    let entries = || -> Vec<PathBuf> {
        std::fs::read_dir(cache.path().join("resolutions"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    };
    let (_, first) = install(&[]);
    assert!(!first.contains("--offline"), "{first}");
    if inst == Installer::Pip {
        assert_eq!(
            entries(),
            Vec::<PathBuf>::new(),
            "pip remembered a resolution"
        );
        let (_, second) = install(&[]);
        assert!(!second.contains("--offline"), "{second}");
        return;
    }
    let remembered = entries();
    assert_eq!(remembered.len(), 1, "{remembered:?}");
    assert!(
        std::fs::read_to_string(&remembered[0])
            .unwrap()
            .contains("\ncowsay==6.1\n")
    );

    // Another project, same pip_url: the pins, from uv's cache, no resolution.
    let (run, second) = install(&[]);
    assert!(
        second.contains("--offline --no-deps 'cowsay==6.1'"),
        "{second}"
    );
    assert!(!run.stderr.contains("resolving again"), "{}", run.stderr);

    // uv's cache is empty: the offline install fails, the install resolves and succeeds.
    let empty_uv = common::empty_dir();
    let empty_uv = empty_uv.path().display().to_string();
    let (run, third) = install(&[("UV_CACHE_DIR", empty_uv.as_str())]);
    run.stderr_has("remembered pins are not all in uv's cache");
    assert!(third.contains("--offline --no-deps"), "{third}");

    // A damaged entry is no entry.
    std::fs::write(&remembered[0], "# eltr resolution 1\ncowsay>=1; echo\n").unwrap();
    let (run, fourth) = install(&[]);
    run.stderr_has("is not a pin");
    assert!(!fourth.contains("--offline"), "{fourth}");
    assert!(
        std::fs::read_to_string(&remembered[0])
            .unwrap()
            .contains("\ncowsay==6.1\n")
    );

    // An entry older than a day is not used (an open pip_url picks up new releases), and the
    // resolution that replaces it is remembered afresh.
    let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&remembered[0])
        .and_then(|f| f.set_modified(two_days_ago))
        .unwrap();
    let (run, fifth) = install(&[]);
    run.stderr_has("more than ELTR_RESOLUTION_MAX_AGE (86400 s)");
    assert!(!fifth.contains("--offline"), "{fifth}");
    let (_, sixth) = install(&[]);
    assert!(sixth.contains("--offline --no-deps"), "{sixth}");

    // The user's own say: a max age of 0, or uv's UV_REFRESH, resolves again.
    let (run, seventh) = install(&[("ELTR_RESOLUTION_MAX_AGE", "0")]);
    run.stderr_has("ELTR_RESOLUTION_MAX_AGE is 0");
    assert!(!seventh.contains("--offline"), "{seventh}");
    let (run, eighth) = install(&[("UV_REFRESH", "1")]);
    run.stderr_has("UV_REFRESH asks for fresh package data");
    assert!(!eighth.contains("--offline"), "{eighth}");
}

/// Meltano's `venv.backend` setting chooses the installer: `virtualenv` builds with Python and
/// pip even when uv is at hand; `uv` with no uv in reach is an error saying what to do; an
/// unknown value is an error with the closest valid one.
#[test]
fn venv_backend_chooses_the_installer_as_in_meltano() {
    let tmp = project(&format!("{COW_PROJECT}venv:\n  backend: virtualenv\n"));
    let root = tmp.path();
    eltr(Installer::Uv, root, &["install"], &[])
        .success()
        .stderr_has("utility cow: installed in");
    assert_built_with(root, "utility-cow", Installer::Pip);

    eltr(
        Installer::Pip,
        root,
        &["install", "--clean"],
        &[("MELTANO_VENV_BACKEND", "uv")],
    )
    .failure()
    .stderr_has("MELTANO_VENV_BACKEND asks for uv, but no uv was found");
    std::fs::write(root.join(".env"), "MELTANO_VENV_BACKEND=uvv\n").unwrap();
    eltr(Installer::Uv, root, &["install", "--clean"], &[])
        .failure()
        .stderr_has("MELTANO_VENV_BACKEND: unknown venv backend 'uvv' (did you mean 'uv'?)");
}

// --- PyPI's caching headers for uv (plugin/uv_config.rs) ---------------------------------

/// The last install log of utility `cow`.
fn cow_log(root: &Path) -> String {
    std::fs::read_to_string(root.join(".eltr/logs/install/utility-cow.log")).unwrap()
}

/// eltr hands uv PyPI's own caching headers in `.eltr/uv-pypi-headers.toml` when uv would
/// read no configuration of its own; an index the project chose still decides where packages
/// come from (PyPI is only an explicit index there); and a `uv.toml` of the project's own
/// leaves uv to it.
#[test]
fn uv_gets_pypi_caching_headers_only_where_it_has_no_configuration_of_its_own() {
    let tmp = project(COW_PROJECT);
    let root = tmp.path();
    // No user or system uv configuration, whatever this machine has.
    let config_home = common::empty_dir();
    let config_home = config_home.path().display().to_string();
    let no_config = [
        ("XDG_CONFIG_HOME", config_home.as_str()),
        ("XDG_CONFIG_DIRS", config_home.as_str()),
    ];
    let headers = root.join(".eltr/uv-pypi-headers.toml");
    let flag = format!("--config-file {}", headers.display());

    eltr(Installer::Uv, root, &["install"], &no_config).success();
    let log = cow_log(root);
    let install = log
        .lines()
        .find(|l| l.contains(" pip install "))
        .unwrap_or_default();
    assert!(install.contains(&flag), "{log}");
    let text = std::fs::read_to_string(&headers).unwrap();
    assert!(text.contains("immutable"), "{text}");
    assert_cowsay_runs(&venv(root, "utilities", "cow"), "headers");

    // A requirements file that names its own index (empty here): uv looks there, not on
    // PyPI, so the install fails, as it does without eltr's file.
    let index = common::empty_dir();
    std::fs::write(
        root.join("requirements.txt"),
        format!(
            "--index-url file://{}\ncowsay==6.1\n",
            index.path().display()
        ),
    )
    .unwrap();
    set_pip_url(root, "-r requirements.txt");
    let run = eltr(Installer::Uv, root, &["install", "--clean"], &no_config);
    run.failure().stderr_has("utility cow");
    let log = cow_log(root);
    assert!(log.contains(&flag), "{log}");
    assert!(log.contains("cowsay was not found"), "{log}");

    // A pin file of PyPI's files: uv gets its pins as a hash-checked requirements file,
    // fetched through the index (whose headers eltr gave), exactly those versions.
    locked_pins(root, "cowsay==6.1");
    // (From uv's cache, offline, here: the flag is only on the step that asks the index.)
    eltr(Installer::Uv, root, &["install", "--clean"], &no_config).success();
    let log = cow_log(root);
    assert!(log.contains("--require-hashes --no-deps -r"), "{log}");
    assert!(!log.contains("pylock.cow.toml"), "{log}");
    assert_eq!(
        distributions(&venv(root, "utilities", "cow")),
        ["cowsay==6.1"]
    );

    // The project's own uv.toml: uv reads it, and eltr passes no file of its own; uv reads
    // the pin file itself.
    std::fs::write(root.join("uv.toml"), "# the project's uv settings\n").unwrap();
    eltr(Installer::Uv, root, &["install", "--clean"], &no_config).success();
    let log = cow_log(root);
    assert!(log.contains(" pip install "), "{log}");
    assert!(!log.contains("--config-file"), "{log}");
    assert!(log.contains("pylock.cow.toml"), "{log}");
    assert_cowsay_runs(&venv(root, "utilities", "cow"), "own config");
}
