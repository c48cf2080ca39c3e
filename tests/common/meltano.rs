//! The reference Meltano 4.4.1, run the way the comparison tests run it: only `PATH`, `HOME`,
//! what keeps it off the network, and the variables a test names.
#![allow(dead_code)]

use crate::common::Run;
use std::path::Path;
use std::process::{Command, Stdio};

/// What keeps Meltano off the network; tests give eltr the same, so both see one environment.
pub const QUIET: [(&str, &str); 2] = [
    ("MELTANO_CLI_DISABLE_VERSION_CHECK", "true"),
    ("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false"),
];

/// The reference Meltano's executable (`ELTR_TEST_MELTANO`, set by scripts/test.sh). Fails,
/// never skips, when it is missing.
pub fn meltano_bin() -> String {
    match std::env::var("ELTR_TEST_MELTANO") {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "ELTR_TEST_MELTANO is not set: run the suite with scripts/test.sh, or point it at a \
             `meltano` executable of version 4.4.1"
        ),
    }
}

/// Runs `meltano ARGS` in `cwd`.
pub fn meltano(cwd: &Path, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(meltano_bin());
    cmd.current_dir(cwd)
        .args(args)
        .env_clear()
        .stdin(Stdio::null());
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
