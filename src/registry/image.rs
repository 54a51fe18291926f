//! The in-memory state of one image (an OCI repository name inside a Berth repository).
//!
//! Loaded once from the metadata store by the repository actor, then mutated only by that
//! actor, after the database write succeeded. Reads (every GET and HEAD) use it directly
//! without touching the database: a warm manifest GET by tag is two map lookups.

use std::collections::{BTreeMap, HashMap};
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
}

/// One page of tags, and whether more follow.
pub struct TagPage {
    pub tags: Vec<String>,
    pub more: bool,
}

impl ImageState {
    pub fn new(id: i64, name: ImageName, record: ImageRecord) -> Self {
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
        }
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
        let mut iter = tags
            .keys()
            .filter(|t| last.is_none_or(|l| t.as_str() > l))
            .cloned();
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
        self.tags.write().unwrap().insert(tag.to_string(), digest);
    }

    pub(super) fn remove_tag(&self, tag: &str) -> bool {
        self.tags.write().unwrap().remove(tag).is_some()
    }

    pub(super) fn insert_manifest(&self, record: ManifestRecord) {
        let digest = record.digest.clone();
        self.manifests
            .write()
            .unwrap()
            .insert(digest, Arc::new(record));
    }

    pub(super) fn remove_manifest(&self, digest: &Digest, tags: &[String]) {
        self.manifests.write().unwrap().remove(digest);
        let mut all = self.tags.write().unwrap();
        for t in tags {
            all.remove(t);
        }
    }

    pub(super) fn link_blob(&self, digest: Digest, size: u64) {
        self.blobs.write().unwrap().insert(digest, size);
    }

    pub(super) fn unlink_blob(&self, digest: &Digest) {
        self.blobs.write().unwrap().remove(digest);
    }
}

/// Media type of the referrers response.
pub const REFERRERS_MEDIA_TYPE: &str = OCI_INDEX;
