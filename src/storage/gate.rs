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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use crate::oci::Digest;

/// Coordination between the write path and garbage collection of one store.
#[derive(Debug, Default)]
pub struct GcGate {
    references: Arc<RwLock<()>>,
    epoch: Arc<AtomicU64>,
    touched: DashMap<Digest, i64>,
    /// Held for the whole of one collection, so two never run on one store at once.
    pub running: tokio::sync::Mutex<()>,
}

impl GcGate {
    /// Held by an operation that is creating references to blobs of this store.
    pub async fn referencing(&self) -> OwnedRwLockReadGuard<()> {
        self.references.clone().read_owned().await
    }

    /// Held by the sweep while it re-checks and deletes one batch.
    pub async fn sweeping(&self) -> SweepGuard {
        let lock = self.references.clone().write_owned().await;
        self.epoch.fetch_add(1, Ordering::SeqCst);
        SweepGuard {
            _lock: lock,
            epoch: self.epoch.clone(),
        }
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
    _lock: OwnedRwLockWriteGuard<()>,
    epoch: Arc<AtomicU64>,
}

impl Drop for SweepGuard {
    fn drop(&mut self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }
}
