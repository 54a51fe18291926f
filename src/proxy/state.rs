//! The bookkeeping of one proxy repository (all in memory: after a restart every cached
//! tag is revalidated once and the negative cache starts empty, which only costs a HEAD).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use dashmap::DashMap;
use serde::Serialize;
use tokio::sync::watch;

use super::config::ProxyConfig;
use super::mirrors::{Upstreams, UrlStatus};
use super::UpstreamError;
use crate::oci::Digest;

/// The push limit's default, for a state built without settings (unit tests).
const DEFAULT_MANIFEST_MAX: usize = 4 << 20;

/// Result of a blob download shared with the requests that waited for it: the committed
/// size, or why nothing was cached.
pub type DownloadOutcome = Result<u64, UpstreamError>;

/// How far a download has got, for the requests that follow it.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// Reads what the download has staged so far (set once the upstream answered).
    pub tail: Option<Arc<dyn crate::storage::StagedTail>>,
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

/// What the admin API and metrics show about the upstream.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyStatus {
    /// `READY` (some URL may be called), `BLOCKED` (by the operator), or, when no URL may
    /// be called, `AUTO_BLOCKED` or `RATE_LIMITED` (paused by a `429`).
    pub status: &'static str,
    /// Seconds until an unusable upstream is tried again (the soonest of its URLs).
    pub retry_in_secs: Option<u64>,
    /// Of the remote URL.
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    /// Every URL in the order tried: the mirrors, then the remote.
    pub upstreams: Vec<UrlStatus>,
}

pub struct ProxyState {
    pub repository: String,
    config: RwLock<Arc<ProxyConfig>>,
    upstreams: RwLock<Arc<Upstreams>>,
    /// `<image>:<tag>` → when the upstream last confirmed the cached digest (monotonic, for
    /// the max age; wall clock, for the `Age` and last-validated headers). Manifests by
    /// digest are keyed `<image>@<digest>` (when they were fetched).
    fresh_tags: DashMap<String, (Instant, SystemTime)>,
    /// `<image>@<reference>` → until when "the upstream does not have it" is believed.
    missing: DashMap<String, Instant>,
    downloads: Mutex<HashMap<Digest, watch::Receiver<Progress>>>,
    /// Blob sizes announced by the manifests fetched, for downloads without a length.
    pub expected_sizes: super::expected::ExpectedSizes,
    /// The largest manifest read from the upstream (`limits.manifest_max_bytes`).
    manifest_max_bytes: usize,
}

impl ProxyState {
    pub fn new(repository: &str, config: &ProxyConfig) -> Result<Self, UpstreamError> {
        Ok(ProxyState {
            repository: repository.to_string(),
            config: RwLock::new(Arc::new(config.clone())),
            upstreams: RwLock::new(Arc::new(Upstreams::new(repository, config)?)),
            fresh_tags: DashMap::new(),
            missing: DashMap::new(),
            downloads: Mutex::new(HashMap::new()),
            expected_sizes: Default::default(),
            manifest_max_bytes: DEFAULT_MANIFEST_MAX,
        })
    }

    /// Sets the largest manifest read from the upstream (the push limit,
    /// `limits.manifest_max_bytes`).
    pub fn with_manifest_max_bytes(mut self, max: usize) -> Self {
        self.manifest_max_bytes = max;
        self
    }

    pub fn manifest_max_bytes(&self) -> usize {
        self.manifest_max_bytes
    }

    /// Takes a changed definition. Cached freshness is forgotten, since the remote or its
    /// ages may have changed; an operator's change also lifts an auto-block.
    pub fn update(&self, config: &ProxyConfig) -> Result<(), UpstreamError> {
        let upstreams = Upstreams::new(&self.repository, config)?;
        *self.upstreams.write().unwrap() = Arc::new(upstreams);
        *self.config.write().unwrap() = Arc::new(config.clone());
        self.fresh_tags.clear();
        self.missing.clear();
        super::metrics::set_blocked(&self.repository, config.blocked);
        Ok(())
    }

    pub fn config(&self) -> Arc<ProxyConfig> {
        self.config.read().unwrap().clone()
    }

    /// The upstream URLs, their health and their shared budget.
    pub fn upstreams(&self) -> Arc<Upstreams> {
        self.upstreams.read().unwrap().clone()
    }

    /// Whether the upstream may be called now (some URL of it).
    pub fn check_callable(&self) -> Result<(), UpstreamError> {
        self.upstreams().check_callable()
    }

    pub fn status(&self) -> ProxyStatus {
        let config = self.config();
        let upstreams = self.upstreams().status();
        let remote = upstreams.last().expect("the remote URL is always there");
        let usable = upstreams.iter().any(|u| u.status == "READY");
        let status = if config.blocked {
            "BLOCKED"
        } else if usable {
            "READY"
        } else if upstreams.iter().any(|u| u.status == "RATE_LIMITED") {
            "RATE_LIMITED"
        } else {
            "AUTO_BLOCKED"
        };
        ProxyStatus {
            status,
            retry_in_secs: if usable {
                None
            } else {
                upstreams.iter().filter_map(|u| u.retry_in_secs).min()
            },
            consecutive_failures: remote.consecutive_failures,
            last_error: remote.last_error.clone(),
            upstreams,
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
            .is_some_and(|at| at.0.elapsed() < Duration::from_secs(max_age as u64))
    }

    /// Notes that the upstream just sent or confirmed `image` `reference` (`:tag` or
    /// `@digest`, as [`crate::oci::Reference`] prints after the image name).
    pub fn mark_validated(&self, image: &str, reference: &str) {
        self.fresh_tags.insert(
            validated_key(image, reference),
            (Instant::now(), SystemTime::now()),
        );
    }

    /// Makes the next read of `image:tag` ask the upstream (a warm run re-checking tags).
    pub fn forget_fresh(&self, image: &str, tag: &str) {
        self.fresh_tags.remove(&validated_key(image, tag));
    }

    pub fn mark_fresh(&self, image: &str, tag: &str) {
        self.mark_validated(image, tag);
    }

    /// When the upstream last sent or confirmed `image` `reference`, if Berth knows.
    pub fn validated_at(&self, image: &str, reference: &str) -> Option<SystemTime> {
        self.fresh_tags
            .get(&validated_key(image, reference))
            .map(|e| e.1)
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

/// `image:tag` or `image@digest`.
fn validated_key(image: &str, reference: &str) -> String {
    if reference.contains(':') {
        format!("{image}@{reference}")
    } else {
        format!("{image}:{reference}")
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

    #[tokio::test]
    async fn a_dead_mirror_is_skipped_and_blocked_on_its_own() {
        let mut config = ProxyConfig::new("http://127.0.0.1:9");
        config.mirror_urls = vec!["http://127.0.0.1:10".into()];
        let s = ProxyState::new("hub", &config).unwrap();
        for _ in 0..3 {
            let r = s
                .upstreams()
                .request(
                    super::super::budget::Priority::Fetch,
                    reqwest::Method::GET,
                    "x",
                    "manifests/y",
                    None,
                )
                .await;
            assert!(matches!(r, Err(UpstreamError::Unavailable(_))));
        }
        let status = s.status();
        assert_eq!(status.status, "AUTO_BLOCKED");
        assert_eq!(status.upstreams.len(), 2);
        assert_eq!(status.upstreams[0].url, "http://127.0.0.1:10");
        assert!(status.upstreams.iter().all(|u| u.status == "AUTO_BLOCKED"));
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
