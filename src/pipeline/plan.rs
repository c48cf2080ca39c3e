//! Plan, then execute. `plan` turns the project and a `RunRequest` into a typed `Plan`: the
//! blocks with their resolved plugins, each extract-load block's state id, where its state is
//! read from and written to, its lock policy, the store. Building it reads the project files
//! and nothing else: no process is started, no file written, no network reached. `--dry-run`
//! prints it (text, or JSON with `--format json`); `pipeline::execute` runs it.

use super::blocks::{self, Block};
use super::{ElRequest, RunError, RunRequest, StateStrategy, Transform};
use crate::plugin::env::{extra_vars, setting_vars};
use crate::plugin::prepare::describe_vars;
use crate::project::model::{MappingDef, PluginType};
use crate::project::{Context, ResolvedPlugin};
use crate::state::{LockPolicy, StateId, Store};
use crate::vocab::ident::RunId;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything a run will do, decided before anything is done.
pub struct Plan {
    pub run_id: RunId,
    pub blocks: Vec<PlannedBlock>,
    /// The state store, when a block reads or writes state.
    pub store: Option<Arc<dyn Store>>,
    /// Stop the run after this long.
    pub timeout: Option<Duration>,
    /// Install missing plugins before a block runs.
    pub install_missing: bool,
    /// Draw the live progress line.
    pub progress: bool,
    /// How many blocks may run at once (1: one after another).
    pub parallel: usize,
}

/// One block of the plan.
pub enum PlannedBlock {
    ExtractLoad(Box<ExtractLoadPlan>),
    /// A plugin run on its own, or one of its `commands:`.
    Command {
        plugin: Box<ResolvedPlugin>,
        command: Option<String>,
    },
}

/// An `extractor [mapper…] loader` block, resolved.
pub struct ExtractLoadPlan {
    /// How the block is shown (`tap-x → target-y`).
    pub label: String,
    pub extractor: ResolvedPlugin,
    pub mappers: Vec<(ResolvedPlugin, Option<MappingDef>)>,
    pub loader: ResolvedPlugin,
    /// What mappers and the loader learn of the extractor, in their process environment.
    pub upstream: Vec<(String, String)>,
    pub state_id: StateId,
    /// Names the block's log folder: the state id, or `tap-to-target` without state.
    pub log_id: String,
    pub state: StatePlan,
    /// Discover the catalog again rather than use the cached one.
    pub refresh_catalog: bool,
    /// Run this many copies of the extractor, each with a share of the selected streams and
    /// a loader of its own (`--split-streams`); `None`: one extractor.
    pub split: Option<usize>,
}

/// Where a block's state comes from and goes.
pub struct StatePlan {
    pub read: StateSource,
    /// Confirmed states are saved (not `--no-state-update`).
    pub write: bool,
    /// Confirmed states merge into `partial` rather than replace `completed`.
    pub merge: bool,
    /// Held for the whole block when state is written.
    pub lock: Option<LockPolicy>,
}

/// The bookmarks the extractor starts from.
pub enum StateSource {
    /// None: `--full-refresh` or `--no-state-update`.
    Nothing,
    /// The stored state of the block's state id.
    Store,
    /// The file the extractor's `state` extra names.
    File(PathBuf),
}

/// Builds the plan of `req` against the project.
pub fn plan(ctx: &Context, req: &RunRequest) -> Result<Plan, RunError> {
    let words = match &req.el {
        Some(el) => el_blocks(ctx, el)?,
        None => blocks::parse(ctx, &req.words)?,
    };
    let mut planned = Vec::with_capacity(words.len());
    for block in &words {
        planned.push(match block {
            Block::ExtractLoad { .. } => {
                PlannedBlock::ExtractLoad(Box::new(extract_load(ctx, req, block)?))
            }
            Block::Command { plugin, command } => PlannedBlock::Command {
                plugin: Box::new(ctx.plugin(None, plugin)?),
                command: command.clone(),
            },
        });
    }
    let needs_store = planned.iter().any(|b| match b {
        PlannedBlock::ExtractLoad(el) => {
            el.state.write || matches!(el.state.read, StateSource::Store)
        }
        PlannedBlock::Command { .. } => false,
    });
    let store = match needs_store {
        true => Some(super::open_store(ctx)?),
        false => None,
    };
    Ok(Plan {
        run_id: req.run_id,
        blocks: planned,
        store,
        timeout: req.timeout,
        install_missing: !req.no_install,
        progress: req.progress.enabled(),
        parallel: req.parallel.unwrap_or(1),
    })
}

fn extract_load(
    ctx: &Context,
    req: &RunRequest,
    block: &Block,
) -> Result<ExtractLoadPlan, RunError> {
    let Block::ExtractLoad {
        extractor,
        mappers,
        loader,
    } = block
    else {
        unreachable!("called with extract-load blocks only");
    };
    // Each plugin of the block sees the variables of every plugin before it (Meltano's
    // `ELBContextBuilder` adds each block's `info_env` and settings to the next one's).
    let mut tap = ctx.plugin(None, extractor)?;
    if let Some(el) = &req.el {
        apply_el_overrides(&mut tap, el);
    }
    let mut upstream = plugin_vars(&tap);
    let mut mapper_plugins = Vec::with_capacity(mappers.len());
    for m in mappers {
        // A mapping runs as the plugin Meltano makes of it: the mapper with the mapping's
        // config (`Context::plugin` resolves mapping names so).
        let name = m
            .mapping
            .as_ref()
            .map_or(m.plugin.as_str(), |d| d.name.as_str());
        let mapper = ctx.plugin_with_upstream(Some(PluginType::Mappers), name, &upstream)?;
        upstream.extend(plugin_vars(&mapper));
        mapper_plugins.push((mapper, m.mapping.clone()));
    }
    let target = ctx.plugin_with_upstream(None, loader, &upstream)?;
    let state_id = match &req.el {
        Some(el) => StateId::parse(&el.state_id)?,
        None => state_id(ctx, req, extractor, loader)?,
    };
    let state = state_plan(ctx, req, &tap)?;
    let write = state.write;
    let log_id = match write {
        true => state_id.to_string(),
        false => format!("{extractor}-to-{loader}"),
    };
    let split = split(req, block, &tap)?;
    Ok(ExtractLoadPlan {
        label: block.label(),
        extractor: tap,
        mappers: mapper_plugins,
        loader: target,
        upstream,
        state_id,
        log_id,
        state,
        refresh_catalog: req.refresh_catalog || req.full_refresh,
        split,
    })
}

/// Where the block's state comes from and goes: nothing with `--full-refresh` or
/// `--no-state-update`, else the file the `state` extra names, else the store; merged into
/// `partial` under `merge` (or `auto` with `--full-refresh`); locked whenever it is written.
fn state_plan(
    ctx: &Context,
    req: &RunRequest,
    tap: &ResolvedPlugin,
) -> Result<StatePlan, RunError> {
    let write = !req.no_state_update;
    let read = if req.full_refresh || req.no_state_update {
        StateSource::Nothing
    } else if let Some(file) = &tap.extras.state {
        StateSource::File(ctx.project.root.join(file))
    } else {
        StateSource::Store
    };
    let merge = req.state_strategy == StateStrategy::Merge
        || (req.state_strategy == StateStrategy::Auto && req.full_refresh);
    let lock = match write {
        true => Some(super::lock_policy(ctx, req.force)?),
        false => None,
    };
    Ok(StatePlan {
        read,
        write,
        merge,
        lock,
    })
}

/// How many copies of the extractor `--split-streams` asks for, if the block allows it: a
/// tap → target block (each copy needs a loader of its own, and mappers would need copies
/// too) whose extractor takes a catalog (a copy's share of the streams is its catalog).
fn split(req: &RunRequest, block: &Block, tap: &ResolvedPlugin) -> Result<Option<usize>, RunError> {
    let Some(n) = req.split_streams.filter(|n| *n > 1) else {
        return Ok(None);
    };
    let refuse = |reason: String| {
        Err(RunError::SplitRefused {
            block: block.label(),
            reason,
        })
    };
    if let Block::ExtractLoad { mappers, .. } = block {
        if !mappers.is_empty() {
            return refuse("only tap → target blocks can be split, this one has mappers".into());
        }
    }
    if !tap.has_capability("catalog") && !tap.has_capability("properties") {
        return refuse(format!(
            "extractor '{}' takes no catalog (capability `catalog` or `properties`), so its streams cannot be shared out",
            tap.name
        ));
    }
    Ok(Some(n))
}

/// The blocks of `eltr el` / `elt`: the extract-load pair (unless `--transform only`), then
/// Meltano's legacy transformation, `dbt clean`, `dbt deps` and `dbt run` of the transformer
/// called `dbt` (`--transform run|only`).
fn el_blocks(ctx: &Context, el: &ElRequest) -> Result<Vec<Block>, RunError> {
    ctx.find_def(Some(PluginType::Extractors), &el.extractor)?;
    ctx.find_def(Some(PluginType::Loaders), &el.loader)?;
    let mut out = Vec::new();
    if el.transform != Transform::Only {
        out.push(Block::ExtractLoad {
            extractor: el.extractor.clone(),
            mappers: Vec::new(),
            loader: el.loader.clone(),
        });
    }
    if el.transform != Transform::Skip {
        if ctx.find_def(Some(PluginType::Transformers), "dbt").is_err() {
            return Err(RunError::NoDbtTransformer);
        }
        for command in ["clean", "deps", "run"] {
            out.push(Block::Command {
                plugin: "dbt".to_string(),
                command: Some(command.to_string()),
            });
        }
    }
    Ok(out)
}

/// `el`'s `--catalog`, `--state`, `--select` and `--exclude` override the extractor's extras,
/// above every other layer (Meltano passes them as config overrides).
fn apply_el_overrides(tap: &mut ResolvedPlugin, el: &ElRequest) {
    if let Some(c) = &el.catalog {
        tap.extras.catalog = Some(c.clone());
    }
    if let Some(s) = &el.state {
        tap.extras.state = Some(s.clone());
    }
    if !el.select_filter.is_empty() {
        tap.extras.select_filter = Some(el.select_filter.clone());
    }
}

/// What a plugin tells the plugins after it in a block: `MELTANO_<TYPE>_NAME`…, its settings
/// and its extras under all its names (`PluginContext.env`).
fn plugin_vars(p: &ResolvedPlugin) -> Vec<(String, String)> {
    let mut vars = describe_vars(p);
    vars.extend(setting_vars(p).into_iter().map(|(k, v, _)| (k, v)));
    vars.extend(extra_vars(p));
    vars
}

/// `{environment}:{extractor}-to-{loader}[:{suffix}]`, the suffix from the command line or
/// the environment's `state_id_suffix`.
fn state_id(ctx: &Context, req: &RunRequest, tap: &str, target: &str) -> Result<StateId, RunError> {
    let suffix = match &req.state_id_suffix {
        Some(s) => Some(s.clone()),
        None => match ctx
            .environment
            .as_ref()
            .and_then(|e| e.item.state_id_suffix.clone())
        {
            Some(raw) => {
                let env = ctx.project_env()?;
                Some(ctx.expand_str(&raw, &env, &ctx.project.root_file, "state_id_suffix")?)
            }
            None => None,
        },
    };
    Ok(StateId::for_pipeline(
        ctx.environment_name(),
        tap,
        target,
        suffix.as_deref(),
    )?)
}

impl Plan {
    /// True when blocks may run side by side: their lines then say which block they are of.
    pub fn side_by_side(&self) -> bool {
        self.parallel > 1 && self.blocks.len() > 1
    }

    /// Every plugin the plan runs, in order.
    pub fn plugins(&self) -> Vec<&ResolvedPlugin> {
        self.blocks
            .iter()
            .flat_map(|b| match b {
                PlannedBlock::ExtractLoad(el) => el.plugins().into_iter().map(|(_, p)| p).collect(),
                PlannedBlock::Command { plugin, .. } => vec![&**plugin],
            })
            .collect()
    }

    /// The plan as JSON (`eltr run --dry-run --format json`); plugin configs masked.
    pub fn to_json(&self) -> Value {
        json!({
            "run_id": self.run_id,
            "store": self.store.as_ref().map(|s| s.describe()),
            "timeout_seconds": self.timeout.map(|t| t.as_secs_f64()),
            "install_missing": self.install_missing,
            "parallel": self.parallel,
            "blocks": self.blocks.iter().map(PlannedBlock::to_json).collect::<Vec<_>>(),
        })
    }

    /// The plan for people (`eltr run --dry-run`).
    pub fn render(&self) -> String {
        let mut out = format!("run {}\n", self.run_id);
        if self.side_by_side() {
            out.push_str(&format!(
                "up to {} blocks at once (blocks sharing a plugin or a state id wait for each other)\n",
                self.parallel
            ));
        }
        for (i, block) in self.blocks.iter().enumerate() {
            match block {
                PlannedBlock::ExtractLoad(el) => {
                    out.push_str(&format!("block {}: {}\n", i + 1, el.label));
                    out.push_str(&format!("  state id: {}\n", el.state_id));
                    out.push_str(&format!("  state: {}\n", el.state.describe()));
                    if let Some(n) = el.split {
                        out.push_str(&format!(
                            "  streams split over up to {n} extractor copies, each with its own loader\n"
                        ));
                    }
                    for (role, p) in el.plugins() {
                        out.push_str(&format!("  {role} {}: {}\n", p.name, describe_program(p)));
                    }
                }
                PlannedBlock::Command { plugin, command } => {
                    let label = match command {
                        Some(c) => format!("{}:{c}", plugin.name),
                        None => plugin.name.to_string(),
                    };
                    out.push_str(&format!("block {}: {label}\n", i + 1));
                    out.push_str(&format!(
                        "  {} {}: {}\n",
                        plugin.plugin_type.singular(),
                        plugin.name,
                        describe_program(plugin)
                    ));
                }
            }
        }
        if let Some(store) = &self.store {
            out.push_str(&format!("store: {}\n", store.describe()));
        }
        out
    }
}

impl ExtractLoadPlan {
    /// The block's plugins in data order, each with its role.
    pub fn plugins(&self) -> Vec<(&'static str, &ResolvedPlugin)> {
        std::iter::once(("extractor", &self.extractor))
            .chain(self.mappers.iter().map(|(m, _)| ("mapper", m)))
            .chain(std::iter::once(("loader", &self.loader)))
            .collect()
    }
}

impl PlannedBlock {
    /// How the block is shown (`tap-x → target-y`, `dbt:run`).
    pub fn label(&self) -> String {
        match self {
            PlannedBlock::ExtractLoad(el) => el.label.clone(),
            PlannedBlock::Command { plugin, command } => match command {
                Some(c) => format!("{}:{c}", plugin.name),
                None => plugin.name.to_string(),
            },
        }
    }

    fn to_json(&self) -> Value {
        match self {
            PlannedBlock::ExtractLoad(el) => json!({
                "kind": "extract_load",
                "label": el.label,
                "state_id": el.state_id.as_str(),
                "log_id": el.log_id,
                "state": {
                    "read": match &el.state.read {
                        StateSource::Nothing => Value::Null,
                        StateSource::Store => json!("store"),
                        StateSource::File(f) => json!(f.display().to_string()),
                    },
                    "write": el.state.write,
                    "strategy": if el.state.merge { "merge" } else { "overwrite" },
                    "lock": el.state.lock.as_ref().map(|l| json!({
                        "timeout_seconds": l.timeout.as_secs_f64(),
                        "force": l.force,
                    })),
                },
                "refresh_catalog": el.refresh_catalog,
                "split_streams": el.split,
                "plugins": el.plugins().into_iter().zip(mappings(el)).map(|((role, p), mapping)| {
                    let mut o = plugin_json(p);
                    o["role"] = json!(role);
                    if let Some(m) = mapping {
                        o["mapping"] = json!(m);
                    }
                    o
                }).collect::<Vec<_>>(),
            }),
            PlannedBlock::Command { plugin, command } => json!({
                "kind": "command",
                "plugin": plugin_json(plugin),
                "command": command,
            }),
        }
    }
}

/// The mapping each plugin of a block runs (mappers only), in data order.
fn mappings(el: &ExtractLoadPlan) -> Vec<Option<&str>> {
    std::iter::once(None)
        .chain(
            el.mappers
                .iter()
                .map(|(_, m)| m.as_ref().map(|m| m.name.as_str())),
        )
        .chain(std::iter::once(None))
        .collect()
}

fn plugin_json(p: &ResolvedPlugin) -> Value {
    json!({
        "type": p.plugin_type.singular(),
        "name": p.name,
        "executable": p.executable,
        "pip_url": p.pip_url,
        "capabilities": p.capabilities,
        "config": Value::Object(p.redacted_config_object()),
    })
}

fn describe_program(p: &ResolvedPlugin) -> String {
    match &p.pip_url {
        Some(url) => format!("{} (from {url})", p.executable),
        None => p.executable.clone(),
    }
}

impl StatePlan {
    fn describe(&self) -> String {
        let read = match &self.read {
            StateSource::Nothing => "starts from no bookmark".to_string(),
            StateSource::Store => "resumes from the stored state".to_string(),
            StateSource::File(f) => format!("resumes from {}", f.display()),
        };
        let write = match (&self.write, self.merge) {
            (false, _) => "not saved".to_string(),
            (true, true) => "confirmed states merged into the stored one".to_string(),
            (true, false) => "confirmed states replace the stored one".to_string(),
        };
        let lock = match &self.lock {
            Some(l) if l.force => ", lock taken by force".to_string(),
            Some(l) => format!(", locked (stale after {:?})", l.timeout),
            None => String::new(),
        };
        format!("{read}; {write}{lock}")
    }
}
