//! What garbage collection needs from a blob store to never delete a blob that a concurrent
//! request is about to reference (the protocol is written down in `registry::gc`).
//!
//! - `references`: a read/write lock. Every operation that makes a blob referenced (publish
//!   and link of an upload, a mount, storing a manifest and its record) holds a *read* guard
//!   from before it looks at the store until its metadata is committed. The sweep holds the
//!   *write* guard while it re-checks and deletes a small batch, so it sees each such
//!   operation either fully done or not started.
//! - `epoch`: a sequence counter, odd while a sweep batch changes links. Loading an image's
//!   state from the database (which does not take the lock, see `RepoCore::load`) retries
//!   if a batch overlapped its read, so no stale link survives in memory.
//! - `touched`: when clients last asked whether a blob exists (`HEAD`): Docker skips the
//!   upload of a layer it finds, then references it in a manifest moments later, so a blob
//!   a client just checked is protected like a fresh upload.
//!
//! Across nodes sharing one metadata database the in-process lock alone would do nothing:
//! a blob committed on node A during a sweep on node B could be deleted. So each guard also
//! holds the cluster lock `gc-gate:<store>` (`meta::ClusterLocks`, PostgreSQL advisory
//! locks; granted at once with SQLite): shared for a writer, exclusive for a sweep batch.
//! The in-process lock is kept and taken first: it is cheap, orders this node's writers
//! against its own sweep without a database round trip, and gives the one order (local,
//! then cluster) every holder follows. One collection per store runs in the cluster: the
//! lease `gc-run:<store>` ([`GcGate::start_run`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::{OwnedMutexGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use crate::meta::{ClusterLocks, Held, MetaError};
use crate::oci::Digest;

/// Coordination between the write path and garbage collection of one store.
#[derive(Debug)]
pub struct GcGate {
    /// Names the cluster locks: `gc-gate:<store>`, `gc-run:<store>`.
    store: String,
    cluster: Arc<dyn ClusterLocks>,
    references: Arc<RwLock<()>>,
    epoch: Arc<AtomicU64>,
    touched: DashMap<Digest, i64>,
    /// Held for the whole of one collection on this node (the cluster lease may be held
    /// elsewhere too: both are needed).
    running: Arc<tokio::sync::Mutex<()>>,
}

/// Why a collection could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunRefused {
    #[error("garbage collection of blob store {0} is already running")]
    AlreadyRunning(String),
    #[error(transparent)]
    Meta(#[from] MetaError),
}

/// Held by an operation creating references: the local read guard and the cluster shared
/// lock, released together on drop.
#[derive(Debug)]
pub struct ReferenceGuard {
    _cluster: Held,
    _local: OwnedRwLockReadGuard<()>,
}

/// Held for one whole collection: this node's run lock and the cluster lease.
#[derive(Debug)]
pub struct RunGuard {
    cluster: Held,
    _local: OwnedMutexGuard<()>,
}

impl RunGuard {
    /// Ends the collection: the lease is free for the next one when this returns.
    pub async fn release(self) {
        self.cluster.release().await;
    }
}

impl GcGate {
    /// The gate of store `store`, coordinating through `cluster`.
    pub fn new(store: &str, cluster: Arc<dyn ClusterLocks>) -> Self {
        GcGate {
            store: store.to_string(),
            cluster,
            references: Arc::default(),
            epoch: Arc::default(),
            touched: DashMap::new(),
            running: Arc::default(),
        }
    }

    /// Held by an operation that is creating references to blobs of this store. Fails (an
    /// unavailable database) rather than waiting without bound when the cluster lock cannot
    /// be had.
    pub async fn referencing(&self) -> Result<ReferenceGuard, MetaError> {
        let local = self.references.clone().read_owned().await;
        let cluster = self.cluster.lock_shared(&self.gate_lock()).await?;
        Ok(ReferenceGuard {
            _cluster: cluster,
            _local: local,
        })
    }

    /// Held by the sweep while it re-checks and deletes one batch.
    pub async fn sweeping(&self) -> Result<SweepGuard, MetaError> {
        let lock = self.references.clone().write_owned().await;
        let cluster = self.cluster.lock_exclusive(&self.gate_lock()).await?;
        self.epoch.fetch_add(1, Ordering::SeqCst);
        Ok(SweepGuard {
            _cluster: cluster,
            _lock: lock,
            epoch: self.epoch.clone(),
        })
    }

    /// Starts a collection: refused if one runs, on this node or any other.
    pub async fn start_run(&self) -> Result<RunGuard, RunRefused> {
        let refused = || RunRefused::AlreadyRunning(self.store.clone());
        let local = self
            .running
            .clone()
            .try_lock_owned()
            .map_err(|_| refused())?;
        let lease = format!("gc-run:{}", self.store);
        let cluster = self.cluster.try_lease(&lease).await?.ok_or_else(refused)?;
        Ok(RunGuard {
            cluster,
            _local: local,
        })
    }

    /// The locks this gate coordinates through (other users of the same store's nodes,
    /// such as proxied downloads, take their leases there too).
    pub fn cluster(&self) -> &Arc<dyn ClusterLocks> {
        &self.cluster
    }

    fn gate_lock(&self) -> String {
        format!("gc-gate:{}", self.store)
    }

    /// The current epoch; odd while a sweep batch runs.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Records that a client asked for `digest` at `now`.
    pub fn touch(&self, digest: &Digest, now: i64) {
        self.touched.insert(digest.clone(), now);
    }

    /// Whether a client asked for `digest` at or after `since`.
    pub fn touched_since(&self, digest: &Digest, since: i64) -> bool {
        self.touched.get(digest).is_some_and(|t| *t >= since)
    }

    /// Forgets touches older than `before` (they no longer protect anything).
    pub fn forget_touches_before(&self, before: i64) {
        self.touched.retain(|_, t| *t >= before);
    }
}

/// The write guard of a sweep batch; makes the epoch even again when dropped.
pub struct SweepGuard {
    // Field order is drop order: the cluster lock goes first, then the local one.
    _cluster: Held,
    _lock: OwnedRwLockWriteGuard<()>,
    epoch: Arc<AtomicU64>,
}

impl Drop for SweepGuard {
    fn drop(&mut self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }
}
