//! Proxy repositories: a pull-through cache of one upstream registry.
//!
//! This module knows the upstream ([`upstream::Upstream`]) and the cache's bookkeeping
//! ([`ProxyState`]): when each cached tag was last confirmed, what the upstream recently
//! said it does not have (negative cache), whether the upstream is blocked, and which blob
//! downloads are in flight (so concurrent misses share one). What is cached lives in the
//! repository's blob store and metadata like any hosted content; `crate::registry::proxied`
//! decides when to ask the upstream.

pub mod budget;
mod expected;
mod health;
pub mod metrics;
pub mod mirrors;
mod state;
pub mod upstream;

/// Proxy definitions are plain data in the model; `proxy::config` keeps its old paths.
pub use crate::model::proxy as config;
pub use budget::Priority;
pub use config::{IndexType, ProxyConfig, Secret};
pub use state::{Download, DownloadOutcome, Progress, ProxyState, ProxyStatus};

/// What went wrong talking to the upstream. Messages name the upstream and the problem, and
/// never contain credentials.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// The upstream answered 404.
    #[error("not found upstream")]
    NotFound,
    #[error("{0}")]
    Unavailable(String),
    /// The upstream answered 429; `retry_after_secs` is its `Retry-After`, if it sent one.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: Option<u64>,
    },
    #[error("{0}")]
    Refused(String),
    /// The upstream sent something Berth will not cache (digest mismatch, truncated body,
    /// unparsable manifest).
    #[error("{0}")]
    Invalid(String),
    /// Blocked by the operator or by auto-block; the upstream was not called.
    #[error("{0}")]
    Blocked(String),
}

impl UpstreamError {
    /// Failures that count towards auto-block (the upstream misbehaves, rather than
    /// correctly saying "no such thing").
    /// A `429` does not count either: it pauses the upstream for the time it asked for.
    pub fn counts_as_failure(&self) -> bool {
        !matches!(
            self,
            UpstreamError::NotFound | UpstreamError::Blocked(_) | UpstreamError::RateLimited { .. }
        )
    }
}
