//! `config list` and `config list --extras` as Meltano 4.4.1 prints them, compared line for
//! line with the reference Meltano run on a copy of the same fixture (`ELTR_TEST_MELTANO`, set
//! by scripts/test.sh; the test fails rather than skips without it). The fixture `compat-list`
//! holds one case of each class of difference that was fixed (extras listed as settings,
//! custom extras, `env_aliases`, extras and defaults whose variables are all unset, written
//! nulls, the labels of every source); `compat-settings`, `seed`, `compat-dbt` and
//! `compat-glue` add inheritance, lockfiles, include files, transformers, Airflow and
//! Superset. The only deliberate difference, eltr masking undeclared secret-looking values,
//! does not occur in these fixtures.

mod common;
#[path = "common/meltano.rs"]
mod reference;

use common::{TempProject, eltr, fixture};
use reference::{QUIET, rooted};

/// One `config list` run: the fixture, whether its `fixture.env` becomes `.env`, process
/// variables, and the arguments.
struct Case {
    fixture: &'static str,
    dotenv: bool,
    vars: &'static [(&'static str, &'static str)],
    /// The arguments, split at spaces (none of them holds one).
    args: &'static str,
}

const fn case(fixture: &'static str, args: &'static str) -> Case {
    Case {
        fixture,
        dotenv: false,
        vars: &[],
        args,
    }
}

const fn with_dotenv(fixture: &'static str, args: &'static str) -> Case {
    Case {
        fixture,
        dotenv: true,
        vars: &[],
        args,
    }
}

/// Every plugin type, with and without an environment, `--all`, `--extras`, `--filter`,
/// `.env` and process variables.
const CASES: &[Case] = &[
    with_dotenv("compat-list", "--environment dev config list tap-list"),
    with_dotenv(
        "compat-list",
        "--environment dev config list tap-list --all",
    ),
    with_dotenv(
        "compat-list",
        "--environment dev config list tap-list --extras",
    ),
    with_dotenv(
        "compat-list",
        "--environment dev config list tap-list --extras --all",
    ),
    with_dotenv(
        "compat-list",
        "--environment dev config list tap-list--child --all",
    ),
    with_dotenv(
        "compat-list",
        "--environment dev config list tap-list--child --extras --all",
    ),
    with_dotenv(
        "compat-list",
        "--environment dev config list target-list --all",
    ),
    with_dotenv(
        "compat-list",
        "--environment dev config list target-list --extras",
    ),
    with_dotenv(
        "compat-list",
        "--environment dev config list map-list --extras --all",
    ),
    with_dotenv(
        "compat-list",
        "--environment dev config list hash-emails --all",
    ),
    with_dotenv(
        "compat-list",
        "--environment dev config list hash-emails --extras --all",
    ),
    with_dotenv(
        "compat-list",
        "--environment dev config list util-list --all",
    ),
    with_dotenv(
        "compat-list",
        "--environment dev config list util-list --extras --all",
    ),
    with_dotenv(
        "compat-list",
        "--environment dev config list dbt-list --all",
    ),
    with_dotenv(
        "compat-list",
        "--environment dev config list dbt-list --extras --all",
    ),
    with_dotenv("compat-list", "--environment dev config list airflow --all"),
    with_dotenv("compat-list", "--environment dev config list files-list"),
    with_dotenv(
        "compat-list",
        "--environment dev config list files-list --extras --all",
    ),
    with_dotenv(
        "compat-list",
        "--environment dev config list tap-list --extras --filter SEL",
    ),
    case("compat-list", "--no-environment config list tap-list --all"),
    case(
        "compat-list",
        "--no-environment config list tap-list--child --extras --all",
    ),
    Case {
        fixture: "compat-list",
        dotenv: false,
        vars: &[
            ("TAP_LIST_USER", "from-process"),
            ("TAP_LIST__LOAD_SCHEMA", "raw_x"),
        ],
        args: "--no-environment config list tap-list --extras --all",
    },
    Case {
        fixture: "compat-list",
        dotenv: false,
        vars: &[("LIST_NO_USER", "yes")],
        args: "--no-environment config list tap-list",
    },
    Case {
        fixture: "compat-list",
        dotenv: false,
        vars: &[("LIST_USER", "via-alias"), ("TARGET_LST_BATCH_SIZE", "7")],
        args: "--no-environment config list target-list --all",
    },
    Case {
        fixture: "compat-list",
        dotenv: false,
        vars: &[("TAP_LIST__METADATA", r#"{"customers": {"selected": true}}"#)],
        args: "--environment dev config list tap-list --extras --all",
    },
    Case {
        fixture: "compat-list",
        dotenv: false,
        vars: &[("TAP_LIST__METADATA", r#"{"customers": {"selected": true}}"#)],
        args: "--environment dev config list tap-list--child --extras --all",
    },
    case("compat-settings", "--environment dev config list tap-set"),
    case(
        "compat-settings",
        "--environment dev config list tap-set--child --extras --all",
    ),
    case(
        "compat-settings",
        "--environment dev config list map-set-one",
    ),
    case(
        "compat-settings",
        "--environment dev config list target-set --all",
    ),
    case(
        "seed",
        "--environment prod config list tap-postgres--orders --all",
    ),
    case(
        "seed",
        "--environment dev config list target-postgres --all",
    ),
    case(
        "seed",
        "--environment dev config list target-postgres--orders --all",
    ),
    case(
        "compat-dbt",
        "--environment dev config list dbt-postgres --all",
    ),
    case(
        "compat-glue",
        "--environment dev config list superset --extras --all",
    ),
];

/// The lines of `a` and `b` outside their longest common run of lines, `-` for Meltano's and
/// `+` for eltr's, in order.
fn differing_lines(a: &str, b: &str) -> Vec<String> {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let mut common = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            common[i][j] = match a[i] == b[j] {
                true => common[i + 1][j + 1] + 1,
                false => common[i + 1][j].max(common[i][j + 1]),
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            (i, j) = (i + 1, j + 1);
        } else if j == b.len() || (i < a.len() && common[i + 1][j] >= common[i][j + 1]) {
            out.push(format!("- {}", a[i]));
            i += 1;
        } else {
            out.push(format!("+ {}", b[j]));
            j += 1;
        }
    }
    out
}

/// Two copies of a fixture, one per tool, with `.env` laid when asked.
fn copies(name: &str, dotenv: bool) -> (TempProject, TempProject) {
    let (m, e) = (fixture(name), fixture(name));
    if dotenv {
        for p in [&m, &e] {
            std::fs::copy(p.dir.join("fixture.env"), p.dir.join(".env")).expect("lay .env");
        }
    }
    (m, e)
}

/// The differing lines of one case, each prefixed with the command.
fn compare(c: &Case, m: &TempProject, e: &TempProject) -> Vec<String> {
    let args: Vec<&str> = c.args.split_whitespace().collect();
    let theirs = reference::meltano(&m.dir, &args, c.vars);
    let mut vars = QUIET.to_vec();
    vars.extend(c.vars.iter().copied());
    let ours = eltr(&e.dir, &args, &vars);
    theirs.success();
    ours.success();
    let label = format!(
        "[{}{}] {}",
        c.fixture,
        if c.dotenv { " +.env" } else { "" },
        c.args
    );
    differing_lines(
        &rooted(&theirs.stdout, &m.dir),
        &rooted(&ours.stdout, &e.dir),
    )
    .into_iter()
    .map(|line| format!("{label}: {line}"))
    .collect()
}

#[test]
fn config_list_matches_meltano_line_for_line() {
    let mut diffs = Vec::new();
    let mut copied: Option<(&str, bool, TempProject, TempProject)> = None;
    for c in CASES {
        if copied
            .as_ref()
            .is_none_or(|(f, d, _, _)| (*f, *d) != (c.fixture, c.dotenv))
        {
            let (m, e) = copies(c.fixture, c.dotenv);
            copied = Some((c.fixture, c.dotenv, m, e));
        }
        let (_, _, m, e) = copied.as_ref().expect("copied just above");
        diffs.extend(compare(c, m, e));
    }
    assert!(
        diffs.is_empty(),
        "{} lines differ from Meltano's:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// The classes the comparison covers, stated on eltr's output alone, so a failure names the
/// rule that broke (the comparison above proves each is Meltano's).
#[test]
fn each_class_shows_in_eltr_config_list() {
    let (_, p) = copies("compat-list", true);
    let list = |args: &[&str]| {
        let mut all = vec!["--environment", "dev", "config", "list"];
        all.extend(args);
        let run = eltr(&p.dir, &all, &QUIET);
        run.success();
        rooted(&run.stdout, &p.dir)
    };
    let tap = list(&["tap-list", "--all"]);
    for expected in [
        // `env_aliases`, a negated one too, on a plugin that inherits from none.
        "user (required by group 1) [env: TAP_LIST_USER, LIST_USER, !LIST_NO_USER]",
        // Custom extras, after the custom settings.
        "Custom extras, plugin-specific options handled by Meltano:\n_ext_note [env: TAP_LIST__EXT_NOTE] current value: 'from-dotenv' (from `meltano.yml`: '$LIST_EXT')",
        // A value set by the environment's overlay names the file.
        "(from the active environment in `meltano.yml`: '$LIST_ENV_HOST')",
        // A written null leaves the default, whose variable is unset: null, with its text.
        "schema_name [env: TAP_LIST_SCHEMA_NAME] current value: None (default: '$LIST_UNSET_DEFAULT')",
        // A secret written as a variable shows the variable, never the value.
        "password [env: TAP_LIST_PASSWORD] current value: (redacted) (from `meltano.yml`: '$LIST_PASSWORD')",
    ] {
        assert!(tap.contains(expected), "missing {expected:?} in:\n{tap}");
    }
    assert!(!tap.contains("hunter2"), "{tap}");
    let extras = list(&["tap-list", "--extras", "--all"]);
    for expected in [
        "Configured:\n_load_schema [env: TAP_LIST__LOAD_SCHEMA] (default: '$MELTANO_EXTRACTOR_NAMESPACE') current value: None (from `meltano.yml`: '$LIST_UNSET_SCHEMA')",
        "_log_parser [env: TAP_LIST__LOG_PARSER] (default: 'singer-sdk') current value: None (from `meltano.yml`: '${LIST_UNSET_PARSER}')",
        "_select_filter [env: TAP_LIST__SELECT_FILTER] (default: []) current value: ['customers'] (from the TAP_LIST__SELECT_FILTER variable in `.env`)",
        "Custom:\n_ext_note",
    ] {
        assert!(
            extras.contains(expected),
            "missing {expected:?} in:\n{extras}"
        );
    }
    let loader = list(&["target-list", "--extras"]);
    assert!(
        loader.contains("current value: None (from `meltano.yml`: '$LIST_UNSET_DIALECT')"),
        "{loader}"
    );
}
