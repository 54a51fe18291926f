//! A bounded in-memory cache of manifest bytes, keyed by digest.
//!
//! Content-addressed, so an entry can never be stale; the bound keeps memory flat as the
//! registry grows. When full the cache is cleared rather than tracked per entry: hot
//! manifests come back on the next request, and the bookkeeping stays off the read path.

use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use dashmap::DashMap;

use crate::oci::Digest;

#[derive(Debug)]
pub struct ManifestCache {
    entries: DashMap<Digest, Bytes>,
    bytes: AtomicUsize,
    capacity: usize,
}

impl ManifestCache {
    pub fn new(capacity_bytes: usize) -> Self {
        ManifestCache {
            entries: DashMap::new(),
            bytes: AtomicUsize::new(0),
            capacity: capacity_bytes,
        }
    }

    pub fn get(&self, digest: &Digest) -> Option<Bytes> {
        let found = self.entries.get(digest).map(|b| b.clone());
        crate::metrics::manifest_cache_lookup(found.is_some());
        found
    }

    /// A lookup that is not counted as a cache hit or miss (for reads that bypass the
    /// cache on a miss).
    pub fn peek(&self, digest: &Digest) -> Option<Bytes> {
        self.entries.get(digest).map(|b| b.clone())
    }

    pub fn insert(&self, digest: Digest, bytes: Bytes) {
        if bytes.len() > self.capacity / 16 {
            return;
        }
        if self.bytes.fetch_add(bytes.len(), Ordering::Relaxed) + bytes.len() > self.capacity {
            self.entries.clear();
            self.bytes.store(bytes.len(), Ordering::Relaxed);
        }
        self.entries.insert(digest, bytes);
    }
}
