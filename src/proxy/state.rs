//! The bookkeeping of one proxy repository (all in memory: after a restart every cached
//! tag is revalidated once and the negative cache starts empty, which only costs a HEAD).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use serde::Serialize;
use tokio::sync::watch;

use super::config::ProxyConfig;
use super::upstream::Upstream;
use super::UpstreamError;
use crate::oci::Digest;

/// Consecutive failures after which an auto-blocking proxy stops calling its upstream.
const AUTO_BLOCK_AFTER: u32 = 3;
/// First back-off period; doubled on each failed probe, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Result of a blob download shared with the requests that waited for it: the committed
/// size, or why nothing was cached.
pub type DownloadOutcome = Result<u64, UpstreamError>;

/// How far a download has got, for the requests that follow it.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// The temp file being written (set once the upstream answered).
    pub path: Option<std::path::PathBuf>,
    /// The size the upstream announced.
    pub size: Option<u64>,
    /// Bytes written to the temp file and hashed; safe to read.
    pub written: u64,
    /// Set when the download ended: the committed size, or why nothing was cached.
    pub outcome: Option<DownloadOutcome>,
}

/// The caller's role for one digest: the first miss downloads, the others follow it.
pub enum Download {
    Leader(watch::Sender<Progress>),
    Follower(watch::Receiver<Progress>),
}

#[derive(Default)]
struct Health {
    consecutive_failures: u32,
    blocked_until: Option<Instant>,
    backoff: Option<Duration>,
    last_error: Option<String>,
}

/// What the admin API and metrics show about the upstream.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyStatus {
    /// `READY`, `BLOCKED` (by the operator) or `AUTO_BLOCKED`.
    pub status: &'static str,
    /// Seconds until an auto-blocked upstream is tried again.
    pub retry_in_secs: Option<u64>,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
}

pub struct ProxyState {
    pub repository: String,
    config: RwLock<Arc<ProxyConfig>>,
    upstream: RwLock<Arc<Upstream>>,
    health: Mutex<Health>,
    /// `<image>:<tag>` → when the upstream last confirmed the cached digest.
    fresh_tags: DashMap<String, Instant>,
    /// `<image>@<reference>` → until when "the upstream does not have it" is believed.
    missing: DashMap<String, Instant>,
    downloads: Mutex<HashMap<Digest, watch::Receiver<Progress>>>,
}

impl ProxyState {
    pub fn new(repository: &str, config: &ProxyConfig) -> Result<Self, UpstreamError> {
        Ok(ProxyState {
            repository: repository.to_string(),
            config: RwLock::new(Arc::new(config.clone())),
            upstream: RwLock::new(Arc::new(Upstream::new(config)?)),
            health: Mutex::new(Health::default()),
            fresh_tags: DashMap::new(),
            missing: DashMap::new(),
            downloads: Mutex::new(HashMap::new()),
        })
    }

    /// Takes a changed definition. Cached freshness is forgotten, since the remote or its
    /// ages may have changed; an operator's change also lifts an auto-block.
    pub fn update(&self, config: &ProxyConfig) -> Result<(), UpstreamError> {
        let upstream = Upstream::new(config)?;
        *self.upstream.write().unwrap() = Arc::new(upstream);
        *self.config.write().unwrap() = Arc::new(config.clone());
        self.fresh_tags.clear();
        self.missing.clear();
        *self.health.lock().unwrap() = Health::default();
        super::metrics::set_blocked(&self.repository, config.blocked);
        Ok(())
    }

    pub fn config(&self) -> Arc<ProxyConfig> {
        self.config.read().unwrap().clone()
    }

    pub fn upstream(&self) -> Arc<Upstream> {
        self.upstream.read().unwrap().clone()
    }

    /// Whether the upstream may be called now.
    pub fn check_callable(&self) -> Result<(), UpstreamError> {
        let config = self.config();
        if config.blocked {
            return Err(UpstreamError::Blocked(format!(
                "upstream {} is blocked by the repository settings",
                config.remote_url
            )));
        }
        let health = self.health.lock().unwrap();
        match health.blocked_until {
            Some(until) if until > Instant::now() => Err(UpstreamError::Blocked(format!(
                "upstream {} is auto-blocked for {} s after {} consecutive failures (last: {})",
                config.remote_url,
                until.saturating_duration_since(Instant::now()).as_secs() + 1,
                health.consecutive_failures,
                health.last_error.as_deref().unwrap_or("unknown")
            ))),
            _ => Ok(()),
        }
    }

    pub fn record_success(&self) {
        let mut health = self.health.lock().unwrap();
        if health.consecutive_failures > 0 || health.blocked_until.is_some() {
            *health = Health::default();
            super::metrics::set_blocked(&self.repository, false);
        }
    }

    /// Counts a failure; blocks the upstream for a back-off period when auto-block is on and
    /// failures keep coming.
    pub fn record_failure(&self, error: &UpstreamError) {
        super::metrics::upstream_error(&self.repository);
        if !error.counts_as_failure() {
            return;
        }
        let auto_block = self.config().auto_block;
        let mut health = self.health.lock().unwrap();
        health.consecutive_failures += 1;
        health.last_error = Some(error.to_string());
        if auto_block && health.consecutive_failures >= AUTO_BLOCK_AFTER {
            let backoff = health
                .backoff
                .map_or(FIRST_BACKOFF, |b| (b * 2).min(MAX_BACKOFF));
            health.backoff = Some(backoff);
            health.blocked_until = Some(Instant::now() + backoff);
            tracing::warn!(
                repository = %self.repository,
                failures = health.consecutive_failures,
                backoff_secs = backoff.as_secs(),
                error = %error,
                "upstream auto-blocked"
            );
            super::metrics::set_blocked(&self.repository, true);
        }
    }

    pub fn status(&self) -> ProxyStatus {
        let config = self.config();
        let health = self.health.lock().unwrap();
        let retry_in = health
            .blocked_until
            .map(|u| u.saturating_duration_since(Instant::now()))
            .filter(|d| !d.is_zero());
        let status = if config.blocked {
            "BLOCKED"
        } else if retry_in.is_some() {
            "AUTO_BLOCKED"
        } else {
            "READY"
        };
        ProxyStatus {
            status,
            retry_in_secs: retry_in.map(|d| d.as_secs() + 1),
            consecutive_failures: health.consecutive_failures,
            last_error: health.last_error.clone(),
        }
    }

    /// Whether the cached `image:tag` was confirmed within the metadata max age.
    pub fn tag_is_fresh(&self, image: &str, tag: &str) -> bool {
        let max_age = self.config().metadata_max_age_secs;
        if max_age < 0 {
            return true;
        }
        self.fresh_tags
            .get(&format!("{image}:{tag}"))
            .is_some_and(|at| at.elapsed() < Duration::from_secs(max_age as u64))
    }

    pub fn mark_fresh(&self, image: &str, tag: &str) {
        self.fresh_tags
            .insert(format!("{image}:{tag}"), Instant::now());
    }

    /// Whether the upstream said recently that it does not have `image@reference`.
    pub fn known_missing(&self, image: &str, reference: &str) -> bool {
        let key = format!("{image}@{reference}");
        match self.missing.get(&key).map(|e| *e) {
            Some(until) if until > Instant::now() => true,
            Some(_) => {
                self.missing.remove(&key);
                false
            }
            None => false,
        }
    }

    pub fn remember_missing(&self, image: &str, reference: &str) {
        let config = self.config();
        if config.negative_cache && config.negative_cache_ttl_secs > 0 {
            let until = Instant::now() + Duration::from_secs(config.negative_cache_ttl_secs);
            self.missing.insert(format!("{image}@{reference}"), until);
        }
    }

    /// Joins the download of `digest` in flight, or becomes the one that downloads it (and
    /// must then call [`Self::end_download`]).
    pub fn begin_download(&self, digest: &Digest) -> Download {
        let mut downloads = self.downloads.lock().unwrap();
        if let Some(rx) = downloads.get(digest) {
            // A closed channel is a leader whose request was dropped before its download
            // task started: take over rather than wait forever.
            if rx.has_changed().is_ok() {
                return Download::Follower(rx.clone());
            }
        }
        let (tx, rx) = watch::channel(Progress::default());
        downloads.insert(digest.clone(), rx);
        Download::Leader(tx)
    }

    /// Ends the download of `digest` and tells its followers how it went.
    pub fn end_download(
        &self,
        digest: &Digest,
        leader: watch::Sender<Progress>,
        outcome: DownloadOutcome,
    ) {
        self.downloads.lock().unwrap().remove(digest);
        leader.send_modify(|p| p.outcome = Some(outcome));
    }
}

impl std::fmt::Debug for ProxyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyState")
            .field("repository", &self.repository)
            .field("status", &self.status())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(auto_block: bool) -> ProxyState {
        let mut config = ProxyConfig::new("http://127.0.0.1:9");
        config.auto_block = auto_block;
        ProxyState::new("hub", &config).unwrap()
    }

    #[test]
    fn three_failures_block_the_upstream_and_a_success_clears_it() {
        let s = state(true);
        let down = UpstreamError::Unavailable("down".into());
        s.record_failure(&down);
        s.record_failure(&down);
        assert!(s.check_callable().is_ok());
        s.record_failure(&down);
        assert!(matches!(s.check_callable(), Err(UpstreamError::Blocked(_))));
        assert_eq!(s.status().status, "AUTO_BLOCKED");
        s.record_success();
        assert!(s.check_callable().is_ok());
        assert_eq!(s.status().status, "READY");
    }

    #[test]
    fn not_found_does_not_count_and_auto_block_can_be_off() {
        let s = state(true);
        for _ in 0..5 {
            s.record_failure(&UpstreamError::NotFound);
        }
        assert!(s.check_callable().is_ok());
        let s = state(false);
        for _ in 0..5 {
            s.record_failure(&UpstreamError::Unavailable("down".into()));
        }
        assert!(s.check_callable().is_ok());
    }

    #[test]
    fn an_abandoned_download_is_taken_over() {
        let s = state(true);
        let digest = crate::oci::Digest::of_bytes(crate::oci::Algorithm::Sha256, b"x");
        let Download::Leader(tx) = s.begin_download(&digest) else {
            panic!("first is the leader")
        };
        assert!(matches!(s.begin_download(&digest), Download::Follower(_)));
        drop(tx);
        assert!(matches!(s.begin_download(&digest), Download::Leader(_)));
    }
}
