//! The JSON Schema of a project file, for editors (`eltr schema`): the root file and every
//! file `include_paths` reads share one shape.
//!
//! Draft-07, the draft editors' YAML support reads best. The plugin keys come from the lists
//! the loader itself checks (`load::KNOWN_PLUGIN_KEYS`, `model::EXTRA_KEYS`) and the state
//! backend's from `backend::KNOWN`, so a key eltr learns shows up here too; the tables below
//! give each key its type and description (tests/project_schema.rs fails on a key without
//! one). The schema is as strict as Meltano's own: an unknown key is flagged in the editor,
//! where eltr itself warns (plugins) or ignores it (top level).

use super::backend;
use super::load::KNOWN_PLUGIN_KEYS;
use super::model::{EXTRA_KEYS, PluginType};
use serde_json::{Map, Value, json};

/// The whole schema.
pub fn document() -> Value {
    let mut definitions = Map::new();
    for t in PluginType::ALL {
        definitions.insert(t.key().into(), plugin(t));
        definitions.insert(format!("environment_{}", t.key()), overlay(t));
    }
    definitions.insert("setting".into(), setting());
    definitions.insert("command".into(), command());
    definitions.insert("container_spec".into(), container_spec());
    definitions.insert("environment".into(), environment());
    definitions.insert("job".into(), job());
    definitions.insert("schedule".into(), schedule());
    definitions.insert("state_backend".into(), state_backend());
    definitions.insert(
        "env".into(),
        described(
            "Environment variables: values are ${VAR}-expanded; numbers and booleans become strings",
            json!({"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]}}),
        ),
    );
    definitions.insert(
        "annotations".into(),
        described(
            "Notes for other tools, by tool name; Meltano and eltr ignore them",
            json!({"type": "object", "additionalProperties": {"type": "object"}}),
        ),
    );
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "eltr / Meltano project file",
        "description": "meltano.yml or eltr.yml, or a file they read with include_paths",
        "type": "object",
        "properties": root_properties(),
        "additionalProperties": false,
        "definitions": definitions,
    })
}

/// `{"$ref": "#/definitions/<name>"}`.
fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/definitions/{name}")})
}

/// `schema` with a description.
fn described(text: &str, mut schema: Value) -> Value {
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("description".into(), text.into());
    }
    schema
}

fn string(text: &str) -> Value {
    described(text, json!({"type": "string"}))
}

fn boolean(text: &str) -> Value {
    described(text, json!({"type": "boolean"}))
}

fn strings(text: &str) -> Value {
    described(text, json!({"type": "array", "items": {"type": "string"}}))
}

fn object(text: &str) -> Value {
    described(text, json!({"type": "object"}))
}

/// An array of `definition`s.
fn list_of(text: &str, definition: &str) -> Value {
    described(
        text,
        json!({"type": "array", "items": reference(definition)}),
    )
}

/// The keys of the root file (and of included files: the same shape merges into it).
fn root_properties() -> Value {
    let plugins: Map<String, Value> = PluginType::ALL
        .iter()
        .map(|t| {
            let text = format!("The project's {}", t.key());
            (t.key().to_string(), list_of(&text, t.key()))
        })
        .collect();
    let integer = |text: &str| described(text, json!({"type": "integer", "minimum": 0}));
    json!({
        "version": described("Meltano's file version (deprecated; 1 when set)", json!({"const": 1})),
        "annotations": reference("annotations"),
        "default_environment": string("The environment active when none is chosen (--environment, ELTR_ENVIRONMENT / MELTANO_ENVIRONMENT)"),
        "project_id": string("An identifier of the project"),
        "send_anonymous_usage_stats": boolean("Meltano's telemetry switch (eltr sends no telemetry)"),
        "requires_meltano": string("A version specifier of the Meltano this project needs"),
        "include_paths": strings("Globs of more project files, relative to the project folder (./plugins/**/*.yml): read in sorted order and merged into this one"),
        "plugins": described("Plugins by type", json!({"type": "object", "properties": plugins, "additionalProperties": false})),
        "environments": list_of("Environments (dev, prod…): config and env overlays on the project", "environment"),
        "jobs": list_of("Named lists of run blocks (`eltr run JOB`)", "job"),
        "schedules": list_of("Jobs (or extractor/loader pairs) with an interval, for orchestrators", "schedule"),
        "env": reference("env"),
        "state_backend": reference("state_backend"),
        "database_uri": string("Meltano's system database (sqlite:///… or postgresql://…): where the systemdb state backend keeps state"),
        "database_max_retries": integer("Meltano: connection attempts to the system database"),
        "database_retry_timeout": integer("Meltano: seconds between connection attempts"),
        "project_readonly": boolean("Meltano: refuse commands that change the project files"),
        "python": string("The Python (a path, a name on PATH, or a version such as 3.11) plugin virtualenvs are built with"),
        "venv": described("How plugin virtualenvs are built", json!({
            "type": "object",
            "properties": {"backend": described("virtualenv, or uv", json!({"enum": ["virtualenv", "uv"]}))},
            "additionalProperties": false,
        })),
        "cli": described("Meltano's command-line settings", json!({"type": "object", "properties": {"log_config": string("A Python logging config file (YAML), as --log-config")}})),
        "elt": described("Meltano's el settings", json!({"type": "object", "properties": {"buffer_size": integer("Meltano's buffer between extractor and loader, in bytes (eltr streams without one)")}})),
        "experimental": boolean("Meltano: turn on experimental features"),
        "ff": described("Meltano's feature flags", json!({"type": "object", "properties": {
            "strict_env_var_mode": boolean("Fail on a ${VAR} that is not set (eltr: also --strict-env, ELTR_STRICT_ENV)"),
            "plugin_locks_required": boolean("Meltano: refuse plugins without a lockfile"),
        }})),
        "hub_api_root": described("Meltano Hub's API address", json!({"type": ["string", "null"]})),
        "hub_url": string("Meltano Hub's address (`add` and `lock` read plugin definitions there)"),
        "hub_url_auth": described("The Authorization header sent to Meltano Hub", json!({"type": ["string", "boolean", "null"]})),
        "snowplow": described("Meltano's telemetry collectors", json!({"type": "object", "properties": {"collector_endpoints": strings("Collector URLs")}})),
        "auto_install": boolean("Meltano: install missing plugins before running them"),
    })
}

/// The keys only plugins of one type have; every other known key belongs to all types.
fn own_keys(t: PluginType) -> &'static [&'static str] {
    match t {
        PluginType::Extractors => &[
            "select",
            "select_filter",
            "metadata",
            "schema",
            "catalog",
            "state",
            "use_cached_catalog",
            "load_schema",
            "log_parser",
        ],
        PluginType::Loaders => &["dialect", "target_schema"],
        PluginType::Mappers => &["mappings"],
        PluginType::Transforms => &["vars", "package_name"],
        _ => &[],
    }
}

/// Whether `key` is a key of `t` plugins.
fn belongs(t: PluginType, key: &str) -> bool {
    let owned = PluginType::ALL.iter().any(|o| own_keys(*o).contains(&key));
    !owned || own_keys(t).contains(&key)
}

/// A plugin definition of type `t`.
fn plugin(t: PluginType) -> Value {
    let keys = KNOWN_PLUGIN_KEYS
        .iter()
        .chain(EXTRA_KEYS)
        .chain(own_keys(t))
        .copied()
        .filter(|k| belongs(t, k));
    let mut properties = Map::new();
    for key in keys {
        properties.insert(key.to_string(), plugin_key(t, key));
    }
    let text = format!(
        "A plugin of type {} (name, and how to install, run and configure it)",
        t.key()
    );
    described(
        &text,
        json!({"type": "object", "required": ["name"], "properties": properties, "additionalProperties": false}),
    )
}

/// The type and description of one plugin key (`{}` for a key the table misses).
fn plugin_key(t: PluginType, key: &str) -> Value {
    match key {
        "name" => {
            string("The plugin's name in this project (what `eltr run` and `eltr invoke` take)")
        }
        "inherit_from" => string(
            "Another plugin of the same type whose definition and config this one starts from",
        ),
        "variant" => string(
            "The Meltano Hub variant (its lockfile plugins/<type>/<name>--<variant>.lock is the base definition)",
        ),
        "pip_url" => string(
            "What pip or uv installs into the plugin's virtualenv (package names, URLs, -e paths)",
        ),
        "namespace" => string("The prefix of the plugin's own environment variables"),
        "executable" => {
            string("The program to run: a name in the virtualenv or on PATH, or a path")
        }
        "python" => {
            string("The Python this plugin's virtualenv is built with (overrides the project's)")
        }
        "config" => object("Setting values (nested or dotted keys); strings are ${VAR}-expanded"),
        "settings" => list_of(
            "Settings the plugin declares (extends the lockfile's)",
            "setting",
        ),
        "capabilities" => described("What the plugin supports", capabilities(t)),
        "env" => reference("env"),
        "commands" => described(
            "Named commands (`eltr invoke PLUGIN:COMMAND`, `eltr run PLUGIN:COMMAND`)",
            json!({"type": "object", "additionalProperties": reference("command")}),
        ),
        _ => extra_key(key),
    }
}

/// The type and description of an extra (catalog, state and load settings kept beside
/// `config`), else of a metadata key.
fn extra_key(key: &str) -> Value {
    match key {
        "select" => {
            strings("Streams and properties to extract: [!]stream[.property] patterns with * globs")
        }
        "select_filter" => strings("Streams kept after select, by the same patterns"),
        "metadata" => {
            object("Singer metadata by stream pattern (replication-method, replication-key…)")
        }
        "schema" => object("JSON Schema overrides by stream and property"),
        "catalog" => {
            string("A catalog file to use instead of discovering one (relative to the project)")
        }
        "state" => string(
            "A state file to start from instead of the stored state (relative to the project)",
        ),
        "use_cached_catalog" => {
            boolean("Reuse the last discovered catalog while the config is unchanged")
        }
        "load_schema" => string("The schema downstream plugins load this extractor's data into"),
        "log_parser" => described(
            "How the plugin's log lines are read",
            json!({"enum": ["singer-sdk"]}),
        ),
        "dialect" => string("The loader's database dialect, for transformers in the same pipeline"),
        "target_schema" => {
            string("The schema the loader writes to, for transformers in the same pipeline")
        }
        "mappings" => described(
            "Named configurations of the mapper; each name is a run block",
            json!({"type": "array", "items": {
                "type": "object", "required": ["name"], "additionalProperties": false,
                "properties": {"name": string("The mapping's name"), "config": object("The mapper's config for this mapping")},
            }}),
        ),
        "vars" => object("dbt variables"),
        "package_name" => string("The dbt package's project name"),
        _ => metadata_key(key),
    }
}

/// The type and description of a key Meltano Hub definitions carry (`{}` for a key the
/// tables miss).
fn metadata_key(key: &str) -> Value {
    match key {
        "settings_group_validation" => described(
            "Sets of settings of which one must be complete",
            json!({"type": "array", "items": {"type": "array", "items": {"type": "string"}}}),
        ),
        "requires" => {
            let requirement = json!({"type": "object", "additionalProperties": false, "properties": {
                "name": string("The plugin's name"),
                "variant": string("Its variant"),
                "annotations": reference("annotations"),
            }});
            let types: Map<String, Value> = PluginType::ALL
                .iter()
                .map(|t| {
                    (
                        t.key().to_string(),
                        json!({"type": "array", "items": requirement}),
                    )
                })
                .collect();
            described(
                "Plugins this one needs, by type",
                json!({"type": "object", "properties": types, "additionalProperties": false}),
            )
        }
        "annotations" => reference("annotations"),
        "hidden" => boolean("Meltano Hub metadata"),
        // A Hub flag on most plugins; on a file bundle, Meltano's `_update` extra: which of
        // its files an update overwrites.
        "update" => described(
            "Meltano Hub metadata; for a file bundle, the files an update overwrites (path: true/false)",
            json!({"anyOf": [
                {"type": "boolean"},
                {"type": "object", "additionalProperties": {"type": "boolean"}}
            ]}),
        ),
        "keywords" | "supported_python_versions" => strings("Meltano Hub metadata"),
        "container_spec" => reference("container_spec"),
        "usage" | "prereq" | "next_steps" | "settings_preamble" => {
            described("Meltano Hub metadata", json!({}))
        }
        "plugin_type" => described(
            "The plugin's type",
            json!({"enum": PluginType::ALL.map(|t| t.key())}),
        ),
        "label" | "logo_url" | "description" | "docs" | "repo" | "ext_repo"
        | "maintenance_status" | "domain_url" | "requires_meltano" | "original_name"
        | "default_variant" | "quality" => string("Meltano Hub metadata"),
        _ => json!({}),
    }
}

/// The capabilities Meltano's schema lists for `t`.
fn capabilities(t: PluginType) -> Value {
    let known: &[&str] = match t {
        PluginType::Extractors => &[
            "properties",
            "catalog",
            "discover",
            "state",
            "about",
            "stream-maps",
            "activate-version",
            "batch",
            "test",
            "log-based",
            "schema-flattening",
            "structured-logging",
        ],
        PluginType::Loaders => &[
            "about",
            "stream-maps",
            "activate-version",
            "batch",
            "soft-delete",
            "hard-delete",
            "datatype-failsafe",
            "schema-flattening",
            "structured-logging",
        ],
        PluginType::Mappers => &["about", "stream-maps", "structured-logging"],
        _ => return json!({"type": "array", "items": {"type": "string"}}),
    };
    json!({"type": "array", "items": {"enum": known}})
}

/// A setting a plugin declares.
fn setting() -> Value {
    let kinds = [
        "string",
        "integer",
        "decimal",
        "boolean",
        "object",
        "array",
        "options",
        "file",
        "email",
        "date_iso8601",
        "oauth",
        "password",
        "hidden",
    ];
    described(
        "A setting: its name, kind, default and where else it may come from",
        json!({"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
            "name": string("The setting's name (dotted for nested config)"),
            "aliases": strings("Other names of the setting"),
            "label": string("A display name"),
            "value": described("The default value", json!({})),
            "placeholder": string("An example value"),
            "kind": described("The value's kind (password and hidden are Meltano's old spellings of sensitive)", json!({"enum": kinds})),
            "description": string("What the setting does"),
            "tooltip": string("A short help text"),
            "documentation": string("A link to the documentation"),
            "hidden": boolean("Hide the setting from listings"),
            "sensitive": boolean("A secret: masked in every output, written to .env by config set"),
            "env": string("The environment variable that sets it (besides <PLUGIN>_<SETTING>)"),
            "env_aliases": strings("More environment variables that set it"),
            "env_specific": boolean("Meltano: the value differs per environment"),
            "custom": boolean("Meltano: the setting was added in the project"),
            "value_processor": described("Meltano's value processing", json!({"enum": ["nest_object", "upcase_string"]})),
            "value_post_processor": described("Meltano's value processing after expansion", json!({"enum": ["nest_object", "upcase_string", "stringify", "parse_date"]})),
            "oauth": described("Meltano's OAuth settings", json!({"type": "object", "required": ["provider"], "properties": {"provider": string("The OAuth provider")}})),
            "options": described("The choices of an options setting", json!({"type": "array", "items": {
                "type": "object", "required": ["label", "value"], "additionalProperties": false,
                "properties": {"label": string("What is shown"), "value": described("What is stored", json!({}))},
            }})),
            "annotations": reference("annotations"),
        }}),
    )
}

/// A plugin command: a string of arguments, or an object.
fn command() -> Value {
    json!({"oneOf": [
        string("The arguments, after the plugin's executable"),
        described("A command with its own executable or container", json!({"type": "object", "properties": {
            "args": string("The arguments"),
            "description": string("What the command does"),
            "executable": string("Another executable to run"),
            "container_spec": reference("container_spec"),
            "annotations": reference("annotations"),
        }})),
    ]})
}

/// Meltano's container settings of a plugin or command (eltr runs no containers).
fn container_spec() -> Value {
    described(
        "Meltano: run the plugin in a container",
        json!({"type": "object", "required": ["image"], "properties": {
            "image": string("The container image"),
            "command": string("The container's command"),
            "entrypoint": string("The container's entrypoint"),
            "ports": described("Host port to container port", json!({"type": "object", "additionalProperties": {"type": "string"}})),
            "volumes": strings("Volumes to mount (host:container)"),
            "env": reference("env"),
            "annotations": reference("annotations"),
        }}),
    )
}

/// An environment's overlay of one plugin of type `t`.
fn overlay(t: PluginType) -> Value {
    let mut properties = Map::new();
    properties.insert("name".into(), string("The plugin this overlay applies to"));
    properties.insert(
        "config".into(),
        object("Config merged over the plugin's, leaf by leaf"),
    );
    properties.insert("env".into(), reference("env"));
    properties.insert("annotations".into(), reference("annotations"));
    for key in own_keys(t).iter().filter(|_| t == PluginType::Extractors) {
        properties.insert(key.to_string(), plugin_key(t, key));
    }
    json!({"type": "object", "required": ["name"], "properties": properties, "additionalProperties": false})
}

/// An environment.
fn environment() -> Value {
    let plugins: Map<String, Value> = PluginType::ALL
        .iter()
        .map(|t| {
            let text = format!("Overlays of {}", t.key());
            (
                t.key().to_string(),
                list_of(&text, &format!("environment_{}", t.key())),
            )
        })
        .collect();
    json!({"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
        "name": string("The environment's name (--environment NAME)"),
        "env": reference("env"),
        "state_id_suffix": string("Appended to the state ids of runs in this environment"),
        "state_backend": described("eltr: state backend settings for this environment, over the project's", reference("state_backend")),
        "config": described("Overlays on the project's plugins", json!({"type": "object", "additionalProperties": false, "properties": {
            "plugins": described("Overlays by plugin type", json!({"type": "object", "properties": plugins, "additionalProperties": false})),
        }})),
        "annotations": reference("annotations"),
    }})
}

/// A job.
fn job() -> Value {
    let block = string("Run blocks: `extractor [mapper…] loader`, `plugin:command`, or a job");
    json!({"type": "object", "required": ["name", "tasks"], "additionalProperties": false, "properties": {
        "name": string("The job's name (`eltr run NAME`)"),
        "tasks": described("The blocks, in order: a string, or a list of strings and lists of strings", json!({"oneOf": [
            block.clone(),
            {"type": "array", "items": {"oneOf": [block.clone(), {"type": "array", "items": block}]}},
        ]})),
        "annotations": reference("annotations"),
    }})
}

/// A schedule.
fn schedule() -> Value {
    let interval = described(
        "@once, @hourly, @daily, @weekly, @monthly, @yearly, or a cron expression of five or six fields",
        json!({"type": "string", "pattern": r"^(@(once|hourly|daily|weekly|monthly|yearly|annually|midnight)|\S+( +\S+){4,5})$"}),
    );
    json!({"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
        "name": string("The schedule's name"),
        "interval": interval,
        "job": string("The job to run"),
        "extractor": string("Legacy schedules: the extractor"),
        "loader": string("Legacy schedules: the loader"),
        "transform": described("Legacy schedules: Meltano's transform step", json!({"enum": ["run", "skip", "only"]})),
        "start_date": string("The first date the schedule covers"),
        "env": reference("env"),
        "annotations": reference("annotations"),
    }})
}

/// `state_backend:`, from the settings eltr reads (`backend::KNOWN`) plus Meltano's lock retry.
fn state_backend() -> Value {
    let mut properties = Map::new();
    for key in backend::KNOWN.iter().chain(&["lock_retry_seconds"]) {
        let leaf = backend_key(key);
        match key.split_once('.') {
            None => {
                properties.insert(key.to_string(), leaf);
            }
            Some((group, name)) => {
                let entry = properties.entry(group.to_string()).or_insert_with(|| {
                    let text = format!("{group} settings");
                    described(
                        &text,
                        json!({"type": "object", "properties": {}, "additionalProperties": false}),
                    )
                });
                if let Some(props) = entry
                    .pointer_mut("/properties")
                    .and_then(Value::as_object_mut)
                {
                    props.insert(name.to_string(), leaf);
                }
            }
        }
    }
    described(
        "Where state is kept: systemdb, a folder, file://, s3://, azure:// or gs:// (each key also ELTR_STATE_BACKEND_* / MELTANO_STATE_BACKEND_*)",
        json!({"type": "object", "properties": properties, "additionalProperties": false}),
    )
}

/// The type and description of one state backend setting (`{}` for one the table misses).
fn backend_key(key: &str) -> Value {
    let seconds = |text: &str| described(text, json!({"type": ["integer", "string"]}));
    match key {
        "uri" => string(
            "systemdb, a folder, file://PATH, s3://BUCKET/PREFIX, azure://CONTAINER/PREFIX or gs://BUCKET/PREFIX",
        ),
        "lock_timeout_seconds" => seconds("After how long without a heartbeat a lock is stale"),
        "lock_retry_seconds" => seconds("Meltano: how long to wait between lock attempts"),
        "s3.aws_access_key_id" => string("The access key id (else the AWS credential chain)"),
        "s3.aws_secret_access_key" => string("The secret access key"),
        "s3.endpoint_url" => string("An S3-compatible endpoint (MinIO, an emulator)"),
        "s3.region" => string("eltr: the bucket's region"),
        "azure.connection_string" => {
            string("The storage account's connection string (else AZURE_STORAGE_CONNECTION_STRING)")
        }
        "azure.storage_account_url" => string("eltr: the storage account's URL"),
        "gcs.application_credentials" => string("A service account key file"),
        "gcs.application_credentials_path" => string("eltr: a service account key file"),
        "gcs.application_credentials_json" => string("eltr: a service account key, as JSON text"),
        _ => json!({}),
    }
}
