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
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::layer::{self, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Log line shapes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// One JSON log line: the same keys for every event, so a log shipper needs one parser. The
/// run and state ids are the block's when the line belongs to one, else the run's; a block
/// running beside others is named by `block`.
pub fn json_line(
    console: &Console,
    block: Option<&BlockLog>,
    level: &str,
    plugin: Option<String>,
    message: String,
    other: Map<String, Value>,
) -> Value {
    let mut time = String::new();
    let _ = SystemTime.format_time(&mut Writer::new(&mut time));
    let (run_id, state_id) = match block {
        Some(b) => b.ids(),
        None => console.context(),
    };
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
    if let Some(label) = block.and_then(BlockLog::label) {
        o.insert("block".into(), Value::String(label.to_string()));
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
