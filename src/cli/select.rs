//! `eltr select EXTRACTOR --list [--all] [--json]`: which streams and properties the
//! extractor's rules select, from its (cached or discovered) catalog.

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
    /// List the selection (the only action; kept for Meltano compatibility).
    #[arg(long)]
    pub list: bool,
    /// Also show excluded properties.
    #[arg(long)]
    pub all: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Discover again instead of using the cached catalog.
    #[arg(long)]
    pub refresh_catalog: bool,
}

/// Prints the selection.
pub fn run(call: &Call<'_>, args: SelectArgs) -> anyhow::Result<ExitCode> {
    let ctx = call.open()?;
    let plugin = ctx.plugin(Some(PluginType::Extractors), &args.extractor)?;
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
