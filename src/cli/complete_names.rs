//! The project's names as completion candidates: which argument of which command takes a
//! plugin (of which type), a job, a schedule or an environment, and where those names come
//! from.
//!
//! The table below attaches a candidate source to each such argument of the clap command tree
//! before a completion request is answered. The project is found the way the command would
//! find it (`--cwd`, `--project-root`, `ELTR_PROJECT_ROOT`, the folders up from here), read
//! only when a candidate is asked for, and read once; a project that does not load gives no
//! candidates rather than an error.

use crate::project::model::PluginType;
use crate::project::{self, Project};
use clap::CommandFactory;
use clap::builder::StyledStr;
use clap_complete::{ArgValueCandidates, CompletionCandidate};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What an argument takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// A `run` word: any plugin, mapping or job.
    Block,
    /// A plugin, of one type or of any.
    Plugin(Option<PluginType>),
    /// `invoke`'s first word, a plugin; the words after it are the plugin's own arguments.
    InvokedPlugin,
    /// A plugin, or a plugin type first (`eltr remove extractor tap-x`).
    PluginOrType,
    /// `config`'s first two words: an action or a plugin (either order); after them come
    /// setting names and values, which eltr does not guess.
    ConfigWord,
    /// A plugin type (`--plugin-type`).
    Type,
    Job,
    Schedule,
    Environment,
}

use PluginType::{Extractors, Loaders};
use Wanted::*;

/// Each argument that takes a project name: the subcommand path, the argument's id, and what
/// it takes. `[]` is the top level (global options reach every subcommand from there).
pub const ARGUMENTS: &[(&[&str], &str, Wanted)] = &[
    (&[], "environment", Environment),
    (&["run"], "words", Block),
    (&["el"], "extractor", Plugin(Some(Extractors))),
    (&["el"], "loader", Plugin(Some(Loaders))),
    (&["elt"], "extractor", Plugin(Some(Extractors))),
    (&["elt"], "loader", Plugin(Some(Loaders))),
    (&["select"], "extractor", Plugin(Some(Extractors))),
    (&["invoke"], "words", InvokedPlugin),
    (&["invoke"], "plugin_type", Type),
    (&["config"], "words", ConfigWord),
    (&["config"], "plugin_type", Type),
    (&["install"], "plugins", PluginOrType),
    (&["install"], "plugin_type", Type),
    (&["lock"], "plugins", PluginOrType),
    (&["lock"], "plugin_type", Type),
    (&["remove"], "plugins", PluginOrType),
    (&["remove"], "plugin_type", Type),
    (&["job", "list"], "name", Job),
    (&["job", "set"], "name", Job),
    (&["job", "remove"], "name", Job),
    (&["schedule", "add"], "job", Job),
    (&["schedule", "add"], "extractor", Plugin(Some(Extractors))),
    (&["schedule", "add"], "loader", Plugin(Some(Loaders))),
    (&["schedule", "set"], "name", Schedule),
    (&["schedule", "set"], "job", Job),
    (&["schedule", "set"], "extractor", Plugin(Some(Extractors))),
    (&["schedule", "set"], "loader", Plugin(Some(Loaders))),
    (&["schedule", "remove"], "name", Schedule),
    (&["schedule", "run"], "name", Schedule),
    (&["environment", "remove"], "name", Environment),
];

/// `config`'s actions (`cli/config.rs`), offered beside the plugin names.
const CONFIG_ACTIONS: [&str; 6] = ["print", "list", "set", "unset", "reset", "test"];

/// The project a command line points at, loaded on first use.
#[derive(Debug)]
pub struct ProjectNames {
    /// The command line being completed, its last word the one under the cursor.
    words: Vec<OsString>,
    cwd: Option<PathBuf>,
    project_root: Option<PathBuf>,
    /// Loaded on the first candidate asked for; `Some(None)`: there is no project, or it
    /// does not load.
    project: Mutex<Option<Arc<Option<Project>>>>,
}

impl ProjectNames {
    /// Reads `--cwd` and `--project-root` from the words being completed (`eltr --cwd x run
    /// ta`); both are resolved from `cwd` as eltr resolves them.
    pub fn new(words: &[OsString], cwd: Option<&Path>) -> ProjectNames {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let dir = |raw: OsString| match (raw.to_str(), &home) {
            (Some(s), Some(h)) if s == "~" || s.starts_with("~/") => {
                h.join(s[1..].trim_start_matches('/'))
            }
            _ => PathBuf::from(raw),
        };
        let cwd = match option_value(words, "--cwd") {
            Some(d) => cwd.map(|c| c.join(dir(d))),
            None => cwd.map(Path::to_path_buf),
        };
        ProjectNames {
            words: words.to_vec(),
            cwd,
            project_root: option_value(words, "--project-root").map(dir),
            project: Mutex::new(None),
        }
    }

    /// The project's files, merged; `None` when there is no project or it does not load.
    fn project(&self) -> Arc<Option<Project>> {
        let mut slot = self.project.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert_with(|| Arc::new(self.load())).clone()
    }

    fn load(&self) -> Option<Project> {
        let cwd = self.cwd.as_deref()?;
        let (root, root_file) = project::locate(self.project_root.as_deref(), cwd).ok()?;
        project::load::load(&root, &root_file).ok()
    }

    /// How many words `sub`'s argument `id` already holds before the word under the cursor;
    /// `None` when the words before it do not parse yet (`eltr invoke` lacks its plugin).
    fn given_before_cursor(&self, sub: &str, id: &str) -> Option<usize> {
        let before = self.words.split_last().map_or(&[][..], |(_, rest)| rest);
        let matches = crate::cli::Cli::command()
            .try_get_matches_from(rejoined(before))
            .ok()?;
        let (name, sub_matches) = matches.subcommand()?;
        (name == sub).then(|| sub_matches.get_raw(id).map_or(0, |v| v.len()))
    }

    /// The candidates for an argument that takes `wanted`.
    pub fn candidates(&self, wanted: Wanted) -> Vec<CompletionCandidate> {
        let past = |sub, count| self.given_before_cursor(sub, "words") >= Some(count);
        match wanted {
            InvokedPlugin if past("invoke", 1) => return Vec::new(),
            ConfigWord if past("config", 2) => return Vec::new(),
            _ => {}
        }
        let types = || {
            PluginType::ALL
                .iter()
                .map(|t| named(t.singular(), "plugin type"))
        };
        let mut out: Vec<CompletionCandidate> = match wanted {
            Type => return types().collect(),
            PluginOrType => types().collect(),
            ConfigWord => CONFIG_ACTIONS.iter().map(|a| named(a, "action")).collect(),
            _ => Vec::new(),
        };
        let loaded = self.project();
        let Some(p) = loaded.as_ref() else { return out };
        match wanted {
            Block => {
                out.extend(plugins(p, None));
                out.extend(mappings(p));
                out.extend(p.jobs.keys().map(|j| named(j, "job")));
            }
            Plugin(t) => out.extend(plugins(p, t)),
            InvokedPlugin => out.extend(plugins(p, None)),
            PluginOrType | ConfigWord => out.extend(plugins(p, None)),
            Job => out.extend(p.jobs.keys().map(|j| named(j, "job"))),
            Schedule => out.extend(p.schedules.keys().map(|s| named(s, "schedule"))),
            Environment => out.extend(p.environments.keys().map(|e| named(e, "environment"))),
            Type => {}
        }
        out
    }
}

/// The words with bash's split of `--opt=value` (three words: `--opt`, `=`, `value`) undone.
fn rejoined(words: &[OsString]) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::with_capacity(words.len());
    let mut words = words.iter();
    while let Some(word) = words.next() {
        match out.last_mut() {
            Some(option) if word == "=" && option.to_string_lossy().starts_with("--") => {
                option.push("=");
                if let Some(value) = words.next() {
                    option.push(value);
                }
            }
            _ => out.push(word.clone()),
        }
    }
    out
}

/// The value of a long option in the words (`--cwd DIR` or `--cwd=DIR`), the last one given.
/// bash splits `--cwd=DIR` into three words (`=` is in its COMP_WORDBREAKS): `--cwd`, `=`,
/// `DIR`.
fn option_value(words: &[OsString], option: &str) -> Option<OsString> {
    let with_eq = format!("{option}=");
    let mut found = None;
    for (i, word) in words.iter().enumerate() {
        let Some(w) = word.to_str() else { continue };
        if w == option {
            let next = if words.get(i + 1).is_some_and(|n| n == "=") {
                i + 2
            } else {
                i + 1
            };
            found = words.get(next).cloned();
        } else if let Some(v) = w.strip_prefix(&with_eq) {
            found = Some(v.into());
        }
    }
    found.filter(|v| !v.is_empty())
}

/// The project's plugins (of one type, or all), each described by its type.
fn plugins(p: &Project, only: Option<PluginType>) -> impl Iterator<Item = CompletionCandidate> {
    p.plugins
        .keys()
        .filter(move |(t, _)| only.is_none_or(|o| o == *t))
        .map(|(t, n)| named(n, t.singular()))
}

/// The mapping names of the project's mappers: each is a `run` word of its own.
fn mappings(p: &Project) -> impl Iterator<Item = CompletionCandidate> {
    p.plugins
        .iter()
        .filter(|((t, _), _)| *t == PluginType::Mappers)
        .flat_map(|(_, def)| def.item.mappings.iter().flatten())
        .map(|m| named(&m.name, "mapping"))
}

fn named(value: &str, what: &'static str) -> CompletionCandidate {
    CompletionCandidate::new(value).help(Some(StyledStr::from(what)))
}

/// The command tree with each argument of `ARGUMENTS` completing from `names`. An entry whose
/// argument does not exist is left out (the unit test below keeps the table true).
pub fn attach(cmd: clap::Command, names: &Arc<ProjectNames>) -> clap::Command {
    let mut cmd = cmd;
    for (path, id, wanted) in ARGUMENTS {
        cmd = attach_one(cmd, path, id, *wanted, names);
    }
    cmd
}

fn attach_one(
    cmd: clap::Command,
    path: &[&str],
    id: &str,
    wanted: Wanted,
    names: &Arc<ProjectNames>,
) -> clap::Command {
    match path.split_first() {
        Some((sub, rest)) if cmd.find_subcommand(sub).is_some() => {
            let names = names.clone();
            cmd.mut_subcommand(*sub, move |c| attach_one(c, rest, id, wanted, &names))
        }
        Some(_) => cmd,
        None if cmd.get_arguments().any(|a| a.get_id() == id) => {
            let names = names.clone();
            let source = ArgValueCandidates::new(move || names.candidates(wanted));
            // In place: `mut_arg` would move the argument last and renumber positionals.
            cmd.mut_args(|a| match a.get_id() == id {
                true => a.add(source.clone()),
                false => a,
            })
        }
        None => cmd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A renamed argument or command would silently stop completing: every entry must name
    /// an argument that exists.
    #[test]
    fn every_entry_names_an_argument_of_the_command_tree() {
        let root = crate::cli::Cli::command();
        for (path, id, _) in ARGUMENTS {
            let mut cmd = &root;
            for sub in *path {
                cmd = cmd
                    .find_subcommand(sub)
                    .unwrap_or_else(|| panic!("no subcommand {path:?}"));
            }
            assert!(
                cmd.get_arguments().any(|a| a.get_id() == *id),
                "no argument '{id}' in {path:?}"
            );
        }
    }

    #[test]
    fn an_option_bash_split_at_its_equals_sign_is_one_word_again() {
        let words: Vec<OsString> = ["eltr", "--cwd", "=", "x", "invoke", "--dump", "=", "config"]
            .iter()
            .map(OsString::from)
            .collect();
        let expected: Vec<OsString> = ["eltr", "--cwd=x", "invoke", "--dump=config"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(rejoined(&words), expected);
    }

    #[test]
    fn options_are_read_in_both_spellings_and_the_last_wins() {
        let words: Vec<OsString> = ["eltr", "--cwd", "a", "run", "--cwd=b", "ta"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(option_value(&words, "--cwd"), Some("b".into()));
        assert_eq!(option_value(&words, "--project-root"), None);
        let split_by_bash: Vec<OsString> = ["eltr", "--cwd", "=", "c", "run"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(option_value(&split_by_bash, "--cwd"), Some("c".into()));
    }
}
