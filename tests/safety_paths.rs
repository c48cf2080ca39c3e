//! Names that become paths cannot reach outside the project: hostile run ids, plugin names,
//! environment, job and schedule names, variants and state ids are refused where they enter,
//! with the file, line and column, and nothing outside the project is created, replaced or
//! deleted. Each test plants a "bystander" folder beside the project (what a `../..` would
//! hit) and checks it survives untouched.

mod common;

use common::{Run, eltr};
use std::fs;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// A project folder `<tmp>/work/project` with `meltano.yml`, beside `<tmp>/work/bystander`
/// and `<tmp>/bystander-top`, each holding a file that must survive.
struct Sandbox {
    _tmp: TempDir,
    top: PathBuf,
    project: PathBuf,
}

impl Sandbox {
    fn new(meltano_yml: &str) -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path().to_path_buf();
        let project = top.join("work/project");
        fs::create_dir_all(&project).unwrap();
        for bystander in [top.join("work/bystander"), top.join("bystander-top")] {
            fs::create_dir_all(&bystander).unwrap();
            fs::write(bystander.join("keep.txt"), "user data").unwrap();
        }
        fs::write(project.join("meltano.yml"), meltano_yml).unwrap();
        Sandbox {
            _tmp: tmp,
            top,
            project,
        }
    }

    fn eltr(&self, args: &[&str]) -> Run {
        eltr(&self.project, args, &[])
    }

    /// Every file under the sandbox outside the project, with its content.
    fn outside(&self) -> Vec<(PathBuf, String)> {
        let mut out = Vec::new();
        collect(&self.top, &self.project, &mut out);
        out.sort();
        out
    }

    /// Asserts that nothing outside the project changed and the project file is still there.
    #[track_caller]
    fn assert_untouched(&self, before: &[(PathBuf, String)]) {
        assert_eq!(self.outside(), before, "files outside the project changed");
        assert!(
            self.project.join("meltano.yml").is_file(),
            "project file gone"
        );
    }
}

fn collect(dir: &Path, skip: &Path, out: &mut Vec<(PathBuf, String)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path == skip {
            continue;
        }
        if path.is_dir() {
            collect(&path, skip, out);
        } else {
            out.push((path.clone(), fs::read_to_string(&path).unwrap_or_default()));
        }
    }
}

/// Asserts a refused input: a clean error (exit 1 or 2, never a panic's 101), on one line
/// that contains every `needles`.
#[track_caller]
fn assert_refused(run: &Run, needles: &[&str]) {
    let code = run.status.code();
    assert!(
        matches!(code, Some(1) | Some(2)),
        "expected exit 1 or 2, got {code:?}: {}\n{}",
        run.command,
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            run.stderr
        );
    }
}

const TWO_PLUGINS: &str = "version: 1
plugins:
  extractors:
  - name: tap-x
    executable: /bin/true
  loaders:
  - name: target-y
    executable: /bin/true
";

#[test]
fn a_run_id_that_climbs_out_is_refused_and_deletes_nothing() {
    let s = Sandbox::new(TWO_PLUGINS);
    let before = s.outside();
    for bad in ["../../..", "../../bystander", "/", "..", "x/../../..", ""] {
        let run = s.eltr(&["run", "tap-x", "target-y", "--run-id", bad]);
        assert_refused(&run, &["not a UUID"]);
        s.assert_untouched(&before);
    }
    let run = eltr(
        &s.project,
        ["run", "tap-x", "target-y"],
        &[("ELTR_RUN_ID", "../..")],
    );
    assert_refused(&run, &["not a UUID"]);
    s.assert_untouched(&before);
}

#[test]
fn a_uuid_run_id_is_accepted_in_any_spelling() {
    let s = Sandbox::new(TWO_PLUGINS);
    for ok in [
        "7e0f2a5c-3b1d-4c8e-9f6a-0123456789ab",
        "{7E0F2A5C-3B1D-4C8E-9F6A-0123456789AB}",
        "7e0f2a5c3b1d4c8e9f6a0123456789ab",
    ] {
        let run = s.eltr(&["run", "tap-x", "target-y", "--run-id", ok, "--dry-run"]);
        run.success();
    }
}

#[test]
fn a_plugin_name_with_a_path_in_it_is_refused_with_its_line() {
    for (name, reason) in [
        ("../../../bystander", "path separator"),
        ("/tmp/elsewhere", "path separator"),
        ("..", "starts with '.'"),
        (".hidden", "starts with '.'"),
        ("tap\\\\x", "path separator"),
        ("tap:x", "':'"),
        ("\"tap\\nx\"", "control character"),
        ("\"tap\\u0000x\"", "control character"),
        ("\"\"", "empty"),
    ] {
        let yml = format!(
            "version: 1\nplugins:\n  extractors:\n  - name: tap-ok\n    executable: /bin/true\n  - name: {name}\n    pip_url: some-package\n"
        );
        let s = Sandbox::new(&yml);
        let before = s.outside();
        for args in [
            &["compile", "--print"][..],
            &["install"][..],
            &["invoke", "tap-ok"][..],
            &["config", "tap-ok", "list"][..],
        ] {
            let run = s.eltr(args);
            assert_refused(&run, &["meltano.yml:6:", reason]);
            s.assert_untouched(&before);
        }
    }
}

#[test]
fn environment_job_and_schedule_names_are_checked_too() {
    for (yml, line) in [
        (
            "version: 1\nenvironments:\n- name: ok\n- name: ../prod\n",
            "meltano.yml:4:",
        ),
        (
            "version: 1\njobs:\n- name: daily\n  tasks: [a b]\n- name: ../../job\n  tasks: [a b]\n",
            "meltano.yml:5:",
        ),
        (
            "version: 1\nschedules:\n- name: \"nightly\\r\"\n  interval: '@daily'\n  job: x\n",
            "meltano.yml:3:",
        ),
        (
            "version: 1\nenvironments:\n- name: p:rod\n",
            "meltano.yml:3:",
        ),
    ] {
        let s = Sandbox::new(yml);
        let run = s.eltr(&["compile", "--print"]);
        assert_refused(&run, &[line, "is not valid"]);
    }
}

#[test]
fn a_plugin_overlaid_by_an_environment_is_checked() {
    let s = Sandbox::new(
        "version: 1\nenvironments:\n- name: dev\n  config:\n    plugins:\n      extractors:\n      - name: ../../x\n",
    );
    assert_refused(
        &s.eltr(&["compile", "--print"]),
        &["meltano.yml:7:", "path separator"],
    );
}

#[test]
fn a_variant_is_one_path_component() {
    let s = Sandbox::new(
        "version: 1\nplugins:\n  extractors:\n  - name: tap-x\n    variant: ../../../bystander/keep\n",
    );
    assert_refused(
        &s.eltr(&["compile", "--print"]),
        &["meltano.yml:5:", "variant"],
    );
}

#[test]
fn state_ids_with_control_characters_or_paths_are_refused() {
    let s = Sandbox::new(TWO_PLUGINS);
    let before = s.outside();
    // (A NUL cannot be passed in argv at all; the unit tests of StateId cover it.)
    for bad in [
        "dev:tap\nx",
        "a\rb",
        "a\u{1b}b",
        "../../bystander",
        ".hidden",
        "a/b",
    ] {
        let run = s.eltr(&["state", "set", "--force", bad, r#"{"singer_state": {}}"#]);
        assert_refused(&run, &["state id"]);
        let run = s.eltr(&["state", "clear", "--force", bad]);
        assert_refused(&run, &["state id"]);
    }
    let long = "x".repeat(901);
    assert_refused(
        &s.eltr(&["state", "set", "--force", &long, r#"{"singer_state": {}}"#]),
        &["900"],
    );
    s.assert_untouched(&before);
}

#[test]
fn a_state_id_suffix_cannot_smuggle_a_path() {
    let s = Sandbox::new(TWO_PLUGINS);
    let before = s.outside();
    for bad in ["../../../bystander", "a/b", "line\nbreak"] {
        let run = s.eltr(&["run", "tap-x", "target-y", "--state-id-suffix", bad]);
        assert_refused(&run, &["state id"]);
        s.assert_untouched(&before);
    }
}

#[test]
fn a_symlinked_run_folder_does_not_lead_deletions_outside() {
    // `.eltr/run/tap-x` pointing at a user folder: eltr's run-folder clean-up must not delete
    // anything in it (the confined delete refuses a parent that resolves outside `.eltr/`).
    let s = Sandbox::new(TWO_PLUGINS);
    fs::create_dir_all(s.project.join(".eltr/run")).unwrap();
    let victim = s.top.join("work/bystander");
    fs::create_dir_all(victim.join("11111111-1111-4111-8111-111111111111")).unwrap();
    fs::write(
        victim.join("11111111-1111-4111-8111-111111111111/owner.pid"),
        "999999999",
    )
    .unwrap();
    std::os::unix::fs::symlink(&victim, s.project.join(".eltr/run/tap-x")).unwrap();
    let _ = s.eltr(&["run", "tap-x", "target-y"]);
    assert!(victim.join("keep.txt").is_file());
    assert!(
        victim
            .join("11111111-1111-4111-8111-111111111111/owner.pid")
            .is_file(),
        "a folder outside .eltr/ was swept"
    );
}
