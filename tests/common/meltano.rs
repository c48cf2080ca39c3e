//! Running the reference Meltano 4.4.1 (`ELTR_TEST_MELTANO`, set by scripts/test.sh) on a
//! project, with the same clean environment `eltr` gets in tests, so the two can be compared.
//! Tests that use it fail rather than skip without it.
#![allow(dead_code)]

use crate::common::Run;
use std::path::Path;
use std::process::Command;

/// The reference Meltano's executable.
pub fn meltano_bin() -> String {
    match std::env::var("ELTR_TEST_MELTANO") {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "ELTR_TEST_MELTANO is not set: these tests compare eltr with Meltano 4.4.1. Run the \
             suite with scripts/test.sh, or point ELTR_TEST_MELTANO at a `meltano` executable of \
             version 4.4.1 (these tests fail rather than skip)"
        ),
    }
}

/// What keeps Meltano off the network; both tools get it.
pub const QUIET: [(&str, &str); 2] = [
    ("MELTANO_CLI_DISABLE_VERSION_CHECK", "true"),
    ("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false"),
];

/// Runs `meltano ARGS` in `cwd` with only `PATH`, `HOME`, `NO_COLOR`, `QUIET` and `vars` set.
pub fn meltano(cwd: &Path, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(meltano_bin());
    cmd.current_dir(cwd).args(args).env_clear();
    for keep in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(keep) {
            cmd.env(keep, v);
        }
    }
    cmd.env("NO_COLOR", "1")
        .envs(QUIET.iter().copied())
        .envs(vars.iter().copied());
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", meltano_bin()));
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        command: format!("(cd {} && meltano {})", cwd.display(), args.join(" ")),
    }
}

/// `text` with the project folder written as `ROOT`, so two copies compare equal.
pub fn rooted(text: &str, root: &Path) -> String {
    text.replace(root.to_str().expect("UTF-8 temp path"), "ROOT")
}
