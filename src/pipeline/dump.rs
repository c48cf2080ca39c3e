//! `eltr el --dump=…`: a file of the pipeline printed instead of running it, as Meltano's
//! `el --dump` prints it (the file's JSON, two-space indented): the extractor's catalog after
//! the select rules, the state it would start from, or either plugin's config.

use super::plan::{ExtractLoadPlan, Plan, PlannedBlock};
use super::{RunError, Session};
use crate::plugin::catalog::{self, DiscoverInput};
use crate::plugin::{PluginError, PrepareOptions, prepare};
use crate::project::Context;
use serde_json::Value;

/// What `--dump` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dumpable {
    Catalog,
    State,
    ExtractorConfig,
    LoaderConfig,
}

/// The text `--dump` prints for the plan's extract-load block (no trailing newline).
pub fn dump(
    session: &Session,
    ctx: &Context,
    plan: &Plan,
    what: Dumpable,
) -> Result<String, RunError> {
    let Some(el) = plan.blocks.iter().find_map(|b| match b {
        PlannedBlock::ExtractLoad(el) => Some(el),
        PlannedBlock::Command { .. } => None,
    }) else {
        return Err(not_found(what));
    };
    let value = match what {
        Dumpable::ExtractorConfig => Value::Object(el.extractor.config_object()),
        Dumpable::LoaderConfig => Value::Object(el.loader.config_object()),
        Dumpable::State => state(plan, el)?.ok_or_else(|| not_found(what))?,
        Dumpable::Catalog => catalog(session, ctx, plan, el)?.ok_or_else(|| not_found(what))?,
    };
    Ok(serde_json::to_string_pretty(&value).unwrap_or_default())
}

/// Meltano's words when the file does not exist for this pipeline.
fn not_found(what: Dumpable) -> RunError {
    let name = match what {
        Dumpable::Catalog => "catalog",
        Dumpable::State => "state",
        Dumpable::ExtractorConfig => "extractor-config",
        Dumpable::LoaderConfig => "loader-config",
    };
    RunError::NoDumpFile(name)
}

/// The Singer state the extractor would start from.
fn state(plan: &Plan, el: &ExtractLoadPlan) -> Result<Option<Value>, RunError> {
    let stored = match &plan.store {
        Some(store) => store.get(&el.state_id)?.unwrap_or_default(),
        None => Default::default(),
    };
    super::extract_load::state_for_tap(el, &stored)
}

/// The catalog the extractor would receive: discovered (or cached, or the `catalog` extra),
/// with the select rules applied. `None` when the extractor takes no catalog.
fn catalog(
    session: &Session,
    ctx: &Context,
    plan: &Plan,
    el: &ExtractLoadPlan,
) -> Result<Option<Value>, RunError> {
    let tap = &el.extractor;
    if !(tap.has_capability("catalog") || tap.has_capability("properties")) {
        return Ok(None);
    }
    if plan.install_missing {
        super::ensure_installed(ctx, &[tap])?;
    }
    // The config file discovery reads lives in a run folder removed when `prepared` drops.
    let opts = PrepareOptions {
        run_id: plan.run_id,
        supervisor: session.supervisor.clone(),
        ..PrepareOptions::default()
    };
    let prepared = prepare(ctx, tap.clone(), &opts)?;
    let config_file = prepared
        .args
        .iter()
        .skip_while(|a| *a != "--config")
        .nth(1)
        .map(std::path::PathBuf::from)
        .ok_or_else(|| PluginError::Catalog {
            plugin: tap.name.to_string(),
            message: "no config file was prepared".into(),
        })?;
    let built = catalog::prepare(&DiscoverInput {
        root: &ctx.project.root,
        plugin: tap,
        program: &prepared.program,
        env: &prepared.env,
        config_file: &config_file,
        refresh: el.refresh_catalog,
        masker: &ctx.masker,
        supervisor: &session.supervisor,
    })?;
    Ok(Some(built.0))
}
