//! docs/meltano-commands.md answers, for every command, argument and option of Meltano 4.4.1
//! (tests/fixtures/meltano-cli/golden/commands.txt, read from Meltano's own CLI by
//! scripts/regen-goldens.sh), what eltr does: `same`, `different on purpose` or `missing`, the
//! last two with a reason. The table is checked against eltr itself: an option it calls
//! present must be one the named eltr command accepts, and one it calls missing must not be,
//! so the table cannot drift from the binary in either direction.

mod common;

use common::{eltr_bin, fixture_source};
use std::collections::BTreeMap;
use std::process::Command;

const STATUSES: [&str; 3] = ["same", "different on purpose", "missing"];

/// One row of the table.
#[derive(Debug)]
struct Row {
    eltr: Option<String>,
    status: String,
    notes: String,
}

/// `(meltano command, option) → hidden in Meltano` from the golden.
fn meltano_cli() -> BTreeMap<(String, String), bool> {
    let path = fixture_source("meltano-cli/golden/commands.txt");
    let text = std::fs::read_to_string(&path).expect("read the golden");
    text.lines()
        .map(|line| {
            let cells: Vec<&str> = line.split(" | ").collect();
            assert!(cells.len() >= 2, "bad golden line {line:?}");
            let hidden = cells.get(2).is_some_and(|c| c.trim() == "hidden");
            ((cells[0].to_string(), cells[1].to_string()), hidden)
        })
        .collect()
}

/// The table's rows by `(meltano command, option)`; a row listed twice fails.
fn table() -> BTreeMap<(String, String), Row> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/meltano-commands.md");
    let text = std::fs::read_to_string(&path).expect("read docs/meltano-commands.md");
    let mut rows = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| `meltano")) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        assert_eq!(cells.len(), 5, "a row needs 5 cells: {line}");
        let unquote = |c: &str| c.trim_matches('`').to_string();
        let key = (unquote(cells[0]), unquote(cells[1]));
        let row = Row {
            eltr: (cells[2] != "—").then(|| unquote(cells[2])),
            status: cells[3].to_string(),
            notes: cells[4].to_string(),
        };
        assert!(
            rows.insert(key.clone(), row).is_none(),
            "{key:?} is listed twice"
        );
    }
    rows
}

/// `eltr WORDS --help`, or `None` when eltr has no such command.
fn help_of(words: &str) -> Option<String> {
    let mut args: Vec<&str> = words.split_whitespace().skip(1).collect();
    args.push("--help");
    let out = Command::new(eltr_bin())
        .args(&args)
        .output()
        .expect("run eltr");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether eltr's command accepts the option's every spelling (`--safe/--unsafe`,
/// `--select/-s`). Options Meltano hides from `--help` are hidden in eltr too, so those are
/// tried on the command line instead (`eltr run --merge-state --help` parses or fails).
fn accepts(eltr_words: &str, help: &str, option: &str, hidden: bool) -> bool {
    option.split('/').all(|spelling| {
        let shown = match spelling.strip_prefix("--") {
            Some(_) => [" ", "\n", "]", ","]
                .iter()
                .any(|end| help.contains(&format!("{spelling}{end}"))),
            None => help.contains(&format!("{spelling}, ")),
        };
        shown
            || (hidden && {
                let mut args: Vec<&str> = eltr_words.split_whitespace().skip(1).collect();
                args.extend([spelling, "--help"]);
                Command::new(eltr_bin())
                    .args(&args)
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
    })
}

#[test]
fn every_meltano_option_has_one_row_and_every_row_a_meltano_option() {
    let golden = meltano_cli();
    let rows = table();
    let unlisted: Vec<_> = golden.keys().filter(|k| !rows.contains_key(*k)).collect();
    let stale: Vec<_> = rows.keys().filter(|k| !golden.contains_key(*k)).collect();
    assert!(
        unlisted.is_empty(),
        "Meltano options with no row: {unlisted:#?}"
    );
    assert!(
        stale.is_empty(),
        "rows for options Meltano 4.4.1 does not have: {stale:#?}"
    );
}

#[test]
fn every_row_has_a_known_status_and_a_reason_where_it_differs() {
    for (key, row) in table() {
        assert!(
            STATUSES.contains(&row.status.as_str()),
            "{key:?}: unknown status {:?}",
            row.status
        );
        if row.status != "same" {
            assert!(
                row.notes.len() > 10,
                "{key:?}: {} needs a reason",
                row.status
            );
        }
        if row.status != "missing" {
            assert!(
                row.eltr.is_some(),
                "{key:?}: {} but no eltr command named",
                row.status
            );
        }
    }
}

#[test]
fn the_table_tells_the_truth_about_the_binary() {
    let golden = meltano_cli();
    let mut wrong = Vec::new();
    for ((command, option), row) in table() {
        let hidden = golden
            .get(&(command.clone(), option.clone()))
            .copied()
            .unwrap_or(false);
        let Some(words) = &row.eltr else { continue };
        let Some(help) = help_of(words) else {
            wrong.push(format!(
                "{command} {option}: `{words}` is not an eltr command"
            ));
            continue;
        };
        if !option.starts_with("--") {
            continue; // arguments and bare commands: the command's existence is the check
        }
        let present = accepts(words, &help, &option, hidden);
        match (row.status.as_str(), present) {
            ("missing", true) => wrong.push(format!(
                "{command} {option}: `{words}` accepts it, the table says missing"
            )),
            ("same" | "different on purpose", false) => wrong.push(format!(
                "{command} {option}: the table says {}, `{words}` does not accept it",
                row.status
            )),
            _ => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/meltano-commands.md is wrong:\n{}",
        wrong.join("\n")
    );
}
