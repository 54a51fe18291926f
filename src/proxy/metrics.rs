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

pub fn describe() {
    describe_counter!(PROXY_REQUESTS, "Proxy repository reads by cache result");
    describe_counter!(PROXY_UPSTREAM_ERRORS, "Failed calls to proxy upstreams");
    describe_counter!(PROXY_DOWNLOADS, "Blob downloads from proxy upstreams");
    describe_gauge!(PROXY_BLOCKED, "1 while a proxy's upstream is blocked");
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
