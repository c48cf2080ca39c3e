//! The project: finding the root file, reading it with its `include_paths`, and resolving
//! plugins, environments and settings exactly as Meltano does.
//!
//! Hands on a `Context` (the merged, immutable `Project` plus the active environment and the
//! variables it is resolved against) and, from it, `ResolvedPlugin`s. It never spawns a
//! process or touches state.

pub mod backend;
pub mod compile;
pub mod definition;
pub mod edit;
pub mod error;
pub mod expand;
pub mod extra_settings;
pub mod extras;
pub mod hub;
pub mod include;
pub mod layers;
pub mod load;
pub mod lockfile;
pub mod meltano_env;
pub mod model;
pub mod position;
pub mod resolve;
pub mod resolved;
pub mod schema;
pub mod settings;
pub mod vars;
pub mod yaml;

use crate::vocab::mask::Masker;
use error::{ProjectError, Result, did_you_mean};
use indexmap::{IndexMap, IndexSet};
use model::{EnvironmentDef, JobDef, Object, PluginDef, PluginType, ScheduleDef, Sourced};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vars::{VarOrigin, Vars};

pub use resolve::{ResolvedPlugin, ResolvedSetting, SettingSource};

/// What eltr prints instead of a sensitive value.
pub use crate::vocab::mask::REDACTED;

/// The folder of a project that eltr owns (venvs, run folders, logs, caches, local state):
/// the only place its deletions may reach (`vocab::confine`).
pub fn eltr_dir(root: &Path) -> PathBuf {
    root.join(".eltr")
}

/// The merged project files, before any environment is applied.
#[derive(Debug, Default)]
pub struct Project {
    pub root: PathBuf,
    pub root_file: PathBuf,
    pub default_environment: Option<String>,
    /// The file that sets `default_environment` (for messages).
    pub default_environment_source: Option<PathBuf>,
    pub project_id: Option<String>,
    pub state_backend: Option<Object>,
    pub database_uri: Option<String>,
    pub python: Option<String>,
    pub venv: Option<Object>,
    /// The root file's other project-level keys (`cli`, `database_uri`, `ff`…): Meltano's
    /// project settings, which eltr exports as `MELTANO_*` variables.
    pub settings: Object,
    pub env: IndexMap<String, String>,
    pub plugins: IndexMap<(PluginType, String), Sourced<PluginDef>>,
    pub environments: IndexMap<String, Sourced<EnvironmentDef>>,
    pub jobs: IndexMap<String, Sourced<JobDef>>,
    pub schedules: IndexMap<String, Sourced<ScheduleDef>>,
    /// The files `include_paths` matched, in merge order (editing commands may write there).
    pub included_files: Vec<PathBuf>,
}

/// How the user asked for the project to be opened (the global command-line options).
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    pub project_root: Option<PathBuf>,
    pub environment: Option<String>,
    pub no_environment: bool,
    pub env_file: Option<PathBuf>,
    pub strict_env: bool,
    /// `--database-uri`: Meltano's command-line override of its system database, above the
    /// `MELTANO_DATABASE_URI` variable and the project file.
    pub database_uri: Option<String>,
}

/// Where an environment variable of a plugin's environment came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvOrigin {
    Var(VarOrigin),
    Project,
    Plugin,
    Environment,
    /// Describes the extractor upstream of the plugin in a block (`MELTANO_EXTRACT_…`).
    Upstream,
    /// A variable Meltano defines: the project's (`MELTANO_PROJECT_ROOT`…), its settings'
    /// (`MELTANO_DATABASE_URI`…), the plugin's own (`MELTANO_EXTRACTOR_NAME`…).
    Meltano,
}

/// One variable of a composed environment.
#[derive(Debug, Clone)]
pub struct EnvEntry {
    pub value: String,
    pub origin: EnvOrigin,
}

/// Variables by name. Looked up thousands of times while a big project resolves, by names
/// the project itself supplies, so a fast non-cryptographic hash is the right trade.
type VarMap = IndexMap<String, EnvEntry, foldhash::fast::RandomState>;

/// A composed environment: a shared base (process variables, `.env`, the root `env:`) under
/// the layers of one plugin. Sharing the base keeps resolving hundreds of plugins cheap in a
/// process with hundreds of variables.
#[derive(Debug, Clone, Default)]
pub struct EnvMap {
    base: std::sync::Arc<VarMap>,
    own: VarMap,
}

impl EnvMap {
    /// A map over a shared base.
    fn over(base: std::sync::Arc<VarMap>) -> EnvMap {
        EnvMap {
            base,
            own: VarMap::default(),
        }
    }

    /// The variable's entry, from the top layer down.
    pub fn get(&self, name: &str) -> Option<&EnvEntry> {
        // A plugin's own layer holds a handful of variables: comparing them beats hashing
        // the name twice on every lookup.
        let own = if self.own.len() <= 16 {
            self.own.iter().find(|(k, _)| *k == name).map(|(_, e)| e)
        } else {
            self.own.get(name)
        };
        own.or_else(|| self.base.get(name))
    }

    /// Sets a variable in the top layer.
    pub fn insert(&mut self, name: String, entry: EnvEntry) {
        self.own.insert(name, entry);
    }

    /// Every variable once, with its winning entry.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &EnvEntry)> {
        self.base
            .iter()
            .filter(|(k, _)| !self.own.contains_key(*k))
            .chain(self.own.iter())
    }
}

/// A project opened for one command: the merged files, the active environment and the
/// variables everything is resolved against.
#[derive(Debug)]
pub struct Context {
    pub project: Project,
    pub environment: Option<Sourced<EnvironmentDef>>,
    pub vars: Vars,
    pub strict_env: bool,
    /// Learns every sensitive value as it is resolved; shared with whatever prints.
    pub masker: Arc<Masker>,
    /// `--database-uri`, when given: wins over every other source of `database_uri`.
    pub database_uri_override: Option<String>,
    /// Behind locks rather than cells so blocks running side by side can share the context.
    warned: std::sync::Mutex<IndexSet<String>>,
    /// Set while plugins are resolved only to learn their secrets: no unset-variable warnings.
    quiet_vars: std::sync::atomic::AtomicBool,
    base_env: std::sync::Mutex<Option<std::sync::Arc<VarMap>>>,
    plugin_base_env: std::sync::Mutex<Option<std::sync::Arc<VarMap>>>,
}

/// Opens the project the options point at, from `cwd`.
pub fn open(options: &OpenOptions, cwd: &Path) -> Result<Context> {
    let (root, root_file) = locate(options.project_root.as_deref(), cwd)?;
    let project = load::load(&root, &root_file)?;
    let (env_file, required) = match &options.env_file {
        Some(f) => (cwd.join(f), true),
        None => (root.join(".env"), false),
    };
    let vars = Vars::load(&env_file, required)?;
    Context::new(project, vars, options)
}

/// The project's folder and root file: `project_root` (`--project-root`), else
/// `ELTR_PROJECT_ROOT` / `MELTANO_PROJECT_ROOT`, else the nearest folder from `cwd` up that holds
/// a root file. Shell completion finds the project the same way the command will.
pub fn locate(project_root: Option<&Path>, cwd: &Path) -> Result<(PathBuf, PathBuf)> {
    let explicit_root = project_root.map(Path::to_path_buf).or_else(|| {
        ["ELTR_PROJECT_ROOT", "MELTANO_PROJECT_ROOT"]
            .iter()
            .find_map(|v| {
                std::env::var_os(v)
                    .filter(|s| !s.is_empty())
                    .map(PathBuf::from)
            })
    });
    load::find_root(explicit_root.as_deref(), cwd)
}

/// The environment to activate (Meltano's `detect_selected_environment`): `--environment`,
/// else `ELTR_ENVIRONMENT` / `MELTANO_ENVIRONMENT` (process, then `.env`), else the
/// `default_environment` setting (`MELTANO_DEFAULT_ENVIRONMENT`, process then `.env`, else the
/// project file); none with `--no-environment` or when the name chosen is `null` (any case). A
/// name the project does not define is an error with the closest one.
fn active_environment(
    project: &Project,
    vars: &Vars,
    options: &OpenOptions,
) -> Result<Option<Sourced<EnvironmentDef>>> {
    if options.no_environment {
        return Ok(None);
    }
    let var = |names: [&str; 2]| {
        names
            .iter()
            .find_map(|v| vars.get(v).map(|(s, _)| s.to_string()))
            .filter(|s| !s.is_empty())
    };
    let chosen = options
        .environment
        .clone()
        .or_else(|| var(["ELTR_ENVIRONMENT", "MELTANO_ENVIRONMENT"]));
    if chosen
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case("null"))
    {
        return Ok(None);
    }
    let chosen = chosen
        .or_else(|| var(["ELTR_DEFAULT_ENVIRONMENT", "MELTANO_DEFAULT_ENVIRONMENT"]))
        .or_else(|| project.default_environment.clone());
    let Some(name) = chosen else { return Ok(None) };
    if let Some(e) = project.environments.get(&name) {
        return Ok(Some(e.clone()));
    }
    let defined: Vec<&str> = project.environments.keys().map(String::as_str).collect();
    let mut hint = did_you_mean(&name, defined.iter().copied());
    hint.push_str(&match defined.is_empty() {
        true => " (the project defines no environments)".to_string(),
        false => format!(" (defined: {})", defined.join(", ")),
    });
    let from_default = options.environment.is_none()
        && project.default_environment.as_deref() == Some(name.as_str());
    if let (true, Some(file)) = (from_default, &project.default_environment_source) {
        let message = format!("default_environment '{name}' is not defined{hint}");
        return Err(ProjectError::at_key(file, "default_environment:", message));
    }
    Err(ProjectError::Unknown {
        what: "environment",
        name,
        hint,
    })
}

/// The masker as the project opens: values of secret-looking variables (process, `.env`,
/// the project's `env:` blocks). Resolving plugins and the state backend teaches it more.
fn first_masker(project: &Project, vars: &Vars) -> Arc<Masker> {
    let masker = Arc::new(Masker::new());
    masker.add_all(vars.secret_looking_values());
    let env_blocks = std::iter::once(&project.env)
        .chain(project.environments.values().map(|e| &e.item.env))
        .chain(project.schedules.values().map(|s| &s.item.env));
    masker.add_all(env_blocks.flat_map(|block| {
        block
            .iter()
            .filter(|(k, _)| settings::looks_secret(k))
            .map(|(_, v)| v.as_str())
    }));
    masker
}

impl Context {
    /// Picks the active environment: `--environment`, else `ELTR_ENVIRONMENT` /
    /// `MELTANO_ENVIRONMENT` (process, then `.env`), else `default_environment`.
    pub fn new(project: Project, vars: Vars, options: &OpenOptions) -> Result<Context> {
        let strict_env = options.strict_env
            || ["ELTR_STRICT_ENV", "MELTANO_FF_STRICT_ENV_VAR_MODE"]
                .iter()
                .any(|v| {
                    vars.get(v)
                        .is_some_and(|(s, _)| crate::vocab::truth::truthy(s))
                });
        let environment = active_environment(&project, &vars, options)?;
        let masker = first_masker(&project, &vars);
        let database_uri_override = options.database_uri.clone().filter(|u| !u.is_empty());
        if let Some(uri) = database_uri_override.as_deref() {
            let passwords = crate::vocab::mask::uri_passwords(uri);
            masker.add_all(passwords.iter().map(String::as_str));
        }
        Ok(Context {
            project,
            environment,
            vars,
            strict_env,
            masker,
            database_uri_override,
            warned: std::sync::Mutex::default(),
            quiet_vars: Default::default(),
            base_env: std::sync::Mutex::default(),
            plugin_base_env: std::sync::Mutex::default(),
        })
    }

    /// The active environment's name.
    pub fn environment_name(&self) -> Option<&str> {
        self.environment.as_ref().map(|e| e.item.name.as_str())
    }

    /// The project-level environment: variables, root `env:` and the environment's `env:`.
    pub fn project_env(&self) -> Result<EnvMap> {
        let mut env = self.root_env()?;
        if let Some(e) = &self.environment {
            self.apply_block(&mut env, &e.item.env, EnvOrigin::Environment, &e.source)?;
        }
        Ok(env)
    }

    /// Variables (`.env` under the process) with the root `env:` block on top, built once.
    fn root_env(&self) -> Result<EnvMap> {
        let cached = self
            .base_env
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(base) = cached {
            return Ok(EnvMap::over(base));
        }
        let mut vars = VarMap::default();
        for (k, v, origin) in self.vars.iter() {
            vars.insert(
                k.clone(),
                EnvEntry {
                    value: v.clone(),
                    origin: EnvOrigin::Var(origin),
                },
            );
        }
        let process = |name: &str| self.vars.process(name).map(str::to_string);
        for (name, value) in
            meltano_env::project_vars(&self.project.root, self.environment_name(), &process)
        {
            let origin = EnvOrigin::Meltano;
            vars.insert(name, EnvEntry { value, origin });
        }
        let mut env = EnvMap::over(std::sync::Arc::new(vars));
        self.apply_block(
            &mut env,
            &self.project.env,
            EnvOrigin::Project,
            &self.project.root_file,
        )?;
        let mut flat = VarMap::default();
        for (k, e) in env.iter() {
            flat.insert(k.clone(), e.clone());
        }
        let base = std::sync::Arc::new(flat);
        *self.base_env.lock().unwrap_or_else(|e| e.into_inner()) = Some(base.clone());
        Ok(EnvMap::over(base))
    }

    /// What every plugin's environment starts from: the root environment with Meltano's
    /// project settings on top (`MELTANO_DATABASE_URI`…, `PluginSettingsService.env_override`
    /// puts them above the root `env:` block). Kept out of `project_env`, which resolves the
    /// state backend: there the settings' own variables must not shadow the project file.
    fn plugin_base_env(&self) -> Result<EnvMap> {
        let cached = self
            .plugin_base_env
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(base) = cached {
            return Ok(EnvMap::over(base));
        }
        let root = self.root_env()?;
        let mut flat: VarMap = root.iter().map(|(k, e)| (k.clone(), e.clone())).collect();
        for (name, value) in meltano_env::project_setting_vars(self, &root) {
            let origin = EnvOrigin::Meltano;
            flat.insert(name, EnvEntry { value, origin });
        }
        let base = std::sync::Arc::new(flat);
        *self
            .plugin_base_env
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(base.clone());
        Ok(EnvMap::over(base))
    }

    /// Applies one `env:` block: each value is expanded against the environment so far.
    fn apply_block(
        &self,
        env: &mut EnvMap,
        block: &IndexMap<String, String>,
        origin: EnvOrigin,
        file: &Path,
    ) -> Result<()> {
        let mut expanded = Vec::with_capacity(block.len());
        for (k, v) in block {
            let context = format!("{} env '{k}'", file.display());
            expanded.push((k.clone(), self.expand_str(v, env, file, &context)?));
        }
        for (k, value) in expanded {
            env.insert(k, EnvEntry { value, origin });
        }
        Ok(())
    }

    /// Expands one string against `env`, warning about (or, in strict mode, failing on)
    /// variables that are not set.
    pub fn expand_str(&self, s: &str, env: &EnvMap, file: &Path, context: &str) -> Result<String> {
        let _ = file;
        let out = expand::expand(s, &|name| env.get(name).map(|e| e.value.clone()));
        self.report_missing(&out.missing, env, context)?;
        Ok(out.text)
    }

    /// Expands every string leaf of a config value. Returns `None` when a string that used
    /// variables expanded to nothing: Meltano drops such a value from the config.
    pub fn expand_value(
        &self,
        value: &Value,
        env: &EnvMap,
        context: &str,
    ) -> Result<Option<Value>> {
        let expanded = self.expand_leaves(value, env, context)?;
        Ok(match expanded {
            Value::String(s) if s.is_empty() && value.as_str().is_some_and(|r| r.contains('$')) => {
                None
            }
            v => Some(v),
        })
    }

    /// Expands string leaves; inside lists an empty result stays an empty string, as in
    /// Meltano (`['public', '${UNSET}']` gives `['public', '']`).
    fn expand_leaves(&self, value: &Value, env: &EnvMap, context: &str) -> Result<Value> {
        Ok(match value {
            Value::String(s) if s.contains('$') => {
                let out = expand::expand(s, &|name| env.get(name).map(|e| e.value.clone()));
                self.report_missing(&out.missing, env, context)?;
                Value::String(out.text)
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.expand_leaves(i, env, context))
                    .collect::<Result<_>>()?,
            ),
            Value::Object(map) => {
                // Inside objects a string that expanded to nothing becomes null (Meltano).
                let mut obj = Object::new();
                for (k, v) in map {
                    let expanded = match self.expand_value(v, env, context)? {
                        Some(e) => e,
                        None => Value::Null,
                    };
                    obj.insert(k.clone(), expanded);
                }
                Value::Object(obj)
            }
            other => other.clone(),
        })
    }

    fn report_missing(&self, missing: &[String], env: &EnvMap, context: &str) -> Result<()> {
        // Outside a run nothing describes an extractor to a loader or mapper, so its
        // `MELTANO_EXTRACT_…` references (a Hub loader's defaults use them) are unset by
        // design, not by mistake. Inside a run (or in the extractor itself) they are set,
        // and a missing one is a typo worth reporting.
        // Likewise `MELTANO_MAPPER_…` / `MELTANO_MAP_…` in a block without a mapper.
        let in_block = env.get("MELTANO_EXTRACTOR_NAME").is_some();
        let after_mapper = env.get("MELTANO_MAPPER_NAME").is_some();
        let missing: Vec<&String> = missing
            .iter()
            .filter(|v| in_block || !v.starts_with("MELTANO_EXTRACT"))
            .filter(|v| after_mapper || !v.starts_with("MELTANO_MAP"))
            .collect();
        let Some(first) = missing.first() else {
            return Ok(());
        };
        if self.strict_env {
            return Err(ProjectError::MissingVar {
                var: first.to_string(),
                context: context.to_string(),
            });
        }
        if self.quiet_vars.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        for var in missing {
            let first_time = self
                .warned
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(var.to_string());
            if first_time {
                tracing::warn!(
                    "environment variable '{var}' is not set (used in {context}); it expands to nothing"
                );
            }
        }
        Ok(())
    }

    /// Every plugin, resolved, in project order.
    pub fn all_plugins(&self) -> Result<Vec<ResolvedPlugin>> {
        self.resolve_all()
    }

    /// Resolves every plugin only so the masker learns its secrets (before printing text
    /// eltr did not write itself, such as a log). Nothing runs, so an unset variable is no
    /// mistake here and is not warned about; a plugin that does not resolve is skipped.
    pub fn learn_all_secrets(&self) {
        use std::sync::atomic::Ordering;
        self.quiet_vars.store(true, Ordering::Relaxed);
        if self.all_plugins().is_err() {
            for (ptype, name) in self.project.plugins.keys() {
                let _ = self.plugin(Some(*ptype), name);
            }
        }
        self.quiet_vars.store(false, Ordering::Relaxed);
    }
}
