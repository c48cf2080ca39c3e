//! A real third-party pipeline: the fixture tap → `meltano-map-transform` 0.12.3 (a mapping
//! from the mapper's `mappings:` list) → `target-jsonl` 0.1.4, both installed from PyPI by
//! `scripts/test-env.sh` (each in its own virtualenv: their pins conflict).

mod common;
#[path = "common/run.rs"]
mod support;

use common::eltr;
use serde_json::Value;

#[test]
fn records_pass_through_a_pypi_mapper_into_a_pypi_target_with_the_mapping_applied() {
    let venvs = common::test_venvs();
    let tmp = common::empty_dir();
    let project = format!(
        r#"
version: 1
default_environment: dev
environments: [{{name: dev}}]
plugins:
  extractors:
    - name: tap-fixture
      namespace: tap_fixture
      executable: {examples}/singer_tap
      config: {{records: 7, state_every: 3, streams: [items]}}
  mappers:
    - name: transformer
      namespace: meltano_map_transformer
      executable: {venvs}/map-transform/bin/meltano-map-transform
      mappings:
        - name: shape-items
          config:
            stream_maps:
              items:
                id_times_ten: str(id * 10)
                payload: __NULL__
  loaders:
    - name: target-jsonl
      namespace: target_jsonl
      executable: {venvs}/target-jsonl/bin/target-jsonl
      config: {{destination_path: out, do_timestamp_file: false}}
"#,
        examples = support::examples_dir().display(),
        venvs = venvs.display()
    );
    std::fs::write(tmp.path().join("meltano.yml"), project).unwrap();

    let run = eltr(
        tmp.path(),
        ["run", "tap-fixture", "shape-items", "target-jsonl"],
        &[],
    );
    run.success();

    let text = std::fs::read_to_string(tmp.path().join("out/items.jsonl")).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 7, "{text}");
    for r in &records {
        let id = r["id"].as_i64().unwrap();
        assert_eq!(r["id_times_ten"], Value::from((id * 10).to_string()), "{r}");
        assert!(r.get("payload").is_none(), "payload should be dropped: {r}");
    }

    let state = tmp
        .path()
        .join(".eltr/state/dev:tap-fixture-to-target-jsonl/state.json");
    let state: Value = serde_json::from_str(&std::fs::read_to_string(state).unwrap()).unwrap();
    assert_eq!(support::completed_bookmark(&state, "items"), 7, "{state}");
}
