//! A block that runs one plugin on its own (`utility`, `plugin:command`), and `eltr invoke`:
//! the plugin with its config and environment, stdio passed through.
//!
//! A plugin's `commands:` run as Meltano runs them (`PluginInvoker.exec_args`): the command's
//! own `executable` if it has one, its `args` split like a shell and each word `$VAR`-expanded
//! against the plugin's environment, then the user's arguments. Nothing is prepended: the
//! `--config FILE` Singer plugins get on a plain invocation is not part of a command.

use super::plan::Plan;
use super::{RunError, Session};
use crate::plugin::{PluginError, PrepareOptions, PreparedPlugin, describe_status, prepare};
use crate::project::{Context, ResolvedPlugin};
use crate::vocab::ident::RunId;
use crate::vocab::lines::{BoundedLines, LOG_LINE_CAP};
use crate::vocab::supervisor::{Supervisor, own_process_group, signal_group};
use serde_json::Value;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;

/// Runs `plugin` (or one of its `commands:`) as a block.
pub fn run(
    session: &Session,
    ctx: &Context,
    plan: &Plan,
    plugin: &ResolvedPlugin,
    command: Option<&str>,
) -> Result<(), super::BlockFailure> {
    let fail = |e: RunError| Box::new((None, e));
    let request = Invocation {
        run_id: plan.run_id,
        install_missing: plan.install_missing,
        supervisor: session.supervisor.clone(),
        refresh_catalog: false,
    };
    // In a run the plugin's stdout and stderr are log output, as under Meltano's `run`: each
    // line is logged with the plugin's name (a JSON line with `--log-format json`), keeping
    // eltr's stdout for what a command is asked to print.
    let ready = ready(ctx, plugin.clone(), command, Vec::new(), &request).map_err(fail)?;
    let label = match command {
        Some(c) => format!("{}:{c}", plugin.name),
        None => plugin.name.to_string(),
    };
    let (status, tail) = ready.run_logged(&label).map_err(fail)?;
    if status.success() {
        Ok(())
    } else {
        let tail = match tail.is_empty() {
            true => String::new(),
            false => format!("; its last lines:\n  {}", tail.join("\n  ")),
        };
        Err(fail(RunError::PluginFailed {
            kind: plugin.plugin_type.singular(),
            name: label,
            status: describe_status(status),
            tail,
        }))
    }
}

/// True when eltr talks to a person: one of its standard streams is a terminal.
fn at_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal()
        || std::io::stdout().is_terminal()
        || std::io::stderr().is_terminal()
}

/// The supervisor of `invoke` and `test`: without a terminal (a scheduler started eltr) it
/// listens for SIGINT / SIGTERM, so eltr stops the plugin (or its discovery) and cleans up
/// before it exits; at a terminal eltr and the plugin both get a Ctrl-C, as under Meltano.
pub fn invocation_supervisor(grace: std::time::Duration) -> Arc<Supervisor> {
    match at_terminal() {
        true => Supervisor::quiet(grace),
        false => Supervisor::listening(grace),
    }
}

/// How `invoke` runs a plugin.
pub struct Invocation {
    pub run_id: RunId,
    /// Install the plugin first if its virtualenv is missing.
    pub install_missing: bool,
    pub supervisor: Arc<Supervisor>,
    /// Discover the extractor's catalog again instead of using the cached one.
    pub refresh_catalog: bool,
}

/// One of a plugin's `commands:` (Meltano's `Command`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommandSpec {
    /// The arguments, one string split like a shell.
    pub args: String,
    /// A program to run instead of the plugin's executable.
    pub executable: Option<String>,
    pub description: Option<String>,
    /// How to run it in a container (`invoke --containers`, `pipeline::container`).
    pub container_spec: Option<Value>,
}

impl CommandSpec {
    /// A `commands:` entry: a string (the args), or `{args, executable, description, …}`.
    pub fn parse(spec: &Value) -> Option<CommandSpec> {
        let text = |key: &str| spec.get(key).and_then(Value::as_str).map(String::from);
        match spec {
            Value::String(s) => Some(CommandSpec {
                args: s.clone(),
                ..CommandSpec::default()
            }),
            Value::Object(_) => Some(CommandSpec {
                args: text("args").unwrap_or_default(),
                executable: text("executable"),
                description: text("description"),
                container_spec: spec
                    .get("container_spec")
                    .filter(|c| c.is_object())
                    .cloned(),
            }),
            _ => None,
        }
    }
}

/// The command `name` of `plugin`, or Meltano's error listing the ones it has.
pub fn find_command(plugin: &ResolvedPlugin, name: &str) -> Result<CommandSpec, RunError> {
    if let Some(spec) = plugin.commands.get(name).and_then(CommandSpec::parse) {
        return Ok(spec);
    }
    let supported = match plugin.commands.is_empty() {
        true => "does not define any commands".to_string(),
        false => {
            let names: Vec<&str> = plugin.commands.keys().map(String::as_str).collect();
            format!("supports the following commands: {}", names.join(", "))
        }
    };
    Err(RunError::UnknownCommand {
        command: name.to_string(),
        kind: plugin.plugin_type.singular(),
        plugin: plugin.name.to_string(),
        supported,
    })
}

/// A plugin ready to start: program, arguments, environment and working folder, with its run
/// files (removed when this is dropped).
pub struct Ready {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub prepared: PreparedPlugin,
}

impl Ready {
    /// The process environment.
    pub fn env(&self) -> &[(String, String)] {
        &self.prepared.env
    }

    /// Runs it with stdin, stdout and stderr inherited; returns its exit status.
    ///
    /// Started without a terminal (by a scheduler: Airflow stops a task with SIGTERM to eltr),
    /// the plugin gets a process group of its own, known to `supervisor` (see
    /// [`invocation_supervisor`]), which hands SIGINT / SIGTERM on to it while eltr waits: the
    /// plugin does not outlive eltr, and the run folder with its config files is removed on
    /// this path too. At a terminal it shares eltr's group, as under Meltano, so it can read
    /// the terminal and gets a Ctrl-C from it directly.
    pub fn run(&self, supervisor: &Supervisor) -> Result<ExitStatus, RunError> {
        let mut cmd = self.command();
        if at_terminal() {
            return cmd.status().map_err(|e| self.spawn_error(e));
        }
        own_process_group(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| self.spawn_error(e))?;
        let pid = child.id() as i32;
        supervisor.register(pid, false);
        // A signal that came while the plugin was being prepared found nothing to stop.
        if let Some(sig) = supervisor.received() {
            signal_group(pid, sig);
        }
        let status = child.wait().map_err(|e| self.spawn_error(e));
        supervisor.unregister(pid);
        status
    }

    /// Runs it with its stdout and stderr logged line by line (masked, each line cut at
    /// 64 KiB) under `label`; returns its exit status and its last stderr lines.
    pub fn run_logged(&self, label: &str) -> Result<(ExitStatus, Vec<String>), RunError> {
        use std::process::Stdio;
        let mut child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.spawn_error(e))?;
        let follow = |stream: Option<Box<dyn std::io::Read + Send>>, keep: bool| {
            let label = label.to_string();
            let masker = self.prepared.masker.clone();
            super::console::spawn_in_block(move || {
                let mut tail = std::collections::VecDeque::new();
                let Some(stream) = stream else { return tail };
                let reader = std::io::BufReader::with_capacity(64 * 1024, stream);
                let mut lines = BoundedLines::new(reader, LOG_LINE_CAP);
                while let Ok(Some(raw)) = lines.next_line() {
                    let line = match raw.parts() {
                        (text, None) => masker.mask(&text).into_owned(),
                        (text, Some(marker)) => masker.mask_cut(&text).into_owned() + &marker,
                    };
                    tracing::info!(target: "eltr::plugin", plugin = %label, "{line}");
                    if keep {
                        if tail.len() == super::process::TAIL_LINES {
                            tail.pop_front();
                        }
                        tail.push_back(line);
                    }
                }
                tail
            })
        };
        let out = child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>);
        let err = child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>);
        let (out, err) = (follow(out, false), follow(err, true));
        let status = child.wait().map_err(|e| self.spawn_error(e))?;
        let _ = out.join();
        let tail = err.join().unwrap_or_default();
        Ok((status, tail.into_iter().collect()))
    }

    fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.program);
        cmd.args(&self.args)
            .env_clear()
            .envs(self.prepared.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.prepared.cwd);
        cmd
    }

    fn spawn_error(&self, source: std::io::Error) -> RunError {
        RunError::Spawn {
            kind: self.prepared.plugin.plugin_type.singular(),
            name: self.prepared.plugin.name.to_string(),
            program: self.program.display().to_string(),
            source,
        }
    }
}

/// Prepares `plugin` (or its `command`) with extra `args` appended.
pub fn ready(
    ctx: &Context,
    plugin: ResolvedPlugin,
    command: Option<&str>,
    args: Vec<OsString>,
    how: &Invocation,
) -> Result<Ready, RunError> {
    let spec = command.map(|c| find_command(&plugin, c)).transpose()?;
    if how.install_missing {
        super::ensure_installed(ctx, &[&plugin])?;
    }
    warn_missing_requirements(ctx, &plugin);
    let opts = PrepareOptions {
        run_id: how.run_id,
        refresh_catalog: how.refresh_catalog,
        // Meltano hands an extractor its catalog only in sync mode: no command, no args.
        with_catalog: spec.is_none() && args.is_empty(),
        supervisor: how.supervisor.clone(),
        ..PrepareOptions::default()
    };
    let prepared = prepare(ctx, plugin, &opts)?;
    let (program, mut argv) = match (&spec, command) {
        (Some(spec), Some(name)) => {
            let program = match &spec.executable {
                Some(exe) => command_program(ctx, &prepared, exe)?,
                None => prepared.program.clone(),
            };
            (program, expand_args(name, &spec.args, &prepared.env)?)
        }
        _ => (prepared.program.clone(), prepared.args.clone()),
    };
    argv.extend(args);
    Ok(Ready {
        program,
        args: argv,
        prepared,
    })
}

/// Runs a plugin (or one of its commands) with its config and environment, extra `args`
/// appended, stdin, stdout and stderr inherited. Returns its exit status.
pub fn invoke(
    ctx: &Context,
    plugin: ResolvedPlugin,
    command: Option<&str>,
    args: Vec<OsString>,
    how: &Invocation,
) -> Result<ExitStatus, RunError> {
    ready(ctx, plugin, command, args, how)?.run(&how.supervisor)
}

/// Where a command's own `executable` is: in the plugin's virtualenv, else on the PATH, or
/// relative to the project when it holds a `/` (Meltano's `PluginInvoker.exec_path`).
fn command_program(
    ctx: &Context,
    prepared: &PreparedPlugin,
    exe: &str,
) -> Result<PathBuf, RunError> {
    let path_var = prepared
        .env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str());
    let root = &ctx.project.root;
    crate::plugin::executable::find_named(root, &prepared.plugin, exe, path_var).ok_or_else(|| {
        RunError::Plugin(PluginError::NotFound {
            kind: prepared.plugin.plugin_type.singular().into(),
            plugin: prepared.plugin.name.to_string(),
            executable: exe.to_string(),
            venv: crate::plugin::venv::venv_dir(root, &prepared.plugin)
                .display()
                .to_string(),
        })
    })
}

/// A command's `args`: split like a shell (`shlex.split`), then each word expanded against the
/// plugin's environment. A word that expands to nothing is Meltano's error: a missing
/// variable would otherwise silently shift the arguments.
fn expand_args(
    command: &str,
    args: &str,
    env: &[(String, String)],
) -> Result<Vec<OsString>, RunError> {
    let words = shell_words::split(args).map_err(|e| RunError::CommandArgs {
        command: command.to_string(),
        message: e.to_string(),
        args: args.to_string(),
    })?;
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    words
        .into_iter()
        .map(|word| {
            let text = crate::project::expand::expand(&word, &lookup).text;
            match text.is_empty() {
                true => Err(RunError::UnsetCommandVariable {
                    command: command.to_string(),
                    word,
                }),
                false => Ok(OsString::from(text)),
            }
        })
        .collect()
}

/// Meltano reads `requires:` only when a plugin is added (`meltano add` adds the plugins it
/// names); a required plugin missing from the project is worth a warning, not an error.
fn warn_missing_requirements(ctx: &Context, plugin: &ResolvedPlugin) {
    for (ptype, name) in plugin.requires() {
        let known = crate::project::model::PluginType::parse(&ptype)
            .is_some_and(|t| ctx.find_def(Some(t), &name).is_ok());
        if !known {
            tracing::warn!(
                "{} '{}' requires {ptype} '{name}', which the project does not define (`eltr add {ptype} {name}` adds it)",
                plugin.plugin_type.singular(),
                plugin.name,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn commands_parse_as_meltano_reads_them() {
        assert_eq!(
            CommandSpec::parse(&json!("run --select x")).unwrap().args,
            "run --select x"
        );
        let spec = CommandSpec::parse(&json!({"args": "a", "executable": "other"})).unwrap();
        assert_eq!(spec.executable.as_deref(), Some("other"));
        assert!(CommandSpec::parse(&json!(3)).is_none());
    }

    #[test]
    fn args_expand_per_word_and_an_empty_word_is_an_error() {
        let env = vec![("HOME_DIR".to_string(), "/a b".to_string())];
        let out = expand_args("c", "ls $HOME_DIR '${HOME_DIR}/x'", &env).unwrap();
        assert_eq!(out, vec!["ls", "/a b", "/a b/x"]);
        assert!(expand_args("c", "ls $MISSING", &env).is_err());
    }
}
