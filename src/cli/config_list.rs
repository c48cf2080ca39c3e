//! The text of `eltr config list PLUGIN` (and `--extras`), line for line as Meltano 4.4
//! prints it: the required settings, then the settings bucketed (required, configured,
//! optional, custom, custom extras), each with its variables, default, value and where the
//! value came from, then the documentation link. Masking known secrets is left to the caller.

use crate::project::extra_settings::ExtraSetting;
use crate::project::model::SettingDef;
use crate::project::{ResolvedPlugin, ResolvedSetting, SettingSource};
use serde_json::{Value, json};

/// What `config list` shows.
pub struct ListView {
    pub all: bool,
    /// Text a setting name must contain, compared without case.
    pub filter: Option<String>,
    pub show_secrets: bool,
    /// List the extras (`--extras`) instead of the settings.
    pub extras: bool,
    /// The project's root file name (`meltano.yml`), which Meltano names as the source of
    /// every value written in the project's files.
    pub root_file: String,
}

/// One printed setting: its name and its line(s).
type Row = (String, String);

/// Meltano's buckets, in print order.
#[derive(Default)]
struct Buckets {
    required: Vec<Row>,
    configured: Vec<Row>,
    optional: Vec<Row>,
    custom: Vec<Row>,
    custom_extras: Vec<Row>,
}

/// The `config list` text for `p`.
pub fn render(p: &ResolvedPlugin, view: &ListView) -> String {
    let mut out = String::new();
    if !view.extras {
        out.push_str(&groups_summary(&p.settings_group_validation));
    }
    let mut b = match view.extras {
        true => extra_buckets(p, view),
        false => setting_buckets(p, view),
    };
    let hidden = b.narrow(view);
    let texts = b.sections(view.extras);
    out.push_str(&texts.join("\n"));
    if let Some(needle) = view.filter.as_ref().filter(|_| texts.is_empty()) {
        let shown = crate::vocab::pyjson::python_repr(&json!(needle));
        out.push_str(&format!("No settings match {shown}.\n"));
    }
    if hidden > 0 {
        if !texts.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!(
            "Optional settings with default values: {hidden} hidden. Use --all to show all.\n"
        ));
    }
    if let Some(docs) = &p.docs {
        out.push_str(&format!(
            "\nTo learn more about {} '{}' and its settings, visit {docs}\n",
            p.plugin_type.descriptor(),
            p.name
        ));
    }
    out
}

impl Buckets {
    fn all_mut(&mut self) -> [&mut Vec<Row>; 5] {
        [
            &mut self.required,
            &mut self.configured,
            &mut self.optional,
            &mut self.custom,
            &mut self.custom_extras,
        ]
    }

    /// Keeps the rows `--filter` matches, or else drops the optional ones unless `--all`;
    /// sorts each bucket by name. Returns how many optional rows were dropped.
    fn narrow(&mut self, view: &ListView) -> usize {
        let mut hidden = 0;
        if let Some(needle) = view.filter.as_ref().map(|f| f.to_lowercase()) {
            for bucket in self.all_mut() {
                bucket.retain(|(name, _)| name.to_lowercase().contains(&needle));
            }
        } else if !view.all {
            hidden = self.optional.len();
            self.optional.clear();
        }
        for bucket in self.all_mut() {
            bucket.sort_by(|a, b| a.0.cmp(&b.0));
        }
        hidden
    }

    /// Each non-empty bucket as its header and lines, in Meltano's order.
    fn sections(self, extras: bool) -> Vec<String> {
        // Meltano heads the optional extras only when configured ones come before them.
        let optional_extras = Some("Optional:").filter(|_| !self.configured.is_empty());
        let sections = match extras {
            true => vec![
                (Some("Configured:"), self.configured),
                (optional_extras, self.optional),
                (Some("Custom:"), self.custom),
            ],
            false => vec![
                (Some("Required:"), self.required),
                (Some("Configured:"), self.configured),
                (Some("Optional:"), self.optional),
                (
                    Some("Custom, possibly unsupported by the plugin:"),
                    self.custom,
                ),
                (
                    Some("Custom extras, plugin-specific options handled by Meltano:"),
                    self.custom_extras,
                ),
            ],
        };
        sections
            .into_iter()
            .filter(|(_, rows)| !rows.is_empty())
            .map(|(header, rows)| {
                let body: String = rows.into_iter().map(|(_, line)| line).collect();
                match header {
                    Some(h) => format!("{h}\n{body}"),
                    None => body,
                }
            })
            .collect()
    }
}

/// `Required settings: …` or the list of alternative groups.
fn groups_summary(groups: &[Vec<String>]) -> String {
    match groups {
        [] => String::new(),
        [only] => format!("Required settings: {}\n\n", sorted_names(only)),
        many => {
            let mut out =
                "Setting groups (one of the following combinations is required):\n".to_string();
            for (i, g) in many.iter().enumerate() {
                out.push_str(&format!("  Group {}: {}\n", i + 1, sorted_names(g)));
            }
            out.push('\n');
            out
        }
    }
}

fn sorted_names(names: &[String]) -> String {
    let mut names = names.to_vec();
    names.sort();
    names.join(", ")
}

/// The settings in Meltano's buckets; custom extras go in their own.
fn setting_buckets(p: &ResolvedPlugin, view: &ListView) -> Buckets {
    let groups = &p.settings_group_validation;
    let mut b = Buckets::default();
    for s in &p.settings {
        let resolved = p.config.get(&s.name);
        let row = (
            s.name.clone(),
            setting_line(p, &s.name, resolved, Some(s), view),
        );
        if groups.iter().any(|g| g.contains(&s.name)) {
            b.required.push(row);
        } else if resolved.is_some_and(|r| r.source != SettingSource::Default) {
            b.configured.push(row);
        } else {
            b.optional.push(row);
        }
    }
    for (name, r) in p.config.iter().filter(|(_, r)| !r.declared) {
        b.custom
            .push((name.clone(), setting_line(p, name, Some(r), None, view)));
    }
    for x in p.extra_settings().into_iter().filter(|x| x.custom) {
        b.custom_extras
            .push((x.name.clone(), extra_line(p, &x, view)));
    }
    b
}

/// The extras in Meltano's `--extras` buckets.
fn extra_buckets(p: &ResolvedPlugin, view: &ListView) -> Buckets {
    let mut b = Buckets::default();
    for x in p.extra_settings() {
        let row = (x.name.clone(), extra_line(p, &x, view));
        match (x.custom, x.source) {
            (true, _) => b.custom.push(row),
            (false, SettingSource::Default) => b.optional.push(row),
            (false, _) => b.configured.push(row),
        }
    }
    b
}

/// Where a value came from, in Meltano's words.
fn origin(p: &ResolvedPlugin, source: SettingSource, var: &str, view: &ListView) -> String {
    match source {
        SettingSource::Env => format!("from the {var} variable in the environment"),
        SettingSource::Dotenv => format!("from the {var} variable in `.env`"),
        SettingSource::Environment => {
            format!("from the active environment in `{}`", view.root_file)
        }
        SettingSource::Project => format!("from `{}`", view.root_file),
        SettingSource::Inherited => format!(
            "inherited from '{}'",
            p.inherit_from.as_deref().unwrap_or("?")
        ),
        SettingSource::Default => "default".to_string(),
    }
}

/// ` current value: V (ORIGIN[: RAW])` and the line's end.
fn value_tail(label: &str, value: &str, raw: Option<&Value>) -> String {
    match raw {
        Some(raw) => format!(
            " current value: {value} ({label}: {})\n",
            crate::vocab::pyjson::python_repr(raw)
        ),
        None => format!(" current value: {value} ({label})\n"),
    }
}

fn extra_line(p: &ResolvedPlugin, x: &ExtraSetting, view: &ListView) -> String {
    let mut line = format!("{} [env: {}]", x.name, x.env_names.join(", "));
    if let Some(d) = x
        .default
        .as_ref()
        .filter(|_| x.source != SettingSource::Default)
    {
        line.push_str(&format!(
            " (default: {})",
            crate::vocab::pyjson::python_repr(d)
        ));
    }
    let label = origin(p, x.source, x.env_var.as_deref().unwrap_or(""), view);
    let value = crate::vocab::pyjson::python_repr(&x.value);
    line.push_str(&value_tail(&label, &value, x.raw.as_ref()));
    line
}

/// ` (required by group N)` when the plugin has several groups and the setting is in some.
fn required_label(groups: &[Vec<String>], name: &str) -> String {
    let in_groups: Vec<String> = (1..=groups.len())
        .filter(|i| groups[i - 1].iter().any(|n| n == name))
        .map(|i| i.to_string())
        .collect();
    // With one group the `Required:` header says it already.
    if groups.len() <= 1 || in_groups.is_empty() {
        return String::new();
    }
    if in_groups.len() == groups.len() {
        return " (required)".to_string();
    }
    let plural = if in_groups.len() > 1 { "s" } else { "" };
    format!(" (required by group{plural} {})", in_groups.join(", "))
}

fn setting_line(
    p: &ResolvedPlugin,
    name: &str,
    resolved: Option<&ResolvedSetting>,
    decl: Option<&SettingDef>,
    view: &ListView,
) -> String {
    let env_vars = listed_env_names(p, name, decl);
    let mut line = format!(
        "{name}{} [env: {}]",
        required_label(&p.settings_group_validation, name),
        env_vars.join(", ")
    );
    let default = decl.and_then(|d| d.value.as_ref()).filter(|d| !d.is_null());
    let Some(r) = resolved else {
        return line + " current value: None (default)\n" + &description(decl);
    };
    if let (Some(d), false) = (default, r.source == SettingSource::Default) {
        line.push_str(&format!(
            " (default: {})",
            crate::vocab::pyjson::python_repr(d)
        ));
    }
    // Meltano shows a sensitive value's mask, or the value itself when there is nothing to
    // hide (an empty text), never its repr.
    let shown = r.unprocessed.as_ref().unwrap_or(&r.value);
    let value = match r.sensitive && !view.show_secrets {
        true if r.masked_when_printed() => "(redacted)".to_string(),
        true if !shown.is_null() => crate::vocab::pyjson::python_str(shown),
        _ => crate::vocab::pyjson::python_repr(shown),
    };
    let label = origin(p, r.source, &r.env_var, view);
    // A parent hands a secret down masked, so its text as written is not known to the child
    // (Meltano redacts before it inherits).
    let hidden = r.sensitive && !view.show_secrets && r.source == SettingSource::Inherited;
    let raw = r.raw.as_ref().filter(|raw| *raw != shown && !hidden);
    line.push_str(&value_tail(&label, &value, raw));
    line + &description(decl)
}

/// `\tLabel: description` under a setting that has a description.
fn description(decl: Option<&SettingDef>) -> String {
    let text = |key: &str| decl.and_then(|d| d.other.get(key)).and_then(Value::as_str);
    match (text("description"), text("label")) {
        (Some(d), Some(label)) => format!("\t{label}: {d}\n"),
        (Some(d), None) => format!("\t{d}\n"),
        _ => String::new(),
    }
}

/// The variables Meltano lists for a setting: the ones it reads, then the setting's
/// `env_aliases` (`!VAR` for a negated one) on a plugin that inherits from none.
fn listed_env_names(p: &ResolvedPlugin, name: &str, decl: Option<&SettingDef>) -> Vec<String> {
    let mut names = crate::project::settings::setting_env_names(&p.name, &p.namespace, name, decl);
    if p.inherit_from.is_none() {
        for alias in crate::project::layers::env_aliases(decl) {
            if !names.contains(&alias) {
                names.push(alias);
            }
        }
    }
    names
}
