//! The in-memory state of one image (an OCI repository name inside a Berth repository).
//!
//! Loaded once from the metadata store by the repository actor, then mutated only by that
//! actor, after the database write succeeded. Reads (every GET and HEAD) use it directly
//! without touching the database: a warm manifest GET by tag is two map lookups.
//!
//! Each state keeps an estimate of the memory it holds (see [`ImageState::bytes`]) and the
//! tick of its last use, which the bounded image cache (`registry/image_cache.rs`) uses to
//! evict least recently used images across all repositories.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, RwLock};

use crate::meta::{ImageRecord, ManifestRecord};
use crate::oci::manifest::OCI_INDEX;
use crate::oci::{Digest, ImageName};

/// One image's tags, manifests and blob links.
#[derive(Debug)]
pub struct ImageState {
    pub id: i64,
    pub name: ImageName,
    tags: RwLock<BTreeMap<String, Digest>>,
    manifests: RwLock<HashMap<Digest, Arc<ManifestRecord>>>,
    blobs: RwLock<HashMap<Digest, u64>>,
    /// Estimated heap bytes held (see the `*_COST` constants); kept current by every
    /// mutation, so the cache can charge a growing image without walking it.
    bytes: AtomicUsize,
    /// The cache's tick when this image was last read (see `ImageCache::get`).
    pub(super) last_used: AtomicU64,
    /// What the cache charged for this image, while it is in a cache map; changed only
    /// under the cache's ledger lock.
    pub(super) charged: AtomicUsize,
    pub(super) cached: AtomicBool,
}

/// Estimated bytes of one loaded image besides its entries (the state, its maps, the
/// cache map's entry). The costs per entry add the container's own overhead (B-tree or
/// hash-table slot, `Arc` and allocator headers) to the strings' lengths; they were
/// checked against RSS at 100,000 tags (see README, "Bounded image cache").
const IMAGE_COST: usize = 640;
const TAG_COST: usize = 96;
const MANIFEST_COST: usize = 224;
const BLOB_COST: usize = 64;

fn tag_cost(tag: &str, digest: &Digest) -> usize {
    TAG_COST + tag.len() + digest.as_str().len()
}

fn manifest_cost(m: &ManifestRecord) -> usize {
    MANIFEST_COST
        + 2 * m.digest.as_str().len()
        + m.media_type.len()
        + m.artifact_type.as_ref().map_or(0, |a| a.len())
        + m.subject.as_ref().map_or(0, |d| d.as_str().len())
}

fn blob_cost(digest: &Digest) -> usize {
    BLOB_COST + digest.as_str().len()
}

/// One page of tags, and whether more follow.
pub struct TagPage {
    pub tags: Vec<String>,
    pub more: bool,
}

impl ImageState {
    pub fn new(id: i64, name: ImageName, record: ImageRecord) -> Self {
        let bytes = IMAGE_COST
            + name.as_str().len()
            + record
                .tags
                .iter()
                .map(|(t, d)| tag_cost(t, d))
                .sum::<usize>()
            + record.manifests.iter().map(manifest_cost).sum::<usize>()
            + record
                .blobs
                .iter()
                .map(|(d, _)| blob_cost(d))
                .sum::<usize>();
        let manifests = record
            .manifests
            .into_iter()
            .map(|m| (m.digest.clone(), Arc::new(m)))
            .collect();
        ImageState {
            id,
            name,
            tags: RwLock::new(record.tags.into_iter().collect()),
            manifests: RwLock::new(manifests),
            blobs: RwLock::new(record.blobs.into_iter().collect()),
            bytes: AtomicUsize::new(bytes),
            last_used: AtomicU64::new(0),
            charged: AtomicUsize::new(0),
            cached: AtomicBool::new(false),
        }
    }

    /// Estimated heap bytes this image holds.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Relaxed)
    }

    /// Records a read at `tick`. A plain load, and a store only when the tick moved: a
    /// warm GET writes no shared cache line in the common case.
    pub(super) fn touch(&self, tick: u64) {
        if self.last_used.load(Relaxed) != tick {
            self.last_used.store(tick, Relaxed);
        }
    }

    fn grow(&self, by: usize) {
        self.bytes.fetch_add(by, Relaxed);
    }

    fn shrink(&self, by: usize) {
        self.bytes.fetch_sub(by, Relaxed);
    }

    pub fn tag(&self, tag: &str) -> Option<Digest> {
        self.tags.read().unwrap().get(tag).cloned()
    }

    /// The tags pointing at `digest`, in order.
    pub fn tags_of(&self, digest: &Digest) -> Vec<String> {
        let tags = self.tags.read().unwrap();
        tags.iter()
            .filter(|(_, d)| *d == digest)
            .map(|(t, _)| t.clone())
            .collect()
    }

    /// True if some tag points at `digest`.
    pub fn is_tagged(&self, digest: &Digest) -> bool {
        self.tags.read().unwrap().values().any(|d| d == digest)
    }

    pub fn manifest(&self, digest: &Digest) -> Option<Arc<ManifestRecord>> {
        self.manifests.read().unwrap().get(digest).cloned()
    }

    pub fn blob_size(&self, digest: &Digest) -> Option<u64> {
        self.blobs.read().unwrap().get(digest).copied()
    }

    pub fn has_content(&self) -> bool {
        !self.manifests.read().unwrap().is_empty() || !self.blobs.read().unwrap().is_empty()
    }

    /// Tags in lexical order after `last`, at most `limit`.
    pub fn tags_page(&self, last: Option<&str>, limit: usize) -> TagPage {
        let tags = self.tags.read().unwrap();
        // A range from `last`, not a scan: a page deep into 10,000 tags costs one page.
        let from = last.map_or(Bound::Unbounded, Bound::Excluded);
        let mut iter = tags
            .range::<str, _>((from, Bound::Unbounded))
            .map(|(t, _)| t.clone());
        let page: Vec<String> = iter.by_ref().take(limit).collect();
        TagPage {
            more: iter.next().is_some(),
            tags: page,
        }
    }

    /// Manifests whose subject is `subject`, optionally filtered by artifact type, with a
    /// digest after `after` (the previous page's last), in digest order so pages are stable.
    /// Only the small records are collected; the referrers API reads each page's
    /// annotations from the manifests' bytes.
    pub fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
        after: Option<&Digest>,
    ) -> Vec<Arc<ManifestRecord>> {
        let manifests = self.manifests.read().unwrap();
        let mut found: Vec<Arc<ManifestRecord>> = manifests
            .values()
            .filter(|m| m.subject.as_ref() == Some(subject))
            .filter(|m| artifact_type.is_none() || m.artifact_type.as_deref() == artifact_type)
            .filter(|m| after.is_none_or(|a| m.digest.as_str() > a.as_str()))
            .cloned()
            .collect();
        found.sort_by(|a, b| a.digest.as_str().cmp(b.digest.as_str()));
        found
    }

    pub(super) fn set_tag(&self, tag: &str, digest: Digest) {
        let cost = tag_cost(tag, &digest);
        if let Some(old) = self.tags.write().unwrap().insert(tag.to_string(), digest) {
            self.shrink(tag_cost(tag, &old));
        }
        self.grow(cost);
    }

    pub(super) fn remove_tag(&self, tag: &str) -> bool {
        let removed = self.tags.write().unwrap().remove(tag);
        if let Some(old) = &removed {
            self.shrink(tag_cost(tag, old));
        }
        removed.is_some()
    }

    pub(super) fn insert_manifest(&self, record: ManifestRecord) {
        let digest = record.digest.clone();
        let cost = manifest_cost(&record);
        let old = self
            .manifests
            .write()
            .unwrap()
            .insert(digest, Arc::new(record));
        if let Some(old) = old {
            self.shrink(manifest_cost(&old));
        }
        self.grow(cost);
    }

    pub(super) fn remove_manifest(&self, digest: &Digest, tags: &[String]) {
        if let Some(old) = self.manifests.write().unwrap().remove(digest) {
            self.shrink(manifest_cost(&old));
        }
        for t in tags {
            self.remove_tag(t);
        }
    }

    pub(super) fn link_blob(&self, digest: Digest, size: u64) {
        let cost = blob_cost(&digest);
        if self.blobs.write().unwrap().insert(digest, size).is_none() {
            self.grow(cost);
        }
    }

    pub(super) fn unlink_blob(&self, digest: &Digest) {
        if self.blobs.write().unwrap().remove(digest).is_some() {
            self.shrink(blob_cost(digest));
        }
    }
}

/// Media type of the referrers response.
pub const REFERRERS_MEDIA_TYPE: &str = OCI_INDEX;
