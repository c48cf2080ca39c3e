//! `eltr schema`: a draft-07 JSON Schema that accepts every project file eltr's examples and
//! fixtures hold, rejects broken ones where the editor can see the problem, and knows every key
//! the project model reads.
//!
//! Files are validated with the `jsonschema` crate after YAML → JSON through serde_norway,
//! the parser eltr reads projects with, and opened in the YAML language server of VS Code's
//! YAML extension, the editor support the schema is for.

mod common;

use common::{eltr, fixture_source};
use eltr::project::model::{
    EXTRA_KEYS, EnvironmentConfig, EnvironmentDef, JobDef, MappingDef, PluginDef, PluginType,
    ProjectFile, ScheduleDef, SettingDef,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The schema `eltr schema` prints.
fn schema() -> Value {
    let run = eltr(Path::new(env!("CARGO_MANIFEST_DIR")), ["schema"], &[]);
    run.success();
    run.json()
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::meta::validate(schema).expect("a valid draft-07 schema");
    jsonschema::draft7::new(schema).expect("the schema compiles")
}

/// What validating one file gave.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Valid,
    /// serde_norway refused the text (syntax, encoding, duplicate keys…): no editor schema
    /// can see these, eltr's own errors do.
    NotYaml,
    /// The schema refused it; the JSON pointers of the places it named.
    Rejected(Vec<String>),
}

/// Reads a project file as eltr does (blank text is an empty project) and validates it.
fn outcome(v: &jsonschema::Validator, path: &Path) -> Outcome {
    let bytes = std::fs::read(path).expect("read the file");
    let Ok(text) = String::from_utf8(bytes) else {
        return Outcome::NotYaml;
    };
    let blank = text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
    let doc: Value = match blank {
        true => serde_json::json!({}),
        false => match serde_norway::from_str(&text) {
            Ok(doc) => doc,
            Err(_) => return Outcome::NotYaml,
        },
    };
    let places: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| e.instance_path().to_string())
        .collect();
    match places.is_empty() {
        true => Outcome::Valid,
        false => Outcome::Rejected(places),
    }
}

/// Every `.yml` under `dir`, by path relative to the repository.
fn yml_files(dir: &Path, repo: &Path, out: &mut Vec<PathBuf>) {
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.expect("walk the fixtures");
        let path = entry.path();
        if entry.file_type().is_file() && path.extension().is_some_and(|e| e == "yml") {
            out.push(
                path.strip_prefix(repo)
                    .expect("inside the repo")
                    .to_path_buf(),
            );
        }
    }
}

/// YAML files under the fixtures that are not project files, with why.
const NOT_PROJECT_FILES: &[(&str, &str)] = &[(
    "tests/fixtures/compat-dbt/transform/",
    "dbt's own project, profiles and model files, run by the dbt plugin",
)];

/// Fixture project files that are broken on purpose, what the schema test sees in each, and
/// why. Every other project file must be valid.
#[rustfmt::skip]
const DELIBERATELY_INVALID: &[(&str, Expected, &str)] = &[
    ("bad-input/yaml/alias-bomb/meltano.yml", Expected::NotYaml, "serde_norway refuses the alias bomb"),
    ("compat-list/meltano.yml", Expected::RejectedAt("/plugins/extractors/0/log_parser"), "config list's corner cases: a log_parser from an unset variable (Meltano's schema too allows only singer-sdk), custom extras (ext_note; package_name and vars on a transformer) that Meltano lists and the schema flags as likely typos"),
    // A duplicate key is the YAML parser's to flag (editors do, and so does eltr); once in JSON
    // the last value stands, so the schema sees a valid file, or here a wrong `version`.
    ("bad-input/yaml/duplicate-key-in-config/meltano.yml", Expected::Unseen, "duplicate key"),
    ("bad-input/yaml/duplicate-key-in-plugin/meltano.yml", Expected::Unseen, "duplicate key"),
    ("bad-input/yaml/duplicate-key-top-level/meltano.yml", Expected::RejectedAt("/version"), "duplicate key, the last says version 2"),
    ("bad-input/yaml/include-binary/data/program.yml", Expected::NotYaml, "binary, not UTF-8"),
    ("bad-input/yaml/include-non-utf8/plugins/latin1.yml", Expected::NotYaml, "Latin-1 bytes"),
    ("bad-input/yaml/include-syntax-error/plugins/broken.yml", Expected::NotYaml, "syntax error"),
    ("bad-input/yaml/multiple-documents/meltano.yml", Expected::NotYaml, "two documents"),
    ("bad-input/yaml/non-utf8/meltano.yml", Expected::NotYaml, "not UTF-8"),
    ("bad-input/yaml/nul-byte/meltano.yml", Expected::NotYaml, "a NUL byte"),
    ("bad-input/yaml/syntax-bad-indentation/meltano.yml", Expected::NotYaml, "syntax error"),
    ("bad-input/yaml/syntax-unclosed-flow/meltano.yml", Expected::NotYaml, "syntax error"),
    ("bad-input/yaml/syntax-undefined-alias/meltano.yml", Expected::NotYaml, "syntax error"),
    ("bad-input/yaml/tabs-in-plugin/meltano.yml", Expected::NotYaml, "tab indentation"),
    ("bad-input/yaml/tabs-indentation/meltano.yml", Expected::NotYaml, "tab indentation"),
    ("errors/yaml-syntax/plugins/broken.yml", Expected::NotYaml, "syntax error"),
    ("bad-input/yaml/missing-plugin-name/meltano.yml", Expected::RejectedAt("/plugins/loaders/0"), "a plugin without a name"),
    ("bad-input/yaml/type-environment-name-list/meltano.yml", Expected::RejectedAt("/environments/0/name"), "a list for a name"),
    ("bad-input/yaml/type-extractors-string/meltano.yml", Expected::RejectedAt("/plugins/extractors"), "a string for a plugin list"),
    ("bad-input/yaml/type-include-paths-integer/meltano.yml", Expected::RejectedAt("/include_paths"), "a number for a list"),
    ("bad-input/yaml/type-job-tasks-integer/meltano.yml", Expected::RejectedAt("/jobs/0/tasks"), "a number for tasks"),
    ("bad-input/yaml/type-plugin-config-list/meltano.yml", Expected::RejectedAt("/plugins/extractors/0/config"), "a list for config"),
    ("bad-input/yaml/type-plugin-entry-null/meltano.yml", Expected::RejectedAt("/plugins/extractors/0"), "a null plugin"),
    ("bad-input/yaml/type-plugins-integer/meltano.yml", Expected::RejectedAt("/plugins"), "a number for plugins"),
    ("bad-input/yaml/type-root-is-a-list/meltano.yml", Expected::RejectedAt(""), "a list for the whole file"),
    ("bad-input/yaml/unknown-plugin-type/meltano.yml", Expected::RejectedAt("/plugins"), "plugin type 'widgets'"),
];

#[derive(Debug, Clone, Copy)]
enum Expected {
    NotYaml,
    /// Broken in a way no schema can see (eltr's own error names it): valid here.
    Unseen,
    /// Rejected, naming this place (a JSON pointer) among others.
    RejectedAt(&'static str),
}

#[test]
fn the_example_project_and_every_fixture_project_file_validate_or_fail_as_listed() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let v = validator(&schema());
    let mut files = Vec::new();
    yml_files(&repo.join("example-project"), repo, &mut files);
    yml_files(&fixture_source(""), repo, &mut files);
    let listed: BTreeMap<String, Expected> = DELIBERATELY_INVALID
        .iter()
        .map(|(f, e, _)| (format!("tests/fixtures/{f}"), *e))
        .collect();
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in &files {
        let name = file.to_string_lossy().to_string();
        if NOT_PROJECT_FILES.iter().any(|(p, _)| name.starts_with(p)) {
            continue;
        }
        checked += 1;
        let got = outcome(&v, &repo.join(file));
        let fine = match (listed.get(&name), &got) {
            (None, Outcome::Valid) => true,
            (Some(Expected::NotYaml), Outcome::NotYaml) => true,
            (Some(Expected::Unseen), Outcome::Valid) => true,
            (Some(Expected::RejectedAt(at)), Outcome::Rejected(places)) => {
                places.iter().any(|p| p == at)
            }
            _ => false,
        };
        if !fine {
            problems.push(format!(
                "{name}: expected {:?}, got {got:?}",
                listed.get(&name)
            ));
        }
    }
    for name in listed.keys() {
        if !files.iter().any(|f| f.to_string_lossy() == *name) {
            problems.push(format!("{name}: listed as invalid but not found"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        checked > DELIBERATELY_INVALID.len(),
        "valid files were checked too"
    );
}

/// A broken project file, and where the schema must point.
fn rejects(v: &jsonschema::Validator, yaml: &str, at: &str) {
    let doc: Value = serde_norway::from_str(yaml).expect("YAML");
    let places: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| e.instance_path().to_string())
        .collect();
    assert!(
        places.iter().any(|p| p == at),
        "expected an error at '{at}' for:\n{yaml}\ngot {places:?}"
    );
}

#[test]
fn broken_project_files_are_rejected_where_the_editor_should_point() {
    let v = validator(&schema());
    rejects(&v, "plugins: [tap-a]\n", "/plugins");
    rejects(&v, "plugins:\n  extractor:\n  - name: tap-a\n", "/plugins");
    rejects(
        &v,
        "plugins:\n  extractors:\n  - name: tap-a\n    pip_ulr: tap-a\n",
        "/plugins/extractors/0",
    );
    rejects(
        &v,
        "plugins:\n  loaders:\n  - name: target-a\n    select: [a.*]\n",
        "/plugins/loaders/0",
    );
    rejects(
        &v,
        "plugins:\n  extractors:\n  - name: tap-a\n    capabilities: [catalogue]\n",
        "/plugins/extractors/0/capabilities/0",
    );
    rejects(
        &v,
        "jobs:\n- name: j\n  tasks: [[tap target, [nested]]]\n",
        "/jobs/0/tasks",
    );
    rejects(
        &v,
        "schedules:\n- name: s\n  job: j\n  interval: every day\n",
        "/schedules/0/interval",
    );
    rejects(
        &v,
        "environments:\n- name: dev\n  config:\n    plugins:\n      extractors:\n      - config: {}\n",
        "/environments/0/config/plugins/extractors/0",
    );
    rejects(
        &v,
        "state_backend:\n  uri: s3://b/p\n  s3:\n    endpoint: http://x\n",
        "/state_backend/s3",
    );
    rejects(&v, "default_enviroment: dev\n", "");
}

/// The YAML language server of VS Code's YAML extension, which scripts/test-env.sh installs
/// under the test tools (`ELTR_TEST_TOOLS`, else target/test-tools).
fn yaml_language_server() -> PathBuf {
    let tools = std::env::var_os("ELTR_TEST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools"));
    let server = tools.join("yaml-language-server/node_modules/.bin/yaml-language-server");
    assert!(
        server.is_file(),
        "{} is missing: run scripts/test-env.sh",
        server.display()
    );
    server
}

/// What the language server underlines in each file, with the schema `eltr schema` prints
/// mapped to every file: `file → [(line, message)]` (`None`: the server never answered).
fn editor_diagnostics(files: &[PathBuf]) -> BTreeMap<String, Option<Vec<(u64, String)>>> {
    let tmp = tempfile::tempdir().expect("temp dir");
    let schema_file = tmp.path().join("eltr.schema.json");
    std::fs::write(&schema_file, schema().to_string()).expect("write the schema");
    let driver = fixture_source("yaml-language-server/diagnostics.py");
    let mut child = std::process::Command::new("python3")
        .arg(&driver)
        .arg(yaml_language_server())
        .arg(&schema_file)
        .args(files)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python3");
    common::wait_until(
        std::time::Duration::from_secs(180),
        "the language server",
        || child.try_wait().expect("wait for the driver").is_some(),
    );
    let out = child.wait_with_output().expect("the driver's output");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the driver prints JSON")
}

#[test]
fn vs_code_yaml_language_server_accepts_the_example_project_and_underlines_mistakes() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = Vec::new();
    yml_files(&repo.join("example-project"), repo, &mut sources);
    yml_files(&fixture_source("seed"), repo, &mut sources);
    // Copies in a folder without a leading dot: the server's globs skip dot folders (a
    // tempfile default), and the schema must reach every file for the test to mean anything.
    let tmp = tempfile::Builder::new()
        .prefix("eltr-schema-")
        .tempdir()
        .expect("temp dir");
    let mut files = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let copy = tmp.path().join(format!("{i}.yml"));
        std::fs::copy(repo.join(source), &copy).expect("copy a project file");
        files.push(copy);
    }
    let broken = tmp.path().join("broken.yml");
    let text = "plugins:\n  extractors:\n  - name: tap-a\n    pip_ulr: tap-a\n    capabilities: [catalogue]\n  widgets: []\n";
    std::fs::write(&broken, text).expect("write the broken file");
    files.push(broken.clone());
    let found = editor_diagnostics(&files);
    for (copy, source) in files.iter().zip(&sources) {
        let name = copy.to_string_lossy().to_string();
        assert_eq!(
            found.get(&name),
            Some(&Some(vec![])),
            "{}",
            source.display()
        );
    }
    let underlined = found[&broken.to_string_lossy().to_string()]
        .clone()
        .expect("the server answered for the broken file");
    let lines: BTreeMap<u64, String> = underlined.into_iter().collect();
    assert_eq!(
        lines.keys().copied().collect::<Vec<_>>(),
        [4, 5, 6],
        "{lines:?}"
    );
    assert!(
        lines[&4].contains("pip_ulr") && lines[&6].contains("widgets"),
        "{lines:?}"
    );
}

/// The field names of a struct, listed in full: adding a field to the model stops this test
/// from compiling until the field is listed (and so checked against the schema).
macro_rules! fields {
    ($ty:ident { $($field:ident),* $(,)? }) => {{
        #[allow(dead_code)]
        fn every_field_is_listed(v: $ty) {
            let $ty { $($field: _),* } = v;
        }
        vec![$(stringify!($field)),*]
    }};
}

/// The property names `pointer` holds in the schema.
fn properties(schema: &Value, pointer: &str) -> Vec<String> {
    schema
        .pointer(pointer)
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("no properties at {pointer}"))
        .keys()
        .cloned()
        .collect()
}

/// Each key is a property at `pointer` with a description (a key the schema's tables miss
/// gets an empty schema, no description).
fn described_at(schema: &Value, pointer: &str, keys: &[&str], problems: &mut Vec<String>) {
    let known = properties(schema, pointer);
    for key in keys {
        let described = schema
            .pointer(&format!("{pointer}/{key}"))
            .is_some_and(|p| p.get("description").is_some() || p.get("$ref").is_some());
        if !known.iter().any(|k| k == key) || !described {
            problems.push(format!("{pointer}: no described property '{key}'"));
        }
    }
}

#[test]
fn the_schema_knows_every_key_of_the_project_model() {
    let s = schema();
    let mut problems = Vec::new();
    let without = |mut keys: Vec<&'static str>, internal: &[&str]| {
        keys.retain(|k| !internal.contains(k));
        keys
    };
    // `other` holds the keys a struct does not name (kept, warned about or ignored).
    let root = fields!(ProjectFile {
        version,
        default_environment,
        project_id,
        include_paths,
        plugins,
        environments,
        jobs,
        schedules,
        state_backend,
        database_uri,
        env,
        venv,
        python,
        other
    });
    described_at(&s, "/properties", &without(root, &["other"]), &mut problems);
    // `mapping_name` is set by eltr on the copy of a mapper it makes per mapping, never read
    // from a file.
    let plugin = fields!(PluginDef {
        name,
        inherit_from,
        variant,
        pip_url,
        namespace,
        executable,
        python,
        config,
        settings,
        capabilities,
        env,
        commands,
        select,
        select_filter,
        metadata,
        schema,
        catalog,
        state,
        use_cached_catalog,
        load_schema,
        dialect,
        target_schema,
        log_parser,
        mappings,
        mapping_name,
        other
    });
    let mut plugin_keys = without(plugin, &["other", "mapping_name"]);
    plugin_keys.extend(EXTRA_KEYS);
    plugin_keys.extend(eltr::project::load::KNOWN_PLUGIN_KEYS);
    plugin_keys.sort_unstable();
    plugin_keys.dedup();
    for key in &plugin_keys {
        let somewhere = PluginType::ALL.iter().any(|t| {
            let pointer = format!("/definitions/{}/properties", t.key());
            let mut none = Vec::new();
            described_at(&s, &pointer, &[key], &mut none);
            none.is_empty()
        });
        if !somewhere {
            problems.push(format!("no plugin type has a described property '{key}'"));
        }
    }
    let setting = fields!(SettingDef {
        name,
        kind,
        value,
        env,
        sensitive,
        aliases,
        other
    });
    described_at(
        &s,
        "/definitions/setting/properties",
        &without(setting, &["other"]),
        &mut problems,
    );
    let mapping = fields!(MappingDef { name, config });
    described_at(
        &s,
        "/definitions/mappers/properties/mappings/items/properties",
        &mapping,
        &mut problems,
    );
    let environment = fields!(EnvironmentDef {
        name,
        env,
        state_id_suffix,
        config,
        state_backend,
        other
    });
    described_at(
        &s,
        "/definitions/environment/properties",
        &without(environment, &["other"]),
        &mut problems,
    );
    let overlay = fields!(EnvironmentConfig { plugins, other });
    described_at(
        &s,
        "/definitions/environment/properties/config/properties",
        &without(overlay, &["other"]),
        &mut problems,
    );
    let job = fields!(JobDef { name, tasks });
    described_at(&s, "/definitions/job/properties", &job, &mut problems);
    let schedule = fields!(ScheduleDef {
        name,
        interval,
        job,
        extractor,
        loader,
        transform,
        start_date,
        env,
        other
    });
    described_at(
        &s,
        "/definitions/schedule/properties",
        &without(schedule, &["other"]),
        &mut problems,
    );
    for key in eltr::project::backend::KNOWN {
        let (pointer, leaf) = match key.split_once('.') {
            Some((group, leaf)) => (
                format!("/definitions/state_backend/properties/{group}/properties"),
                leaf,
            ),
            None => ("/definitions/state_backend/properties".to_string(), key),
        };
        described_at(&s, &pointer, &[leaf], &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
