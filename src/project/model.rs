//! The project files' shapes, as written by users (before inheritance, environments and
//! expansion). Keys eltr does not use are kept in `other` so nothing Meltano accepts is an error.

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::path::PathBuf;

pub use crate::vocab::ident::Name;

/// A JSON object with its keys in file order.
pub type Object = Map<String, Value>;

/// The kinds of plugin a project declares, in the order Meltano lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginType {
    Extractors,
    Loaders,
    Mappers,
    Utilities,
    Transforms,
    Transformers,
    Orchestrators,
    Files,
}

impl PluginType {
    /// Every type, in Meltano's listing order.
    pub const ALL: [PluginType; 8] = [
        PluginType::Extractors,
        PluginType::Loaders,
        PluginType::Transforms,
        PluginType::Mappers,
        PluginType::Utilities,
        PluginType::Transformers,
        PluginType::Orchestrators,
        PluginType::Files,
    ];

    /// Every type in the order of Meltano's `PluginType` enum, which its listings follow
    /// (`plugin list`, `hub list`).
    pub const MELTANO_ORDER: [PluginType; 8] = [
        PluginType::Extractors,
        PluginType::Loaders,
        PluginType::Transforms,
        PluginType::Orchestrators,
        PluginType::Transformers,
        PluginType::Files,
        PluginType::Utilities,
        PluginType::Mappers,
    ];

    /// How Meltano's listings name a type (`extractor`, `file bundle`).
    pub fn descriptor(self) -> &'static str {
        match self {
            PluginType::Files => "file bundle",
            other => other.singular(),
        }
    }

    /// The plural key used in project files (`extractors`).
    pub fn key(self) -> &'static str {
        match self {
            PluginType::Extractors => "extractors",
            PluginType::Loaders => "loaders",
            PluginType::Mappers => "mappers",
            PluginType::Utilities => "utilities",
            PluginType::Transforms => "transforms",
            PluginType::Transformers => "transformers",
            PluginType::Orchestrators => "orchestrators",
            PluginType::Files => "files",
        }
    }

    /// The singular noun Meltano uses in messages and `MELTANO_<NOUN>_NAME` variables.
    pub fn singular(self) -> &'static str {
        match self {
            PluginType::Extractors => "extractor",
            PluginType::Loaders => "loader",
            PluginType::Mappers => "mapper",
            PluginType::Utilities => "utility",
            PluginType::Transforms => "transform",
            PluginType::Transformers => "transformer",
            PluginType::Orchestrators => "orchestrator",
            PluginType::Files => "file",
        }
    }

    /// Meltano's verb for the type in `MELTANO_<VERB>_<SETTING>` variables
    /// (`PluginType.verb`): `TRANSFORM`, `UTILIZE`, `MAP`, else the plural minus its last three
    /// letters (`EXTRACT`, `LOAD`, `TRANSFORM`, `ORCHESTRAT`, `FI`).
    pub fn env_verb(self) -> String {
        match self {
            PluginType::Transforms => "TRANSFORM".to_string(),
            PluginType::Utilities => "UTILIZE".to_string(),
            PluginType::Mappers => "MAP".to_string(),
            t => t.key()[..t.key().len() - 3].to_ascii_uppercase(),
        }
    }

    /// Parses the plural or singular form (`--plugin-type extractor` and `extractors` both work).
    pub fn parse(s: &str) -> Option<PluginType> {
        PluginType::ALL
            .into_iter()
            .find(|t| t.key() == s || t.singular() == s)
    }
}

impl fmt::Display for PluginType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.singular())
    }
}

/// One file of the project, root or included. Lists concatenate across files; scalars may be
/// set in one file only.
#[derive(Debug, Default, Deserialize)]
pub struct ProjectFile {
    #[serde(default)]
    pub version: Option<Value>,
    #[serde(default)]
    pub default_environment: Option<String>,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub include_paths: Vec<String>,
    #[serde(default)]
    pub plugins: IndexMap<String, Vec<PluginDef>>,
    #[serde(default)]
    pub environments: Vec<EnvironmentDef>,
    #[serde(default)]
    pub jobs: Vec<JobDef>,
    #[serde(default)]
    pub schedules: Vec<ScheduleDef>,
    #[serde(default)]
    pub state_backend: Option<Object>,
    /// Meltano's system database (`sqlite:///…`, `postgresql://…`): the `systemdb` state
    /// backend's home.
    #[serde(default)]
    pub database_uri: Option<String>,
    #[serde(default, deserialize_with = "env_map")]
    pub env: IndexMap<String, String>,
    #[serde(default)]
    pub venv: Option<Object>,
    #[serde(default)]
    pub python: Option<String>,
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// A plugin as written in a project file or a lockfile.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PluginDef {
    pub name: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherit_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pip_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Object>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Vec<SettingDef>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "opt_env_map",
        skip_serializing_if = "Option::is_none"
    )]
    pub env: Option<IndexMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<IndexMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select_filter: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Object>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Object>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_cached_catalog: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialect: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_parser: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mappings: Option<Vec<MappingDef>>,
    /// Mappers: the mapping this definition runs (set on the copy Meltano makes of a mapper
    /// for each of its mappings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping_name: Option<String>,
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// The plugin keys Meltano calls extras (catalog, state and load settings kept beside
/// `config`): read by `resolve`, cleared with the config by `config reset`, known to the
/// unknown-key warning.
pub const EXTRA_KEYS: &[&str] = &[
    "select",
    "select_filter",
    "metadata",
    "schema",
    "catalog",
    "state",
    "use_cached_catalog",
    "load_schema",
    "dialect",
    "target_schema",
    "log_parser",
];

/// A setting declared by a plugin (from its lockfile or the project).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct SettingDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub sensitive: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One named mapping of a mapper plugin; its name is runnable as a block.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MappingDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Object>,
}

/// An environment (`dev`, `prod`) that overlays config and env on the project.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EnvironmentDef {
    pub name: Name,
    #[serde(default, deserialize_with = "env_map")]
    pub env: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_id_suffix: Option<String>,
    #[serde(default)]
    pub config: EnvironmentConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_backend: Option<Object>,
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// The `config:` block of an environment.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct EnvironmentConfig {
    #[serde(default)]
    pub plugins: IndexMap<String, Vec<PluginDef>>,
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// A job: a name for a list of tasks, each a block string or a list of them.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct JobDef {
    pub name: Name,
    #[serde(default)]
    pub tasks: Vec<Task>,
}

/// One task of a job, as written (Meltano accepts both a string and a list of strings).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Task {
    One(String),
    Many(Vec<String>),
}

impl Task {
    /// The block strings of this task, in order.
    pub fn blocks(&self) -> Vec<&str> {
        match self {
            Task::One(s) => vec![s.as_str()],
            Task::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// A schedule: a job (or a legacy extractor/loader pair) with an interval.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ScheduleDef {
    pub name: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extractor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loader: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<Value>,
    #[serde(default, deserialize_with = "env_map")]
    pub env: IndexMap<String, String>,
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// Something defined in a project file, with the file it came from (for error messages).
#[derive(Debug, Clone)]
pub struct Sourced<T> {
    pub item: T,
    pub source: PathBuf,
}

/// `env:` maps may hold numbers and booleans in YAML; plugins see them as strings.
fn env_map<'de, D: Deserializer<'de>>(d: D) -> Result<IndexMap<String, String>, D::Error> {
    Ok(opt_env_map(d)?.unwrap_or_default())
}

fn opt_env_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<IndexMap<String, String>>, D::Error> {
    let raw: Option<IndexMap<String, Value>> = Option::deserialize(d)?;
    Ok(raw.map(|m| {
        m.into_iter()
            .map(|(k, v)| (k, scalar_to_string(&v)))
            .collect()
    }))
}

/// How a YAML scalar is written into an environment variable.
pub fn scalar_to_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
