//! Proxy metrics (names described once at start by `crate::metrics`). Labels: the
//! repository name (bounded by configuration) and a fixed `result` set.

use metrics::{counter, describe_counter, describe_gauge, gauge};

/// Proxy reads by result: `hit` (cached, fresh), `miss` (fetched from the upstream),
/// `revalidated` (tag confirmed by a HEAD), `stale` (cached copy served because the
/// upstream failed or is blocked), `error` (nothing cached and the upstream failed).
pub const PROXY_REQUESTS: &str = "berth_proxy_requests_total";
/// Failed upstream calls.
pub const PROXY_UPSTREAM_ERRORS: &str = "berth_proxy_upstream_errors_total";
/// Upstream blob downloads started (one per coalesced set of misses).
pub const PROXY_DOWNLOADS: &str = "berth_proxy_upstream_downloads_total";
/// 1 while the upstream is blocked (by the operator or auto-block).
pub const PROXY_BLOCKED: &str = "berth_proxy_upstream_blocked";
/// Requests sent to upstreams (every URL tried counts).
pub const PROXY_UPSTREAM_REQUESTS: &str = "berth_proxy_upstream_requests_total";
/// Upstream requests not sent, by `reason`: `hit` (served from the cache), `coalesced`
/// (joined another request's download), `revalidation_skipped` (a tag revalidation dropped
/// to save the upstream's budget).
pub const PROXY_SAVED: &str = "berth_proxy_upstream_requests_saved_total";
/// Docker Hub's `ratelimit-limit` / `ratelimit-remaining`, as last announced.
pub const PROXY_RATELIMIT_LIMIT: &str = "berth_proxy_upstream_ratelimit_limit";
pub const PROXY_RATELIMIT_REMAINING: &str = "berth_proxy_upstream_ratelimit_remaining";

pub fn describe() {
    describe_counter!(PROXY_REQUESTS, "Proxy repository reads by cache result");
    describe_counter!(PROXY_UPSTREAM_ERRORS, "Failed calls to proxy upstreams");
    describe_counter!(PROXY_DOWNLOADS, "Blob downloads from proxy upstreams");
    describe_gauge!(PROXY_BLOCKED, "1 while a proxy's upstream is blocked");
    describe_counter!(PROXY_UPSTREAM_REQUESTS, "Requests sent to proxy upstreams");
    describe_counter!(
        PROXY_SAVED,
        "Upstream requests a proxy did not send (cache hit, coalesced, revalidation skipped)"
    );
    describe_gauge!(
        PROXY_RATELIMIT_LIMIT,
        "Request limit the upstream announced (ratelimit-limit)"
    );
    describe_gauge!(
        PROXY_RATELIMIT_REMAINING,
        "Requests left that the upstream announced (ratelimit-remaining)"
    );
}

pub fn upstream_request(repository: &str) {
    counter!(PROXY_UPSTREAM_REQUESTS, "repository" => repository.to_string()).increment(1);
}

pub fn saved(repository: &str, reason: &'static str) {
    counter!(PROXY_SAVED, "repository" => repository.to_string(), "reason" => reason).increment(1);
}

pub fn ratelimit(repository: &str, budget: super::upstream::RateLimit) {
    gauge!(PROXY_RATELIMIT_LIMIT, "repository" => repository.to_string()).set(budget.limit as f64);
    gauge!(PROXY_RATELIMIT_REMAINING, "repository" => repository.to_string())
        .set(budget.remaining as f64);
}

pub fn request(repository: &str, result: &'static str) {
    counter!(PROXY_REQUESTS, "repository" => repository.to_string(), "result" => result)
        .increment(1);
}

pub fn upstream_error(repository: &str) {
    counter!(PROXY_UPSTREAM_ERRORS, "repository" => repository.to_string()).increment(1);
}

pub fn download_started(repository: &str) {
    counter!(PROXY_DOWNLOADS, "repository" => repository.to_string()).increment(1);
}

pub fn set_blocked(repository: &str, blocked: bool) {
    gauge!(PROXY_BLOCKED, "repository" => repository.to_string()).set(if blocked {
        1.0
    } else {
        0.0
    });
}
