//! Finding the project root and merging the root file with its includes into one `Project`.

use super::error::{ProjectError, Result};
use super::model::{EXTRA_KEYS, Name, PluginDef, PluginType, ProjectFile, Sourced};
use super::{Project, include, position, yaml};
use crate::vocab::ident::NameKind;
use indexmap::IndexMap;
use std::path::{Path, PathBuf};

/// Root file names, in the order they are looked for.
pub const ROOT_FILES: [&str; 2] = ["eltr.yml", "meltano.yml"];

/// Finds the project root: the explicit folder if given, else the nearest folder from `cwd` up
/// that holds a root file.
pub fn find_root(explicit: Option<&Path>, cwd: &Path) -> Result<(PathBuf, PathBuf)> {
    if let Some(dir) = explicit {
        let dir = cwd.join(dir);
        return root_file_in(&dir)
            .map(|f| (dir.clone(), f))
            .ok_or(ProjectError::RootNotFound { searched: dir });
    }
    for dir in cwd.ancestors() {
        if let Some(f) = root_file_in(dir) {
            return Ok((dir.to_path_buf(), f));
        }
    }
    Err(ProjectError::RootNotFound {
        searched: cwd.to_path_buf(),
    })
}

fn root_file_in(dir: &Path) -> Option<PathBuf> {
    ROOT_FILES.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

/// Reads the root file and every included file and merges them.
pub fn load(root: &Path, root_file: &Path) -> Result<Project> {
    let root_doc: ProjectFile = yaml::read(root_file)?;
    let includes = include::resolve(root, root_file, &root_doc.include_paths)?;
    let mut merger = Merger::new(root.to_path_buf(), root_file.to_path_buf());
    merger.add(root_file, root_doc)?;
    for path in includes {
        let doc: ProjectFile = yaml::read(&path)?;
        if !doc.include_paths.is_empty() {
            tracing::warn!(
                "{}: include_paths is only read from the root file; ignored here",
                path.display()
            );
        }
        merger.add(&path, doc)?;
        merger.project.included_files.push(path);
    }
    Ok(merger.project)
}

/// Accumulates files into a project, checking duplicates and conflicting scalars.
struct Merger {
    project: Project,
    scalar_sources: IndexMap<&'static str, PathBuf>,
    env_sources: IndexMap<String, PathBuf>,
}

impl Merger {
    fn new(root: PathBuf, root_file: PathBuf) -> Self {
        Merger {
            project: Project {
                root,
                root_file,
                ..Project::default()
            },
            scalar_sources: IndexMap::new(),
            env_sources: IndexMap::new(),
        }
    }

    /// Merges one file: its scalars, `env:`, plugins and named items.
    fn add(&mut self, path: &Path, mut doc: ProjectFile) -> Result<()> {
        self.add_scalars(path, &mut doc)?;
        // Meltano reads its project settings (`cli`, `database_uri`, `ff`…) from the root
        // file only.
        if path == self.project.root_file {
            self.project.settings = std::mem::take(&mut doc.other).into_iter().collect();
        }
        self.add_env(path, doc.env)?;
        self.add_plugins(path, doc.plugins)?;
        let p = &mut self.project;
        for env in doc.environments {
            check_name(path, NameKind::Environment, "name", &env.name)?;
            for def in env.config.plugins.values().flatten() {
                check_plugin_names(path, def)?;
            }
            let name = env.name.to_string();
            insert_unique(&mut p.environments, name, env, path, "environment")?;
        }
        for job in doc.jobs {
            let name = job.name.to_string();
            insert_unique(&mut p.jobs, name, job, path, "job")?;
        }
        for schedule in doc.schedules {
            let name = schedule.name.to_string();
            insert_unique(&mut p.schedules, name, schedule, path, "schedule")?;
        }
        Ok(())
    }

    /// Keys that may be set in one file only (or to the same value in several).
    fn add_scalars(&mut self, path: &Path, doc: &mut ProjectFile) -> Result<()> {
        let (p, sources) = (&mut self.project, &mut self.scalar_sources);
        let default_environment = doc.default_environment.take();
        set_scalar(
            sources,
            "default_environment",
            &mut p.default_environment,
            default_environment,
            path,
        )?;
        if let Some(src) = sources.get("default_environment") {
            p.default_environment_source = Some(src.clone());
        }
        set_scalar(
            sources,
            "project_id",
            &mut p.project_id,
            doc.project_id.take(),
            path,
        )?;
        let backend = doc.state_backend.take();
        set_scalar(
            sources,
            "state_backend",
            &mut p.state_backend,
            backend,
            path,
        )?;
        set_scalar(
            sources,
            "database_uri",
            &mut p.database_uri,
            doc.database_uri.take(),
            path,
        )?;
        set_scalar(sources, "python", &mut p.python, doc.python.take(), path)?;
        set_scalar(sources, "venv", &mut p.venv, doc.venv.take(), path)
    }

    /// The root `env:` block: a variable set in two files must have one value.
    fn add_env(&mut self, path: &Path, env: IndexMap<String, String>) -> Result<()> {
        let p = &mut self.project;
        for (key, value) in env {
            if let Some(first) = self.env_sources.get(&key) {
                if p.env.get(&key) != Some(&value) {
                    return Err(ProjectError::ConflictingScalar {
                        key: format!("env.{key}"),
                        first: first.clone(),
                        second: path.to_path_buf(),
                    });
                }
            }
            self.env_sources.insert(key.clone(), path.to_path_buf());
            p.env.insert(key, value);
        }
        Ok(())
    }

    /// `plugins:` by type; an unknown type is an error with the closest known one.
    fn add_plugins(
        &mut self,
        path: &Path,
        plugins: IndexMap<String, Vec<PluginDef>>,
    ) -> Result<()> {
        for (type_key, defs) in plugins {
            let Some(plugin_type) = PluginType::parse(&type_key) else {
                let message = format!(
                    "unknown plugin type '{type_key}' under plugins{} (known: {})",
                    super::error::did_you_mean(&type_key, PluginType::ALL.iter().map(|t| t.key())),
                    PluginType::ALL.map(|t| t.key()).join(", ")
                );
                return Err(ProjectError::at_key(path, &format!("{type_key}:"), message));
            };
            for def in defs {
                check_plugin_names(path, &def)?;
                warn_unknown_keys(path, plugin_type, &def);
                let key = (plugin_type, def.name.to_string());
                insert_unique(
                    &mut self.project.plugins,
                    key,
                    def,
                    path,
                    plugin_type.singular(),
                )?;
            }
        }
        Ok(())
    }
}

/// Every key (besides `EXTRA_KEYS`) Meltano's schema and Hub definitions give a plugin. Meltano keeps any
/// other key as a custom extra, so an unknown key is not an error; but it is far more often a
/// typo (`pip_ulr`) that silently drops a setting, so it gets a warning naming the line and
/// the closest known key. `project::schema` gives editors the same list.
pub const KNOWN_PLUGIN_KEYS: &[&str] = &[
    "name",
    "inherit_from",
    "variant",
    "pip_url",
    "namespace",
    "executable",
    "python",
    "config",
    "settings",
    "capabilities",
    "env",
    "commands",
    "mappings",
    "label",
    "logo_url",
    "description",
    "docs",
    "repo",
    "ext_repo",
    "keywords",
    "maintenance_status",
    "domain_url",
    "settings_group_validation",
    "hidden",
    "update",
    "requires",
    "requires_meltano",
    "container_spec",
    "annotations",
    "original_name",
    "supported_python_versions",
    "default_variant",
    "plugin_type",
    "quality",
    "usage",
    "prereq",
    "next_steps",
    "settings_preamble",
];

/// Warns about each key of a plugin definition that no Meltano plugin has.
fn warn_unknown_keys(path: &Path, plugin_type: PluginType, def: &PluginDef) {
    let unknown: Vec<&String> = def
        .other
        .keys()
        .filter(|k| {
            !k.starts_with('_')
                && !KNOWN_PLUGIN_KEYS.contains(&k.as_str())
                && !EXTRA_KEYS.contains(&k.as_str())
        })
        .collect();
    if unknown.is_empty() {
        return;
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    for key in unknown {
        let place = match position::locate_key(&text, key) {
            Some((line, column)) => format!("{}:{line}:{column}", path.display()),
            None => path.display().to_string(),
        };
        tracing::warn!(
            "{place}: unknown key '{}' in {plugin_type} '{}'{}; it is kept as a custom extra",
            crate::vocab::ident::shown(key),
            def.name,
            super::error::did_you_mean(key, KNOWN_PLUGIN_KEYS.iter().chain(EXTRA_KEYS).copied())
        );
    }
}

/// The rules of a plugin's name and variant that depend on the kind of name (the shared ones
/// were checked while reading the YAML).
fn check_plugin_names(path: &Path, def: &PluginDef) -> Result<()> {
    check_name(path, NameKind::Plugin, "name", &def.name)?;
    if let Some(variant) = &def.variant {
        check_name(path, NameKind::Variant, "variant", variant)?;
    }
    Ok(())
}

/// Checks `value` of `key` as a name of `kind`; the error points at the line that sets it.
fn check_name(path: &Path, kind: NameKind, key: &str, value: &str) -> Result<()> {
    match Name::parse(kind, value) {
        Ok(_) => Ok(()),
        Err(e) => {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let position = position::locate_key_value(&text, key, value);
            Err(ProjectError::at(path, position, e.to_string()))
        }
    }
}

fn set_scalar<T: PartialEq>(
    sources: &mut IndexMap<&'static str, PathBuf>,
    key: &'static str,
    slot: &mut Option<T>,
    value: Option<T>,
    path: &Path,
) -> Result<()> {
    let Some(value) = value else { return Ok(()) };
    if let (Some(existing), Some(first)) = (slot.as_ref(), sources.get(key)) {
        if *existing != value {
            return Err(ProjectError::ConflictingScalar {
                key: key.to_string(),
                first: first.clone(),
                second: path.to_path_buf(),
            });
        }
    }
    sources.insert(key, path.to_path_buf());
    *slot = Some(value);
    Ok(())
}

fn insert_unique<K, T>(
    map: &mut IndexMap<K, Sourced<T>>,
    key: K,
    item: T,
    path: &Path,
    what: &'static str,
) -> Result<()>
where
    K: std::hash::Hash + Eq + NameOf,
{
    if let Some(first) = map.get(&key) {
        return Err(ProjectError::Duplicate {
            what,
            name: key.name().to_string(),
            first: first.source.clone(),
            second: path.to_path_buf(),
        });
    }
    map.insert(
        key,
        Sourced {
            item,
            source: path.to_path_buf(),
        },
    );
    Ok(())
}

/// The user-facing name of a map key, for duplicate messages.
trait NameOf {
    fn name(&self) -> &str;
}

impl NameOf for String {
    fn name(&self) -> &str {
        self
    }
}

impl NameOf for (PluginType, String) {
    fn name(&self) -> &str {
        &self.1
    }
}
