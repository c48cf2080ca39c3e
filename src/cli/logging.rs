//! Log setup: human text or one JSON object per line, always on stderr so stdout stays data.

use super::GlobalArgs;
use tracing_subscriber::EnvFilter;

/// Log line shapes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Installs the global subscriber. `--log-level`, else `ELTR_LOG_LEVEL` /
/// `MELTANO_CLI_LOG_LEVEL`, else `info`.
pub fn init(global: &GlobalArgs) {
    let level = global
        .log_level
        .clone()
        .or_else(|| std::env::var("ELTR_LOG_LEVEL").ok())
        .or_else(|| std::env::var("MELTANO_CLI_LOG_LEVEL").ok())
        .unwrap_or_else(|| "info".into());
    let filter =
        EnvFilter::try_new(format!("eltr={level}")).unwrap_or_else(|_| EnvFilter::new("eltr=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match global.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => {
            use std::io::IsTerminal;
            builder
                .without_time()
                .with_ansi(std::io::stderr().is_terminal())
                .init()
        }
    }
}
