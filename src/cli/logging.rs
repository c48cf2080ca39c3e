//! Log setup: human text or one JSON object per line (timestamp, level, plugin, message,
//! run_id, state_id), always on stderr so stdout stays data, copied to the block's run log,
//! with secrets masked (see `pipeline::console`).

use super::GlobalArgs;
use crate::pipeline::console::Console;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// Log line shapes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// One JSON log line: the same keys for every event, so a log shipper needs one parser.
pub fn json_line(
    console: &Console,
    level: &str,
    plugin: Option<String>,
    message: String,
    other: Map<String, Value>,
) -> Value {
    let mut time = String::new();
    let _ = SystemTime.format_time(&mut Writer::new(&mut time));
    let (run_id, state_id) = console.context();
    let mut o = Map::new();
    o.insert("timestamp".into(), Value::String(time));
    o.insert("level".into(), Value::String(level.to_ascii_lowercase()));
    if let Some(p) = plugin {
        o.insert("plugin".into(), Value::String(p));
    }
    o.insert("message".into(), Value::String(message));
    if let Some(r) = run_id {
        o.insert("run_id".into(), Value::String(r));
    }
    if let Some(s) = state_id {
        o.insert("state_id".into(), Value::String(s));
    }
    o.extend(other);
    Value::Object(o)
}

/// Whether `--log-format` asks for JSON lines: `main` makes the console with it.
pub fn wants_json(global: &GlobalArgs) -> bool {
    global.log_format == LogFormat::Json
}

/// Installs the subscriber that writes through `console`. `--log-level`, else
/// `ELTR_LOG_LEVEL` / `MELTANO_CLI_LOG_LEVEL`, else `info`.
pub fn init(global: &GlobalArgs, console: Arc<Console>) {
    let level = global
        .log_level
        .clone()
        .or_else(|| std::env::var("ELTR_LOG_LEVEL").ok())
        .or_else(|| std::env::var("MELTANO_CLI_LOG_LEVEL").ok())
        .unwrap_or_else(|| "info".into());
    let filter =
        EnvFilter::try_new(format!("eltr={level}")).unwrap_or_else(|_| EnvFilter::new("eltr=info"));
    let json = console.json_lines();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(ConsoleWriter(console.clone()))
        .event_format(LineFormat { json, console })
        .init();
}

/// Hands each formatted event to the console in one piece.
struct ConsoleWriter(Arc<Console>);

impl<'a> MakeWriter<'a> for ConsoleWriter {
    type Writer = EventBuffer;
    fn make_writer(&'a self) -> EventBuffer {
        EventBuffer(Vec::with_capacity(256), self.0.clone())
    }
}

/// One event's bytes, emitted when dropped.
struct EventBuffer(Vec<u8>, Arc<Console>);

impl std::io::Write for EventBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventBuffer {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            self.1.emit(&self.0);
        }
    }
}

/// eltr's line format: `LEVEL plugin | message` as text, or a flat JSON object.
struct LineFormat {
    json: bool,
    /// For the run and state ids stamped on JSON lines.
    console: Arc<Console>,
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

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut f = Fields::default();
        event.record(&mut f);
        let level = event.metadata().level().as_str();
        if self.json {
            let line = json_line(&self.console, level, f.plugin, f.message, f.other);
            writeln!(writer, "{line}")
        } else {
            write!(writer, "{level:>5} ")?;
            if let Some(p) = &f.plugin {
                write!(writer, "{p} | ")?;
            }
            write!(writer, "{}", f.message)?;
            for (k, v) in &f.other {
                match v {
                    Value::String(s) => write!(writer, " {k}={s}")?,
                    other => write!(writer, " {k}={other}")?,
                }
            }
            writeln!(writer)
        }
    }
}
