//! `eltr test [--all] [PLUGIN[:TEST]…]`: runs plugins' tests, as Meltano 4.4's `meltano test`
//! does. A test is a plugin command whose name starts with `test`; each runs like
//! `invoke PLUGIN:TEST` (stdio passed through) under a `=== plugin:test ===` rule, then a
//! report lists each test's outcome and the run exits 1 when any failed. Nothing is selected
//! unless `--all` or names are given (Meltano's rule, so a bare `meltano test` runs nothing).

use super::Call;
use crate::pipeline::command::{Invocation, invocation_supervisor, ready};
use crate::project::ResolvedPlugin;
use crate::project::model::PluginType;
use crate::vocab::ident::RunId;
use clap::Args;
use std::process::ExitCode;

/// Flags of `eltr test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Run every test of every plugin.
    #[arg(long)]
    pub all: bool,
    /// `PLUGIN` (all its tests) or `PLUGIN:TEST`.
    #[arg(value_name = "PLUGIN[:TEST]")]
    pub tests: Vec<String>,
    #[command(flatten)]
    pub installing: super::install_choice::InstallFlags,
}

/// Meltano's width of the name column in the report, less the 8 characters of the bold
/// style it counts while padding (so the dots end 8 columns early, as in Meltano).
const REPORT_WIDTH: usize = 52;

/// Meltano's plugin type order for tests (its `PluginType` order; files have no tests).
const TYPE_ORDER: [PluginType; 7] = [
    PluginType::Extractors,
    PluginType::Loaders,
    PluginType::Transforms,
    PluginType::Orchestrators,
    PluginType::Transformers,
    PluginType::Utilities,
    PluginType::Mappers,
];

/// One plugin's tests, each with whether it is selected.
struct Suite {
    plugin: ResolvedPlugin,
    tests: Vec<(String, bool)>,
}

/// Runs the selected tests and reports them.
pub fn run(call: &Call<'_>, args: TestArgs) -> anyhow::Result<ExitCode> {
    let ctx = call.open()?;
    let mut suites = collect(&ctx, args.all)?;
    for word in &args.tests {
        select(&mut suites, word)?;
    }
    let chosen: Vec<&ResolvedPlugin> = suites
        .iter()
        .filter(|s| s.tests.iter().any(|(_, on)| *on))
        .map(|s| &s.plugin)
        .collect();
    if args.installing.installs(&ctx)? {
        crate::pipeline::ensure_installed(&ctx, &chosen)?;
    }
    if args.installing.only_install {
        return Ok(ExitCode::SUCCESS);
    }
    let width = terminal_width();
    let mut results = Vec::new();
    // One supervisor for all the tests: a signal stops the one running and the ones after it.
    let supervisor = invocation_supervisor(crate::pipeline::signals::grace());
    for suite in &suites {
        for (test, _) in suite.tests.iter().filter(|(_, on)| *on) {
            let label = format!("{}:{test}", suite.plugin.name);
            call.print_line(&rule(&label, width))?;
            let how = Invocation {
                run_id: RunId::new(),
                install_missing: false,
                supervisor: supervisor.clone(),
                refresh_catalog: false,
            };
            let ready = ready(&ctx, suite.plugin.clone(), Some(test), Vec::new(), &how)?;
            let status = ready.run(&supervisor)?;
            results.push((label, status.success()));
            if let Some(sig) = supervisor.received() {
                drop(ready);
                let stopped = crate::pipeline::RunError::interrupted_by(sig);
                let code = stopped.exit_code();
                super::report(&anyhow::Error::new(stopped), call.console);
                return Ok(ExitCode::from(code));
            }
        }
    }
    call.print_line("")?;
    call.print_masked(&report(&results, width))?;
    Ok(match results.iter().all(|(_, ok)| *ok) {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    })
}

/// Every plugin with its `test*` commands (inherited ones included), in Meltano's order.
fn collect(ctx: &crate::project::Context, all: bool) -> anyhow::Result<Vec<Suite>> {
    let mut suites = Vec::new();
    for ptype in TYPE_ORDER {
        for (t, name) in ctx.project.plugins.keys() {
            if *t != ptype {
                continue;
            }
            let plugin = ctx.plugin(Some(ptype), name)?;
            let tests = plugin
                .commands
                .keys()
                .filter(|c| c.starts_with("test"))
                .map(|c| (c.clone(), all))
                .collect();
            suites.push(Suite { plugin, tests });
        }
    }
    Ok(suites)
}

/// Selects `PLUGIN` (all its tests) or `PLUGIN:TEST`. A word with more than one `:` is a
/// plugin name (Meltano's split); a test name the plugin does not define is still run, and
/// fails as `invoke` would, as in Meltano.
fn select(suites: &mut [Suite], word: &str) -> anyhow::Result<()> {
    let (plugin, test) = match word.split(':').collect::<Vec<_>>().as_slice() {
        [p, t] => (p.to_string(), Some(t.to_string())),
        _ => (word.to_string(), None),
    };
    let Some(suite) = suites.iter_mut().find(|s| s.plugin.name.as_str() == plugin) else {
        anyhow::bail!("plugin '{plugin}' is not defined in the project");
    };
    match test {
        None => suite.tests.iter_mut().for_each(|(_, on)| *on = true),
        Some(t) => match suite.tests.iter_mut().find(|(name, _)| *name == t) {
            Some((_, on)) => *on = true,
            None => suite.tests.push((t, true)),
        },
    }
    Ok(())
}

/// Meltano's rule line: `title` between runs of `=` filling the width, on a line of its own
/// after a blank one.
fn rule(title: &str, width: usize) -> String {
    let len = title.chars().count();
    let fill = "=".repeat((width.saturating_sub(len + 2) / 2).max(1));
    let mut line = format!("\n{fill} {title} {fill}");
    if line.chars().count() < width {
        line.push('=');
    }
    line
}

/// The report: each test padded with dots, then `success` or `failure`; then the rule with
/// the counts.
fn report(results: &[(String, bool)], width: usize) -> String {
    let mut out = String::new();
    for (label, ok) in results {
        let pad = REPORT_WIDTH.saturating_sub(label.chars().count());
        let outcome = if *ok { "success" } else { "failure" };
        out.push_str(&format!("{label}{} {outcome}\n", ".".repeat(pad)));
    }
    let passed = results.iter().filter(|(_, ok)| *ok).count();
    let failed = results.len() - passed;
    let status = match failed {
        0 => "successfully",
        _ => "with failures",
    };
    let message = format!(
        "Testing completed {status}. {passed} test(s) successful. {failed} test(s) failed."
    );
    out.push_str(&rule(&message, width));
    out.push('\n');
    out
}

/// The width Python's `shutil.get_terminal_size` reports: `COLUMNS` when it is a positive
/// number, else the terminal on stdout, else 80.
fn terminal_width() -> usize {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        return n;
    }
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the live struct passed; fd 1 is only read.
    let ok = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut size) } == 0;
    match ok && size.ws_col > 0 {
        true => size.ws_col as usize,
        false => 80,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_fill_the_width_as_meltanos_do() {
        assert_eq!(
            rule("checker:test", 80),
            format!("\n{} checker:test {}", "=".repeat(33), "=".repeat(33))
        );
        let long = "Testing completed with failures. 4 test(s) successful. 1 test(s) failed.";
        assert_eq!(rule(long, 80), format!("\n=== {long} ==="));
        assert_eq!(
            rule(&"x".repeat(100), 80),
            format!("\n= {} =", "x".repeat(100))
        );
    }

    #[test]
    fn report_pads_names_with_dots_to_meltanos_column() {
        let text = report(&[("a:test".into(), true), ("b:test".into(), false)], 80);
        let first = text.lines().next().unwrap();
        assert_eq!(first, format!("a:test{} success", ".".repeat(46)));
        assert!(text.contains("1 test(s) successful. 1 test(s) failed."));
    }
}
