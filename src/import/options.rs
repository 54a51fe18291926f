//! What one `berth import nexus` run is asked to do, already resolved from the command line
//! (credentials read from their files or the environment, URLs normalised).

use std::path::PathBuf;
use std::time::Duration;

/// A password kept out of `Debug` output and logs.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Self {
        Secret(s)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One side of the import: the source Nexus or the target Berth.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// "source Nexus" / "target Berth", for messages.
    pub label: String,
    /// Base URL without a trailing slash, e.g. `https://nexus.example:8081`.
    pub url: String,
    /// Basic credentials, sent pre-emptively.
    pub credentials: Option<(String, Secret)>,
    /// A PEM CA certificate to trust for an https URL (a private CA).
    pub ca_cert: Option<PathBuf>,
}

/// What happens to users, whose password hashes Nexus never exports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserMode {
    /// Each new user gets a random password; the passwords are written to this file (0600).
    RandomPassword(PathBuf),
    /// Each new user is created with status `disabled` (and a random password nobody knows).
    Disabled,
}

/// The whole run.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    pub source: Endpoint,
    pub target: Endpoint,
    /// Print what would be created and copied; change nothing.
    pub dry_run: bool,
    /// Replace definitions that already exist on the target and differ (default: keep them).
    pub overwrite: bool,
    pub users: UserMode,
    /// Blob transfers in flight at once.
    pub concurrency: usize,
    /// Pull every tag a proxy repository has cached through the target's proxy, so its
    /// cache starts warm (off by default: caches refill on demand).
    pub warm_proxies: bool,
    /// Only these repositories (all docker repositories when empty).
    pub repositories: Vec<String>,
    /// How often a progress line is printed.
    pub progress_every: Duration,
}
