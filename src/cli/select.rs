//! `eltr select EXTRACTOR --list [--all] [--json]`: which streams and properties the
//! extractor's rules select, from its (cached or discovered) catalog. And Meltano 4.4's
//! editing forms: `eltr select EXTRACTOR ENTITY [ATTRIBUTE] [--exclude] [--rm]` adds (or
//! removes) the pattern `[!]ENTITY.ATTRIBUTE` in the extractor's `select`, or in the overlay
//! of an environment chosen with `--environment`; `--clear` removes the whole list.

use super::Call;
use crate::plugin::{PrepareOptions, prepare};
use crate::project::model::PluginType;
use crate::vocab::supervisor::Supervisor;
use clap::Args;
use serde_json::json;
use std::process::ExitCode;

/// Flags of `eltr select`.
#[derive(Debug, Args)]
pub struct SelectArgs {
    /// The extractor.
    pub extractor: String,
    /// Stream pattern to add (or remove) as a select rule.
    pub entity: Option<String>,
    /// Property pattern (default `*`).
    pub attribute: Option<String>,
    /// List the selection (also what `eltr select EXTRACTOR` alone does).
    #[arg(long)]
    pub list: bool,
    /// Remove the pattern instead of adding it.
    #[arg(long = "rm", visible_alias = "remove")]
    pub remove: bool,
    /// Make it an exclusion (`!ENTITY.ATTRIBUTE`).
    #[arg(long)]
    pub exclude: bool,
    /// Remove every select pattern of the extractor.
    #[arg(long)]
    pub clear: bool,
    /// Also show excluded properties.
    #[arg(long)]
    pub all: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Discover again instead of using the cached catalog.
    #[arg(long)]
    pub refresh_catalog: bool,
    #[command(flatten)]
    pub installing: super::install_choice::InstallFlags,
}

/// Prints the selection, or edits the select rules.
pub fn run(call: &Call<'_>, args: SelectArgs) -> anyhow::Result<ExitCode> {
    if args.clear || (args.entity.is_some() && !args.list && !args.json) {
        return edit(call, &args);
    }
    let ctx = call.open()?;
    let plugin = ctx.plugin(Some(PluginType::Extractors), &args.extractor)?;
    if args.installing.installs(&ctx)? {
        crate::pipeline::ensure_installed(&ctx, &[&plugin])?;
        if args.installing.only_install {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let patterns = plugin
        .extras
        .select
        .clone()
        .unwrap_or_else(|| vec!["*.*".into()]);
    let supervisor = Supervisor::quiet(crate::pipeline::signals::grace());
    let opts = PrepareOptions {
        run_id: crate::vocab::ident::RunId::new(),
        refresh_catalog: args.refresh_catalog,
        with_catalog: false,
        ..PrepareOptions::default()
    };
    let prepared = prepare(&ctx, plugin, &opts)?;
    let config_file = prepared.run_dir.path().join("extractor.json");
    let catalog = crate::plugin::catalog::prepare(&crate::plugin::catalog::DiscoverInput {
        root: &ctx.project.root,
        plugin: &prepared.plugin,
        program: &prepared.program,
        env: &prepared.env,
        config_file: &config_file,
        refresh: args.refresh_catalog,
        masker: &ctx.masker,
        supervisor: &supervisor,
    })?;
    let mut rows = catalog.property_statuses();
    rows.sort_by(|a, b| (&a.stream, &a.property).cmp(&(&b.stream, &b.property)));
    let selected: Vec<_> = rows
        .iter()
        .filter(|r| args.all || r.status != "excluded")
        .collect();
    if args.json {
        call.print_json(&json!({
            "enabled_patterns": patterns,
            "streams": selected.iter().map(|r| json!({"stream": r.stream, "property": r.property, "selection": r.status})).collect::<Vec<_>>(),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    call.print_line("Legend:\n\tselected\n\texcluded\n\tautomatic\n\tunsupported\n")?;
    call.print_line("Enabled patterns:")?;
    for p in &patterns {
        call.print_line(&format!("\t{p}"))?;
    }
    call.print_line("\nSelected properties:")?;
    for r in selected {
        call.print_line(&format!("\t[{:<11}] {}.{}", r.status, r.stream, r.property))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Adds, removes or clears select patterns.
fn edit(call: &Call<'_>, args: &SelectArgs) -> anyhow::Result<ExitCode> {
    use crate::project::edit::ops::{Editor, Target};
    let ctx = call.open()?;
    let plugin = ctx.plugin(Some(PluginType::Extractors), &args.extractor)?;
    let environment = super::edit_environment(call.global, &ctx)?;
    let target = match environment {
        Some(environment) => Target::Environment {
            environment,
            plugin_type: PluginType::Extractors,
            name: plugin.name.to_string(),
        },
        None => Target::Plugin {
            plugin_type: PluginType::Extractors,
            name: plugin.name.to_string(),
        },
    };
    let mut editor = Editor::new(&ctx.project);
    if args.clear {
        editor.select_clear(&target)?;
        editor.commit()?;
        call.say(&format!(
            "Cleared the select patterns of extractor '{}'",
            plugin.name
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let pattern = format!(
        "{}{}.{}",
        if args.exclude { "!" } else { "" },
        args.entity.as_deref().unwrap_or("*"),
        args.attribute.as_deref().unwrap_or("*")
    );
    editor.select(&target, &pattern, args.remove)?;
    editor.commit()?;
    let action = if args.remove { "Removed" } else { "Added" };
    call.say(&format!(
        "{action} select pattern '{pattern}' of extractor '{}'",
        plugin.name
    ));
    Ok(ExitCode::SUCCESS)
}
