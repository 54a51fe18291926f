//! Logging setup: `tracing` with text or JSON output.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Malformed requests are the client's problem, not the server's: actix logs them at ERROR,
/// and Docker triggers one on every push to an insecure registry (it tries TLS first).
const QUIET_CLIENT_ERRORS: &str = "actix_http::h1::dispatcher=off";

/// Installs the global subscriber. `RUST_LOG`, when set, wins over the configured level.
pub fn init(log: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{},{QUIET_CLIENT_ERRORS}", log.level)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// `log.access`.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AccessLogMode {
    /// Every 4xx/5xx (flood-limited) and one in `access_sample` of the others.
    #[default]
    Sampled,
    /// Every request.
    Full,
    Off,
}
