//! Resolving one plugin: lockfile base, `inherit_from` parent, the active environment's
//! overlay, `env:` blocks and `${VAR}` expansion, and every setting's value with the layer it
//! came from. The result, a `ResolvedPlugin`, is what every command downstream works from.

use super::definition::Definition;
use super::error::{ProjectError, Result, did_you_mean};
use super::layers::ConfigLayers;
use super::model::{PluginDef, PluginType, Sourced};
pub use super::resolved::{
    EnvPrefixes, Extras, PluginFacts, ResolvedPlugin, ResolvedSetting, SettingSource,
};
use super::{Context, EnvEntry, EnvMap, EnvOrigin};
use indexmap::IndexMap;
use std::rc::Rc;

/// Plugins already resolved, by type and name.
type Resolved = std::collections::HashMap<(PluginType, String), Rc<ResolvedPlugin>>;

impl Context {
    /// Resolves the plugin called `name`, of `plugin_type` if given, else of whichever type
    /// defines it.
    pub fn plugin(&self, plugin_type: Option<PluginType>, name: &str) -> Result<ResolvedPlugin> {
        self.plugin_with_upstream(plugin_type, name, &[])
    }

    /// Resolves a plugin that runs downstream of an extractor in a block (a mapper or the
    /// loader): `upstream` holds the extractor's variables (`MELTANO_EXTRACT__LOAD_SCHEMA`,
    /// `MELTANO_EXTRACTOR_NAME`…), which its config and setting defaults may reference, as
    /// target-postgres's `default_target_schema` does. Meltano resolves them the same way in
    /// `run`; outside a block they are unset.
    pub fn plugin_with_upstream(
        &self,
        plugin_type: Option<PluginType>,
        name: &str,
        upstream: &[(String, String)],
    ) -> Result<ResolvedPlugin> {
        let mut done = Resolved::default();
        let resolved = match self.find_def(plugin_type, name) {
            Ok((ptype, def)) => self.resolve(ptype, def, upstream, &mut done)?,
            Err(unknown) => {
                let mappers = plugin_type.is_none_or(|t| t == PluginType::Mappers);
                let Some(def) = self.mapping_def(name).filter(|_| mappers) else {
                    return Err(unknown);
                };
                self.resolve(PluginType::Mappers, &def, upstream, &mut done)?
            }
        };
        drop(done);
        let plugin = Rc::unwrap_or_clone(resolved);
        self.masker
            .add_all(plugin.secrets().iter().map(String::as_str));
        Ok(plugin)
    }

    /// Every plugin, resolved, in project order; the ancestors a chain of `inherit_from`
    /// shares are resolved once, so the time is linear in the chain's length.
    pub fn resolve_all(&self) -> Result<Vec<ResolvedPlugin>> {
        let mut done = Resolved::default();
        let all = self
            .project
            .plugins
            .iter()
            .map(|((ptype, _), def)| self.resolve(*ptype, def, &[], &mut done))
            .collect::<Result<Vec<_>>>()?;
        drop(done);
        let all: Vec<ResolvedPlugin> = all.into_iter().map(Rc::unwrap_or_clone).collect();
        for plugin in &all {
            self.masker
                .add_all(plugin.secrets().iter().map(String::as_str));
        }
        Ok(all)
    }

    /// A mapping as the plugin Meltano makes of it (`MeltanoFile.get_plugins_for_mappings`):
    /// a copy of its mapper whose `config` is the mapping's config, with the extras
    /// `mapping: true` and `mapping_name`. It keeps the mapper's name (its variables are
    /// `MELTANO_MAPPER_NAME=<mapper>`…).
    fn mapping_def(&self, name: &str) -> Option<Sourced<PluginDef>> {
        self.project
            .plugins
            .iter()
            .filter(|((t, _), _)| *t == PluginType::Mappers)
            .find_map(|(_, def)| {
                let mapping = def
                    .item
                    .mappings
                    .iter()
                    .flatten()
                    .find(|m| m.name == name)?;
                let mut copy = def.clone();
                copy.item.config = mapping.config.clone();
                copy.item.mapping_name = Some(mapping.name.clone());
                Some(copy)
            })
    }

    /// Finds a plugin definition by name, with a "did you mean" hint when it is unknown.
    pub fn find_def(
        &self,
        plugin_type: Option<PluginType>,
        name: &str,
    ) -> Result<(PluginType, &Sourced<PluginDef>)> {
        let found = self
            .project
            .plugins
            .iter()
            .find(|((t, n), _)| n == name && plugin_type.is_none_or(|pt| pt == *t));
        match found {
            Some(((t, _), def)) => Ok((*t, def)),
            None => Err(ProjectError::Unknown {
                what: "plugin",
                name: name.to_string(),
                hint: did_you_mean(
                    name,
                    self.project
                        .plugins
                        .keys()
                        .filter(|(t, _)| plugin_type.is_none_or(|pt| pt == *t))
                        .map(|(_, n)| n.as_str()),
                ),
            }),
        }
    }

    /// Resolves `sourced` after the plugins it inherits from, from the root of its chain
    /// down. The chain is walked in a loop, not by recursion, so a chain thousands deep
    /// cannot overflow the stack; `done` holds the plugins already resolved (against the same
    /// `upstream`), where the walk stops, so resolving every plugin of a chain resolves each
    /// once.
    fn resolve(
        &self,
        ptype: PluginType,
        sourced: &Sourced<PluginDef>,
        upstream: &[(String, String)],
        done: &mut Resolved,
    ) -> Result<Rc<ResolvedPlugin>> {
        let key = |name: &str| (ptype, name.to_string());
        if let Some(resolved) = done.get(&key(&sourced.item.name)) {
            return Ok(resolved.clone());
        }
        // From the plugin up to its root, or to the first ancestor already resolved.
        let mut chain = vec![sourced];
        let mut seen = std::collections::HashSet::from([sourced.item.name.as_str()]);
        let mut parent = None;
        while let Some(parent_name) = &chain[chain.len() - 1].item.inherit_from {
            let child = chain[chain.len() - 1];
            if let Some(resolved) = done.get(&key(parent_name)) {
                parent = Some(resolved.clone());
                break;
            }
            let Some(parent_def) = self.project.plugins.get(&key(parent_name)) else {
                let name = child.item.name.as_str();
                return Err(ProjectError::MissingParent {
                    path: child.source.clone(),
                    kind: ptype.singular().to_string(),
                    name: name.to_string(),
                    parent: parent_name.clone(),
                    hint: did_you_mean(
                        parent_name,
                        self.project
                            .plugins
                            .keys()
                            .filter(|(t, n)| *t == ptype && n.as_str() != name)
                            .map(|(_, n)| n.as_str()),
                    ),
                });
            };
            if !seen.insert(parent_name) {
                let mut names: Vec<&str> = chain.iter().map(|d| d.item.name.as_str()).collect();
                names.push(parent_name);
                return Err(ProjectError::InheritCycle {
                    path: parent_def.source.clone(),
                    chain: names.join(" -> "),
                });
            }
            chain.push(parent_def);
        }
        for def in chain.into_iter().rev() {
            let resolved = self.resolve_one(ptype, def, upstream, parent.as_deref())?;
            let resolved = Rc::new(resolved);
            done.insert(key(&def.item.name), resolved.clone());
            parent = Some(resolved);
        }
        Ok(parent.expect("the chain holds at least the plugin itself"))
    }

    fn resolve_one(
        &self,
        ptype: PluginType,
        sourced: &Sourced<PluginDef>,
        upstream: &[(String, String)],
        parent: Option<&ResolvedPlugin>,
    ) -> Result<ResolvedPlugin> {
        let def = &sourced.item;
        let layered = Definition::read(self, ptype, sourced, parent)?;
        let namespace = layered.namespace();
        let executable = layered.executable();
        let own_pip_url = layered.own_pip_url();
        let venv_owner = match (&own_pip_url, &parent) {
            (None, Some(p)) => p.venv_owner.clone(),
            _ => def.name.clone(),
        };
        let settings = layered.settings();
        let variant = def
            .variant
            .clone()
            .or_else(|| parent.and_then(|p| p.variant.clone()));
        let overlay = self.environment_overlay(ptype, &def.name);
        let facts = PluginFacts {
            plugin_type: ptype,
            name: &def.name,
            namespace: &namespace,
            variant: variant.as_deref(),
        };
        let env = self.own_env(sourced, parent, upstream, overlay, &facts)?;
        let config = self.resolve_config(&ConfigLayers {
            plugin: &def.name,
            namespace: &namespace,
            settings: &settings,
            parent,
            own: def.config.as_ref(),
            overlay: overlay.and_then(|o| o.config.as_ref()),
            env: &env,
            file: &sourced.source,
        })?;
        let extras = self.resolve_extras(
            parent,
            [layered.locked.as_ref(), Some(def), overlay],
            &namespace,
            &env,
        )?;
        let pip_url = match own_pip_url.or_else(|| parent.and_then(|p| p.pip_url.clone())) {
            Some(url) => Some(self.expand_str(&url, &env, &sourced.source, "pip_url")?),
            None => None,
        };
        let pip_url_as_written = layered
            .own_pip_url()
            .or_else(|| parent.and_then(|p| p.pip_url_as_written.clone()));
        let python = layered.python(self.project.python.as_ref());
        Ok(ResolvedPlugin {
            plugin_type: ptype,
            name: def.name.clone(),
            source: sourced.source.clone(),
            inherit_from: def.inherit_from.clone(),
            variant,
            env_prefixes: EnvPrefixes::over(
                vec![def.name.to_string(), namespace.clone()],
                parent.map(|p| &p.env_prefixes),
            ),
            namespace,
            executable,
            pip_url,
            pip_url_as_written,
            venv_python: match &parent {
                Some(p) if venv_owner != def.name => p.venv_python.clone(),
                _ => python.clone(),
            },
            python,
            venv_owner,
            capabilities: layered.capabilities(),
            settings,
            settings_group_validation: layered.settings_group_validation(),
            docs: layered.docs(),
            config,
            env,
            extras,
            commands: layered.commands(),
            requires: layered.requires(),
        })
    }

    /// The plugin's environment (`env:` blocks, the extractor's variables downstream), plus
    /// its own `MELTANO_EXTRACTOR_NAME`-style variables, which its config may use
    /// (`load_schema: ${MELTANO_EXTRACTOR_NAMESPACE}_raw`), as Meltano provides them.
    fn own_env(
        &self,
        sourced: &Sourced<PluginDef>,
        parent: Option<&ResolvedPlugin>,
        upstream: &[(String, String)],
        overlay: Option<&PluginDef>,
        facts: &PluginFacts<'_>,
    ) -> Result<EnvMap> {
        self.plugin_env(
            parent.map(|p| &p.env),
            upstream,
            &facts.describe_vars(),
            sourced.item.env.as_ref(),
            overlay.and_then(|o| o.env.as_ref()),
            &sourced.source,
        )
    }

    /// The active environment's overlay entry for a plugin, if any.
    fn environment_overlay(&self, ptype: PluginType, name: &str) -> Option<&PluginDef> {
        let env = self.environment.as_ref()?;
        env.item
            .config
            .plugins
            .iter()
            .filter(|(k, _)| PluginType::parse(k) == Some(ptype))
            .flat_map(|(_, defs)| defs.iter())
            .find(|d| d.name == name)
    }

    /// Builds a plugin's environment: the project's env (vars, root `env:`, environment `env:`)
    /// with the plugin's `env:` blocks inserted at their precedence.
    fn plugin_env(
        &self,
        parent_env: Option<&EnvMap>,
        upstream: &[(String, String)],
        about: &[(String, String)],
        own: Option<&IndexMap<String, String>>,
        overlay: Option<&IndexMap<String, String>>,
        file: &std::path::Path,
    ) -> Result<EnvMap> {
        // Precedence, lowest first (Meltano's `PluginSettingsService.env_override`): .env,
        // process, the project's variables (`MELTANO_PROJECT_ROOT`…), root env, Meltano's
        // project settings (`MELTANO_DATABASE_URI`…), the upstream plugins' variables, the
        // plugin's own `MELTANO_<TYPE>_NAME`…, plugin env (parent's then own), environment
        // env, the environment's plugin env. A parent's env already holds the upstream
        // variables.
        let mut env = match parent_env {
            Some(p) => p.clone(),
            None => {
                let mut env = self.plugin_base_env()?;
                for (name, value) in upstream {
                    let entry = EnvEntry {
                        value: value.clone(),
                        origin: EnvOrigin::Upstream,
                    };
                    env.insert(name.clone(), entry);
                }
                env
            }
        };
        for (name, value) in about {
            let origin = EnvOrigin::Meltano;
            env.insert(
                name.clone(),
                EnvEntry {
                    value: value.clone(),
                    origin,
                },
            );
        }
        if let Some(block) = own {
            self.apply_block(&mut env, block, EnvOrigin::Plugin, file)?;
        }
        if let Some(environment) = &self.environment {
            self.apply_block(
                &mut env,
                &environment.item.env,
                EnvOrigin::Environment,
                &environment.source,
            )?;
        }
        if let Some(block) = overlay {
            self.apply_block(&mut env, block, EnvOrigin::Environment, file)?;
        }
        Ok(env)
    }
}
