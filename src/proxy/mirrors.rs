//! The upstream URLs of one proxy (its mirrors in order, then its remote) and the budget
//! they share. A request goes to the first URL that is not auto-blocked or paused by a
//! `429`; a URL that fails is remembered (auto-block per URL) and the next one is tried. What
//! a URL sends is verified by the caller against the digest, whichever URL it was.

use std::sync::Arc;

use reqwest::{Method, Response};
use serde::Serialize;

use super::budget::{Budget, Permit, Priority};
use super::config::ProxyConfig;
use super::health::Health;
use super::metrics as pm;
use super::upstream::Upstream;
use super::UpstreamError;

struct Mirror {
    upstream: Arc<Upstream>,
    health: Health,
}

/// A successful upstream answer, with the URL that gave it and the budget slot it holds.
pub struct Upstreamed {
    pub response: Response,
    pub upstream: Arc<Upstream>,
    pub permit: Permit,
}

/// What the admin API shows about one upstream URL.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UrlStatus {
    pub url: String,
    /// `READY`, `AUTO_BLOCKED` or `RATE_LIMITED` (paused by a `429`).
    pub status: &'static str,
    pub retry_in_secs: Option<u64>,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    /// The `ratelimit-limit` / `ratelimit-remaining` it announced last.
    pub ratelimit_limit: Option<u64>,
    pub ratelimit_remaining: Option<u64>,
}

pub struct Upstreams {
    repository: String,
    mirrors: Vec<Mirror>,
    budget: Budget,
    blocked: bool,
    auto_block: bool,
    remote_url: String,
}

impl Upstreams {
    pub fn new(repository: &str, config: &ProxyConfig) -> Result<Self, UpstreamError> {
        let mirrors = config
            .urls()
            .map(|url| {
                Ok(Mirror {
                    upstream: Arc::new(Upstream::new(config, url)?),
                    health: Health::default(),
                })
            })
            .collect::<Result<_, UpstreamError>>()?;
        Ok(Upstreams {
            repository: repository.to_string(),
            mirrors,
            budget: Budget::new(config.max_connections, config.max_requests_per_sec),
            blocked: config.blocked,
            auto_block: config.auto_block,
            remote_url: config.remote_url.clone(),
        })
    }

    /// Whether some URL may be called now; if none may, why not (the operator's block, or
    /// the first URL's auto-block or pause).
    pub fn check_callable(&self) -> Result<(), UpstreamError> {
        if self.blocked {
            return Err(UpstreamError::Blocked(format!(
                "upstream {} is blocked by the repository settings",
                self.remote_url
            )));
        }
        let mut first = None;
        for m in &self.mirrors {
            match m.health.check(m.upstream.base()) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        Err(first.expect("a proxy has at least its remote URL"))
    }

    /// Sends a request to the first URL that answers it. A `404` from a mirror is not
    /// trusted as final (it may lag the origin): the next URL is asked too.
    pub async fn request(
        &self,
        priority: Priority,
        method: Method,
        image: &str,
        suffix: &str,
        accept: Option<&str>,
    ) -> Result<Upstreamed, UpstreamError> {
        self.check_callable()?;
        let announced = self.mirrors.iter().find_map(|m| m.upstream.ratelimit());
        let Some(permit) = self.budget.acquire(priority, announced).await else {
            pm::saved(&self.repository, "revalidation_skipped");
            return Err(UpstreamError::Blocked(
                "revalidation skipped to save the upstream budget".into(),
            ));
        };
        let mut error: Option<UpstreamError> = None;
        for m in &self.mirrors {
            if let Err(e) = m.health.check(m.upstream.base()) {
                keep_worst(&mut error, e);
                continue;
            }
            pm::upstream_request(&self.repository);
            let result = m
                .upstream
                .request(method.clone(), image, suffix, accept)
                .await;
            if let Some(budget) = m.upstream.ratelimit() {
                pm::ratelimit(&self.repository, budget);
            }
            match result {
                Ok(response) => {
                    // A body proves nothing until it is verified: see `body_received`.
                    if method == Method::HEAD {
                        self.succeeded(m);
                    }
                    return Ok(Upstreamed {
                        response,
                        upstream: m.upstream.clone(),
                        permit,
                    });
                }
                Err(e) => {
                    if !matches!(e, UpstreamError::NotFound) {
                        self.failed(m, &e);
                    }
                    keep_worst(&mut error, e);
                }
            }
        }
        Err(error.expect("at least one URL was considered"))
    }

    /// Records that `upstream` sent a whole body that was verified: its failures are
    /// forgiven.
    pub fn body_received(&self, upstream: &Upstream) {
        if let Some(m) = self.find(upstream) {
            self.succeeded(m);
        }
    }

    fn find(&self, upstream: &Upstream) -> Option<&Mirror> {
        self.mirrors
            .iter()
            .find(|m| m.upstream.base() == upstream.base())
    }

    /// Records a failure of a body `upstream` was sending (truncated, wrong digest, too
    /// large) against that URL.
    pub fn body_failed(&self, upstream: &Upstream, error: &UpstreamError) {
        if let Some(m) = self.find(upstream) {
            self.failed(m, error);
        }
    }

    fn succeeded(&self, m: &Mirror) {
        if m.health.success() && !self.any_blocked() {
            pm::set_blocked(&self.repository, false);
        }
    }

    fn failed(&self, m: &Mirror, error: &UpstreamError) {
        pm::upstream_error(&self.repository);
        if let Some(backoff) = m.health.failure(error, self.auto_block) {
            tracing::warn!(
                repository = %self.repository,
                upstream = %m.upstream.base(),
                backoff_secs = backoff.as_secs(),
                error = %error,
                "upstream auto-blocked"
            );
            pm::set_blocked(&self.repository, true);
        }
    }

    fn any_blocked(&self) -> bool {
        self.mirrors.iter().any(|m| m.health.view().auto_blocked)
    }

    /// Each URL's state, in the order they are tried.
    pub fn status(&self) -> Vec<UrlStatus> {
        self.mirrors
            .iter()
            .map(|m| {
                let view = m.health.view();
                let budget = m.upstream.ratelimit();
                UrlStatus {
                    url: m.upstream.base().to_string(),
                    status: if view.auto_blocked {
                        "AUTO_BLOCKED"
                    } else if view.rate_limited {
                        "RATE_LIMITED"
                    } else {
                        "READY"
                    },
                    retry_in_secs: view.retry_in_secs,
                    consecutive_failures: view.consecutive_failures,
                    last_error: view.last_error,
                    ratelimit_limit: budget.map(|b| b.limit),
                    ratelimit_remaining: budget.map(|b| b.remaining),
                }
            })
            .collect()
    }
}

/// Of two errors, the one to report: anything but "not found" wins, since "not found" from
/// some URLs while another is down does not prove the content is missing.
fn keep_worst(kept: &mut Option<UpstreamError>, new: UpstreamError) {
    if kept.is_none() || !matches!(new, UpstreamError::NotFound) {
        *kept = Some(new);
    }
}
