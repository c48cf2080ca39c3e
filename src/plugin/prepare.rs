//! Preparing one plugin process: program, arguments, environment and run files (config
//! 0600, catalog, state).

use super::catalog::{self, DiscoverInput};
use super::executable;
use super::run_dir::RunDir;
use super::{PluginError, env};
use crate::project::model::PluginType;
use crate::project::{Context, ResolvedPlugin};
use crate::singer::catalog::Catalog;
use crate::vocab::ident::RunId;
use crate::vocab::mask::Masker;
use crate::vocab::supervisor::Supervisor;
use serde_json::Value;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

/// What a run asks of the preparation.
#[derive(Debug, Default, Clone)]
pub struct PrepareOptions {
    /// Names the run folder; exported as `MELTANO_RUN_ID`.
    pub run_id: RunId,
    pub refresh_catalog: bool,
    /// The Singer state to hand an extractor (`None`: no `--state`).
    pub state: Option<Value>,
    /// Variables describing other plugins of the block (the loader sees the extractor's).
    pub extra_env: Vec<(String, String)>,
    /// Extractors only: build the catalog (false for `invoke`, which passes its own args).
    pub with_catalog: bool,
    /// Watches the discovery process, so a signal stops it too.
    pub supervisor: Arc<Supervisor>,
    /// The copy of the plugin this is, when a run starts several (`--split-streams`): its
    /// run folder is `<run_id>-<copy>`, beside the others'.
    pub copy: Option<usize>,
    /// Extractors: this catalog rather than one built from the plugin's (a copy's share).
    pub catalog: Option<Catalog>,
}

/// A plugin ready to spawn. Its run files live as long as it does.
#[derive(Debug)]
pub struct PreparedPlugin {
    pub plugin: ResolvedPlugin,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(String, String)>,
    /// The project's masker, which knows this plugin's secrets (and every other one).
    pub masker: Arc<Masker>,
    /// Streams the catalog selects (extractors with a catalog).
    pub selected_streams: Option<Vec<String>>,
    /// The catalog handed to the extractor, rules applied.
    pub catalog: Option<Catalog>,
    /// Which copy of the plugin this is, when a run starts several.
    pub copy: Option<usize>,
    /// Plugins run from the project root, as under Meltano (relative paths in configs work).
    pub cwd: PathBuf,
    pub run_dir: RunDir,
}

/// Prepares `plugin` for a run.
pub fn prepare(
    ctx: &Context,
    plugin: ResolvedPlugin,
    opts: &PrepareOptions,
) -> Result<PreparedPlugin, PluginError> {
    let root = &ctx.project.root;
    let env = process_env(ctx, &plugin, opts);
    let path_var = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str());
    let program =
        executable::find(root, &plugin, path_var).ok_or_else(|| PluginError::NotFound {
            kind: plugin.plugin_type.singular().into(),
            plugin: plugin.name.to_string(),
            executable: plugin.executable.clone(),
            venv: super::venv::venv_dir(root, &plugin).display().to_string(),
        })?;
    let run_files = |error: std::io::Error, path: &std::path::Path| PluginError::RunFiles {
        plugin: plugin.name.to_string(),
        path: path.display().to_string(),
        error,
    };
    let run_dir = RunDir::create(root, &plugin.name, opts.run_id, opts.copy)
        .map_err(|e| run_files(e, &super::run_dir::plugin_dir(root, &plugin.name)))?;

    // Only Singer plugins get a config file and `--config FILE` (Meltano's
    // `SingerPlugin.exec_args`); a utility or transformer reads its settings from the
    // variables it is given. A mapping's config is already the mapper's config
    // (`Context::plugin` resolves a mapping name as Meltano does), expanded.
    let singer = matches!(
        plugin.plugin_type,
        PluginType::Extractors | PluginType::Loaders | PluginType::Mappers
    );
    let mut args: Vec<OsString> = Vec::new();
    let mut config_file = PathBuf::new();
    if singer {
        let config = Value::Object(plugin.config_object());
        let config_name = format!("{}.json", plugin.plugin_type.singular());
        config_file = run_dir
            .write_private(&config_name, config.to_string().as_bytes())
            .map_err(|e| run_files(e, run_dir.path()))?;
        args = vec!["--config".into(), config_file.clone().into()];
    }

    let mut handed = None;
    if plugin.plugin_type == PluginType::Extractors && opts.with_catalog {
        let files = ExtractorFiles {
            ctx,
            plugin: &plugin,
            program: &program,
            env: &env,
            config_file: &config_file,
            run_dir: &run_dir,
        };
        handed = files.add_args(opts, &mut args)?;
    }

    // dbt runs in its project folder (Meltano's `DbtInvoker`: the `project_dir` setting of a
    // transformer); every other plugin in the project root.
    let cwd = match plugin.plugin_type {
        PluginType::Transformers => plugin
            .config
            .get("project_dir")
            .and_then(|s| s.value.as_str())
            .map(|d| root.join(d))
            .unwrap_or_else(|| root.clone()),
        _ => root.clone(),
    };
    let mut prepared = PreparedPlugin {
        plugin,
        program,
        args,
        env,
        masker: ctx.masker.clone(),
        selected_streams: handed.as_ref().map(Catalog::selected_streams),
        catalog: handed,
        copy: opts.copy,
        cwd,
        run_dir,
    };
    // Airflow and Superset get the files and variables Meltano's glue gives them.
    super::glue::apply(&mut prepared)?;
    Ok(prepared)
}

/// What an extractor's catalog and state files are made from.
struct ExtractorFiles<'a> {
    ctx: &'a Context,
    plugin: &'a ResolvedPlugin,
    program: &'a std::path::Path,
    env: &'a [(String, String)],
    config_file: &'a std::path::Path,
    run_dir: &'a RunDir,
}

impl ExtractorFiles<'_> {
    /// Writes the extractor's catalog (`--catalog`, or `--properties` for taps that only
    /// know that) and state (`--state`) files and adds their arguments; returns the catalog.
    fn add_args(
        &self,
        opts: &PrepareOptions,
        args: &mut Vec<OsString>,
    ) -> Result<Option<Catalog>, PluginError> {
        let plugin = self.plugin;
        let run_dir = self.run_dir;
        let run_files = |error: std::io::Error| PluginError::RunFiles {
            plugin: plugin.name.to_string(),
            path: run_dir.path().display().to_string(),
            error,
        };
        let mut handed = None;
        if plugin.has_capability("catalog") || plugin.has_capability("properties") {
            let catalog = match &opts.catalog {
                Some(given) => given.clone(),
                None => catalog::prepare(&DiscoverInput {
                    root: &self.ctx.project.root,
                    plugin,
                    program: self.program,
                    env: self.env,
                    config_file: self.config_file,
                    refresh: opts.refresh_catalog,
                    masker: &self.ctx.masker,
                    supervisor: &opts.supervisor,
                })?,
            };
            let file = run_dir
                .write_private("tap.properties.json", catalog.0.to_string().as_bytes())
                .map_err(run_files)?;
            let flag = match plugin.has_capability("catalog") {
                true => "--catalog",
                false => "--properties",
            };
            args.extend([flag.into(), file.into()]);
            handed = Some(catalog);
        }
        if let Some(state) = opts
            .state
            .as_ref()
            .filter(|_| plugin.has_capability("state"))
        {
            let file = run_dir
                .write_private("state.json", state.to_string().as_bytes())
                .map_err(run_files)?;
            args.extend(["--state".into(), file.into()]);
        }
        Ok(handed)
    }
}

impl PreparedPlugin {
    /// How the process is named in logs and summaries: the plugin, and which copy it is
    /// when a run starts several (`tap-x[2]`).
    pub fn process_name(&self) -> String {
        match self.copy {
            Some(k) => format!("{}[{k}]", self.plugin.name),
            None => self.plugin.name.to_string(),
        }
    }
}

/// The full environment of the plugin process, in precedence order (later wins).
pub fn process_env(
    ctx: &Context,
    plugin: &ResolvedPlugin,
    opts: &PrepareOptions,
) -> Vec<(String, String)> {
    let root = &ctx.project.root;
    let mut vars: indexmap::IndexMap<String, String> = plugin
        .env
        .iter()
        .map(|(k, e)| (k.clone(), e.value.clone()))
        .collect();
    for (k, v) in &opts.extra_env {
        vars.insert(k.clone(), v.clone());
    }
    for (k, v) in describe_vars(plugin) {
        vars.insert(k, v);
    }
    for (k, v, _) in env::setting_vars(plugin) {
        vars.insert(k, v);
    }
    for (k, v) in env::extra_vars(plugin) {
        vars.insert(k, v);
    }
    vars.insert("MELTANO_PROJECT_ROOT".into(), root.display().to_string());
    vars.insert("ELTR_PROJECT_ROOT".into(), root.display().to_string());
    if let Some(e) = ctx.environment_name() {
        vars.insert("MELTANO_ENVIRONMENT".into(), e.to_string());
    }
    vars.insert("MELTANO_RUN_ID".into(), opts.run_id.to_string());
    // eltr's venv only once its install finished (it has a fingerprint); a venv
    // Meltano installed as it is.
    let ours = super::venv::venv_dir(root, plugin);
    let ours_ready = ours.join(super::venv::FINGERPRINT_FILE).is_file();
    for venv in [ours, super::venv::meltano_venv_dir(root, plugin)] {
        let usable = if venv == super::venv::venv_dir(root, plugin) {
            ours_ready
        } else {
            true
        };
        if usable && venv.join("bin").is_dir() {
            let path = vars.get("PATH").cloned().unwrap_or_default();
            vars.insert(
                "PATH".into(),
                format!("{}:{path}", venv.join("bin").display()),
            );
            vars.insert("VIRTUAL_ENV".into(), venv.display().to_string());
            break;
        }
    }
    vars.into_iter().collect()
}

/// `MELTANO_EXTRACTOR_NAME`-style variables describing a plugin; loaders also receive the
/// extractor's (some targets derive their schema from it).
pub fn describe_vars(plugin: &ResolvedPlugin) -> Vec<(String, String)> {
    crate::project::resolved::PluginFacts {
        plugin_type: plugin.plugin_type,
        name: &plugin.name,
        namespace: &plugin.namespace,
        variant: plugin.variant.as_deref(),
    }
    .describe_vars()
}
