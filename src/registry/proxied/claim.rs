//! One upstream download per blob for the whole cluster: after the in-process coalescing
//! (one download per node, [`super::blobs`]), the node about to download takes the lease
//! `proxy:<repository>:<digest>` (`meta::ClusterLocks`). The holder downloads and caches as
//! one node alone would. A node that finds the lease taken waits for the holder: it polls
//! the shared blob store every [`POLL`] and, once the blob is committed there, links it into
//! its image like a mount and serves it from the store.
//!
//! Coalescing saves upstream budget; it must never cost a pull. So when no lock connection
//! is free within [`ASK`], the database cannot be asked, or the holder has not cached the
//! blob within [`WAIT`] (a slow or stuck download elsewhere), the node downloads itself. A
//! holder that dies releases the lease with its database session; a waiter then takes it
//! over at its next poll.

use std::time::Duration;

use tokio::time::{sleep, timeout, Instant};

use super::super::{Hosted, RegistryError};
use crate::meta::Held;
use crate::oci::{Digest, ImageName};
use crate::proxy::metrics as pm;
use crate::proxy::ProxyState;

/// How long a node waits for a lock connection before it downloads without the lease.
const ASK: Duration = Duration::from_millis(500);
/// How often a waiting node looks for the blob another node is caching.
const POLL: Duration = Duration::from_millis(150);
/// How long a node waits for another node's download before it downloads itself.
const WAIT: Duration = Duration::from_secs(60);

/// What this node does about an uncached blob.
pub(super) enum Claim {
    /// Download it: holding the cluster lease, or without it (degraded).
    Download(Option<Held>),
    /// Another node cached it meanwhile; it is linked here now, with this size.
    Cached(u64),
}

/// Decides who downloads `digest` for the cluster (see the module header).
pub(super) async fn claim(
    repo: &Hosted,
    proxy: &ProxyState,
    name: &ImageName,
    digest: &Digest,
) -> Result<Claim, RegistryError> {
    let lease = format!("proxy:{}:{digest}", proxy.repository);
    let deadline = Instant::now() + WAIT;
    loop {
        match ask(repo, &lease).await {
            Asked::Granted(held) => {
                // The previous holder may have finished just before: no second download.
                return Ok(match repo.adopt_blob(name, digest).await? {
                    Some(size) => Claim::Cached(size),
                    None => Claim::Download(Some(held)),
                });
            }
            Asked::Unanswered => return Ok(Claim::Download(None)),
            Asked::Taken => {}
        }
        if Instant::now() >= deadline {
            tracing::warn!(repository = %proxy.repository, %digest, "another node's download of the blob did not finish in time; downloading it here");
            return Ok(Claim::Download(None));
        }
        sleep(POLL).await;
        if let Some(size) = repo.adopt_blob(name, digest).await? {
            pm::saved(&proxy.repository, "cluster");
            return Ok(Claim::Cached(size));
        }
    }
}

enum Asked {
    Granted(Held),
    Taken,
    /// No lock connection free in time, or the database failed: go without the lease.
    Unanswered,
}

async fn ask(repo: &Hosted, lease: &str) -> Asked {
    match timeout(ASK, repo.cluster_locks().try_lease(lease)).await {
        Ok(Ok(Some(held))) => Asked::Granted(held),
        Ok(Ok(None)) => Asked::Taken,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot ask for a proxy download lease; downloading without it");
            Asked::Unanswered
        }
        Err(_) => Asked::Unanswered,
    }
}
