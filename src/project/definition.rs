//! What a plugin takes from where: its project definition first, then its lockfile (the
//! variant's Hub definition), then the plugin it inherits from. Each field has its own rule
//! (a lockfile's `pip_url` never goes to a child; `settings` and `commands` extend the
//! parent's; capabilities fall back to Meltano's extractor defaults), and each rule is one
//! method here.

use super::Context;
use super::error::Result;
use super::lockfile;
use super::model::{PluginDef, PluginType, SettingDef, Sourced};
use super::resolved::ResolvedPlugin;
use indexmap::IndexMap;
use serde_json::Value;

/// Extractor capabilities assumed when neither the project nor a lockfile declares any.
const DEFAULT_EXTRACTOR_CAPABILITIES: [&str; 3] = ["catalog", "discover", "state"];

/// A plugin's definition with what stands behind it.
pub struct Definition<'a> {
    ptype: PluginType,
    def: &'a PluginDef,
    /// The variant's lockfile, when the plugin names a variant and the project has one.
    pub locked: Option<PluginDef>,
    parent: Option<&'a ResolvedPlugin>,
}

impl<'a> Definition<'a> {
    /// Reads the lockfile of `sourced`'s variant, if any.
    pub fn read(
        ctx: &Context,
        ptype: PluginType,
        sourced: &'a Sourced<PluginDef>,
        parent: Option<&'a ResolvedPlugin>,
    ) -> Result<Definition<'a>> {
        let def = &sourced.item;
        let locked = match &def.variant {
            Some(variant) => lockfile::read(
                &ctx.project.root,
                ptype,
                &def.name,
                variant,
                &sourced.source,
            )?,
            None => None,
        };
        Ok(Definition {
            ptype,
            def,
            locked,
            parent,
        })
    }

    /// A text field from the definition, else the lockfile; empty counts as unset.
    fn base(&self, field: fn(&PluginDef) -> Option<String>) -> Option<String> {
        field(self.def)
            .or_else(|| self.locked.as_ref().and_then(field))
            .filter(|s| !s.is_empty())
    }

    /// A child's namespace is its own (declared, else from its name), not its parent's:
    /// Meltano derives `load_schema` and `MELTANO_EXTRACTOR_NAMESPACE` from it.
    pub fn namespace(&self) -> String {
        self.base(|d| d.namespace.clone())
            .unwrap_or_else(|| self.def.name.replace('-', "_"))
    }

    /// Declared, else the parent's, else the plugin's name.
    pub fn executable(&self) -> String {
        self.base(|d| d.executable.clone())
            .or_else(|| self.parent.map(|p| p.executable.clone()))
            .unwrap_or_else(|| self.def.name.to_string())
    }

    /// The plugin's own `pip_url`: a lockfile's belongs to the variant's own install, never
    /// to a child.
    pub fn own_pip_url(&self) -> Option<String> {
        self.def.pip_url.clone().or_else(|| match self.parent {
            None => self.locked.as_ref().and_then(|l| l.pip_url.clone()),
            Some(_) => None,
        })
    }

    /// The parent's settings, extended by the lockfile's, then the project's. A setting
    /// declared again replaces the earlier one and moves to the end, in the later layer's
    /// order (Meltano's `ProjectPlugin.all_settings`: the parent's settings that are not
    /// redeclared, then the plugin's own), which is the order `config print` lists them in.
    /// A name written twice within one layer keeps its first place and its last definition.
    pub fn settings(&self) -> Vec<SettingDef> {
        let mut settings: Vec<SettingDef> =
            self.parent.map(|p| p.settings.clone()).unwrap_or_default();
        let locked = self.locked.iter().flat_map(|l| l.settings.iter().flatten());
        for layer in [
            locked.collect::<Vec<_>>(),
            self.def.settings.iter().flatten().collect(),
        ] {
            settings.retain(|e| !layer.iter().any(|s| s.name == e.name));
            let start = settings.len();
            for s in layer {
                match settings[start..].iter_mut().find(|e| e.name == s.name) {
                    Some(again) => *again = s.clone(),
                    None => settings.push(s.clone()),
                }
            }
        }
        settings
    }

    /// Declared, else the lockfile's, else the parent's; an extractor with none at all is
    /// assumed to support catalog, discover and state (with a debug line saying so).
    pub fn capabilities(&self) -> Vec<String> {
        self.def
            .capabilities
            .clone()
            .or_else(|| self.locked.as_ref().and_then(|l| l.capabilities.clone()))
            .or_else(|| self.parent.map(|p| p.capabilities.clone()))
            .unwrap_or_else(|| {
                if self.ptype == PluginType::Extractors {
                    tracing::debug!(
                        "extractor '{}' declares no capabilities; assuming catalog, discover and state",
                        self.def.name
                    );
                    DEFAULT_EXTRACTOR_CAPABILITIES.map(String::from).to_vec()
                } else {
                    Vec::new()
                }
            })
    }

    /// Hub metadata eltr only displays: the project's definition, its lockfile, its parent.
    fn hub_field(&self, key: &str) -> Option<Value> {
        self.def
            .other
            .get(key)
            .or_else(|| self.locked.as_ref().and_then(|l| l.other.get(key)))
            .cloned()
    }

    /// Alternative sets of required settings (`config list`).
    pub fn settings_group_validation(&self) -> Vec<Vec<String>> {
        self.hub_field("settings_group_validation")
            .and_then(|v| serde_json::from_value::<Vec<Vec<String>>>(v).ok())
            .or_else(|| self.parent.map(|p| p.settings_group_validation.clone()))
            .unwrap_or_default()
    }

    /// Where the plugin's documentation lives (`config list`).
    pub fn docs(&self) -> Option<String> {
        self.hub_field("docs")
            .and_then(|v| v.as_str().map(String::from))
            .or_else(|| self.parent.and_then(|p| p.docs.clone()))
    }

    /// `requires:` of the project's definition, else the lockfile's, else the parent's.
    pub fn requires(&self) -> Value {
        self.hub_field("requires")
            .or_else(|| self.parent.map(|p| p.requires.clone()))
            .unwrap_or(Value::Null)
    }

    /// The parent's commands, extended by the lockfile's, then the project's.
    pub fn commands(&self) -> IndexMap<String, Value> {
        let mut commands = self.parent.map(|p| p.commands.clone()).unwrap_or_default();
        for (k, v) in self
            .locked
            .iter()
            .flat_map(|l| l.commands.iter().flatten())
            .chain(self.def.commands.iter().flatten())
        {
            commands.insert(k.clone(), v.clone());
        }
        commands
    }

    /// Declared, else the parent's, else the project's `python`.
    pub fn python(&self, project_python: Option<&String>) -> Option<String> {
        self.def
            .python
            .clone()
            .or_else(|| self.parent.and_then(|p| p.python.clone()))
            .or_else(|| project_python.cloned())
    }
}
