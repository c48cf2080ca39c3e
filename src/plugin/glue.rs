//! What Meltano 4.4 does for Airflow and Superset before it runs them (its "plugin glue":
//! `meltano/core/plugin/airflow.py`, `superset.py`), so `invoke airflow …` and
//! `invoke superset …` find the configuration Meltano would have given them.
//!
//! - Airflow (an orchestrator named, or inheriting from, `airflow`): `AIRFLOW_HOME` is the
//!   run folder and `AIRFLOW_CONFIG` its `airflow.cfg`, written from `airflow config list
//!   --defaults` with the plugin's settings (`core.dags_folder` → `[core] dags_folder`) on
//!   top; then `airflow version` decides between `initdb` (before 2.0) and `db init`, which
//!   runs before the command.
//! - Superset (a utility named, or inheriting from, `superset`): `SUPERSET_HOME`,
//!   `SUPERSET_CONFIG_PATH` (a `superset_config.py` that sets the plugin's upper-case settings)
//!   and `FLASK_APP=superset`; `superset db upgrade` and `superset init` run before the
//!   command.
//!
//! The generated files live in the run folder and go with it.

use super::{PluginError, PreparedPlugin};
use crate::project::ResolvedPlugin;
use crate::project::model::PluginType;
use crate::vocab::lines::{BoundedLines, LOG_LINE_CAP};
use crate::vocab::pyjson::python_repr;
use serde_json::Value;
use std::io::Read;
use std::process::{Command, Output, Stdio};

/// The plugins Meltano has glue for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Glue {
    Airflow,
    Superset,
}

impl Glue {
    /// The glue `plugin` gets, by its type and its definition's name (its own, or the parent
    /// it inherits from), as Meltano's plugin factory picks it.
    pub fn of(plugin: &ResolvedPlugin) -> Option<Glue> {
        let base = plugin
            .inherit_from
            .as_deref()
            .unwrap_or(plugin.name.as_str());
        match (plugin.plugin_type, base) {
            (PluginType::Orchestrators, "airflow") => Some(Glue::Airflow),
            (PluginType::Utilities, "superset") => Some(Glue::Superset),
            _ => None,
        }
    }
}

/// Adds Meltano's variables and files to a prepared Airflow or Superset and runs the steps
/// Meltano runs before the command; other plugins are left as they are.
pub fn apply(prepared: &mut PreparedPlugin) -> Result<(), PluginError> {
    match Glue::of(&prepared.plugin) {
        Some(Glue::Airflow) => airflow(prepared),
        Some(Glue::Superset) => superset(prepared),
        None => Ok(()),
    }
}

fn airflow(prepared: &mut PreparedPlugin) -> Result<(), PluginError> {
    let home = prepared.run_dir.path().to_path_buf();
    let cfg = home.join("airflow.cfg");
    set_env(prepared, "AIRFLOW_HOME", &home.display().to_string());
    set_env(prepared, "AIRFLOW_CONFIG", &cfg.display().to_string());
    let defaults = step(prepared, &["config", "list", "--defaults"])
        .filter(|o| o.status.success())
        .ok_or_else(|| failed(prepared, "Command `airflow config generate` failed"))?;
    let mut ini = Ini::parse(&String::from_utf8_lossy(&defaults.stdout));
    for (key, value) in settings(&prepared.plugin) {
        // `section.option`; Meltano cannot place a setting without a section either.
        match key.split_once('.') {
            Some((section, option)) if plain_ini_name(section) && plain_ini_name(option) => {
                ini.set(section, &option.to_lowercase(), &py_str(&value));
            }
            Some(_) => tracing::warn!(
                "Airflow setting '{}' left out of airflow.cfg: a section or option name holds characters the file cannot keep apart",
                key.escape_debug()
            ),
            None => {}
        }
    }
    write_run_file(prepared, "airflow.cfg", &ini.render())?;
    let version = step(prepared, &["version"])
        .filter(|o| o.status.success())
        .ok_or_else(|| failed(prepared, "Command `airflow version` failed"))?;
    let version = String::from_utf8_lossy(&version.stdout);
    let major = version
        .trim()
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    let init: &[&str] = match major {
        Some(m) if m < 2 => &["initdb"],
        _ => &["db", "init"],
    };
    step(prepared, init)
        .filter(|o| o.status.success())
        .map(|_| ())
        .ok_or_else(|| {
            failed(
                prepared,
                "Airflow metadata database could not be initialized: `airflow initdb` failed",
            )
        })
}

fn superset(prepared: &mut PreparedPlugin) -> Result<(), PluginError> {
    let home = prepared.run_dir.path().to_path_buf();
    let config_path = home.join("superset_config.py");
    set_env(prepared, "SUPERSET_HOME", &home.display().to_string());
    set_env(
        prepared,
        "SUPERSET_CONFIG_PATH",
        &config_path.display().to_string(),
    );
    set_env(prepared, "FLASK_APP", "superset");
    let entries: Vec<String> = settings(&prepared.plugin)
        .iter()
        .map(|(k, v)| {
            format!(
                "{}: {}",
                python_repr(&Value::String(k.clone())),
                python_repr(v)
            )
        })
        .collect();
    let script = [
        "import sys".to_string(),
        "module = sys.modules[__name__]".to_string(),
        format!("config = {{{}}}", entries.join(", ")),
        "for key, value in config.items():".to_string(),
        "    if key.isupper():".to_string(),
        "        setattr(module, key, value)".to_string(),
    ]
    .join("\n");
    write_run_file(prepared, "superset_config.py", &script)?;
    for (args, message) in [
        (
            &["db", "upgrade"][..],
            "Superset metadata database could not be initialized: `superset db upgrade` failed",
        ),
        (
            &["init"][..],
            "Superset default roles and permissions could not be created: `superset init` failed",
        ),
    ] {
        step(prepared, args)
            .filter(|o| o.status.success())
            .ok_or_else(|| failed(prepared, message))?;
    }
    Ok(())
}

/// The plugin's settings as Meltano's `as_dict(extras=False)` lists them: every declared
/// setting (unset ones as null), then configured ones it does not declare.
fn settings(plugin: &ResolvedPlugin) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = plugin
        .settings
        .iter()
        .filter(|s| !s.name.starts_with('_'))
        .map(|s| {
            let value = plugin.config.get(&s.name).map(|r| r.value.clone());
            (s.name.clone(), value.unwrap_or(Value::Null))
        })
        .collect();
    for (key, setting) in &plugin.config {
        if !key.starts_with('_') && !out.iter().any(|(k, _)| k == key) {
            out.push((key.clone(), setting.value.clone()));
        }
    }
    out
}

fn set_env(prepared: &mut PreparedPlugin, name: &str, value: &str) {
    prepared.env.retain(|(k, _)| k != name);
    prepared.env.push((name.to_string(), value.to_string()));
}

/// The most of a setup step's stdout eltr reads (`airflow config list --defaults` is a few
/// hundred KiB); a step that prints more has failed.
const STEP_OUTPUT_CAP: u64 = 16 << 20;

/// Lines of a failing step's stderr shown.
const STEP_TAIL_LINES: usize = 5;

/// Runs the plugin's program with `args` in its environment; its stdout captured up to
/// [`STEP_OUTPUT_CAP`] and its stderr read in bounded lines, of which the last few are
/// logged (masked) when it fails: a step that writes without end costs no memory.
fn step(prepared: &PreparedPlugin, args: &[&str]) -> Option<Output> {
    let spawned = Command::new(&prepared.program)
        .args(args)
        .env_clear()
        .envs(prepared.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&prepared.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            tracing::error!("cannot start {}: {e}", prepared.program.display());
            return None;
        }
    };
    let stderr = child.stderr.take();
    let tail = std::thread::spawn(move || last_lines(stderr));
    let mut stdout = Vec::new();
    let mut too_long = false;
    if let Some(mut out) = child.stdout.take() {
        let _ = (&mut out).take(STEP_OUTPUT_CAP).read_to_end(&mut stdout);
        too_long = std::io::copy(&mut out, &mut std::io::sink()).is_ok_and(|n| n > 0);
    }
    let status = child.wait().ok()?;
    let tail = tail.join().unwrap_or_default();
    if !status.success() {
        for (text, cut) in &tail {
            let shown = match cut {
                None => prepared.masker.mask(text).into_owned(),
                Some(marker) => prepared.masker.mask_cut(text).into_owned() + marker,
            };
            tracing::error!(plugin = %prepared.plugin.name, "{shown}");
        }
    }
    if too_long {
        tracing::error!(
            plugin = %prepared.plugin.name,
            "`{}` printed more than the {} MiB eltr reads",
            args.join(" "),
            STEP_OUTPUT_CAP >> 20
        );
        return None;
    }
    Some(Output {
        status,
        stdout,
        stderr: Vec::new(),
    })
}

/// The last [`STEP_TAIL_LINES`] lines of a stream, each cut at a log line's length (the text
/// kept, and the marker saying how much was cut).
fn last_lines(stream: Option<std::process::ChildStderr>) -> Vec<(String, Option<String>)> {
    let mut tail = std::collections::VecDeque::new();
    let Some(stream) = stream else {
        return Vec::new();
    };
    let mut lines = BoundedLines::new(std::io::BufReader::new(stream), LOG_LINE_CAP);
    while let Ok(Some(line)) = lines.next_line() {
        if tail.len() == STEP_TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line.parts());
    }
    tail.into()
}

fn write_run_file(prepared: &PreparedPlugin, name: &str, text: &str) -> Result<(), PluginError> {
    prepared
        .run_dir
        .write_private(name, text.as_bytes())
        .map(|_| ())
        .map_err(|error| PluginError::RunFiles {
            plugin: prepared.plugin.name.to_string(),
            path: prepared.run_dir.path().join(name).display().to_string(),
            error,
        })
}

fn failed(prepared: &PreparedPlugin, message: &str) -> PluginError {
    PluginError::Glue {
        plugin: prepared.plugin.name.to_string(),
        message: message.to_string(),
    }
}

/// A section or option name airflow.cfg keeps as one name: no line break, bracket,
/// separator or comment sign that would end it and start another entry.
fn plain_ini_name(name: &str) -> bool {
    // A leading blank would make the line continue the option above it.
    !name.is_empty()
        && name == name.trim()
        && name
            .chars()
            .all(|c| !c.is_control() && !matches!(c, '[' | ']' | '=' | ':' | '#' | ';'))
}

/// Python's `str()` of a setting value (what `configparser` writes).
fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

/// The part of Python's `configparser` Meltano's Airflow glue uses: read a file (comments and
/// blank lines dropped, option names lower-cased, indented lines continuing a value), set
/// options, write it back (`[section]`, `key = value`, a blank line after each section).
#[derive(Debug, Default)]
struct Ini {
    sections: Vec<(String, Vec<(String, String)>)>,
}

impl Ini {
    fn parse(text: &str) -> Ini {
        let mut ini = Ini::default();
        for raw in text.lines() {
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            if raw.starts_with([' ', '\t']) {
                if let Some((_, options)) = ini.sections.last_mut() {
                    if let Some((_, value)) = options.last_mut() {
                        value.push('\n');
                        value.push_str(trimmed);
                    }
                }
                continue;
            }
            if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
                ini.section(name);
                continue;
            }
            let split = trimmed.find(['=', ':']);
            let (key, value) = match split {
                Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
                None => (trimmed, ""),
            };
            if let Some((_, options)) = ini.sections.last_mut() {
                options.push((key.trim().to_lowercase(), value.trim().to_string()));
            }
        }
        ini
    }

    fn section(&mut self, name: &str) -> &mut Vec<(String, String)> {
        let at = match self.sections.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                self.sections.push((name.to_string(), Vec::new()));
                self.sections.len() - 1
            }
        };
        &mut self.sections[at].1
    }

    fn set(&mut self, section: &str, key: &str, value: &str) {
        let options = self.section(section);
        match options.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value.to_string(),
            None => options.push((key.to_string(), value.to_string())),
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for (name, options) in &self.sections {
            out.push_str(&format!("[{name}]\n"));
            for (k, v) in options {
                // Every line break continues the value: Airflow reads the file with universal
                // newlines, so a bare `\r` would otherwise start an option of its own.
                let value = v.replace("\r\n", "\n").replace('\r', "\n");
                out.push_str(&format!("{k} = {}\n", value.replace('\n', "\n\t")));
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ini_round_trip_keeps_sections_and_drops_comments_as_configparser_does() {
        let mut ini =
            Ini::parse("[core]\n# a comment\nDags_Folder = /x\nlong = a\n  b\n[webserver]\n");
        ini.set("core", "dags_folder", "/y");
        ini.set("webserver", "web_server_port", "8080");
        assert_eq!(
            ini.render(),
            "[core]\ndags_folder = /y\nlong = a\n\tb\n\n[webserver]\nweb_server_port = 8080\n\n"
        );
    }

    #[test]
    fn a_line_break_in_a_value_never_starts_an_option_of_its_own() {
        let mut ini = Ini::parse("[core]\n");
        ini.set(
            "core",
            "dags_folder",
            "/x\rsql_alchemy_conn = evil\r\nmore\nend",
        );
        assert_eq!(
            ini.render(),
            "[core]\ndags_folder = /x\n\tsql_alchemy_conn = evil\n\tmore\n\tend\n\n"
        );
        assert!(plain_ini_name("dags_folder"));
        for name in ["", "a\nb", "a]b", "a=b", "a:b", "a;b", "x\r", " x", "x\t"] {
            assert!(!plain_ini_name(name), "{name:?}");
        }
    }

    #[test]
    fn python_repr_matches_pythons_quoting() {
        assert_eq!(python_repr(&json!("it's")), "\"it's\"");
        assert_eq!(
            python_repr(&json!({"A": [1, true, null]})),
            "{'A': [1, True, None]}"
        );
    }
}
