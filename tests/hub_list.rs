//! `eltr hub list` and `eltr hub ping` print what Meltano 4.4.1's do, against one Hub served
//! locally from tests/fixtures/editing/hub (both tools pointed at it with MELTANO_HUB_URL).

mod common;
#[path = "common/hub.rs"]
mod fake_hub;
#[path = "common/meltano.rs"]
mod reference;

use common::{eltr, fixture};
use fake_hub::hub;
use reference::{QUIET, meltano};

#[test]
fn hub_list_matches_meltano() {
    let hub = hub();
    let p = fixture("editing/modular");
    let vars = [("MELTANO_HUB_URL", hub.as_str())];
    let mut eltr_vars = QUIET.to_vec();
    eltr_vars.extend(vars);
    let cases: [&[&str]; 6] = [
        &["hub", "list"],
        &["hub", "list", "--all"],
        &["hub", "list", "--format", "json", "--all"],
        &["hub", "list", "git", "--all"],
        &["hub", "list", "git"],
        &["hub", "list", "--plugin-type", "loader", "--format", "json"],
    ];
    for args in cases {
        let m = meltano(&p.dir, args, &vars);
        let e = eltr(&p.dir, args, &eltr_vars);
        assert!(m.status.success(), "{args:?}: Meltano failed: {}", m.stderr);
        e.success();
        assert_eq!(e.stdout, m.stdout, "{args:?}");
        // The count line goes to the log in both tools.
        let count = m
            .stderr
            .lines()
            .find_map(|l| {
                l.split("meltano      ")
                    .nth(1)
                    .filter(|s| s.contains("plugin") || s.contains("loader"))
            })
            .unwrap_or_else(|| panic!("{args:?}: no count line in {}", m.stderr))
            .trim()
            .to_string();
        e.stderr_has(&count);
    }
    assert!(
        eltr(&p.dir, ["hub", "list", "--all"], &eltr_vars)
            .stdout
            .contains("(default)")
    );
}

#[test]
fn hub_ping_names_the_hub_and_fails_when_it_does_not_answer() {
    let hub = hub();
    let p = fixture("editing/modular");
    let mut vars = QUIET.to_vec();
    vars.push(("MELTANO_HUB_URL", hub.as_str()));
    let r = eltr(&p.dir, ["hub", "ping"], &vars);
    r.success();
    assert!(
        r.stdout.contains("Successfully connected to the Hub at"),
        "{}",
        r.stdout
    );

    let closed = format!("http://127.0.0.1:{}", fake_hub::closed_port());
    let mut vars = QUIET.to_vec();
    vars.push(("MELTANO_HUB_URL", closed.as_str()));
    eltr(&p.dir, ["hub", "ping"], &vars)
        .failure()
        .clean_error(&["Failed to connect to the Hub at"]);
}
