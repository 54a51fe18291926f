//! The `[usage]` configuration section.

use serde::{Deserialize, Serialize};

/// Usage thresholds: what counts, each limit, and what reaching it does.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageSettings {
    /// Which requests count toward the request limit: `repository` (the Distribution API,
    /// `/v2/…` and `/repository/<repo>/v2/…`) or `all` (also metrics scrapes, health probes
    /// and the admin API). Requests answered 401 never count; they are tallied apart.
    pub counted: Counted,
    /// Requests in a rolling 24-hour window (Nexus default: 20,000).
    pub requests: LimitSettings,
    /// Components, i.e. tagged manifests in all repositories (Nexus default: 100,000).
    pub components: LimitSettings,
    /// How often the hourly counters are written to the database (seconds); they are also
    /// written at shutdown, so only a crash loses at most this much.
    pub flush_secs: u64,
}

/// Which requests count.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Counted {
    All,
    Repository,
}

/// One limit. No `serde(default)`: the layered config always starts from
/// [`UsageSettings::default`], which fills in whatever a file or the environment leaves out.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// The limit; reaching it makes the state `over`.
    pub limit: u64,
    /// From `warn_ratio × limit` on, the state is `near`.
    pub warn_ratio: f64,
    /// What `near` and `over` do.
    pub action: Action,
}

/// What a threshold does.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Count and expose (usage JSON, metrics); nothing else.
    Observe,
    /// Also log each state change and fail the usage status check.
    Warn,
    /// Also refuse new components and new blob uploads while `over` (403 DENIED).
    Enforce,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Observe => "observe",
            Action::Warn => "warn",
            Action::Enforce => "enforce",
        }
    }
}

impl Default for UsageSettings {
    fn default() -> Self {
        UsageSettings {
            counted: Counted::Repository,
            requests: LimitSettings::with_limit(20_000),
            components: LimitSettings::with_limit(100_000),
            flush_secs: 5,
        }
    }
}

impl LimitSettings {
    fn with_limit(limit: u64) -> Self {
        LimitSettings {
            limit,
            warn_ratio: 0.75,
            action: Action::Observe,
        }
    }
}

impl UsageSettings {
    /// Checks what types alone cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        for (name, l) in [
            ("requests", &self.requests),
            ("components", &self.components),
        ] {
            if l.limit == 0 {
                anyhow::bail!("usage.{name}.limit must be positive");
            }
            if !(l.warn_ratio > 0.0 && l.warn_ratio <= 1.0) {
                anyhow::bail!("usage.{name}.warn_ratio must be in (0, 1]");
            }
        }
        if self.flush_secs == 0 {
            anyhow::bail!("usage.flush_secs must be positive");
        }
        Ok(())
    }
}
