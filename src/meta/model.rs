//! Values that cross the metadata seam, the same for every backend.

use std::collections::HashSet;

use crate::oci::{Digest, Tag};

/// A manifest row as loaded: what the read path needs about a manifest, kept in memory for
/// every manifest of a loaded image. Annotations are deliberately not here: they may be
/// megabytes per manifest and only the referrers API needs them, so it reads them from the
/// manifest's own bytes on demand (150 manifests with 1 MiB of annotations each once cost
/// 171 MiB of resident memory, outside the manifest cache's budget).
#[derive(Clone, Debug)]
pub struct ManifestRecord {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub artifact_type: Option<String>,
    pub subject: Option<Digest>,
}

/// A manifest to store, with what it references.
pub struct NewManifest<'a> {
    pub record: &'a ManifestRecord,
    pub blobs: &'a [Digest],
    pub children: &'a [Digest],
}

/// One tag a manifest write sets.
#[derive(Clone, Copy, Debug)]
pub struct TagWrite<'a> {
    pub tag: &'a Tag,
    /// False: the tag may be created, or re-pointed at the digest it has, but not moved
    /// (`ALLOW_ONCE`); the database checks it in the write transaction.
    pub may_move: bool,
}

impl<'a> TagWrite<'a> {
    pub fn moving(tag: &'a Tag) -> Self {
        TagWrite {
            tag,
            may_move: true,
        }
    }

    pub fn once(tag: &'a Tag) -> Self {
        TagWrite {
            tag,
            may_move: false,
        }
    }
}

/// One page of an image's referrers (manifests whose `subject` is a given digest), as the
/// referrers API asks for it.
#[derive(Clone, Copy, Debug)]
pub struct ReferrersPage<'a> {
    pub subject: &'a Digest,
    /// Only manifests of this artifact type (`artifactType=`), if given.
    pub artifact_type: Option<&'a str>,
    /// Only digests sorting after this one (the previous page's last, `last=`).
    pub after: Option<&'a Digest>,
    /// At most this many, in digest order.
    pub limit: i64,
}

/// One image's full state.
#[derive(Debug, Default)]
pub struct ImageRecord {
    pub tags: Vec<(String, Digest)>,
    pub manifests: Vec<ManifestRecord>,
    pub blobs: Vec<(Digest, u64)>,
}

/// Digests that must stay: every manifest, everything a manifest references (configs,
/// layers, index children), and blob links made or renewed at or after the cutoff.
pub type LiveSet = HashSet<String>;

/// What to list (the admin API's component and asset views, Nexus `GET /v1/components`,
/// `GET /v1/assets`).
///
/// Rows are keyed and ordered by their Nexus asset path (`/v2/<image>/manifests/<tag>`,
/// `/v2/<image>/manifests/<digest>`, `/v2/<image>/blobs/<digest>`): a path names exactly one
/// row (tags contain no `/`), so "rows after this path" is a stable continuation point even
/// while pushes continue, with no offsets to drift.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowseKind {
    /// One row per tag (a Nexus docker *component*), carrying its manifest.
    Tags,
    /// Every asset: tagged manifests, manifests by digest, and linked blobs.
    Assets,
}

/// One listed asset.
#[derive(Clone, Debug)]
pub struct BrowseRow {
    pub path: String,
    pub image: String,
    /// Set for a manifest addressed by tag.
    pub tag: Option<String>,
    pub digest: String,
    /// Manifests only; blobs have no recorded media type.
    pub media_type: Option<String>,
    pub size: u64,
    /// Seconds since the epoch: tag update, manifest push or blob link time.
    pub modified: i64,
}

/// One hour's usage counters as stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsageHour {
    /// Start of the hour, seconds since the Unix epoch.
    pub hour: i64,
    pub requests: u64,
    pub unauthorized: u64,
}

/// The kinds of definition documents ([`super::Documents`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocKind {
    Repositories,
    BlobStores,
    CleanupPolicies,
    Tasks,
}

/// The security model's record kinds ([`super::SecurityRecords`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityTable {
    Users,
    Roles,
    Privileges,
    Settings,
}
