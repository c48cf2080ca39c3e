//! Resolving one plugin: lockfile base, `inherit_from` parent, the active environment's
//! overlay, `env:` blocks and `${VAR}` expansion, and every setting's value with the layer it
//! came from. The result, a `ResolvedPlugin`, is what every command downstream works from.

use super::error::{ProjectError, Result, did_you_mean};
use super::layers::ConfigLayers;
pub use super::layers::{ResolvedSetting, SettingSource};
use super::lockfile;
use super::model::{MappingDef, Name, Object, PluginDef, PluginType, SettingDef, Sourced};
use super::settings::{deep_merge, env_stem, extra_env_var, nest_into, setting_env_var};
use super::vars::VarOrigin;
use super::{Context, EnvEntry, EnvMap, EnvOrigin};
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;
use std::path::PathBuf;
use std::rc::Rc;

/// Catalog and state extras of an extractor (and `mappings` of a mapper), after inheritance
/// and the environment overlay.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Extras {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub select: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub select_filter: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_cached_catalog: Option<bool>,
    /// Extractors: the schema loaders write to (default: the extractor's namespace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_schema: Option<String>,
    /// Loaders: the SQL dialect transforms use (default: the loader's namespace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialect: Option<String>,
    /// Loaders: the schema transforms read (Hub definitions set it from a setting, like
    /// `$TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA`), kept unexpanded until the settings are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_schema: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_parser: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mappings: Option<Vec<MappingDef>>,
}

/// What `MELTANO_EXTRACTOR_NAME`-style variables say about a plugin.
pub struct PluginFacts<'a> {
    pub plugin_type: PluginType,
    pub name: &'a str,
    pub namespace: &'a str,
    pub executable: &'a str,
    pub variant: Option<&'a str>,
}

impl PluginFacts<'_> {
    /// `MELTANO_<NOUN>_NAME`, `_NAMESPACE`, `_EXECUTABLE` and `_VARIANT` (Meltano calls a
    /// plugin without a variant `default`). The plugin's own config may use them, and a
    /// loader reads the extractor's (some targets derive their schema from it).
    pub fn describe_vars(&self) -> Vec<(String, String)> {
        let noun = super::settings::env_stem(self.plugin_type.singular());
        vec![
            (format!("MELTANO_{noun}_NAME"), self.name.to_string()),
            (
                format!("MELTANO_{noun}_NAMESPACE"),
                self.namespace.to_string(),
            ),
            (
                format!("MELTANO_{noun}_EXECUTABLE"),
                self.executable.to_string(),
            ),
            (
                format!("MELTANO_{noun}_VARIANT"),
                self.variant.unwrap_or("default").to_string(),
            ),
        ]
    }
}

/// The parser Meltano assumes for a plugin's log lines when none is set.
pub const DEFAULT_LOG_PARSER: &str = "singer-sdk";

/// A plugin with everything resolved: the value downstream modules run.
#[derive(Debug, Clone)]
pub struct ResolvedPlugin {
    pub plugin_type: PluginType,
    pub name: Name,
    /// The file that defines it.
    pub source: PathBuf,
    pub inherit_from: Option<String>,
    pub variant: Option<String>,
    pub namespace: String,
    /// Prefixes the plugin's settings and extras are exported under (`<PREFIX>_<SETTING>`,
    /// `<PREFIX>__<EXTRA>`): its name, its namespace, then its parent's prefixes, as Meltano
    /// exports them (a tap built on the parent's code reads the parent's names).
    pub env_prefixes: EnvPrefixes,
    pub executable: String,
    pub pip_url: Option<String>,
    pub python: Option<String>,
    /// The plugin whose virtualenv this one runs from (itself, or the parent it inherits from
    /// when it has no `pip_url` of its own).
    pub venv_owner: Name,
    /// The `python` that virtualenv is built with: the owner's, so a child sharing its
    /// parent's venv fingerprints it exactly as the parent does.
    pub venv_python: Option<String>,
    pub capabilities: Vec<String>,
    pub settings: Vec<SettingDef>,
    /// Alternative sets of settings, one of which must be set (`settings_group_validation`),
    /// shown by `config list` as its required settings.
    pub settings_group_validation: Vec<Vec<String>>,
    /// Where the plugin's documentation lives (`docs`), pointed to by `config list`.
    pub docs: Option<String>,
    /// Every setting with a value, by dotted name, in declaration order.
    pub config: IndexMap<String, ResolvedSetting>,
    /// The plugin's environment: `.env`, process, and every `env:` block, expanded.
    pub env: EnvMap,
    pub extras: Extras,
    pub commands: IndexMap<String, Value>,
}

impl ResolvedPlugin {
    /// The config as the plugin receives it: dotted names nested, nulls left out.
    pub fn config_object(&self) -> Object {
        let mut out = Object::new();
        for (key, setting) in &self.config {
            if !setting.value.is_null() {
                nest_into(&mut out, key, setting.value.clone());
            }
        }
        out
    }

    /// Same, with sensitive values replaced by a mask (for printing).
    pub fn redacted_config_object(&self) -> Object {
        let mut out = Object::new();
        for (key, setting) in &self.config {
            if setting.value.is_null() {
                continue;
            }
            let value = if setting.sensitive {
                Value::String(super::REDACTED.into())
            } else {
                setting.value.clone()
            };
            nest_into(&mut out, key, value);
        }
        out
    }

    /// The plugin's extras with Meltano's defaults filled in, in Meltano's order, keyed
    /// without the leading underscore: what `config print --extras` shows and what the
    /// plugin process receives as `<PREFIX>__<EXTRA>` variables.
    pub fn extras_with_defaults(&self) -> Vec<(&'static str, Value)> {
        let x = &self.extras;
        let text = |v: &Option<String>, default: &str| {
            Value::String(v.clone().unwrap_or_else(|| default.to_string()))
        };
        let mut out = vec![("log_parser", text(&x.log_parser, DEFAULT_LOG_PARSER))];
        match self.plugin_type {
            PluginType::Extractors => out.extend([
                (
                    "catalog",
                    x.catalog.clone().map_or(Value::Null, Value::String),
                ),
                ("state", x.state.clone().map_or(Value::Null, Value::String)),
                ("load_schema", text(&x.load_schema, &self.namespace)),
                (
                    "select",
                    serde_json::json!(x.select.clone().unwrap_or_else(|| vec!["*.*".into()])),
                ),
                (
                    "metadata",
                    x.metadata.clone().unwrap_or(serde_json::json!({})),
                ),
                ("schema", x.schema.clone().unwrap_or(serde_json::json!({}))),
                (
                    "select_filter",
                    serde_json::json!(x.select_filter.clone().unwrap_or_default()),
                ),
                (
                    "use_cached_catalog",
                    Value::Bool(x.use_cached_catalog.unwrap_or(true)),
                ),
            ]),
            PluginType::Loaders => {
                out.push(("dialect", text(&x.dialect, &self.namespace)));
                if let Some(raw) = &x.target_schema {
                    out.push((
                        "target_schema",
                        Value::String(self.expand_with_settings(raw)),
                    ));
                }
            }
            PluginType::Mappers => out.extend([
                (
                    "mappings",
                    serde_json::json!(x.mappings.clone().unwrap_or_default()),
                ),
                ("mapping_name", Value::Null),
            ]),
            _ => {}
        }
        out
    }

    /// The stems every setting and extra is exported under (`<STEM>_<SETTING>`,
    /// `<STEM>__<EXTRA>`): the plugin's prefixes (name, namespace, its parents'), then
    /// `MELTANO_<VERB>`.
    pub fn export_stems(&self) -> Vec<String> {
        let mut stems: Vec<String> = self.env_prefixes.iter().map(env_stem).collect();
        stems.push(format!("MELTANO_{}", self.plugin_type.env_verb()));
        stems
    }

    /// Expands `raw` against the plugin's environment and the variables its own settings are
    /// exported as (`$TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA`), as Meltano expands extras.
    fn expand_with_settings(&self, raw: &str) -> String {
        let stems = self.export_stems();
        let setting = |name: &str| {
            self.config.iter().find_map(|(key, s)| {
                let key = env_stem(key);
                let named = stems.iter().any(|stem| name == format!("{stem}_{key}"));
                match &s.value {
                    Value::Null => None,
                    Value::String(v) if named => Some(v.clone()),
                    v if named => Some(crate::vocab::pyjson::to_string(v)),
                    _ => None,
                }
            })
        };
        let lookup =
            |name: &str| setting(name).or_else(|| self.env.get(name).map(|e| e.value.clone()));
        super::expand::expand(raw, &lookup).text
    }

    /// True when the plugin declares the capability (or is assumed to; see `capabilities`).
    pub fn has_capability(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    /// Values of sensitive settings, for masking them in anything eltr prints.
    pub fn secrets(&self) -> Vec<String> {
        self.config
            .values()
            .filter(|s| s.sensitive)
            .filter_map(|s| match &s.value {
                Value::String(v) if !v.is_empty() => Some(v.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .collect()
    }
}

/// A plugin's env prefixes: its own (name, namespace), then its parent's. The parent's are
/// shared, not copied: in a chain thousands deep, copies would make memory and time grow with
/// the square of its length.
#[derive(Debug, Clone)]
pub struct EnvPrefixes(std::sync::Arc<PrefixNode>);

#[derive(Debug)]
struct PrefixNode {
    own: Vec<String>,
    parent: Option<EnvPrefixes>,
}

impl EnvPrefixes {
    /// `own` over the parent's prefixes.
    fn over(own: Vec<String>, parent: Option<&EnvPrefixes>) -> EnvPrefixes {
        let parent = parent.cloned();
        EnvPrefixes(std::sync::Arc::new(PrefixNode { own, parent }))
    }

    /// Each prefix once (the first of those with the same variable stem), the plugin's own
    /// first, then its ancestors' up the chain.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let mut seen = std::collections::HashSet::new();
        std::iter::successors(Some(&*self.0), |n| n.parent.as_ref().map(|p| &*p.0))
            .flat_map(|n| n.own.iter().map(String::as_str))
            .filter(move |p| seen.insert(env_stem(p)))
    }
}

impl Drop for PrefixNode {
    /// Unlinks the chain in a loop: dropping the last plugin of a long chain would otherwise
    /// recurse once per ancestor.
    fn drop(&mut self) {
        let mut next = self.parent.take();
        while let Some(EnvPrefixes(node)) = next {
            next = match std::sync::Arc::try_unwrap(node) {
                Ok(mut node) => node.parent.take(),
                Err(_) => None,
            };
        }
    }
}

/// Plugins already resolved, by type and name.
type Resolved = std::collections::HashMap<(PluginType, String), Rc<ResolvedPlugin>>;

/// Extractor capabilities assumed when neither the project nor a lockfile declares any.
const DEFAULT_EXTRACTOR_CAPABILITIES: [&str; 3] = ["catalog", "discover", "state"];

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
        let (ptype, def) = self.find_def(plugin_type, name)?;
        let mut done = Resolved::default();
        let resolved = self.resolve(ptype, def, upstream, &mut done)?;
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

    /// Resolves one plugin over its resolved parent.
    fn resolve_one(
        &self,
        ptype: PluginType,
        sourced: &Sourced<PluginDef>,
        upstream: &[(String, String)],
        parent: Option<&ResolvedPlugin>,
    ) -> Result<ResolvedPlugin> {
        let def = &sourced.item;
        let locked = match &def.variant {
            Some(variant) => lockfile::read(
                &self.project.root,
                ptype,
                &def.name,
                variant,
                &sourced.source,
            )?,
            None => None,
        };
        let base = |f: fn(&PluginDef) -> Option<String>| -> Option<String> {
            f(def)
                .or_else(|| locked.as_ref().and_then(f))
                .filter(|s| !s.is_empty())
        };

        // A child's namespace is its own (declared, else from its name), not its parent's:
        // Meltano derives `load_schema` and `MELTANO_EXTRACTOR_NAMESPACE` from it.
        let namespace = base(|d| d.namespace.clone()).unwrap_or_else(|| def.name.replace('-', "_"));
        let own_prefixes = vec![def.name.to_string(), namespace.clone()];
        let env_prefixes = EnvPrefixes::over(own_prefixes, parent.map(|p| &p.env_prefixes));
        let executable = base(|d| d.executable.clone())
            .or_else(|| parent.map(|p| p.executable.clone()))
            .unwrap_or_else(|| def.name.to_string());
        let own_pip_url = def.pip_url.clone().or_else(|| {
            // A lockfile's pip_url belongs to the variant's own install, never to a child.
            if parent.is_none() {
                locked.as_ref().and_then(|l| l.pip_url.clone())
            } else {
                None
            }
        });
        let venv_owner = match (&own_pip_url, &parent) {
            (None, Some(p)) => p.venv_owner.clone(),
            _ => def.name.clone(),
        };

        let mut settings: Vec<SettingDef> = parent
            .as_ref()
            .map(|p| p.settings.clone())
            .unwrap_or_default();
        for s in locked
            .iter()
            .flat_map(|l| l.settings.iter().flatten())
            .chain(def.settings.iter().flatten())
        {
            match settings.iter_mut().find(|e| e.name == s.name) {
                Some(existing) => *existing = s.clone(),
                None => settings.push(s.clone()),
            }
        }

        let capabilities = def
            .capabilities
            .clone()
            .or_else(|| locked.as_ref().and_then(|l| l.capabilities.clone()))
            .or_else(|| parent.map(|p| p.capabilities.clone()))
            .unwrap_or_else(|| {
                if ptype == PluginType::Extractors {
                    tracing::debug!(
                        "extractor '{}' declares no capabilities; assuming catalog, discover and state",
                        def.name
                    );
                    DEFAULT_EXTRACTOR_CAPABILITIES.map(String::from).to_vec()
                } else {
                    Vec::new()
                }
            });

        // Hub metadata eltr only displays: the project's definition, its lockfile, its parent.
        let hub_field = |key: &str| {
            def.other
                .get(key)
                .or_else(|| locked.as_ref().and_then(|l| l.other.get(key)))
                .cloned()
        };
        let settings_group_validation = hub_field("settings_group_validation")
            .and_then(|v| serde_json::from_value::<Vec<Vec<String>>>(v).ok())
            .or_else(|| parent.map(|p| p.settings_group_validation.clone()))
            .unwrap_or_default();
        let docs = hub_field("docs")
            .and_then(|v| v.as_str().map(String::from))
            .or_else(|| parent.and_then(|p| p.docs.clone()));

        let overlay = self.environment_overlay(ptype, &def.name);
        let mut env = self.plugin_env(
            parent.map(|p| &p.env),
            upstream,
            def.env.as_ref(),
            overlay.and_then(|o| o.env.as_ref()),
            &sourced.source,
        )?;
        // The plugin's own `MELTANO_EXTRACTOR_NAME`-style variables, which its config may use
        // (`load_schema: ${MELTANO_EXTRACTOR_NAMESPACE}_raw`), as Meltano provides them.
        let variant = def
            .variant
            .clone()
            .or_else(|| parent.and_then(|p| p.variant.clone()));
        let about = PluginFacts {
            plugin_type: ptype,
            name: &def.name,
            namespace: &namespace,
            executable: &executable,
            variant: variant.as_deref(),
        };
        for (name, value) in about.describe_vars() {
            let origin = EnvOrigin::Upstream;
            env.insert(name, EnvEntry { value, origin });
        }

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
            [locked.as_ref(), Some(def), overlay],
            &namespace,
            &env,
        )?;

        let mut commands = parent
            .as_ref()
            .map(|p| p.commands.clone())
            .unwrap_or_default();
        for (k, v) in locked
            .iter()
            .flat_map(|l| l.commands.iter().flatten())
            .chain(def.commands.iter().flatten())
        {
            commands.insert(k.clone(), v.clone());
        }

        let pip_url = match own_pip_url.or_else(|| parent.and_then(|p| p.pip_url.clone())) {
            Some(url) => Some(self.expand_str(&url, &env, &sourced.source, "pip_url")?),
            None => None,
        };

        let python = def
            .python
            .clone()
            .or_else(|| parent.and_then(|p| p.python.clone()))
            .or_else(|| self.project.python.clone());
        Ok(ResolvedPlugin {
            plugin_type: ptype,
            name: def.name.clone(),
            source: sourced.source.clone(),
            inherit_from: def.inherit_from.clone(),
            variant,
            namespace,
            env_prefixes,
            executable,
            pip_url,
            venv_python: match &parent {
                Some(p) if venv_owner != def.name => p.venv_python.clone(),
                _ => python.clone(),
            },
            python,
            venv_owner,
            capabilities,
            settings,
            settings_group_validation,
            docs,
            config,
            env,
            extras,
            commands,
        })
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
        own: Option<&IndexMap<String, String>>,
        overlay: Option<&IndexMap<String, String>>,
        file: &std::path::Path,
    ) -> Result<EnvMap> {
        // Precedence, lowest first: .env, process, root env, the upstream extractor's
        // variables, plugin env (parent's then own), environment env, the environment's
        // plugin env. A parent's env already holds the upstream variables.
        let mut env = match parent_env {
            Some(p) => p.clone(),
            None => {
                let mut env = self.root_env()?;
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

    fn resolve_extras(
        &self,
        parent: Option<&ResolvedPlugin>,
        layers: [Option<&PluginDef>; 3],
        namespace: &str,
        env: &EnvMap,
    ) -> Result<Extras> {
        let [locked, def, overlay] = layers;
        let def = def.expect("a plugin's own definition is always a layer");
        let mut x = parent.map(|p| p.extras.clone()).unwrap_or_default();
        // The lockfile (the Hub's definition) under the project's, under the environment's.
        for layer in locked.into_iter().chain([def]).chain(overlay) {
            if let Some(s) = &layer.select {
                x.select = Some(s.clone());
            }
            if let Some(s) = &layer.select_filter {
                x.select_filter = Some(s.clone());
            }
            merge_object(&mut x.metadata, layer.metadata.as_ref());
            merge_object(&mut x.schema, layer.schema.as_ref());
            if let Some(c) = &layer.catalog {
                x.catalog = Some(c.clone());
            }
            if let Some(s) = &layer.state {
                x.state = Some(s.clone());
            }
            if let Some(u) = layer.use_cached_catalog {
                x.use_cached_catalog = Some(u);
            }
            for (value, slot) in [
                (&layer.load_schema, &mut x.load_schema),
                (&layer.dialect, &mut x.dialect),
                (&layer.log_parser, &mut x.log_parser),
            ] {
                if let Some(v) = value {
                    let context = format!("extra of '{}'", def.name);
                    *slot = Some(self.expand_str(v, env, std::path::Path::new(""), &context)?);
                }
            }
            if let Some(m) = &layer.mappings {
                x.mappings = Some(m.clone());
            }
            if let Some(t) = &layer.target_schema {
                x.target_schema = Some(t.clone());
            }
        }
        // `TAP_X__SELECT='["a.*"]'` and friends override everything, as in Meltano: the
        // plugin's name first, then its namespace.
        let from_env = |extra: &str| {
            [def.name.as_str(), namespace]
                .iter()
                .find_map(|stem| env.get(&extra_env_var(stem, extra)))
        };
        // A value that is not what the extra needs is an error naming the variable: read
        // as nothing, it would silently select every stream or drop metadata.
        let bad = |extra: &str, expected: &str| {
            let var = [def.name.as_str(), namespace]
                .iter()
                .map(|stem| extra_env_var(stem, extra))
                .find(|v| env.get(v).is_some())
                .unwrap_or_default();
            let origin = match env.get(&var).map(|e| &e.origin) {
                Some(EnvOrigin::Var(VarOrigin::DotEnv)) => " (from .env)".to_string(),
                _ => String::new(),
            };
            ProjectError::BadVariable {
                var,
                origin,
                message: format!("expected {expected}"),
            }
        };
        let json_var = |extra: &str, expected: &str| -> Result<Option<Value>> {
            match from_env(extra) {
                None => Ok(None),
                Some(e) => serde_json::from_str(&e.value)
                    .map(Some)
                    .map_err(|_| bad(extra, expected)),
            }
        };
        let string_list = |extra: &str| -> Result<Option<Vec<String>>> {
            const EXPECTED: &str =
                r#"a JSON list of strings, such as '["orders.*", "!orders.secret"]'"#;
            match json_var(extra, EXPECTED)? {
                None => Ok(None),
                Some(v) => serde_json::from_value(v)
                    .map(Some)
                    .map_err(|_| bad(extra, EXPECTED)),
            }
        };
        let object = |extra: &str| -> Result<Option<Value>> {
            const EXPECTED: &str =
                r#"a JSON object, such as '{"orders": {"replication-method": "INCREMENTAL"}}'"#;
            match json_var(extra, EXPECTED)? {
                Some(v) if !v.is_object() => Err(bad(extra, EXPECTED)),
                v => Ok(v),
            }
        };
        if let Some(v) = string_list("select")? {
            x.select = Some(v);
        }
        if let Some(v) = string_list("select_filter")? {
            x.select_filter = Some(v);
        }
        if let Some(v) = object("metadata")? {
            merge_object(&mut x.metadata, v.as_object());
        }
        if let Some(v) = object("schema")? {
            merge_object(&mut x.schema, v.as_object());
        }
        for (extra, slot) in [
            ("catalog", &mut x.catalog),
            ("state", &mut x.state),
            ("load_schema", &mut x.load_schema),
            ("dialect", &mut x.dialect),
            ("log_parser", &mut x.log_parser),
            ("target_schema", &mut x.target_schema),
        ] {
            if let Some(e) = from_env(extra) {
                *slot = Some(e.value.clone());
            }
        }
        if let Some(e) = from_env("use_cached_catalog") {
            let parsed = crate::vocab::truth::parse(&e.value);
            x.use_cached_catalog =
                Some(parsed.ok_or_else(|| bad("use_cached_catalog", "true or false"))?);
        }
        Ok(x)
    }
}

/// The variables that override a setting, in the order they are consulted: the setting's own
/// `env:` name, then `<PLUGIN_NAME>_<SETTING>`, then `<NAMESPACE>_<SETTING>`. An inheriting
/// child has a namespace of its own, so it never reads its parent's variables: those reach it
/// through the parent's value, below its own config (Meltano 4.4).
pub fn setting_env_names(
    name: &str,
    namespace: &str,
    setting: &str,
    decl: Option<&SettingDef>,
) -> Vec<String> {
    let mut names = Vec::with_capacity(3);
    if let Some(custom) = decl.and_then(|d| d.env.clone()) {
        names.push(custom);
    }
    names.push(setting_env_var(name, setting));
    let ns = setting_env_var(namespace, setting);
    if !names.contains(&ns) {
        names.push(ns);
    }
    for alias in decl.map(|d| d.aliases.as_slice()).unwrap_or_default() {
        names.push(setting_env_var(name, alias));
    }
    names
}

fn merge_object(slot: &mut Option<Value>, layer: Option<&Object>) {
    let Some(layer) = layer else { return };
    let layer = Value::Object(layer.clone());
    match slot {
        Some(existing) => deep_merge(existing, &layer),
        None => *slot = Some(layer),
    }
}
