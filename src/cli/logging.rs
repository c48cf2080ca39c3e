//! Log setup: human text or one JSON object per line (timestamp, level, plugin, message,
//! run_id, state_id), always on stderr so stdout stays data, copied to the block's run log,
//! with secrets masked (see `pipeline::console`).

use super::GlobalArgs;
use crate::pipeline::console::{BLOCK_FIELD, BlockLog, Console};
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{self, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Log line shapes. Meltano's `colored`, `uncolored`, `plain` and `key_value` are eltr's
/// text lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    #[value(
        alias = "colored",
        alias = "uncolored",
        alias = "plain",
        alias = "key_value"
    )]
    Text,
    Json,
}

/// What a Python logging config file (`--log-config`, Meltano's `cli.log_config`) says that
/// eltr honours: the root logger's level, and whether its handlers format JSON.
#[derive(Debug, Default, PartialEq)]
pub struct LogConfig {
    pub level: Option<String>,
    pub json: bool,
}

impl LogConfig {
    /// Reads the `logging.config.dictConfig` YAML at `path`. An unreadable file is an error
    /// message (logging is not set up yet, so it cannot be a log line).
    pub fn read(path: &std::path::Path) -> Result<LogConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the log config {}: {e}", path.display()))?;
        let doc: Value = serde_norway::from_str(&text)
            .map_err(|e| format!("the log config {} is not YAML: {e}", path.display()))?;
        Ok(LogConfig::from_value(&doc))
    }

    fn from_value(doc: &Value) -> LogConfig {
        let root = doc.get("root");
        let level = root
            .and_then(|r| r.get("level"))
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        // JSON when a root handler's formatter is a JSON one (Meltano's
        // `meltano.core.logging.json_formatter`, python-json-logger…).
        let formatter_is_json = |name: &str| {
            doc.pointer(&format!("/formatters/{name}"))
                .is_some_and(|f| f.to_string().to_ascii_lowercase().contains("json"))
        };
        let json = root
            .and_then(|r| r.get("handlers"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|h| doc.pointer(&format!("/handlers/{h}/formatter")))
            .filter_map(Value::as_str)
            .any(formatter_is_json);
        LogConfig { level, json }
    }
}

/// A level as `tracing` names it, from Meltano's names or eltr's: `warning` is `warn`,
/// `critical` is `error` (eltr has no level above it), `disabled` turns logging off.
pub fn tracing_level(level: &str) -> Option<&'static str> {
    Some(match level.trim().to_ascii_lowercase().as_str() {
        "trace" => "trace",
        "debug" => "debug",
        "info" => "info",
        "warn" | "warning" => "warn",
        "error" | "critical" => "error",
        "disabled" | "off" => "off",
        _ => return None,
    })
}

/// The log config file named by `--log-config`, else `MELTANO_CLI_LOG_CONFIG`.
fn log_config(global: &GlobalArgs) -> Option<LogConfig> {
    let path = global.log_config.clone().or_else(|| {
        std::env::var_os("MELTANO_CLI_LOG_CONFIG")
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    })?;
    match LogConfig::read(&path) {
        Ok(c) => Some(c),
        Err(message) => {
            eprintln!("warning: {message}; using the default log settings");
            None
        }
    }
}

/// One JSON log line (`Console::json_line`).
pub fn json_line(
    console: &Console,
    block: Option<&BlockLog>,
    level: &str,
    plugin: Option<String>,
    message: String,
    other: Map<String, Value>,
) -> Value {
    console.json_line(block, level, plugin, message, other)
}

/// Whether logs are JSON lines: `--log-format` (or `MELTANO_CLI_LOG_FORMAT`), else a log
/// config file whose handlers format JSON. `main` makes the console with it.
pub fn wants_json(global: &GlobalArgs) -> bool {
    match global.log_format {
        Some(f) => f == LogFormat::Json,
        None => log_config(global).is_some_and(|c| c.json),
    }
}

/// Installs the subscriber that writes through `console`. The level: `--log-level`, else the
/// log config file's root level, else `ELTR_LOG_LEVEL` / `MELTANO_CLI_LOG_LEVEL`, else
/// `info`; Meltano's names are accepted (`warning`, `critical`, `disabled`).
pub fn init(global: &GlobalArgs, console: Arc<Console>) {
    let level = global
        .log_level
        .clone()
        .or_else(|| log_config(global).and_then(|c| c.level))
        .or_else(|| std::env::var("ELTR_LOG_LEVEL").ok())
        .or_else(|| std::env::var("MELTANO_CLI_LOG_LEVEL").ok())
        .unwrap_or_else(|| "info".into());
    let level = tracing_level(&level).unwrap_or("info");
    let filter =
        EnvFilter::try_new(format!("eltr={level}")).unwrap_or_else(|_| EnvFilter::new("eltr=info"));
    let json = console.json_lines();
    tracing_subscriber::registry()
        .with(filter)
        .with(ConsoleLayer { json, console })
        .init();
}

/// Writes each event through the console, into the run log of the block it belongs to: the
/// block whose span (`BlockLog::span`) encloses it, found when the span is made.
struct ConsoleLayer {
    json: bool,
    console: Arc<Console>,
}

/// Kept on a block's span: the block its events belong to.
struct InBlock(Arc<BlockLog>);

/// Reads the block number off a new span.
#[derive(Default)]
struct BlockNumber(Option<u64>);

impl Visit for BlockNumber {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == BLOCK_FIELD {
            self.0 = Some(value);
        }
    }
    fn record_debug(&mut self, _field: &Field, _value: &dyn fmt::Debug) {}
}

impl<S> Layer<S> for ConsoleLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: layer::Context<'_, S>) {
        let mut number = BlockNumber::default();
        attrs.record(&mut number);
        let block = number.0.and_then(|n| self.console.block(n));
        if let (Some(block), Some(span)) = (block, ctx.span(id)) {
            span.extensions_mut().insert(InBlock(block));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: layer::Context<'_, S>) {
        let block = ctx.event_scope(event).and_then(|scope| {
            scope
                .into_iter()
                .find_map(|span| span.extensions().get::<InBlock>().map(|b| b.0.clone()))
        });
        let line = self.format(event, block.as_deref());
        self.console.emit_in(block.as_deref(), line.as_bytes());
    }
}

/// The fields of one event.
#[derive(Default)]
struct Fields {
    message: String,
    plugin: Option<String>,
    other: Map<String, Value>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "plugin" => self.plugin = Some(value.to_string()),
            name => {
                self.other
                    .insert(name.to_string(), Value::String(value.to_string()));
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

impl ConsoleLayer {
    /// eltr's line format: `LEVEL plugin | message` as text, or a flat JSON object.
    fn format(&self, event: &Event<'_>, block: Option<&BlockLog>) -> String {
        use std::fmt::Write;
        let mut f = Fields::default();
        event.record(&mut f);
        let level = event.metadata().level().as_str();
        if self.json {
            let line = json_line(&self.console, block, level, f.plugin, f.message, f.other);
            return format!("{line}\n");
        }
        let mut out = format!("{level:>5} ");
        if let Some(p) = &f.plugin {
            let _ = write!(out, "{p} | ");
        }
        out.push_str(&f.message);
        for (k, v) in &f.other {
            let _ = match v {
                Value::String(s) => write!(out, " {k}={s}"),
                other => write!(out, " {k}={other}"),
            };
        }
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod log_setting_tests {
    use super::*;

    #[test]
    fn meltano_level_names_map_to_tracing_levels() {
        assert_eq!(tracing_level("WARNING"), Some("warn"));
        assert_eq!(tracing_level("critical"), Some("error"));
        assert_eq!(tracing_level("disabled"), Some("off"));
        assert_eq!(tracing_level("loud"), None);
    }

    #[test]
    fn log_config_gives_the_root_level_and_json() {
        let doc: Value = serde_norway::from_str(
            "version: 1\nformatters:\n  structured:\n    (): meltano.core.logging.json_formatter\nhandlers:\n  console:\n    class: logging.StreamHandler\n    formatter: structured\nroot:\n  level: WARNING\n  handlers: [console]\n",
        )
        .unwrap();
        let c = LogConfig::from_value(&doc);
        assert_eq!(c.level.as_deref(), Some("warning"));
        assert!(c.json);
    }
}
