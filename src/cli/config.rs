//! `eltr config print PLUGIN` / `eltr config list PLUGIN` (also `eltr config PLUGIN print`, the
//! older Meltano word order): a plugin's resolved settings, secrets masked. And the editing
//! actions, in Meltano 4.4's words: `config set PLUGIN SETTING… VALUE`, `config unset PLUGIN
//! SETTING…`, `config reset PLUGIN` (`project::edit::config` decides where values go).

use super::Call;
use super::config_list::ListView;
use crate::project::edit::config::{self as cfg, Place, SettingName, Store};
use crate::project::model::PluginType;
use crate::project::{REDACTED, ResolvedPlugin};
use crate::vocab::pyjson::python_repr;
use anyhow::bail;
use clap::{Args, ValueEnum};
use serde_json::{Map, Value};
use std::process::ExitCode;

/// Flags of `eltr config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// `print`, `list`, `set`, `unset` or `reset` followed by the plugin name (or the plugin
    /// name, then the action), then for `set` the setting name (dotted, or one word per
    /// level) and the value, for `unset` the setting name.
    #[arg(num_args = 1.., value_name = "ACTION|PLUGIN")]
    pub words: Vec<String>,
    /// `set`/`unset`/`reset`: where the value goes (`auto` follows Meltano's rules: secrets
    /// to `.env`, the rest to the plugin's file, or the environment's overlay when
    /// `--environment` is given).
    #[arg(long, value_enum, default_value_t)]
    pub store: StoreArg,
    /// `set`: read the value from this file (trailing whitespace trimmed).
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<std::path::PathBuf>,
    /// `reset`: confirm clearing the plugin's settings.
    #[arg(long)]
    pub yes: bool,
    /// Limit the lookup to one plugin type when two types share a name.
    #[arg(long, value_name = "TYPE")]
    pub plugin_type: Option<String>,
    /// Print extras (`_select`, `_metadata`…) instead of settings.
    #[arg(long)]
    pub extras: bool,
    /// Show sensitive values.
    #[arg(long = "unsafe", overrides_with = "safe")]
    pub show_secrets: bool,
    /// Mask sensitive values (the default; Meltano's `--safe`).
    #[arg(long, overrides_with = "show_secrets")]
    pub safe: bool,
    /// `list`: also show settings that only have their default value.
    #[arg(long)]
    pub all: bool,
    /// `list`: only settings whose name contains this text (any case); shows optional ones too.
    #[arg(long, value_name = "SUBSTRING")]
    pub filter: Option<String>,
    /// Output shape.
    #[arg(long, value_enum, default_value_t)]
    pub format: ConfigFormat,
    #[command(flatten)]
    pub installing: super::install_choice::InstallFlags,
}

/// Output shapes of `eltr config`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ConfigFormat {
    #[default]
    Json,
    Env,
    Text,
}

/// Meltano's `--store` choices that eltr writes to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum StoreArg {
    #[default]
    Auto,
    #[value(name = "meltano_yml")]
    MeltanoYml,
    Dotenv,
    /// Meltano's system database: eltr keeps no settings there.
    Db,
}

const EDIT_ACTIONS: [&str; 3] = ["set", "unset", "reset"];

/// `config test PLUGIN` (`cli::config_test`).
fn test(call: &Call<'_>, args: &ConfigArgs, name: &str) -> anyhow::Result<ExitCode> {
    super::config_test::run(call, plugin_type_arg(args)?, name, args.installing)
}

fn plugin_type_arg(args: &ConfigArgs) -> anyhow::Result<Option<PluginType>> {
    args.plugin_type
        .as_deref()
        .map(|t| PluginType::parse(t).ok_or_else(|| anyhow::anyhow!("unknown plugin type '{t}'")))
        .transpose()
}

/// Runs `eltr config`.
pub fn run(call: &Call<'_>, args: ConfigArgs) -> anyhow::Result<ExitCode> {
    match args.words.as_slice() {
        [a, p, rest @ ..] if EDIT_ACTIONS.contains(&a.as_str()) => {
            return edit(call, &args, a, p, rest);
        }
        [p, a, rest @ ..] if EDIT_ACTIONS.contains(&a.as_str()) => {
            return edit(call, &args, a, p, rest);
        }
        [a, p] | [p, a] if a == "test" => return test(call, &args, p),
        _ => {}
    }
    let (action, name) = match args.words.as_slice() {
        [a, p] if a == "print" || a == "list" => (a.as_str(), p.as_str()),
        [p, a] if a == "print" || a == "list" => (a.as_str(), p.as_str()),
        [p] if p != "print" && p != "list" => ("print", p.as_str()),
        _ => bail!(
            "usage: eltr config print|list PLUGIN | eltr config set PLUGIN SETTING VALUE | \
             eltr config unset PLUGIN SETTING | eltr config reset PLUGIN"
        ),
    };
    let plugin_type = match &args.plugin_type {
        Some(t) => {
            Some(PluginType::parse(t).ok_or_else(|| anyhow::anyhow!("unknown plugin type '{t}'"))?)
        }
        None => None,
    };
    let ctx = call.open()?;
    let plugin = ctx.plugin(plugin_type, name)?;
    match action {
        "list" => {
            let root_file = ctx.project.root_file.file_name().map_or_else(
                || "meltano.yml".to_string(),
                |f| f.to_string_lossy().into_owned(),
            );
            let view = ListView {
                all: args.all,
                filter: args
                    .filter
                    .as_deref()
                    .map(|f| f.trim().to_string())
                    .filter(|f| !f.is_empty()),
                show_secrets: args.show_secrets,
                extras: args.extras,
                root_file,
            };
            let text = super::config_list::render(&plugin, &view);
            match view.show_secrets {
                true => call.print_raw(&text)?,
                false => call.print_raw(&mask_list(&text, &ctx.masker))?,
            }
        }
        // Secrets are masked in values only: a short secret (`text`) must not garble the
        // names of settings and variables around it.
        _ if args.extras && args.format == ConfigFormat::Env => {
            let vars = crate::plugin::env::extra_vars(&plugin)
                .into_iter()
                .map(|(var, value)| (var, value, false));
            let lines = dotenv_lines(vars, true, &|t| masked(t, &ctx.masker, &args));
            call.print_raw(&lines)?
        }
        _ if args.extras => {
            let mut extras = extras_json(&plugin);
            mask_strings(&mut extras, &ctx.masker, &args);
            call.print_json_unmasked(&extras)?
        }
        _ if args.format == ConfigFormat::Env => {
            let vars = crate::plugin::env::printed_setting_vars(&plugin, !args.show_secrets);
            let lines = dotenv_lines(vars.into_iter(), args.show_secrets, &|t| {
                masked(t, &ctx.masker, &args)
            });
            call.print_raw(&lines)?
        }
        _ => {
            let mut config = Value::Object(plugin.printed_config(!args.show_secrets));
            mask_strings(&mut config, &ctx.masker, &args);
            call.print_json_unmasked(&config)?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `config set|unset|reset`.
fn edit(
    call: &Call<'_>,
    args: &ConfigArgs,
    action: &str,
    name: &str,
    rest: &[String],
) -> anyhow::Result<ExitCode> {
    let store = match args.store {
        StoreArg::Auto => Store::Auto,
        StoreArg::MeltanoYml => Store::MeltanoYml,
        StoreArg::Dotenv => Store::Dotenv,
        StoreArg::Db => bail!(
            "--store db: eltr keeps no settings in Meltano's system database; use meltano_yml or dotenv"
        ),
    };
    let plugin_type = match &args.plugin_type {
        Some(t) => {
            Some(PluginType::parse(t).ok_or_else(|| anyhow::anyhow!("unknown plugin type '{t}'"))?)
        }
        None => None,
    };
    let ctx = call.open()?;
    let plugin = ctx.plugin(plugin_type, name)?;
    let target = EditTarget {
        label: format!(
            "{} '{}'",
            capitalized(plugin.plugin_type.singular()),
            plugin.name
        ),
        environment: super::edit_environment(call.global, &ctx)?,
        editor: crate::project::edit::ops::Editor::new(&ctx.project),
        root: &ctx.project.root,
        plugin,
        store,
    };
    let said = match action {
        "set" => target.set(args, rest)?,
        "unset" => target.unset(rest)?,
        _ => target.reset(args, rest)?,
    };
    call.say(&said);
    Ok(ExitCode::SUCCESS)
}

/// `path` relative to the project root, for messages.
fn shown(root: &std::path::Path, path: &std::path::Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// What `config set|unset|reset` changes: one plugin's settings, in the project's files (or
/// an environment's overlay) and `.env`.
struct EditTarget<'a> {
    editor: crate::project::edit::ops::Editor<'a>,
    plugin: ResolvedPlugin,
    environment: Option<String>,
    store: Store,
    /// `Extractor 'tap-x'`, for messages.
    label: String,
    root: &'a std::path::Path,
}

impl EditTarget<'_> {
    /// `config set`: writes the value where Meltano's store rules put it; says where.
    fn set(mut self, args: &ConfigArgs, rest: &[String]) -> anyhow::Result<String> {
        let (words, raw) = match (&args.from_file, rest) {
            (Some(file), words) => {
                let bytes =
                    crate::vocab::files::read_capped(file, crate::vocab::files::PROJECT_FILE_CAP)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", file.display()))?;
                (words.to_vec(), text.trim().to_string())
            }
            (None, [words @ .., value]) if !words.is_empty() => (words.to_vec(), value.clone()),
            _ => bail!("usage: eltr config set PLUGIN SETTING VALUE"),
        };
        let setting = SettingName::parse(&words)?;
        let env = self.environment.as_deref();
        let out = cfg::set(
            &mut self.editor,
            &self.plugin,
            env,
            &setting,
            &raw,
            self.store,
        )?;
        self.editor.commit()?;
        let value = match out.sensitive {
            true => REDACTED.to_string(),
            false => python_repr(&out.value),
        };
        if !out.known {
            tracing::warn!("unknown setting '{}'", setting.name);
        }
        let place = match &out.place {
            Place::Dotenv(var) => format!("`.env` ({var})"),
            Place::File(f) => match &self.environment {
                Some(env) if self.store != Store::Dotenv => {
                    format!("environment '{env}' in `{}`", shown(self.root, f))
                }
                _ => format!("`{}`", shown(self.root, f)),
            },
        };
        Ok(format!(
            "{} setting '{}' was set in {place}: {value}",
            self.label, setting.name
        ))
    }

    /// `config unset`: removes the setting from every store that has it.
    fn unset(mut self, rest: &[String]) -> anyhow::Result<String> {
        let setting = SettingName::parse(rest)?;
        let env = self.environment.as_deref();
        let places = cfg::unset(&mut self.editor, &self.plugin, env, &setting, self.store)?;
        self.editor.commit()?;
        if places.is_empty() {
            return Ok(format!(
                "{} setting '{}' was not set",
                self.label, setting.name
            ));
        }
        let root = format!("{}/", self.root.display());
        Ok(format!(
            "{} setting '{}' was unset in {}",
            self.label,
            setting.name,
            places.join(", ").replace(&root, "")
        ))
    }

    /// `config reset`: clears every setting of the plugin (asks for `--yes`).
    fn reset(mut self, args: &ConfigArgs, rest: &[String]) -> anyhow::Result<String> {
        if !rest.is_empty() {
            bail!("usage: eltr config reset PLUGIN");
        }
        if !args.yes {
            bail!(
                "config reset clears every setting of {}; pass --yes to confirm",
                self.label
            );
        }
        let env = self.environment.as_deref();
        cfg::reset(&mut self.editor, &self.plugin, env, self.store)?;
        self.editor.commit()?;
        Ok(format!("{} settings were reset", self.label))
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Extras as Meltano prints them with `--extras`: `_`-prefixed, every known extra present.
fn extras_json(p: &ResolvedPlugin) -> Value {
    let o: Map<String, Value> = p
        .extras_with_defaults()
        .into_iter()
        .map(|(name, value)| (format!("_{name}"), value))
        .collect();
    Value::Object(o)
}

/// The `config list` text with known secrets masked where values are: from ` current
/// value: ` on in a setting's line, and in description lines. Names of settings and
/// variables stay whole, so a short secret (`text`) cannot garble them.
fn mask_list(text: &str, masker: &crate::vocab::mask::Masker) -> String {
    const VALUE: &str = " current value: ";
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match line.find(VALUE) {
            Some(at) => {
                out.push_str(&line[..at]);
                out.push_str(&masker.mask(&line[at..]));
            }
            None if line.starts_with('\t') => out.push_str(&masker.mask(line)),
            None => out.push_str(line),
        }
    }
    out
}

/// `text` with known secrets masked, unless `--unsafe`.
fn masked(text: &str, masker: &crate::vocab::mask::Masker, args: &ConfigArgs) -> String {
    match args.show_secrets {
        true => text.to_string(),
        false => masker.mask(text).into_owned(),
    }
}

/// Masks known secrets in every text value inside `v` (keys stay as they are).
fn mask_strings(v: &mut Value, masker: &crate::vocab::mask::Masker, args: &ConfigArgs) {
    match v {
        Value::String(s) => *s = masked(s, masker, args),
        Value::Array(items) => items.iter_mut().for_each(|i| mask_strings(i, masker, args)),
        Value::Object(map) => map.values_mut().for_each(|i| mask_strings(i, masker, args)),
        _ => {}
    }
}

/// `NAME='value'` lines as Meltano writes them (python-dotenv's `set_key`: backslashes and
/// single quotes escaped). A later setting writing the same variable replaces its value in
/// place, as Meltano's dict of variables does; sensitive values with content are replaced by
/// the mask unless `show_secrets`, and every value goes through `mask`.
fn dotenv_lines(
    vars: impl Iterator<Item = (String, String, bool)>,
    show_secrets: bool,
    mask: &dyn Fn(&str) -> String,
) -> String {
    let mut lines: indexmap::IndexMap<String, String> = indexmap::IndexMap::new();
    for (var, value, sensitive) in vars {
        let text = match sensitive && !show_secrets && !value.is_empty() {
            true => REDACTED.to_string(),
            false => mask(&value),
        };
        lines.insert(var, text);
    }
    let mut out = String::new();
    for (var, text) in lines {
        let quoted = text.replace('\\', "\\\\").replace('\'', "\\'");
        out.push_str(&format!("{var}='{quoted}'\n"));
    }
    // Meltano echoes the .env file it wrote, whose last line already ends: one blank line
    // follows. (With no variable it writes no file and fails; eltr prints nothing.)
    if !out.is_empty() {
        out.push('\n');
    }
    out
}
