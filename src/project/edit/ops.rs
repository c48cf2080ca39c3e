//! The project-level edits behind `eltr config set|unset|reset`, `select`, `add`, `remove`,
//! `job`, `schedule` and `environment`: each finds the file that defines the thing (from the
//! loaded `Project`, which records it) and changes it there, through one [`Changeset`].
//! Where a new thing goes is Meltano's rule: the root file, unless the caller names an
//! included file.

use super::{Changeset, Seg, Written, dotenv};
use crate::project::Project;
use crate::project::model::PluginType;
use anyhow::{Context as _, anyhow, bail};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// Where a plugin's config is edited: its own definition, or its overlay in an environment.
#[derive(Debug, Clone)]
pub enum Target {
    Plugin {
        plugin_type: PluginType,
        name: String,
    },
    Environment {
        environment: String,
        plugin_type: PluginType,
        name: String,
    },
}

impl Target {
    pub fn plugin_type(&self) -> PluginType {
        match self {
            Target::Plugin { plugin_type, .. } | Target::Environment { plugin_type, .. } => {
                *plugin_type
            }
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Target::Plugin { name, .. } | Target::Environment { name, .. } => name,
        }
    }
}

/// The edits of one command over a loaded project.
pub struct Editor<'p> {
    project: &'p Project,
    cs: Changeset,
}

impl<'p> Editor<'p> {
    pub fn new(project: &'p Project) -> Editor<'p> {
        Editor {
            project,
            cs: Changeset::new(&project.root),
        }
    }

    /// Writes every changed file at once.
    pub fn commit(self) -> anyhow::Result<Written> {
        self.cs.commit()
    }

    /// The changeset, for edits of files the project model does not describe (lockfiles).
    pub fn changeset(&mut self) -> &mut Changeset {
        &mut self.cs
    }

    /// The file and path of a plugin's definition.
    fn plugin_at(
        &mut self,
        plugin_type: PluginType,
        name: &str,
    ) -> anyhow::Result<(PathBuf, Vec<Seg>)> {
        let sourced = self
            .project
            .plugins
            .get(&(plugin_type, name.to_string()))
            .ok_or_else(|| anyhow!("{plugin_type} '{name}' is not in the project"))?;
        let file = sourced.source.clone();
        let list = crate::yaml_path!["plugins", plugin_type.key()];
        let doc = self.cs.yaml(&file)?;
        let i = doc.find_named(&list, name).ok_or_else(|| {
            anyhow!(
                "{plugin_type} '{name}' is not a list item of plugins.{} in {}",
                plugin_type.key(),
                file.display()
            )
        })?;
        let mut path = list;
        path.push(Seg::Index(i));
        Ok((file, path))
    }

    /// The file and path of an environment's definition.
    fn environment_at(&mut self, environment: &str) -> anyhow::Result<(PathBuf, Vec<Seg>)> {
        let sourced = self.project.environments.get(environment).ok_or_else(|| {
            anyhow!(
                "environment '{environment}' is not in the project{}",
                crate::project::error::did_you_mean(
                    environment,
                    self.project.environments.keys().map(String::as_str)
                )
            )
        })?;
        let file = sourced.source.clone();
        let list = crate::yaml_path!["environments"];
        let doc = self.cs.yaml(&file)?;
        let i = doc.find_named(&list, environment).ok_or_else(|| {
            anyhow!(
                "environment '{environment}' not found in {}",
                file.display()
            )
        })?;
        let mut path = list;
        path.push(Seg::Index(i));
        Ok((file, path))
    }

    /// The file and path of the mapping that a target's config and extras live in; an
    /// environment overlay is created when `create` is set.
    fn target_at(
        &mut self,
        target: &Target,
        create: bool,
    ) -> anyhow::Result<Option<(PathBuf, Vec<Seg>)>> {
        match target {
            Target::Plugin { plugin_type, name } => self.plugin_at(*plugin_type, name).map(Some),
            Target::Environment {
                environment,
                plugin_type,
                name,
            } => {
                let (file, mut path) = self.environment_at(environment)?;
                path.extend(crate::yaml_path!["config", "plugins", plugin_type.key()]);
                let doc = self.cs.yaml(&file)?;
                let i = match doc.find_named(&path, name) {
                    Some(i) => i,
                    None if create => {
                        doc.push(&path, json!({ "name": name }))?;
                        doc.find_named(&path, name).expect("just added")
                    }
                    None => return Ok(None),
                };
                path.push(Seg::Index(i));
                Ok(Some((file, path)))
            }
        }
    }

    /// Sets a setting's value in the target's `config`, at its nested `path`; `also_remove`
    /// are other spellings of it (the flat dotted name, aliases) that are removed first.
    pub fn config_set(
        &mut self,
        target: &Target,
        path: &[String],
        also_remove: &[String],
        value: Value,
    ) -> anyhow::Result<PathBuf> {
        let (file, base) = self.target_at(target, true)?.expect("created");
        let doc = self.cs.yaml(&file)?;
        let mut config = base.clone();
        config.push(Seg::from("config"));
        for other in also_remove {
            if path.len() == 1 && other == &path[0] {
                continue;
            }
            let mut p = config.clone();
            p.push(Seg::from(other));
            doc.remove(&p)?;
        }
        let mut full = config;
        full.extend(path.iter().map(Seg::from));
        doc.set(&full, value)?;
        Ok(file)
    }

    /// Removes a setting from the target's `config` (and the mappings it leaves empty).
    /// Returns whether anything was there.
    pub fn config_unset(
        &mut self,
        target: &Target,
        path: &[String],
        also_remove: &[String],
    ) -> anyhow::Result<bool> {
        let Some((file, base)) = self.target_at(target, false)? else {
            return Ok(false);
        };
        let doc = self.cs.yaml(&file)?;
        let mut config = base.clone();
        config.push(Seg::from("config"));
        let mut removed = false;
        for other in also_remove {
            let mut p = config.clone();
            p.push(Seg::from(other));
            removed |= doc.remove(&p)?;
        }
        let mut full = config.clone();
        full.extend(path.iter().map(Seg::from));
        removed |= doc.remove(&full)?;
        // Like Meltano's pop_at_path: parents left empty go too.
        for depth in (1..path.len()).rev() {
            let mut p = config.clone();
            p.extend(path[..depth].iter().map(Seg::from));
            if doc
                .get(&p)
                .is_some_and(|v| v.as_object().is_some_and(Map::is_empty))
            {
                doc.remove(&p)?;
            }
        }
        Ok(removed)
    }

    /// Removes the target's whole `config` and its extras (`select`, `metadata`…): Meltano's
    /// reset clears `config_with_extras`, so the extras go too.
    pub fn config_reset(&mut self, target: &Target) -> anyhow::Result<bool> {
        let Some((file, path)) = self.target_at(target, false)? else {
            return Ok(false);
        };
        let doc = self.cs.yaml(&file)?;
        let mut removed = false;
        // What `config reset` clears: the config and the extras Meltano keeps beside it.
        for key in std::iter::once(&"config").chain(crate::project::model::EXTRA_KEYS) {
            let mut p = path.clone();
            p.push(Seg::from(*key));
            removed |= doc.remove(&p)?;
        }
        Ok(removed)
    }

    /// Sets `key` in the project's `.env` (created 0600).
    pub fn dotenv_set(&mut self, key: &str, value: &str) {
        let path = self.project.root.join(".env");
        let text = self
            .cs
            .bytes(&path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let new = dotenv::set(&text, key, value);
        self.cs.put(&path, Some(new.into_bytes()), 0o600);
    }

    /// Removes the lines of `.env` that set any of `keys`; returns whether there were any.
    pub fn dotenv_unset(&mut self, keys: &[String]) -> bool {
        let path = self.project.root.join(".env");
        let Some(bytes) = self.cs.bytes(&path) else {
            return false;
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let new = dotenv::unset(&text, keys);
        if new == text {
            return false;
        }
        self.cs.put(&path, Some(new.into_bytes()), 0o600);
        true
    }

    /// The variables `.env` sets now.
    pub fn dotenv_keys(&mut self) -> Vec<String> {
        let path = self.project.root.join(".env");
        self.cs
            .bytes(&path)
            .map(|b| dotenv::keys(&String::from_utf8_lossy(&b)))
            .unwrap_or_default()
    }

    /// Adds (or, with `remove`, removes) a select pattern of an extractor or its overlay.
    pub fn select(&mut self, target: &Target, pattern: &str, remove: bool) -> anyhow::Result<()> {
        let (file, mut path) = match self.target_at(target, !remove)? {
            Some(at) => at,
            None => bail!("select pattern '{pattern}' is not in the extractor's select list"),
        };
        path.push(Seg::from("select"));
        let doc = self.cs.yaml(&file)?;
        if remove {
            let i = doc
                .get(&path)
                .and_then(Value::as_array)
                .and_then(|a| a.iter().position(|v| v.as_str() == Some(pattern)))
                .ok_or_else(|| {
                    anyhow!("select pattern '{pattern}' is not in the extractor's select list")
                })?;
            path.push(Seg::Index(i));
            doc.remove(&path)?;
        } else {
            doc.push(&path, Value::String(pattern.to_string()))?;
        }
        Ok(())
    }

    /// Removes the target's whole `select` list.
    pub fn select_clear(&mut self, target: &Target) -> anyhow::Result<()> {
        if let Some((file, mut path)) = self.target_at(target, false)? {
            path.push(Seg::from("select"));
            self.cs.yaml(&file)?.remove(&path)?;
        }
        Ok(())
    }

    /// The file new things go in: `file` if given (it must be the root file or one that
    /// `include_paths` reads), else the root file, as Meltano does.
    pub fn destination(&self, file: Option<&Path>) -> anyhow::Result<PathBuf> {
        let Some(file) = file else {
            return Ok(self.project.root_file.clone());
        };
        let abs = if file.is_absolute() {
            file.to_path_buf()
        } else {
            std::env::current_dir()?.join(file)
        };
        let canon = abs
            .canonicalize()
            .with_context(|| format!("--file {}: no such file", file.display()))?;
        let known = std::iter::once(&self.project.root_file)
            .chain(self.project.plugins.values().map(|p| &p.source))
            .chain(self.project.environments.values().map(|p| &p.source))
            .chain(self.project.jobs.values().map(|p| &p.source))
            .chain(self.project.schedules.values().map(|p| &p.source))
            .chain(self.project.included_files.iter())
            .find(|p| p.canonicalize().ok().as_ref() == Some(&canon));
        known.cloned().ok_or_else(|| {
            anyhow!(
                "--file {}: not the root file nor a file that include_paths reads",
                file.display()
            )
        })
    }

    /// Adds a plugin definition to `file`.
    pub fn add_plugin(
        &mut self,
        file: &Path,
        plugin_type: PluginType,
        def: Value,
    ) -> anyhow::Result<()> {
        let doc = self.cs.yaml(file)?;
        doc.push(&crate::yaml_path!["plugins", plugin_type.key()], def)?;
        Ok(())
    }

    /// Replaces keys of an existing plugin's definition (the rest is kept).
    pub fn update_plugin(
        &mut self,
        plugin_type: PluginType,
        name: &str,
        keys: &Map<String, Value>,
    ) -> anyhow::Result<()> {
        let (file, path) = self.plugin_at(plugin_type, name)?;
        let doc = self.cs.yaml(&file)?;
        for (k, v) in keys {
            let mut p = path.clone();
            p.push(Seg::from(k));
            if doc.get(&p) != Some(v) {
                doc.set(&p, v.clone())?;
            }
        }
        Ok(())
    }

    /// Removes a plugin's definition from its file.
    pub fn remove_plugin(&mut self, plugin_type: PluginType, name: &str) -> anyhow::Result<()> {
        let (file, path) = self.plugin_at(plugin_type, name)?;
        self.cs.yaml(&file)?.remove(&path)?;
        Ok(())
    }

    /// Adds a named item (`job`, `schedule`, `environment`) to `file`.
    pub fn add_named(&mut self, file: &Path, list: &str, item: Value) -> anyhow::Result<()> {
        self.cs.yaml(file)?.push(&crate::yaml_path![list], item)?;
        Ok(())
    }

    /// The file and path of a job or schedule.
    fn named_at(&mut self, list: &str, name: &str) -> anyhow::Result<(PathBuf, Vec<Seg>)> {
        let source = match list {
            "jobs" => self.project.jobs.get(name).map(|s| s.source.clone()),
            "schedules" => self.project.schedules.get(name).map(|s| s.source.clone()),
            _ => self
                .project
                .environments
                .get(name)
                .map(|s| s.source.clone()),
        };
        let what = match list {
            "jobs" => "job",
            "schedules" => "schedule",
            _ => "environment",
        };
        let file = source.ok_or_else(|| anyhow!("{what} '{name}' does not exist"))?;
        let path = crate::yaml_path![list];
        let i = self
            .cs
            .yaml(&file)?
            .find_named(&path, name)
            .ok_or_else(|| anyhow!("{what} '{name}' not found in {}", file.display()))?;
        let mut path = path;
        path.push(Seg::Index(i));
        Ok((file, path))
    }

    /// Sets one key of a job or schedule.
    pub fn set_named_key(
        &mut self,
        list: &str,
        name: &str,
        key: &str,
        value: Value,
    ) -> anyhow::Result<()> {
        let (file, mut path) = self.named_at(list, name)?;
        path.push(Seg::from(key));
        self.cs.yaml(&file)?.set(&path, value)?;
        Ok(())
    }

    /// Removes a job, schedule or environment.
    pub fn remove_named(&mut self, list: &str, name: &str) -> anyhow::Result<()> {
        let (file, path) = self.named_at(list, name)?;
        self.cs.yaml(&file)?.remove(&path)?;
        Ok(())
    }
}
