//! `eltr plugin list` prints what Meltano 4.4.1's `plugin list` prints, text and JSON, on the
//! fixtures Meltano can read offline (custom plugins, Hub plugins with lockfiles, inherited
//! plugins, mappers with mappings, utilities and transformers).

mod common;
#[path = "common/meltano.rs"]
mod reference;

use common::{eltr, fixture};
use reference::{QUIET, meltano};

const FIXTURES: [&str; 5] = [
    "seed",
    "precedence",
    "compat-vars",
    "compat-dbt",
    "editing/modular",
];

#[test]
fn plugin_list_matches_meltano_in_both_formats() {
    for name in FIXTURES {
        let p = fixture(name);
        for format in ["text", "json"] {
            let args = ["plugin", "list", "--format", format];
            let m = meltano(&p.dir, &args, &[]);
            let e = eltr(&p.dir, args, &QUIET);
            assert!(m.status.success(), "{name}: Meltano failed: {}", m.stderr);
            e.success();
            assert!(
                !m.stdout.trim().is_empty(),
                "{name}: Meltano listed nothing"
            );
            assert_eq!(e.stdout, m.stdout, "{name} --format {format}");
        }
    }
}

#[test]
fn an_empty_project_says_how_to_add_a_plugin() {
    let (_tmp, dir) = common::project_dir();
    std::fs::write(dir.join("meltano.yml"), "version: 1\nplugins: {}\n").unwrap();
    let r = eltr(&dir, ["plugin", "list"], &QUIET);
    r.success();
    assert!(
        r.stdout
            .starts_with("No plugins are defined in this project."),
        "{}",
        r.stdout
    );
    let r = eltr(&dir, ["plugin", "list", "--format", "json"], &QUIET);
    assert_eq!(r.success().stdout, "[]\n");
}
