//! Meltano's management commands (issue 14, point 7): `config test`, `test`, `compile`,
//! `job list` and `config print` of a mapping. Where the point is to do what Meltano does, the
//! test runs the reference Meltano 4.4.1 on a copy of the same fixture
//! (`tests/fixtures/compat-manage`) and compares.

mod common;
#[path = "common/meltano.rs"]
mod reference;
#[path = "common/run.rs"]
mod support;

use common::{Run, TempProject, eltr};
use reference::{QUIET, meltano, rooted};
use std::os::unix::fs::PermissionsExt;

/// The fixture copied twice (plugins pointing at the example Singer programs): one copy for
/// Meltano, one for eltr.
struct Pair {
    meltano: TempProject,
    eltr: TempProject,
}

fn pair() -> Pair {
    Pair {
        meltano: support::project("compat-manage"),
        eltr: support::project("compat-manage"),
    }
}

/// The line after "Plugin configuration is invalid" (the reason), with each tool's name for
/// itself written as `TOOL`.
fn invalid_reason(run: &Run) -> Option<String> {
    let mut lines = run.stderr.lines();
    lines.find(|l| l.contains("Plugin configuration is invalid"))?;
    let reason = lines.next()?;
    Some(
        reason
            .replace("'meltano ", "'TOOL ")
            .replace("'eltr ", "'TOOL "),
    )
}

#[test]
fn config_test_verdicts_match_meltanos() {
    let p = pair();
    for plugin in ["tap-ok", "tap-quiet", "tap-crash"] {
        let m = meltano(&p.meltano.dir, &["config", "test", plugin], &[]);
        let e = eltr(&p.eltr.dir, ["config", "test", plugin], &QUIET);
        assert_eq!(
            e.code(),
            m.code(),
            "{}\n{}\n{}",
            e.command,
            e.stderr,
            m.stderr
        );
        assert_eq!(e.stdout, m.stdout, "{}", e.command);
        assert_eq!(invalid_reason(&e), invalid_reason(&m), "{}", e.command);
    }
    // The values both agreed on, so a change in both tools would still show.
    let ok = eltr(&p.eltr.dir, ["config", "test", "tap-ok"], &QUIET);
    assert_eq!(ok.success().stdout, "Plugin configuration is valid\n");
    let crash = eltr(&p.eltr.dir, ["config", "tap-crash", "test"], &QUIET);
    assert_eq!(
        invalid_reason(crash.failure()).as_deref(),
        Some("fatal: simulated crash")
    );
    let quiet = eltr(&p.eltr.dir, ["config", "test", "tap-quiet"], &QUIET);
    assert!(
        invalid_reason(&quiet)
            .unwrap()
            .starts_with("No RECORD or BATCH message received")
    );
}

#[test]
fn config_test_of_a_plugin_meltano_cannot_test_fails_as_in_meltano() {
    let p = pair();
    for (plugin, message) in [
        ("mapper-m", "Operation not supported for mapper 'mapper-m'"),
        (
            "orders-enrich",
            "Operation not supported for mapper 'mapper-m'",
        ),
        ("checker", "Operation not supported for utility 'checker'"),
        (
            "meltano",
            "Testing of the Meltano project configuration is not supported",
        ),
    ] {
        meltano(&p.meltano.dir, &["config", "test", plugin], &[])
            .failure()
            .stderr_has(message);
        eltr(&p.eltr.dir, ["config", "test", plugin], &QUIET).clean_error(&[message]);
    }
}

#[test]
fn config_test_kills_a_tap_that_ignores_sigterm_once_it_sent_a_record() {
    let p = support::project("compat-manage");
    let grace = [("ELTR_KILL_GRACE_SECONDS", "1")];
    eltr(&p.dir, ["config", "test", "tap-stubborn"], &grace).success();
    let pid: u32 = std::fs::read_to_string(p.path("tap.pid"))
        .expect("the tap wrote its pid")
        .trim()
        .parse()
        .expect("a pid");
    // `eltr` waited for the tap before it returned: nothing of it is left.
    let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(!alive, "the tap (pid {pid}) outlived `config test`");
}

#[test]
fn config_test_of_a_loader_sends_meltanos_test_stream() {
    let p = support::project("compat-manage");
    let ok = eltr(&p.dir, ["config", "test", "target-ok"], &[]);
    assert_eq!(ok.success().stdout, "Plugin configuration is valid\n");
    ok.stderr_has("Testing a loader will write test data to your target system");
    let written = std::fs::read_to_string(p.path("out/meltano_test_stream.jsonl"))
        .expect("the loader wrote the test stream");
    let record: serde_json::Value = serde_json::from_str(written.trim()).expect("one record");
    assert_eq!(record["record"]["name"], "Meltano Test Record");
    let crash = eltr(&p.dir, ["config", "test", "target-crash"], &[]);
    crash.clean_error(&["Plugin configuration is invalid"]);
    assert_eq!(
        invalid_reason(&crash).as_deref(),
        Some("fatal: target exploded")
    );
}

/// A manifest as text with the project folder written as `ROOT` (the two copies live in
/// different temporary folders) and, in Meltano's, the `MELTANO_STATE_BACKEND_URI` it adds
/// for its default system database left out: eltr exports that variable only when the
/// project names a backend, its default store being a folder (docs/run-compatibility.md).
fn manifest_text(p: &TempProject, dir: &str, file: &str, meltanos: bool) -> String {
    let path = p.path(dir).join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no manifest {}: {e}", path.display()));
    let text = rooted(&text, &p.dir);
    match meltanos {
        true => text.replace("        \"MELTANO_STATE_BACKEND_URI\": \"systemdb\",\n", ""),
        false => text,
    }
}

#[test]
fn compile_writes_meltanos_manifests_byte_for_byte() {
    let p = pair();
    let m = meltano(&p.meltano.dir, &["compile"], &[]);
    let e = eltr(&p.eltr.dir, ["compile"], &QUIET);
    assert_eq!(
        rooted(&e.success().stdout, &p.eltr.dir),
        rooted(&m.success().stdout, &p.meltano.dir)
    );
    let dir = ".meltano/manifests";
    for file in [
        "meltano-manifest.json",
        "meltano-manifest.dev.json",
        "meltano-manifest.prod.json",
    ] {
        let theirs = manifest_text(&p.meltano, dir, file, true);
        let ours = manifest_text(&p.eltr, dir, file, false);
        assert_eq!(ours, theirs, "{file}");
    }
    // What both agreed on, so a change in both would still show: the environment's config,
    // the mapping's variables on its mapper, a redacted secret, the root env.
    let dev: serde_json::Value = serde_json::from_str(&manifest_text(
        &p.eltr,
        dir,
        "meltano-manifest.dev.json",
        false,
    ))
    .unwrap();
    let tap = &dev["plugins"]["extractors"][0];
    assert_eq!(tap["config"]["records"], 4);
    assert_eq!(tap["env"]["TAP_OK_PASSWORD"], "(redacted)");
    let mapper = &dev["plugins"]["mappers"][0];
    assert_eq!(mapper["env"]["MAPPER_M__MAPPING_NAME"], "orders-enrich");
    assert_eq!(dev["env"]["WHERE"], "dev");
    let by_name = |name: &str| {
        dev["plugins"]["extractors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in the manifest"))
    };
    assert_eq!(by_name("tap-locked")["label"], "Locked Tap");
    let child = by_name("tap-locked--child");
    assert!(child.get("label").is_none());
    // Its parent's secret, a variable that is not set: redacted on the child only.
    assert_eq!(child["env"]["TAP_LOCKED__CHILD_API_KEY"], "(redacted)");
    assert!(
        by_name("tap-locked")["env"]
            .get("TAP_LOCKED_API_KEY")
            .is_none()
    );
}

#[test]
fn compile_options_match_meltanos() {
    let p = pair();
    let args = [
        "--environment",
        "prod",
        "compile",
        "--directory",
        "out/manifests",
        "--indent",
        "-1",
        "--unsafe",
    ];
    let m = meltano(&p.meltano.dir, &args, &[]);
    let e = eltr(&p.eltr.dir, args, &QUIET);
    assert_eq!(
        rooted(&e.success().stdout, &p.eltr.dir),
        rooted(&m.success().stdout, &p.meltano.dir)
    );
    let file = "meltano-manifest.prod.json";
    let theirs = manifest_text(&p.meltano, "out/manifests", file, true)
        .replace("\"MELTANO_STATE_BACKEND_URI\": \"systemdb\", ", "");
    let ours = manifest_text(&p.eltr, "out/manifests", file, false);
    assert_eq!(ours, theirs);
    assert!(ours.contains("\"TAP_OK_PASSWORD\": \"s3cret-pw-14\""));
    assert!(!p.eltr.path(".meltano/manifests").exists());
    // A manifest holding secrets is the user's alone, even where one readable by all was.
    let written = p.eltr.path("out/manifests").join(file);
    std::fs::set_permissions(&written, std::fs::Permissions::from_mode(0o644)).unwrap();
    eltr(&p.eltr.dir, args, &QUIET).success();
    let mode = std::fs::metadata(&written).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "compile --unsafe wrote {written:?}");
}

#[test]
fn compile_print_shows_eltrs_resolved_project_instead() {
    let p = support::project("compat-manage");
    let doc = eltr(&p.dir, ["compile", "--print"], &[]).success().json();
    assert_eq!(doc["environment"], "dev");
    assert!(!p.path(".meltano/manifests").exists());
}

#[test]
fn test_runs_the_selected_plugin_tests_and_reports_as_meltano() {
    let p = pair();
    let width = [("COLUMNS", "80")];
    let mut vars = QUIET.to_vec();
    vars.extend(width);
    for args in [
        &["test"][..],
        &["test", "--all"][..],
        &["test", "checker:testing-more", "tap-ok"][..],
        &["test", "checker-two", "checker:test-fails"][..],
    ] {
        let m = meltano(&p.meltano.dir, args, &width);
        let e = eltr(&p.eltr.dir, args, &vars);
        assert_eq!(e.code(), m.code(), "{}\n{}", e.command, e.stderr);
        assert_eq!(e.stdout, m.stdout, "{}", e.command);
    }
    // What both printed, so a change in both would still show.
    let all = eltr(&p.eltr.dir, ["test", "--all"], &vars);
    assert_eq!(all.code(), Some(1));
    assert!(all.stdout.contains("check fail two\n"));
    assert!(
        all.stdout
            .contains(&format!("checker:test-fails{} failure", ".".repeat(34)))
    );
    assert!(!all.stdout.contains("not-a-test"), "`report` is not a test");
    let none = eltr(&p.eltr.dir, ["test"], &vars);
    assert!(
        none.success()
            .stdout
            .contains("0 test(s) successful. 0 test(s) failed.")
    );
}

#[test]
fn test_of_an_unknown_plugin_is_a_clear_error() {
    let p = support::project("compat-manage");
    eltr(&p.dir, ["test", "nope"], &[]).clean_error(&["plugin 'nope' is not defined"]);
}

#[test]
fn job_list_orders_jobs_across_included_files_as_meltano() {
    let p = pair();
    for args in [
        &["job", "list"][..],
        &["job", "list", "--format", "json"][..],
    ] {
        let m = meltano(&p.meltano.dir, args, &[]);
        let e = eltr(&p.eltr.dir, args, &QUIET);
        assert_eq!(e.success().stdout, m.success().stdout, "{}", e.command);
    }
    let text = eltr(&p.eltr.dir, ["job", "list"], &QUIET).stdout;
    let order: Vec<&str> = text.lines().filter_map(|l| l.split(':').next()).collect();
    assert_eq!(order, ["zeta-job", "alpha-job", "middle-job", "beta-job"]);
}

#[test]
fn config_print_of_a_mapping_name_is_meltanos() {
    let p = pair();
    for extra in [&[][..], &["--extras"][..]] {
        let mut args = vec!["config", "print", "orders-enrich"];
        args.extend(extra);
        let m = meltano(&p.meltano.dir, &args, &[]);
        let e = eltr(&p.eltr.dir, &args, &QUIET);
        assert_eq!(e.success().stdout, m.success().stdout, "{}", e.command);
    }
    let doc = eltr(&p.eltr.dir, ["config", "print", "orders-enrich"], &QUIET).json();
    assert_eq!(doc["uppercase_field"], "name");
}

/// What a stand-in plugin of `compat-glue` wrote down, with the project folder as `ROOT`.
fn seen(p: &TempProject, file: &str) -> String {
    let text = std::fs::read_to_string(p.path(file))
        .unwrap_or_else(|e| panic!("the stand-in wrote no {file}: {e}"));
    rooted(&text, &p.dir)
}

#[test]
fn airflow_and_superset_get_the_files_and_variables_meltano_gives_them() {
    let (m, e) = (
        common::fixture("compat-glue"),
        common::fixture("compat-glue"),
    );
    for args in [
        &["invoke", "airflow", "dags", "list"][..],
        &["invoke", "superset", "run"][..],
    ] {
        meltano(&m.dir, args, &[]).success();
        eltr(&e.dir, args, &QUIET).success();
    }
    for file in [
        "airflow-seen.txt",
        "airflow-calls.txt",
        "superset-seen.txt",
        "superset-calls.txt",
    ] {
        assert_eq!(seen(&e, file), seen(&m, file), "{file}");
    }
    // What both produced, so a change in both would still show.
    let airflow = seen(&e, "airflow-seen.txt");
    assert!(airflow.contains("dags_folder = ROOT/orchestrate/dags\n"));
    assert!(airflow.contains("web_server_port = 8081\n"));
    assert!(airflow.contains("load_examples = False\n"));
    let superset = seen(&e, "superset-seen.txt");
    assert!(superset.contains("'ROW_LIMIT': 5000"));
    assert!(superset.contains("FLASK_APP=superset"));
    assert_eq!(seen(&e, "superset-calls.txt"), "db upgrade\ninit\n");
    // The generated files went with the run folder.
    let left = common::files_under(&e.path(".eltr/run"));
    assert!(
        left.iter()
            .all(|f| !f.ends_with("airflow.cfg") && !f.ends_with("superset_config.py")),
        "{left:?}"
    );
}

#[test]
fn a_failing_airflow_database_step_stops_the_invocation_with_meltanos_message() {
    let p = common::fixture("compat-glue");
    std::fs::write(p.path("fail-db-init"), "").unwrap();
    eltr(&p.dir, ["invoke", "airflow", "dags", "list"], &[]).clean_error(&[
        "Airflow metadata database could not be initialized",
        "db is locked",
    ]);
    assert!(!p.path("airflow-seen.txt").exists());
}

/// A folder holding a stand-in `docker` that writes its arguments and the environment file
/// it is given to `docker-seen.txt` in the folder it runs in, then exits 7.
fn fake_docker() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let script = "#!/bin/sh\n\
        echo \"argv: $*\" > docker-seen.txt\n\
        while [ $# -gt 0 ]; do\n\
          if [ \"$1\" = --env-file ]; then cat \"$2\" >> docker-seen.txt; fi\n\
          shift\n\
        done\n\
        exit 7\n";
    let path = dir.path().join("docker");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn invoke_containers_runs_the_command_spec_with_docker() {
    let p = common::fixture("compat-glue");
    let docker = fake_docker();
    let path = format!(
        "{}:{}",
        docker.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = eltr(
        &p.dir,
        ["invoke", "--containers", "boxed:serve"],
        &[("PATH", path.as_str())],
    );
    run.exits(7);
    let seen = seen(&p, "docker-seen.txt");
    let argv = seen.lines().next().unwrap();
    assert!(
        argv.starts_with("argv: run --rm --name meltano-boxed--serve-"),
        "{argv}"
    );
    for part in [
        "--entrypoint /bin/run",
        "-p 0.0.0.0:8080:80",
        "-v ROOT/data:/data",
        "example/boxed:1 serve --port 8080",
    ] {
        assert!(argv.contains(part), "{part} missing from {argv}");
    }
    assert!(
        !argv.contains("tok-123-secret"),
        "a secret on the command line: {argv}"
    );
    assert!(seen.contains("\nBOXED_TOKEN=tok-123-secret\n"), "{seen}");
    assert!(seen.contains("\nEXTRA=yes-it-is\n"), "{seen}");
    // The environment file went with the run folder.
    let left = common::files_under(&p.path(".eltr/run"));
    assert!(
        left.iter().all(|f| !f.ends_with("container.env")),
        "{left:?}"
    );
}

#[test]
fn invoke_containers_without_docker_or_podman_is_a_clear_error() {
    let p = common::fixture("compat-glue");
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().display().to_string();
    eltr(
        &p.dir,
        ["invoke", "--containers", "boxed:serve"],
        &[("PATH", path.as_str())],
    )
    .clean_error(&["needs `docker` or `podman` on PATH"]);
}
