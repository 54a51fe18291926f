//! The metadata layer: what Berth knows besides blob bytes (images, manifests, tags, blob
//! links, definitions, usage, security records).
//!
//! Consumers depend on narrow traits, one per consumer, never on a database driver:
//! - [`ImageRecords`]: repository actors (manifests, tags, blob links of images).
//! - [`Documents`]: definitions kept as one JSON document per key (repositories, blob
//!   stores, cleanup policies, tasks); [`Meta`] adds typing and secret sealing on top.
//! - [`GcQueries`]: garbage collection's mark and sweep.
//! - [`UsageRecords`]: the usage window's hourly counters and the component count.
//! - [`Reports`]: read-only listings and totals (admin browse, `/metrics`, store usage).
//! - [`CleanupQueries`]: facts cleanup policies evaluate, and pull times.
//! - [`SecurityRecords`]: users, roles, privileges and security settings.
//! - [`Activity`]: who pushed a tag, pulls per day, one image's tags a page at a time.
//! - [`ClusterLocks`]: locks and leases shared by the nodes of a cluster (`locks`).
//! - [`Changes`]: other nodes' changes to what this node caches (`changes.rs`).
//!
//! [`Meta`] is the handle startup builds from a [`Location`] (a SQLite file, the default, or
//! a PostgreSQL URL) and hands down; each consumer keeps only the trait it needs. Backends
//! live in submodules (`sqlite`, `postgres`) and must pass the conformance suite in
//! `tests/meta/`.
//!
//! Every backend writes before it returns, in one transaction per call, so what the
//! database says is what clients were told.

mod activity;
mod changes;
mod error;
mod handle;
mod location;
mod locks;
mod model;
mod postgres;
mod security;
mod sqlite;

use async_trait::async_trait;

pub use crate::redact::redact_url;
pub use activity::{day_of, Activity, PullCount, TagRow, UsageDay, DAY, HISTORY_DAYS};
pub use changes::{
    Announcement, Change, ChangeSender, ChangeStream, Changes, Unsubscribed, QUEUE_BOUND,
};
pub use error::MetaError;
pub use handle::Meta;
pub use location::{Location, PgSettings};
pub use locks::{lock_key, ClusterLocks, Held, HeldLock};
pub use model::{
    BrowseKind, BrowseRow, DocKind, ImageRecord, LiveSet, ManifestRecord, NewManifest,
    ReferrersPage, SecurityTable, TagWrite, UsageHour,
};

use crate::oci::{Digest, ImageName, Tag};

/// Image records: what repository actors read and write, one image (an OCI repository name
/// inside a Berth repository) at a time.
#[async_trait]
pub trait ImageRecords: Send + Sync + std::fmt::Debug {
    /// The image's id, if it exists.
    async fn find_image(
        &self,
        repository: &str,
        name: &ImageName,
    ) -> Result<Option<i64>, MetaError>;
    /// Whether image `name` exists and holds a manifest or a blob link: what a loaded
    /// image's state would say (`ImageState::has_content`), answered by two indexed
    /// existence checks instead of loading it.
    async fn image_has_content(
        &self,
        repository: &str,
        name: &ImageName,
    ) -> Result<bool, MetaError>;
    /// The image's id, creating the image if needed.
    async fn ensure_image(&self, repository: &str, name: &ImageName) -> Result<i64, MetaError>;
    /// Everything the read path needs about one image.
    async fn load_image(&self, image_id: i64) -> Result<ImageRecord, MetaError>;
    /// Records that `store` holds `digest` and that the image may serve it (renewing the
    /// link's GC protection if it existed).
    async fn link_blob(
        &self,
        store: &str,
        image_id: i64,
        digest: &Digest,
        size: u64,
    ) -> Result<(), MetaError>;
    /// Removes the image's link to a blob; true if there was one.
    async fn unlink_blob(&self, image_id: i64, digest: &Digest) -> Result<bool, MetaError>;
    /// Manifests of the image that name blob `digest` (as config or layer), in order.
    async fn manifests_using_blob(
        &self,
        image_id: i64,
        digest: &Digest,
    ) -> Result<Vec<String>, MetaError>;
    /// The size of blob `digest` if the image links it (one primary-key lookup).
    async fn blob_link(&self, image_id: i64, digest: &Digest) -> Result<Option<u64>, MetaError>;
    /// One page of the referrers of `page.subject` in image `image` of `repository`, in
    /// digest order: one walk of an index on `(image_id, subject[, artifact_type], digest)`
    /// that stops at the page, without loading the image (the referrers API with several
    /// nodes, where each request must see other nodes' pushes).
    async fn referrers(
        &self,
        repository: &str,
        image: &ImageName,
        page: &ReferrersPage<'_>,
    ) -> Result<Vec<ManifestRecord>, MetaError>;
    /// Images of `repository` that link blob `digest`, by name, at most `limit`.
    async fn images_linking(
        &self,
        repository: &str,
        digest: &Digest,
        limit: i64,
    ) -> Result<Vec<String>, MetaError>;
    /// Stores a manifest and points every tag of `tags` at it, in one transaction (all or
    /// none). A tag written with [`TagWrite::once`] that points at another digest fails the
    /// whole call with [`MetaError::TagExists`]: the database, not only memory, refuses it.
    async fn put_manifest(
        &self,
        store: &str,
        image_id: i64,
        manifest: &NewManifest<'_>,
        tags: &[TagWrite<'_>],
    ) -> Result<(), MetaError>;
    /// Deletes a manifest and every tag pointing at it; returns the removed tags, or `None`
    /// if the manifest did not exist.
    async fn delete_manifest(
        &self,
        image_id: i64,
        digest: &Digest,
    ) -> Result<Option<Vec<String>>, MetaError>;
    /// Deletes one tag; true if it existed.
    async fn delete_tag(&self, image_id: i64, tag: &Tag) -> Result<bool, MetaError>;
    /// Names of images in `repository` holding at least one manifest, in order, after
    /// `last`, at most `limit`.
    async fn list_images(
        &self,
        repository: &str,
        last: Option<&str>,
        limit: i64,
    ) -> Result<Vec<String>, MetaError>;
    /// Whether any image (even an empty one) exists in the repository.
    async fn repository_has_images(&self, repository: &str) -> Result<bool, MetaError>;
    /// True if an index of the image lists manifest `digest`.
    async fn is_listed_by_index(&self, image_id: i64, digest: &str) -> Result<bool, MetaError>;
}

/// Definitions stored as one JSON document per key. The JSON is Berth's own model; typing
/// and sealing of secrets happen in [`Meta`], the same for every backend.
#[async_trait]
pub trait Documents: Send + Sync + std::fmt::Debug {
    /// Every document of `kind`, ordered by key.
    async fn load_documents(&self, kind: DocKind) -> Result<Vec<String>, MetaError>;
    /// Inserts or replaces the document under `key`.
    async fn save_document(&self, kind: DocKind, key: &str, json: &str) -> Result<(), MetaError>;
    /// True if the document existed.
    async fn delete_document(&self, kind: DocKind, key: &str) -> Result<bool, MetaError>;
    /// Deletes a repository's definition and its images, in one transaction (their blobs
    /// stay in the store until garbage collection).
    async fn delete_repository(&self, name: &str) -> Result<(), MetaError>;
    /// A trivial query, for readiness checks.
    async fn ping(&self) -> Result<(), MetaError>;
}

/// Garbage collection's queries. `repositories` are the repositories of one blob store.
#[async_trait]
pub trait GcQueries: Send + Sync + std::fmt::Debug {
    /// The mark phase: every manifest, everything a manifest references, and blob links
    /// made or renewed at or after `cutoff`, of the images in `repositories`.
    async fn live_digests(
        &self,
        repositories: &[String],
        cutoff: i64,
    ) -> Result<LiveSet, MetaError>;
    /// The sweep's re-check of one digest (same rule as [`GcQueries::live_digests`]).
    async fn is_live(
        &self,
        repositories: &[String],
        digest: &str,
        cutoff: i64,
    ) -> Result<bool, MetaError>;
    /// Digests and sizes the store's inventory lists.
    async fn store_blobs(&self, store: &str) -> Result<Vec<(String, u64)>, MetaError>;
    /// Removes dead blobs from the metadata in one transaction: the store's inventory rows
    /// and the links of the repositories' images. Per digest: the images that linked it as
    /// `(repository, image name)` and the inventory size (`None`: no row).
    #[allow(clippy::type_complexity)]
    async fn forget_blobs(
        &self,
        store: &str,
        repositories: &[String],
        digests: &[&str],
    ) -> Result<Vec<(Vec<(String, String)>, Option<u64>)>, MetaError>;
}

/// The usage window's persistence.
#[async_trait]
pub trait UsageRecords: Send + Sync + std::fmt::Debug {
    /// Hours starting at or after `since`, oldest first.
    async fn usage_hours(&self, since: i64) -> Result<Vec<UsageHour>, MetaError>;
    /// Adds each hour's counters to the stored ones (they are what one node counted since
    /// its last write, so nodes sharing the database sum up) and drops hours older than
    /// `keep_since`, in one transaction.
    async fn save_usage_hours(&self, hours: &[UsageHour], keep_since: i64)
        -> Result<(), MetaError>;
    /// Tagged manifests in every repository: the figure the component limit applies to.
    async fn total_components(&self) -> Result<u64, MetaError>;
}

/// Read-only listings and totals; never on a request's hot path.
#[async_trait]
pub trait Reports: Send + Sync + std::fmt::Debug {
    /// Rows of `repository` whose path sorts after `after` (byte order), at most `limit`.
    async fn browse(
        &self,
        repository: &str,
        kind: BrowseKind,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<BrowseRow>, MetaError>;
    /// Tagged manifests per repository; repositories without tags are absent.
    async fn component_counts(&self) -> Result<std::collections::HashMap<String, u64>, MetaError>;
    /// Distinct blobs linked into each repository's images: `(count, bytes)`.
    async fn repository_blob_totals(
        &self,
    ) -> Result<std::collections::HashMap<String, (u64, u64)>, MetaError>;
    /// Bytes and count of the distinct blobs and manifests a repository's images hold.
    async fn repository_usage(&self, name: &str) -> Result<(u64, u64), MetaError>;
    /// Bytes and blob count a store holds, per the metadata.
    async fn store_usage(&self, store: &str) -> Result<(u64, u64), MetaError>;
}

/// What cleanup policies are evaluated against, and the pull times they read.
#[async_trait]
pub trait CleanupQueries: Send + Sync + std::fmt::Debug {
    /// Every tag of `repository` with its times.
    async fn cleanup_tags(
        &self,
        repository: &str,
    ) -> Result<Vec<crate::model::cleanup::TagFacts>, MetaError>;
    /// Manifests of `repository` no tag points at, no index lists, that are no referrer.
    async fn cleanup_untagged(
        &self,
        repository: &str,
    ) -> Result<Vec<crate::model::cleanup::UntaggedFacts>, MetaError>;
    /// `(image, digest)` of every manifest another manifest of its image holds (listed by an
    /// index, or a referrer whose subject is present).
    async fn cleanup_children(
        &self,
        repository: &str,
    ) -> Result<std::collections::BTreeSet<(String, String)>, MetaError>;
    /// Records pulls `(repository, image, tag, unix seconds)` in one transaction; a time
    /// never moves backwards.
    async fn record_downloads(
        &self,
        downloads: &[(String, String, String, i64)],
    ) -> Result<(), MetaError>;
}

/// The security model's records: one JSON document per user, role, custom privilege and
/// setting. Typed access is in `security.rs` (`impl dyn SecurityRecords`).
#[async_trait]
pub trait SecurityRecords: Send + Sync + std::fmt::Debug {
    async fn load_records(&self, table: SecurityTable) -> Result<Vec<String>, MetaError>;
    async fn get_record(
        &self,
        table: SecurityTable,
        key: &str,
    ) -> Result<Option<String>, MetaError>;
    async fn put_record(
        &self,
        table: SecurityTable,
        key: &str,
        json: &str,
    ) -> Result<(), MetaError>;
    async fn delete_record(&self, table: SecurityTable, key: &str) -> Result<(), MetaError>;
}

/// Everything a backend implements; [`Meta::from_backend`] takes one.
pub trait Backend:
    ImageRecords
    + Documents
    + GcQueries
    + UsageRecords
    + Reports
    + CleanupQueries
    + SecurityRecords
    + Activity
    + ClusterLocks
    + Changes
{
}

impl<T> Backend for T where
    T: ImageRecords
        + Documents
        + GcQueries
        + UsageRecords
        + Reports
        + CleanupQueries
        + SecurityRecords
        + Activity
        + ClusterLocks
        + Changes
{
}
