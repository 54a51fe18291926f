//! Logging setup: `tracing` with text or JSON output.
//!
//! Logging must never fail what it describes. `tracing-subscriber` reports a failed write
//! of an event with `eprintln!`, which panics when stderr itself is the problem (a full disk,
//! a closed pipe): the task that logged died with it, a repository actor on its expiry
//! sweep, a request mid-flight, `berth serve 2>/dev/full` at its first line. Events are
//! therefore written through [`LossyStderr`], which drops a line it cannot write and counts
//! it in [`crate::metrics::LOG_WRITE_ERRORS`] instead of returning the error.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Malformed requests are the client's problem, not the server's: actix logs them at ERROR,
/// and Docker triggers one on every push to an insecure registry (it tries TLS first).
const QUIET_CLIENT_ERRORS: &str = "actix_http::h1::dispatcher=off";

/// Installs the global subscriber. `RUST_LOG`, when set to something, wins over the
/// configured level.
pub fn init(log: &LogSettings) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = EnvFilter::new(directives(rust_log.as_deref(), &log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LossyStderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The filter's directives. An empty or blank `RUST_LOG` counts as unset: taken as given it
/// is a filter that lets nothing but errors through, so `RUST_LOG= berth serve` (or a
/// script clearing the variable that way) silenced the start line and the access log.
fn directives(rust_log: Option<&str>, level: &str) -> String {
    match rust_log.map(str::trim) {
        Some(given) if !given.is_empty() => given.to_string(),
        _ => format!("{level},{QUIET_CLIENT_ERRORS}"),
    }
}

/// Standard error that never reports a failed write: the line is lost and counted.
#[derive(Clone, Copy, Debug, Default)]
pub struct LossyStderr;

impl Write for LossyStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if io::stderr().lock().write_all(buf).is_err() {
            metrics::counter!(crate::metrics::LOG_WRITE_ERRORS).increment(1);
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().flush();
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LossyStderr {
    type Writer = LossyStderr;

    fn make_writer(&'a self) -> Self::Writer {
        LossyStderr
    }
}

/// A setting, so it lives in `config`; re-exported where the access log is written.
pub use crate::config::AccessLogMode;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_to_stderr_always_reports_success() {
        // Whatever stderr is in the test harness, the writer claims the bytes.
        assert_eq!(LossyStderr.write(b"line\n").unwrap(), 5);
        LossyStderr.flush().unwrap();
    }

    #[test]
    fn an_empty_rust_log_is_no_rust_log() {
        let configured = format!("info,{QUIET_CLIENT_ERRORS}");
        assert_eq!(directives(None, "info"), configured);
        assert_eq!(directives(Some(""), "info"), configured);
        assert_eq!(directives(Some("  "), "info"), configured);
        assert_eq!(directives(Some("berth=debug"), "info"), "berth=debug");
    }
}
