//! A blob store as the registry uses it: any [`BlobStore`] backend plus what Berth tracks
//! about it whatever the backend — the garbage-collection gate and the quota counter.
//! Backends stay plain byte stores; coordination lives here, once.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{BlobStore, GcGate, StorageError};

/// One named store with its GC gate and quota. Dereferences to the backend.
#[derive(Debug)]
pub struct ManagedStore {
    backend: Arc<dyn BlobStore>,
    /// Coordination with garbage collection (see `storage::gate`).
    pub gc: GcGate,
    /// Bytes of committed blobs (from the metadata at start, then counted on publish).
    used: AtomicU64,
    /// 0 means no quota.
    soft_quota: AtomicU64,
    hard_quota: AtomicU64,
}

impl Deref for ManagedStore {
    type Target = dyn BlobStore;

    fn deref(&self) -> &Self::Target {
        &*self.backend
    }
}

impl ManagedStore {
    /// `locks` coordinate garbage collection with the other nodes sharing the metadata.
    pub fn new(backend: Arc<dyn BlobStore>, locks: Arc<dyn crate::meta::ClusterLocks>) -> Self {
        ManagedStore {
            gc: GcGate::new(backend.name(), locks),
            backend,
            used: AtomicU64::new(0),
            soft_quota: AtomicU64::new(0),
            hard_quota: AtomicU64::new(0),
        }
    }

    /// The backend, for callers that hand it on.
    pub fn backend(&self) -> &Arc<dyn BlobStore> {
        &self.backend
    }

    /// Sets the quotas (`None` = unlimited) and the bytes already stored.
    pub fn set_quota(&self, soft: Option<u64>, hard: Option<u64>, used: u64) {
        self.soft_quota.store(soft.unwrap_or(0), Ordering::Relaxed);
        self.hard_quota.store(hard.unwrap_or(0), Ordering::Relaxed);
        self.used.store(used, Ordering::Relaxed);
    }

    /// Bytes of committed blobs.
    pub fn used_bytes(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Counts `size` more bytes (a new blob was published); logs crossing the soft quota.
    pub fn count_bytes(&self, size: u64) {
        let before = self.used.fetch_add(size, Ordering::Relaxed);
        if let Some(soft) = self.soft_quota() {
            if before <= soft && before + size > soft {
                tracing::warn!(store = %self.name(), used = before + size, soft_quota = soft, "blob store is over its soft quota");
            }
        }
    }

    /// Takes `size` bytes off the used count (a blob was deleted).
    pub fn forget_bytes(&self, size: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(size))
            });
    }

    pub fn soft_quota(&self) -> Option<u64> {
        Some(self.soft_quota.load(Ordering::Relaxed)).filter(|q| *q > 0)
    }

    pub fn hard_quota(&self) -> Option<u64> {
        Some(self.hard_quota.load(Ordering::Relaxed)).filter(|q| *q > 0)
    }

    /// True when over the soft quota (reported, nothing refused).
    pub fn over_soft_quota(&self) -> bool {
        self.soft_quota().is_some_and(|q| self.used_bytes() > q)
    }

    /// Refuses new content once the hard quota is reached; reads are never affected.
    pub fn ensure_capacity(&self) -> Result<(), StorageError> {
        match self.hard_quota() {
            Some(limit) if self.used_bytes() >= limit => Err(StorageError::QuotaExceeded {
                store: self.name().to_string(),
                used: self.used_bytes(),
                limit,
            }),
            _ => Ok(()),
        }
    }

    /// Stores small content (manifests) and counts it if new.
    pub async fn put_counted(
        &self,
        digest: &crate::oci::Digest,
        bytes: bytes::Bytes,
    ) -> Result<(), StorageError> {
        let size = bytes.len() as u64;
        if self.backend.put_bytes(digest, bytes).await? {
            self.count_bytes(size);
        }
        Ok(())
    }

    /// Verifies and publishes staged content, refusing it (and discarding the bytes) when
    /// the hard quota is reached; counts it if new. Returns the blob size.
    pub async fn commit_counted(
        &self,
        staged: Box<dyn super::StagedBlob>,
        expected: &crate::oci::Digest,
    ) -> Result<u64, StorageError> {
        // Refused by the hard quota: the staged bytes go with the handle, not just the
        // request.
        self.ensure_capacity()?;
        let committed = self.backend.commit(staged, expected).await?;
        if committed.new {
            self.count_bytes(committed.size);
        }
        Ok(committed.size)
    }
}
