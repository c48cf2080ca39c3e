//! Files and variables a user hands eltr are read safely: a device, a named pipe or a runaway
//! file named where a project file, `.env`, catalog or state belongs is a clear error at once
//! (never a hang or unbounded memory), and a process variable that is not UTF-8 is no panic.

mod common;

use common::eltr;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

const TAP: &str = "version: 1
plugins:
  extractors:
  - name: tap-x
    executable: /bin/true
    capabilities: [catalog, state]
  loaders:
  - name: target-y
    executable: /bin/true
";

fn mkfifo(path: &std::path::Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
}

#[test]
fn an_env_file_that_is_a_device_or_a_pipe_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("meltano.yml"), TAP).unwrap();
    let fifo = tmp.path().join("env.fifo");
    mkfifo(&fifo);
    for env_file in ["/dev/zero", fifo.to_str().unwrap()] {
        let run = eltr(
            tmp.path(),
            ["--env-file", env_file, "compile", "--print"],
            &[],
        );
        run.clean_error(&["not a regular file"]);
    }
}

#[test]
fn an_included_pipe_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(
        tmp.path().join("meltano.yml"),
        "version: 1\ninclude_paths: ['./plugins/*.yml']\n",
    )
    .unwrap();
    fs::create_dir_all(tmp.path().join("plugins")).unwrap();
    mkfifo(&tmp.path().join("plugins/x.yml"));
    let run = eltr(tmp.path(), ["compile", "--print"], &[]);
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn a_catalog_or_state_extra_naming_a_device_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let yml = TAP.replace(
        "    capabilities: [catalog, state]\n",
        "    capabilities: [catalog, state]\n    state: /dev/zero\n",
    );
    fs::write(tmp.path().join("meltano.yml"), yml).unwrap();
    let run = eltr(tmp.path(), ["run", "tap-x", "target-y"], &[]);
    run.clean_error(&["/dev/zero", "not a regular file"]);

    let yml = TAP.replace(
        "    capabilities: [catalog, state]\n",
        "    capabilities: [catalog, state]\n    catalog: /dev/zero\n",
    );
    fs::write(tmp.path().join("meltano.yml"), yml).unwrap();
    let run = eltr(tmp.path(), ["run", "tap-x", "target-y"], &[]);
    run.clean_error(&["/dev/zero", "not a regular file"]);
}

#[test]
fn a_state_input_file_naming_a_device_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("meltano.yml"), TAP).unwrap();
    let run = eltr(
        tmp.path(),
        [
            "state",
            "set",
            "--force",
            "a-to-b",
            "--input-file",
            "/dev/zero",
        ],
        &[],
    );
    run.clean_error(&["/dev/zero"]);
}

#[test]
fn a_variable_that_is_not_utf8_is_no_panic() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("meltano.yml"), TAP).unwrap();
    let out = Command::new(common::eltr_bin())
        .args(["compile", "--print"])
        .current_dir(tmp.path())
        .env(OsStr::new("ODD_BYTES"), OsStr::from_bytes(b"\xff\xfe"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
