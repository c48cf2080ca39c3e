//! `eltr add NAME… [--plugin-type T] [--variant V] [--as NAME] [--inherit-from P] [--custom
//! …] [--from-ref FILE|URL]`: Meltano 4.4's `add`; the decisions are in
//! `project::edit::add`.

use super::Call;
use crate::project::edit::add::{self, Custom};
use crate::project::edit::ops::Editor;
use crate::project::hub::{Hub, HubConfig};
use crate::project::model::PluginType;
use crate::vocab::ident::{Name, NameKind};
use anyhow::{anyhow, bail};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `eltr add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Plugin names (the type comes from the name: `tap-` extractor, `target-` loader, else
    /// utility; or from --plugin-type). `eltr add extractor tap-x` also works.
    #[arg(required = true, num_args = 1..)]
    pub plugins: Vec<String>,
    #[arg(long, value_name = "TYPE")]
    pub plugin_type: Option<String>,
    /// Inherit from this plugin of the project (or Meltano Hub).
    #[arg(long, value_name = "PLUGIN")]
    pub inherit_from: Option<String>,
    /// The Meltano Hub variant (default: the Hub's default variant).
    #[arg(long)]
    pub variant: Option<String>,
    /// Add the named plugin under this name (`add tap-x --as tap-x-eu` is `add tap-x-eu
    /// --inherit-from tap-x`).
    #[arg(long = "as", value_name = "NAME")]
    pub as_name: Option<String>,
    /// A plugin definition to add, from a YAML/JSON file or an http(s) URL.
    #[arg(long, value_name = "FILE|URL")]
    pub from_ref: Option<String>,
    /// The plugin's `python`.
    #[arg(long)]
    pub python: Option<String>,
    /// A custom plugin: its definition from the flags below (Meltano asks for them at prompts;
    /// each defaults to the prompt's default).
    #[arg(long)]
    pub custom: bool,
    /// --custom: namespace (default: the name with `_` for `-`).
    #[arg(long, requires = "custom")]
    pub namespace: Option<String>,
    /// --custom: `pip install` argument (default: the name; `n` for none).
    #[arg(long, requires = "custom")]
    pub pip_url: Option<String>,
    /// --custom: executable (default: from pip_url).
    #[arg(long, requires = "custom")]
    pub executable: Option<String>,
    /// --custom: comma-separated capabilities (extractors).
    #[arg(long, requires = "custom")]
    pub capabilities: Option<String>,
    /// --custom: comma-separated settings, `name` or `name:kind`.
    #[arg(long, requires = "custom")]
    pub settings: Option<String>,
    /// Write a new plugin to this project file (the root file or one include_paths reads)
    /// instead of the root file, where Meltano writes it.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Do not install the plugins added (eltr's default: `add` only edits files; `install`
    /// or the first run installs them).
    #[arg(long, conflicts_with_all = ["install", "force_install"])]
    pub no_install: bool,
    /// Install the plugins added, as Meltano's `add` does by default.
    #[arg(long)]
    pub install: bool,
    /// `--install`, also when a plugin declares a Python version other than the one used.
    #[arg(long)]
    pub force_install: bool,
    /// Accepted for Meltano compatibility (Meltano hides it): an existing plugin's
    /// definition is always refreshed.
    #[arg(long, hide = true, overrides_with = "no_update")]
    pub update: bool,
    #[arg(long, hide = true)]
    pub no_update: bool,
}

/// Runs `eltr add`.
pub fn run(call: &Call<'_>, args: AddArgs) -> anyhow::Result<ExitCode> {
    let wanted = Wanted::from_args(&args)?;
    let ctx = call.open()?;
    let project = &ctx.project;
    let mut editor = Editor::new(project);
    let file = editor.destination(args.file.as_deref())?;
    let hub_config = HubConfig::of_project(&ctx);
    let mut hub: Option<Hub> = None;
    let mut lines = Vec::new();
    let mut added = Vec::new();
    for name in &wanted.names {
        let ptype = wanted.plugin_type.unwrap_or_else(|| add::infer_type(name));
        Name::parse(NameKind::Plugin, name).map_err(|e| anyhow!("{e}"))?;
        let plan = if args.custom || args.from_ref.is_some() {
            local_plan(call, project, &args, &wanted, ptype, name, &hub_config)?
        } else {
            if let Some(message) = variant_clash(project, &args, ptype, name) {
                call.say(&message);
                continue;
            }
            let h = match &hub {
                Some(h) => h,
                None => hub.insert(Hub::new(hub_config.clone())?),
            };
            let fetch = add::hub_fetcher(h);
            let inherit = wanted.inherit_from.as_deref();
            let variant = args.variant.as_deref();
            let mut plan = add::plan_hub(project, &fetch, ptype, name, variant, inherit)?;
            if let (Some(py), Some(obj)) = (&args.python, plan.entry.as_object_mut()) {
                obj.insert("python".into(), serde_json::json!(py));
            }
            Some(plan)
        };
        let Some(plan) = plan else { continue };
        add::apply(&mut editor, &plan, &file)?;
        lines.extend(report(&plan));
        added.push((plan.plugin_type, plan.name.clone()));
    }
    let written = editor.commit()?;
    for l in lines {
        call.say(&l);
    }
    for f in written.files {
        call.say(&format!("wrote {}", f.display()));
    }
    if args.install || args.force_install {
        install_added(call, &added)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--install`: builds the plugins just added, from the project as it now reads.
fn install_added(call: &Call<'_>, added: &[(PluginType, String)]) -> anyhow::Result<()> {
    let ctx = call.open()?;
    let plugins = added
        .iter()
        .map(|(ptype, name)| ctx.plugin(Some(*ptype), name))
        .collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<_> = plugins.iter().collect();
    crate::pipeline::ensure_installed(&ctx, &refs)?;
    Ok(())
}

/// The names to add, their type and parent, after Meltano 3's `add extractor tap-x` word
/// order and `--as`.
struct Wanted {
    names: Vec<String>,
    plugin_type: Option<PluginType>,
    inherit_from: Option<String>,
}

impl Wanted {
    fn from_args(args: &AddArgs) -> anyhow::Result<Wanted> {
        let mut names = args.plugins.clone();
        let mut plugin_type = match &args.plugin_type {
            Some(t) => {
                Some(PluginType::parse(t).ok_or_else(|| anyhow!("unknown plugin type '{t}'"))?)
            }
            None => None,
        };
        if names.len() >= 2 && plugin_type.is_none() {
            if let Some(t) = PluginType::parse(&names[0]) {
                plugin_type = Some(t);
                names.remove(0);
            }
        }
        let mut inherit_from = args.inherit_from.clone();
        if let Some(as_name) = &args.as_name {
            if names.len() != 1 {
                bail!("--as takes exactly one plugin name");
            }
            inherit_from = Some(names[0].clone());
            names = vec![as_name.clone()];
        }
        if let Some(t @ (PluginType::Transforms | PluginType::Orchestrators)) = plugin_type {
            if args.custom {
                bail!("--custom is not supported for {t}");
            }
        }
        Ok(Wanted {
            names,
            plugin_type,
            inherit_from,
        })
    }
}

/// The plan of a `--custom` or `--from-ref` plugin; `None` (said) when it already exists.
fn local_plan(
    call: &Call<'_>,
    project: &crate::project::Project,
    args: &AddArgs,
    wanted: &Wanted,
    ptype: PluginType,
    name: &str,
    hub_config: &HubConfig,
) -> anyhow::Result<Option<add::AddPlan>> {
    let mut entry = match &args.from_ref {
        Some(r) => add::read_ref(r, |url| Hub::new(hub_config.clone())?.get_text(url))?,
        None => add::custom_definition(
            ptype,
            name,
            &Custom {
                namespace: args.namespace.clone(),
                pip_url: args.pip_url.clone(),
                executable: args.executable.clone(),
                capabilities: args.capabilities.clone(),
                settings: args.settings.clone(),
            },
        )?,
    };
    let obj = entry.as_object_mut().expect("a mapping");
    let name = obj["name"].as_str().unwrap_or(name).to_string();
    if let Some(p) = &wanted.inherit_from {
        obj.insert("inherit_from".into(), serde_json::json!(p));
    }
    if let Some(py) = &args.python {
        obj.insert("python".into(), serde_json::json!(py));
    }
    if project.plugins.contains_key(&(ptype, name.clone())) {
        call.say(&format!(
            "{} '{name}' already exists in your project",
            capitalized(ptype.singular())
        ));
        return Ok(None);
    }
    Ok(Some(add::AddPlan {
        plugin_type: ptype,
        name,
        entry,
        lockfile: None,
        update: false,
        docs: None,
        repo: None,
    }))
}

/// Meltano's refusal to add a second variant of a plugin under the same name, as a message.
fn variant_clash(
    project: &crate::project::Project,
    args: &AddArgs,
    ptype: PluginType,
    name: &str,
) -> Option<String> {
    let existing = project.plugins.get(&(ptype, name.to_string()))?;
    let current = existing.item.variant.clone();
    if args.variant.is_none() || args.variant == current {
        return None;
    }
    let wanted = args.variant.as_deref().unwrap_or_default();
    Some(format!(
        "{} '{name}' already exists in your project with variant '{}'; to add variant \
         '{wanted}' too, add it under another name: eltr add {name}--{wanted} --inherit-from \
         {name} --variant {wanted}",
        capitalized(ptype.singular()),
        current.as_deref().unwrap_or("default"),
    ))
}

/// What `add` says about one plugin it added or updated.
fn report(plan: &add::AddPlan) -> Vec<String> {
    let (verb, prep) = match plan.update {
        true => ("Updated", "in"),
        false => ("Added", "to"),
    };
    let mut lines = vec![format!(
        "{verb} {} '{}' {prep} your project",
        plan.plugin_type.singular(),
        plan.name
    )];
    if let Some(v) = plan.entry.get("variant").and_then(|v| v.as_str()) {
        lines.push(format!("Variant:\t{v}"));
    }
    if let Some(r) = &plan.repo {
        lines.push(format!("Repository:\t{r}"));
    }
    if let Some(d) = &plan.docs {
        lines.push(format!("Documentation:\t{d}"));
    }
    lines
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
