//! Meltano projects run unchanged (issue 14): Meltano's variables, `el` / `elt`, `invoke`, plugin
//! `commands:`. Where the point is to do what Meltano does, the test runs the reference
//! Meltano 4.4.1 (`ELTR_TEST_MELTANO`, set by scripts/test.sh) on a copy of the same fixture and
//! compares; those tests fail rather than skip without it.

mod common;
#[path = "common/meltano.rs"]
mod reference;

use common::{Run, TempProject, eltr, fixture, golden_json};
use reference::{QUIET, meltano};
use serde_json::{Map, Value};
use std::path::Path;
use std::process::Command;

/// A fixture copied twice: one copy for Meltano, one for eltr.
struct Pair {
    meltano: TempProject,
    eltr: TempProject,
}

fn pair(name: &str) -> Pair {
    Pair {
        meltano: fixture(name),
        eltr: fixture(name),
    }
}

/// `text` with the project folder written as `ROOT`, so the two copies compare equal.
fn rooted(text: &str, root: &Path) -> String {
    text.replace(root.to_str().expect("UTF-8 temp path"), "ROOT")
}

/// A JSON value with the project folder written as `ROOT`.
fn rooted_json(v: &Value, root: &Path) -> Value {
    serde_json::from_str(&rooted(&v.to_string(), root)).expect("still JSON")
}

/// What `bin/dump-plugin` recorded for `role` in the project.
fn dump(p: &TempProject, role: &str) -> Value {
    rooted_json(&golden_json(&p.path(&format!("dump/{role}.json"))), &p.dir)
}

/// The variables only Meltano sets or that differ on purpose (README, Meltano
/// compatibility): its telemetry context and eltr's run id.
fn differs_on_purpose(name: &str) -> bool {
    matches!(name, "MELTANO_PARENT_CONTEXT_UUID" | "MELTANO_RUN_ID")
}

/// The process variables of `role` that name Meltano's family or a plugin's settings.
fn plugin_vars(dump: &Value) -> Map<String, Value> {
    dump["env"]
        .as_object()
        .expect("env object")
        .iter()
        .filter(|(k, _)| {
            [
                "MELTANO_",
                "TAP_VARS",
                "MAP_VARS",
                "TARGET_VARS",
                "UTIL_VARS",
            ]
            .iter()
            .any(|p| k.starts_with(p))
                && !differs_on_purpose(k)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Compares two maps key by key and lists every difference.
fn diff_maps(what: &str, meltano: &Map<String, Value>, ours: &Map<String, Value>) -> Vec<String> {
    let mut keys: Vec<&String> = meltano.keys().chain(ours.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| meltano.get(*k) != ours.get(*k))
        .map(|k| {
            format!(
                "{what} {k}: meltano {:?}, eltr {:?}",
                meltano.get(k),
                ours.get(k)
            )
        })
        .collect()
}

#[test]
fn meltano_variables_reach_configs_and_plugin_processes_as_in_meltano() {
    let p = pair("compat-vars");
    let words = ["run", "tap-vars", "vars-map", "target-vars"];
    meltano(&p.meltano.dir, &words, &[]).success();
    eltr(&p.eltr.dir, words, &QUIET).success();
    let mut problems = Vec::new();
    for role in ["tap", "mapper", "target"] {
        let (m, e) = (dump(&p.meltano, role), dump(&p.eltr, role));
        for file in ["config", "catalog"] {
            if m[file] != e[file] {
                problems.push(format!(
                    "{role} {file}: meltano {}, eltr {}",
                    m[file], e[file]
                ));
            }
        }
        problems.extend(diff_maps(role, &plugin_vars(&m), &plugin_vars(&e)));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The values the fixture expects, so a change in both tools would still show.
    let tap = dump(&p.eltr, "tap");
    assert_eq!(tap["config"]["path"], "ROOT/output");
    assert_eq!(tap["config"]["env_name"], "dev");
    assert_eq!(
        tap["config"]["database_uri"],
        "sqlite:///ROOT/.meltano/meltano.db"
    );
    let target = dump(&p.eltr, "target");
    assert_eq!(target["config"]["schema"], "raw_tap_vars_ns");
    assert_eq!(target["config"]["mapper"], "map-vars");
    assert_eq!(target["env"]["TARGET_VARS_CUSTOM_OUT"], "ROOT/out");
}

#[test]
fn state_backend_under_meltano_project_root_is_the_same_file_as_meltanos() {
    let p = pair("compat-vars");
    let words = ["run", "tap-vars", "vars-map", "target-vars"];
    meltano(&p.meltano.dir, &words, &[]).success();
    eltr(&p.eltr.dir, words, &QUIET).success();
    let file = "state-store/dev:tap-vars-to-target-vars/state.json";
    let theirs = std::fs::read(p.meltano.path(file)).expect("Meltano's state file");
    let ours = std::fs::read(p.eltr.path(file)).expect("eltr's state under the project root");
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs)
    );
}

#[test]
fn config_print_expands_meltano_variables_as_meltano_does() {
    let p = pair("compat-vars");
    for plugin in ["tap-vars", "target-vars", "vars-map", "util-vars"] {
        for extra in [&[][..], &["--extras"][..], &["--format", "env"][..]] {
            let mut args = vec!["--environment", "dev", "config", "print", plugin];
            args.extend(extra);
            let m = meltano(&p.meltano.dir, &args, &[]);
            m.success();
            let e = eltr(&p.eltr.dir, &args, &QUIET);
            e.success();
            assert_eq!(
                rooted(&e.stdout, &p.eltr.dir).trim_end(),
                rooted(&m.stdout, &p.meltano.dir).trim_end(),
                "{}",
                e.command
            );
        }
    }
}

#[test]
fn utilities_and_mappers_export_meltano_verbs() {
    let p = fixture("compat-vars");
    let util = eltr(
        &p.dir,
        ["config", "print", "util-vars", "--format", "env"],
        &[],
    );
    util.success();
    assert!(
        util.stdout.contains("MELTANO_UTILIZE_GREETING='hello'"),
        "{}",
        util.stdout
    );
    let map = eltr(
        &p.dir,
        ["config", "print", "vars-map", "--format", "env"],
        &[],
    );
    map.success();
    assert!(
        map.stdout.contains("MELTANO_MAP_STREAM_MAPS='{}'"),
        "{}",
        map.stdout
    );
}

/// `el` / `elt` in both tools with the same arguments; each must succeed.
fn el_both(p: &Pair, args: &[&str]) -> (Run, Run) {
    let m = meltano(&p.meltano.dir, args, &[]);
    m.success();
    let e = eltr(&p.eltr.dir, args, &QUIET);
    e.success();
    (m, e)
}

/// The stored state of `id` in the fixture's file backend, as text.
fn stored(p: &TempProject, id: &str) -> String {
    let path = p.path(&format!("state-store/{id}/state.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn el_keeps_the_state_id_as_given_and_hands_the_plugins_what_meltano_does() {
    let p = pair("compat-vars");
    let args = [
        "el",
        "tap-vars",
        "target-vars",
        "--state-id",
        "nightly-items",
        "--select",
        "items",
        "--exclude",
        "other",
    ];
    let _ = el_both(&p, &args);
    // Neither the environment nor a suffix joins an `el` state id.
    assert_eq!(
        stored(&p.eltr, "nightly-items"),
        stored(&p.meltano, "nightly-items")
    );
    for role in ["tap", "target"] {
        let (m, e) = (dump(&p.meltano, role), dump(&p.eltr, role));
        for file in ["config", "catalog", "state"] {
            assert_eq!(e[file], m[file], "{role} {file}");
        }
    }
    // The second run resumes from the first one's bookmark, in both.
    let _ = el_both(&p, &args);
    assert_eq!(
        dump(&p.eltr, "tap")["state"],
        dump(&p.meltano, "tap")["state"]
    );
    assert_eq!(dump(&p.eltr, "tap")["state"]["bookmarks"]["items"]["id"], 1);
    assert_eq!(
        stored(&p.eltr, "nightly-items"),
        stored(&p.meltano, "nightly-items")
    );
}

#[test]
fn el_without_a_state_id_uses_an_ephemeral_one_like_meltano() {
    let p = pair("compat-vars");
    let (m, e) = el_both(&p, &["el", "tap-vars", "target-vars"]);
    let ids = |p: &TempProject| -> Vec<String> {
        std::fs::read_dir(p.path("state-store"))
            .expect("state store")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    };
    for (ids, run) in [(ids(&p.meltano), &m), (ids(&p.eltr), &e)] {
        assert_eq!(ids.len(), 1, "{ids:?}");
        let id = &ids[0];
        // `2026-12-06T222220--tap-vars--target-vars`
        let (stamp, rest) = id.split_at(17);
        assert_eq!(rest, "--tap-vars--target-vars", "{id}");
        let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
        assert_eq!(digits.len(), 14, "{id}");
        assert_eq!(&stamp[4..5], "-");
        assert_eq!(&stamp[10..11], "T");
        assert!(
            run.stderr
                .contains(&format!("Using an ephemeral state ID '{id}'")),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn el_dump_prints_the_files_meltano_prints() {
    let p = pair("compat-vars");
    let _ = el_both(
        &p,
        &["el", "tap-vars", "target-vars", "--state-id", "dumped"],
    );
    for what in ["catalog", "state", "extractor-config", "loader-config"] {
        let dump = format!("--dump={what}");
        let args = [
            "el",
            "tap-vars",
            "target-vars",
            "--state-id",
            "dumped",
            &dump,
        ];
        let (m, e) = el_both(&p, &args);
        assert_eq!(
            rooted(&e.stdout, &p.eltr.dir),
            rooted(&m.stdout, &p.meltano.dir),
            "{}",
            e.command
        );
    }
    // No plugin ran for a dump: the state is the first run's.
    assert_eq!(stored(&p.eltr, "dumped"), stored(&p.meltano, "dumped"));
    let missing = eltr(
        &p.eltr.dir,
        [
            "el",
            "tap-vars",
            "target-vars",
            "--state-id",
            "never-ran",
            "--dump=state",
        ],
        &QUIET,
    );
    missing
        .failure()
        .stderr_has("could not find state file for this pipeline");
}

#[test]
fn el_catalog_and_state_files_replace_discovery_and_the_stored_state() {
    let p = pair("compat-vars");
    let catalog = r#"{"streams": [{"tap_stream_id": "other", "stream": "other",
        "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
        "metadata": [{"breadcrumb": [], "metadata": {"inclusion": "available"}}]}]}"#;
    let state = r#"{"bookmarks": {"items": {"id": 41}}}"#;
    for dir in [&p.meltano, &p.eltr] {
        std::fs::write(dir.path("given-catalog.json"), catalog).unwrap();
        std::fs::write(dir.path("given-state.json"), state).unwrap();
    }
    let args = [
        "el",
        "tap-vars",
        "target-vars",
        "--state-id",
        "given",
        "--catalog",
        "given-catalog.json",
        "--state",
        "given-state.json",
    ];
    let _ = el_both(&p, &args);
    let (m, e) = (dump(&p.meltano, "tap"), dump(&p.eltr, "tap"));
    assert_eq!(e["catalog"], m["catalog"]);
    assert_eq!(e["state"], m["state"]);
    assert_eq!(e["state"]["bookmarks"]["items"]["id"], 41);
    assert_eq!(stored(&p.eltr, "given"), stored(&p.meltano, "given"));
}

#[test]
fn el_and_run_of_the_same_pipeline_leave_the_same_state() {
    let p = fixture("compat-vars");
    let q = fixture("compat-vars");
    let id = "dev:tap-vars-to-target-vars";
    eltr(&p.dir, ["run", "tap-vars", "target-vars"], &QUIET).success();
    eltr(
        &q.dir,
        ["el", "tap-vars", "target-vars", "--state-id", id],
        &QUIET,
    )
    .success();
    assert_eq!(stored(&p, id), stored(&q, id));
    // And `el` resumes from what `run` stored.
    eltr(
        &p.dir,
        ["el", "tap-vars", "target-vars", "--state-id", id],
        &QUIET,
    )
    .success();
    assert_eq!(dump(&p, "tap")["state"]["bookmarks"]["items"]["id"], 1);
}

#[test]
fn elt_transform_needs_the_dbt_transformer_and_merge_state_excludes_state_strategy() {
    let p = fixture("compat-vars");
    let run = eltr(
        &p.dir,
        [
            "elt",
            "tap-vars",
            "target-vars",
            "--state-id",
            "x",
            "--transform",
            "run",
        ],
        &QUIET,
    );
    run.failure().stderr_has("transformer 'dbt' not found");
    let run = eltr(
        &p.dir,
        [
            "el",
            "tap-vars",
            "target-vars",
            "--merge-state",
            "--state-strategy",
            "overwrite",
        ],
        &QUIET,
    );
    run.failure()
        .stderr_has("Cannot use both --merge-state and --state-strategy");
}

/// `cmd` in both tools (same words), each stdout with the project folder as `ROOT`, and
/// whether each succeeded.
fn both(p: &Pair, args: &[&str]) -> ((String, bool), (String, bool)) {
    let m = meltano(&p.meltano.dir, args, &[]);
    let e = eltr(&p.eltr.dir, args, &QUIET);
    (
        (rooted(&m.stdout, &p.meltano.dir), m.status.success()),
        (rooted(&e.stdout, &p.eltr.dir), e.status.success()),
    )
}

#[test]
fn invoke_hands_every_word_after_the_plugin_to_the_plugin() {
    let p = fixture("compat-vars");
    let run = eltr(
        &p.dir,
        ["invoke", "tap-vars", "--help", "--version", "-x"],
        &QUIET,
    );
    run.success();
    let argv = dump(&p, "tap")["argv"].clone();
    let argv: Vec<&str> = argv
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(argv[0], "--config");
    assert_eq!(&argv[2..], ["--help", "--version", "-x"]);
    // Before the plugin's name, `--help` is eltr's.
    let help = eltr(&p.dir, ["invoke", "--help"], &QUIET);
    help.success();
    assert!(help.stdout.contains("--list-commands"), "{}", help.stdout);
}

#[test]
fn invoke_options_print_what_meltano_prints() {
    let p = pair("compat-vars");
    for args in [
        &["invoke", "--list-commands", "util-vars"][..],
        &["invoke", "--list-commands", "target-vars"][..],
        &["invoke", "--dump=config", "tap-vars"][..],
        &["invoke", "--dump=catalog", "tap-vars"][..],
        &[
            "invoke",
            "--print-var",
            "MELTANO_PROJECT_ROOT",
            "--print-var",
            "NOT_SET",
            "--print-var",
            "UTIL_VARS_GREETING",
            "util-vars:bare",
        ][..],
    ] {
        let (m, e) = both(&p, args);
        assert_eq!(e, m, "eltr {}", args.join(" "));
        assert!(e.1, "eltr {} failed", args.join(" "));
    }
}

#[test]
fn plugin_commands_run_as_meltano_runs_them() {
    let p = pair("compat-vars");
    // No `--config` is prepended; `$VAR`s expand per word; a command's own executable.
    for (args, role) in [
        (&["invoke", "util-vars:hello"][..], "util"),
        (&["invoke", "util-vars:other", "extra"][..], "other"),
        (&["invoke", "util-vars:bare"][..], "util"),
        (&["invoke", "tap-vars:about"][..], "tap"),
    ] {
        let (m, e) = both(&p, args);
        assert_eq!(e, m, "eltr {}", args.join(" "));
        let (md, ed) = (dump(&p.meltano, role), dump(&p.eltr, role));
        assert_eq!(ed["argv"], md["argv"], "{}", args.join(" "));
        assert_eq!(ed["config"], Value::Null);
        let diffs = diff_maps(role, &plugin_vars(&md), &plugin_vars(&ed));
        assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    }
    assert_eq!(
        dump(&p.eltr, "util")["argv"],
        serde_json::json!(["plain-arg"])
    );
    // An argument that expands to nothing, and an unknown command, fail in both.
    for (args, message) in [
        (
            &["invoke", "util-vars:broken"][..],
            "referenced unset environment variable '$NOT_SET_ANYWHERE'",
        ),
        (
            &["invoke", "util-vars:nope"][..],
            "supports the following commands: hello, other, bare, broken",
        ),
    ] {
        let m = meltano(&p.meltano.dir, args, &[]);
        m.failure();
        eltr(&p.eltr.dir, args, &QUIET)
            .failure()
            .stderr_has(message);
    }
}

#[test]
fn run_and_jobs_run_plugin_commands_as_meltano_does() {
    let p = pair("compat-vars");
    let (m, e) = both(&p, &["run", "greet"]);
    assert!(m.1 && e.1, "meltano {m:?}\neltr {e:?}");
    assert_eq!(
        dump(&p.eltr, "util")["argv"],
        dump(&p.meltano, "util")["argv"]
    );
    let id = "dev:tap-vars-to-target-vars";
    assert_eq!(stored(&p.eltr, id), stored(&p.meltano, id));
    // The command's stdout is run output (stderr), not eltr's stdout.
    let run = eltr(&p.eltr.dir, ["run", "util-vars:hello"], &QUIET);
    run.success().stderr_has("args: hello");
    assert!(!run.stdout.contains("args: hello"), "{}", run.stdout);
}

/// What installing from PyPI needs of the test process's environment (certificates, proxies,
/// pip's and uv's settings, eltr's uv), for both tools.
fn network_vars() -> Vec<(String, String)> {
    let mut vars = common::network_vars();
    vars.extend(std::env::var("ELTR_UV").map(|uv| ("ELTR_UV".to_string(), uv)));
    vars
}

#[test]
fn sqlfluff_from_pypi_lints_as_under_meltano() {
    let p = pair("compat-sqlfluff");
    let net = network_vars();
    let vars: Vec<(&str, &str)> = net.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    for args in [
        &["invoke", "sqlfluff:lint"][..],
        &["run", "sqlfluff:lint"][..],
    ] {
        // Meltano installs the plugin on first use; so does eltr.
        let m = meltano(&p.meltano.dir, args, &vars);
        let e = eltr(&p.eltr.dir, args, &vars);
        assert_eq!(
            e.status.code(),
            m.status.code(),
            "{}\n{}",
            e.stderr,
            m.stderr
        );
        assert_eq!(
            rooted(&e.stdout, &p.eltr.dir),
            rooted(&m.stdout, &p.meltano.dir),
            "{}",
            e.command
        );
    }
    let lint = eltr(&p.eltr.dir, ["invoke", "sqlfluff:lint"], &vars);
    let bad = format!("== [{}] FAIL", p.eltr.path("models/bad.sql").display());
    assert!(lint.stdout.contains(&bad), "{}", lint.stdout);
    assert!(!lint.stdout.contains("good.sql"), "{}", lint.stdout);
    let env = eltr(
        &p.eltr.dir,
        ["config", "print", "sqlfluff", "--format", "env"],
        &vars,
    );
    env.success();
    assert!(
        env.stdout
            .starts_with("ELTR_TEST_SQLFLUFF_DIALECT='ansi'\n"),
        "{}",
        env.stdout
    );
}

/// A throwaway PostgreSQL cluster (Debian's server, trust authentication, fsync off) on a free
/// port, stopped and removed when dropped. As root (CI) it runs as Debian's `postgres` user,
/// since PostgreSQL refuses to run as root.
struct Postgres {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    port: u16,
}

impl Postgres {
    fn start() -> Postgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").is_file())
            .max()
            .expect("no PostgreSQL server under /usr/lib/postgresql (Debian package postgresql)");
        let dir = tempfile::tempdir().expect("temp dir");
        let root = is_root();
        if root {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let pg = Postgres { dir, bin, port };
        let data = pg.dir.path().join("data");
        pg.run(&[
            "initdb",
            "-D",
            data.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]);
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            pg.dir.path().display()
        );
        let log = pg.dir.path().join("postgres.log");
        pg.run(&[
            "pg_ctl",
            "-D",
            data.to_str().unwrap(),
            "-l",
            log.to_str().unwrap(),
            "-w",
            "-t",
            "60",
            "start",
            "-o",
            &opts,
        ]);
        pg
    }

    /// Runs one of the server's programs, as `postgres` when this process is root.
    fn run(&self, args: &[&str]) {
        let program = self.bin.join(args[0]);
        let mut cmd = match is_root() {
            true => {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(&program);
                c
            }
            false => Command::new(&program),
        };
        let out = cmd
            .args(&args[1..])
            .output()
            .expect("run a PostgreSQL program");
        assert!(
            out.status.success(),
            "{} failed: {}{}",
            args[0],
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let data = data.to_str().unwrap_or_default().to_string();
        let bin = self.bin.join("pg_ctl");
        let mut cmd = match is_root() {
            true => {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(bin);
                c
            }
            false => Command::new(bin),
        };
        let _ = cmd.args(["-D", &data, "-m", "immediate", "stop"]).output();
    }
}

/// Whether this test process runs as root (`id -u`; no libc call needed).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[test]
fn dbt_postgres_runs_with_meltanos_profiles_dir_env_and_project_dir() {
    let pg = Postgres::start();
    let p = pair("compat-dbt");
    let port = pg.port.to_string();
    let mut net = network_vars();
    net.push(("ELTR_TEST_PG_PORT".into(), port.clone()));
    let vars: Vec<(&str, &str)> = net.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // What dbt is given: its profiles dir (the setting's own `env:` name, its default under
    // $MELTANO_PROJECT_ROOT), the connection settings, Meltano's variables.
    let names = [
        "DBT_PROFILES_DIR",
        "DBT_POSTGRES_PROJECT_DIR",
        "DBT_POSTGRES_HOST",
        "DBT_POSTGRES_PORT",
        "DBT_POSTGRES_USER",
        "DBT_POSTGRES_DBNAME",
        "DBT_POSTGRES_SCHEMA",
        "MELTANO_TRANSFORM_PROFILES_DIR",
        "MELTANO_TRANSFORMER_NAME",
        "MELTANO_TRANSFORMER_NAMESPACE",
        "MELTANO_TRANSFORMER_VARIANT",
    ];
    let mut args = vec!["invoke"];
    for n in names {
        args.extend(["--print-var", n]);
    }
    args.push("dbt-postgres:debug");
    let printed = |run: &Run, root: &Path| -> Vec<String> {
        rooted(&run.stdout, root)
            .lines()
            .take(names.len())
            .map(String::from)
            .collect()
    };
    let m = meltano(&p.meltano.dir, &args, &vars);
    let e = eltr(&p.eltr.dir, &args, &vars);
    assert!(m.status.success(), "{}\n{}", m.stdout, m.stderr);
    assert!(e.status.success(), "{}\n{}", e.stdout, e.stderr);
    assert_eq!(printed(&e, &p.eltr.dir), printed(&m, &p.meltano.dir));
    assert_eq!(
        printed(&e, &p.eltr.dir)[0],
        "DBT_PROFILES_DIR=ROOT/transform/profiles/postgres"
    );
    // dbt finds dbt_project.yml because it runs in `project_dir`, as under Meltano.
    assert!(e.stdout.contains("All checks passed!"), "{}", e.stdout);
    e.stderr_has("requires files 'files-dbt-postgres'");
    // A job of two commands: the model is built, then its tests pass against it.
    for tool in ["meltano", "eltr"] {
        let run = match tool {
            "meltano" => meltano(&p.meltano.dir, &["run", "transform"], &vars),
            _ => eltr(&p.eltr.dir, ["run", "transform"], &vars),
        };
        assert!(
            run.status.success(),
            "{tool}: {}\n{}",
            run.stdout,
            run.stderr
        );
    }
    let test = eltr(&p.eltr.dir, ["invoke", "dbt-postgres:test"], &vars);
    test.success();
    assert!(test.stdout.contains("PASS=2"), "{}", test.stdout);
}

#[test]
fn meltano_default_environment_and_null_pick_the_environment_as_meltano_does() {
    // `MELTANO_DEFAULT_ENVIRONMENT` overrides the project's `default_environment`.
    let p = pair("compat-vars");
    let vars = [("MELTANO_DEFAULT_ENVIRONMENT", "prod")];
    let words = ["run", "tap-vars", "target-vars"];
    meltano(&p.meltano.dir, &words, &vars).success();
    eltr(&p.eltr.dir, words, &[QUIET[0], QUIET[1], vars[0]]).success();
    let id = "prod:tap-vars-to-target-vars";
    assert_eq!(stored(&p.eltr, id), stored(&p.meltano, id));
    let (m, e) = (dump(&p.meltano, "tap"), dump(&p.eltr, "tap"));
    assert_eq!(e["config"], m["config"]);
    assert_eq!(e["config"]["dev_out"], "ROOT/prod-out");
    // `MELTANO_ENVIRONMENT=null` (any case) selects none, whatever the default. Meltano's
    // `run` then refuses to start (eltr runs without one, DESIGN §5), so `el` shows it.
    for env in ["null", "NULL"] {
        let p = pair("compat-vars");
        let vars = [
            ("MELTANO_ENVIRONMENT", env),
            ("MELTANO_DEFAULT_ENVIRONMENT", "prod"),
        ];
        let words = ["el", "tap-vars", "target-vars", "--state-id", "no-env"];
        meltano(&p.meltano.dir, &words, &vars).success();
        eltr(&p.eltr.dir, words, &[QUIET[0], QUIET[1], vars[0], vars[1]]).success();
        let (m, e) = (dump(&p.meltano, "tap"), dump(&p.eltr, "tap"));
        assert_eq!(e["config"], m["config"], "{env}");
        assert_eq!(e["config"]["env_name"], Value::Null, "{env}");
        assert_eq!(e["config"].get("dev_out"), None, "{env}");
    }
}

#[test]
fn log_levels_take_meltanos_names() {
    let p = fixture("compat-vars");
    let words = ["run", "tap-vars", "target-vars"];
    let run = |level: &str| {
        let mut args = vec!["--log-level", level];
        args.extend(words);
        eltr(&p.dir, args, &QUIET)
    };
    let info = run("info");
    info.success().stderr_has("INFO");
    let warning = run("warning");
    warning.success();
    assert!(!warning.stderr.contains("INFO"), "{}", warning.stderr);
    let disabled = run("disabled");
    disabled.success();
    assert!(!disabled.stderr.contains(" WARN "), "{}", disabled.stderr);
    run("critical").success();
    run("loud")
        .failure()
        .stderr_has("expected debug, info, warning");
    // Meltano's variable too.
    let var = eltr(
        &p.dir,
        words,
        &[QUIET[0], QUIET[1], ("MELTANO_CLI_LOG_LEVEL", "warning")],
    );
    var.success();
    assert!(!var.stderr.contains("INFO"), "{}", var.stderr);
}

/// Every stderr line of `run` parsed as JSON (panics naming the first that is not).
fn json_lines(run: &Run) -> Vec<Value> {
    run.stderr
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\nstderr:\n{}", run.stderr))
        })
        .collect()
}

#[test]
fn json_logs_make_every_stderr_line_one_json_object() {
    let p = fixture("compat-vars");
    let ok = eltr(
        &p.dir,
        [
            "--log-format",
            "json",
            "run",
            "tap-vars",
            "vars-map",
            "target-vars",
            "util-vars:hello",
        ],
        &QUIET,
    );
    ok.success();
    let lines = json_lines(&ok);
    let summary = lines
        .iter()
        .find(|l| l.get("summary").is_some())
        .expect("a summary line");
    assert_eq!(summary["summary"]["states_confirmed"], 1);
    assert!(
        lines.iter().any(|l| l["plugin"] == "util-vars:hello"
            && l["message"].as_str().unwrap().starts_with("args: hello")),
        "{}",
        ok.stderr
    );
    // A failure, and Meltano's spelling of the flag through its variable.
    let failed = eltr(
        &p.dir,
        ["run", "util-vars:broken"],
        &[QUIET[0], QUIET[1], ("MELTANO_CLI_LOG_FORMAT", "json")],
    );
    failed.failure();
    let lines = json_lines(&failed);
    assert_eq!(lines.last().unwrap()["level"], "error");
    // Meltano's text formats are eltr's text lines.
    eltr(
        &p.dir,
        ["--log-format", "colored", "config", "print", "tap-vars"],
        &QUIET,
    )
    .success();
}

#[test]
fn a_python_log_config_sets_level_and_json() {
    let p = fixture("compat-vars");
    std::fs::write(
        p.path("logging.yaml"),
        "version: 1\nformatters:\n  structured:\n    (): meltano.core.logging.json_formatter\nhandlers:\n  console:\n    class: logging.StreamHandler\n    formatter: structured\nroot:\n  level: WARNING\n  handlers: [console]\n",
    )
    .unwrap();
    let run = eltr(
        &p.dir,
        [
            "--log-config",
            "logging.yaml",
            "el",
            "tap-vars",
            "target-vars",
        ],
        &QUIET,
    );
    run.success();
    let lines = json_lines(&run);
    // The ephemeral state id warning passes the WARNING level; info lines do not.
    assert!(lines.iter().any(|l| l["level"] == "warn"), "{}", run.stderr);
    assert!(
        !lines
            .iter()
            .any(|l| l["level"] == "info" && l.get("summary").is_none()),
        "{}",
        run.stderr
    );
}

#[test]
fn cwd_runs_as_if_started_in_the_folder() {
    let p = fixture("compat-vars");
    let dir = p.dir.to_str().unwrap();
    let run = eltr(
        p.tmp(),
        ["--cwd", dir, "config", "print", "tap-vars"],
        &QUIET,
    );
    run.success();
    assert_eq!(rooted_json(&run.json(), &p.dir)["path"], "ROOT/output");
}

/// Runs `eltr ARGS` in `cwd` with `input` on its stdin (the tests' other runs get none).
fn eltr_with_input(cwd: &Path, args: &[&str], input: &str) -> Run {
    use std::io::Write;
    let mut cmd = Command::new(common::eltr_bin());
    cmd.current_dir(cwd).args(args).env_clear();
    for keep in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(keep) {
            cmd.env(keep, v);
        }
    }
    let mut child = cmd
        .envs(QUIET)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start eltr");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("eltr ran");
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        command: format!("eltr {} <<< {input:?}", args.join(" ")),
    }
}

#[test]
fn destructive_state_commands_ask_first_and_refuse_without_an_answer() {
    let p = pair("compat-vars");
    let words = ["el", "tap-vars", "target-vars", "--state-id", "kept"];
    let _ = el_both(&p, &words);
    let before = stored(&p.eltr, "kept");
    for (args, question) in [
        (
            &["state", "set", "kept", r#"{"singer_state": {}}"#][..],
            "This will overwrite the state's current value. Continue? [y/N]:",
        ),
        (
            &["state", "copy", "other", "kept"][..],
            "This will overwrite state for the destination. Continue? [y/N]:",
        ),
        (
            &["state", "move", "kept", "elsewhere"][..],
            "This will clear the source state and overwrite destination state. Continue? [y/N]:",
        ),
        (
            &["state", "clear", "kept"][..],
            "This will clear state for the job(s). Continue? [y/N]:",
        ),
    ] {
        // No terminal and nothing piped: both tools refuse, and nothing changes.
        let m = meltano(&p.meltano.dir, args, &[]);
        assert_eq!(m.status.code(), Some(1), "{}", m.stderr);
        let e = eltr(&p.eltr.dir, args, &QUIET);
        assert_eq!(e.status.code(), Some(1), "{}", e.stderr);
        e.stderr_has(question).stderr_has("Aborted!");
        assert!(
            e.stdout.is_empty(),
            "the question goes to stderr: {}",
            e.stdout
        );
        assert_eq!(stored(&p.eltr, "kept"), before);
        // "no" refuses too.
        let no = eltr_with_input(&p.eltr.dir, args, "n\n");
        assert_eq!(no.status.code(), Some(1), "{}", no.stderr);
        assert_eq!(stored(&p.eltr, "kept"), before);
    }
    // "y" goes on; `--force` does not ask.
    let yes = eltr_with_input(&p.eltr.dir, &["state", "copy", "kept", "copied"], "y\n");
    yes.success();
    assert_eq!(stored(&p.eltr, "copied"), before);
    let forced = eltr(&p.eltr.dir, ["state", "clear", "--force", "copied"], &QUIET);
    forced.success();
    assert!(!forced.stderr.contains("Continue?"), "{}", forced.stderr);
    assert!(!p.eltr.path("state-store/copied/state.json").exists());
    // `merge` does not ask, in Meltano either.
    eltr(
        &p.eltr.dir,
        ["state", "merge", "kept", r#"{"singer_state": {"x": 1}}"#],
        &QUIET,
    )
    .success();
}

#[test]
fn run_reads_meltanos_run_id_and_state_strategy_variables() {
    let p = fixture("compat-vars");
    let id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    let vars = [
        QUIET[0],
        QUIET[1],
        ("MELTANO_RUN_ID", id),
        ("MELTANO_RUN_STATE_STRATEGY", "merge"),
    ];
    let words = [
        "run",
        "--dry-run",
        "--format",
        "json",
        "tap-vars",
        "target-vars",
    ];
    let plan = eltr(&p.dir, words, &vars);
    plan.success();
    let plan = plan.json();
    assert_eq!(plan["run_id"], id);
    assert_eq!(plan["blocks"][0]["state"]["strategy"], "merge");
    let bad = eltr(&p.dir, words, &[("MELTANO_RUN_STATE_STRATEGY", "sideways")]);
    bad.failure().stderr_has("MELTANO_RUN_STATE_STRATEGY");
}
