//! Several nodes, one of each: the cluster locks and leases of `berth::meta::ClusterLocks`
//! on a real PostgreSQL, and what they coordinate, seen from outside a cluster of real
//! nodes (`common::cluster`: PostgreSQL + Garage + N Berth processes):
//! - `locks`: the lock trait itself (shared / exclusive / lease, release on drop, on a
//!   session's end, and the always-granted SQLite case);
//! - `gc`: garbage collection on one node while another pushes; one collection per store
//!   in the cluster; a push while PostgreSQL is down gets 503;
//! - `tasks`: scheduled tasks run on one node, and another takes over from a killed one;
//! - `usage`: request counts of every node add up;
//! - `proxy`: concurrent misses for one blob on two nodes make one upstream download.

#[path = "../common/mod.rs"]
mod common;

mod gc;
mod locks;
mod proxy;
mod tasks;
mod usage;

use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::TestApp;

/// Polls `check` every 200 ms until it gives `Some`, for at most `within`; panics with
/// `what` (and the nodes' logs) if it never does.
pub async fn eventually<T, F, Fut>(cluster: &Cluster, within: Duration, what: &str, check: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what} not within {within:?}\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The value of metric `name` with `labels` on `node` (0 when absent).
pub async fn metric(node: &TestApp, name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = common::metrics::scrape(node).await;
    common::metrics::value(&text, name, labels).unwrap_or(0.0)
}
