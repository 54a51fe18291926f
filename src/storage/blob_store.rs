//! The seam between the registry and where blob bytes live. Everything above `storage`
//! speaks to a [`BlobStore`]; only a backend knows paths, keys or buckets.
//!
//! Contract every backend keeps (checked by the conformance suite in `tests/storage`):
//! - Content becomes visible only through [`BlobStore::commit`] or [`BlobStore::put_bytes`],
//!   whole and verified: a reader never sees a partial blob or one whose bytes do not match
//!   its digest. A digest mismatch leaves nothing visible and the staged bytes gone.
//! - Committing the same digest twice, even concurrently, is harmless: the content is the
//!   same, and [`Committed::new`] is true for at most one of the commits.
//! - Staged uploads are invisible to [`BlobStore::list`], [`BlobStore::stat`] and
//!   [`BlobStore::open`]; dropping a [`StagedBlob`] discards its bytes, and what a crash left
//!   behind is removed by [`BlobStore::purge_staged`].
//! - Deleting a blob that is not there is `Ok(0)`, not an error.
//!
//! What the registry adds on top of any store (the GC reference lock and the quota) lives in
//! [`super::ManagedStore`], not in a backend.

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;

use super::StorageError;
use crate::oci::{Algorithm, Digest};

/// A blob store backend. Object-safe: the registry holds `Arc<dyn BlobStore>`.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + Debug {
    /// The store's configured name (`default`, `docker`, …).
    fn name(&self) -> &str;

    /// Where the store keeps its data, for messages and to tell two definitions apart
    /// (a directory for the file store, a bucket URL for an object store).
    fn location(&self) -> String;

    /// Starts staging upload `id` (an id Berth generated, never client text), hashing with
    /// `algorithm` as bytes arrive.
    async fn stage(
        &self,
        id: &str,
        algorithm: Algorithm,
    ) -> Result<Box<dyn StagedBlob>, StorageError>;

    /// Verifies staged content against `expected` and publishes it atomically under that
    /// digest. On a mismatch nothing becomes visible and the staged bytes are discarded.
    async fn commit(
        &self,
        staged: Box<dyn StagedBlob>,
        expected: &Digest,
    ) -> Result<Committed, StorageError>;

    /// Stores small content already in memory (manifests) under `digest`, which the caller
    /// computed from `bytes`. Returns whether the blob is new.
    async fn put_bytes(&self, digest: &Digest, bytes: Bytes) -> Result<bool, StorageError>;

    /// Reads a whole small blob (manifests); `NotFound` if absent.
    async fn read_bytes(&self, digest: &Digest) -> Result<Bytes, StorageError>;

    /// Opens a blob, whole or `range`, as a body the HTTP layer can serve; `NotFound` if
    /// absent. A range that starts at or past the end is `RangeInvalid`; one that runs past
    /// the end is cut at the end.
    async fn open(
        &self,
        digest: &Digest,
        range: Option<ByteRange>,
    ) -> Result<OpenedBlob, StorageError>;

    /// Size and age of a committed blob, or `None`.
    async fn stat(&self, digest: &Digest) -> Result<Option<BlobStat>, StorageError>;

    /// Every committed blob (the GC inventory). Entries whose names are not digests are
    /// skipped, never reported: only what Berth wrote is Berth's to remove.
    async fn list(&self) -> Result<Vec<StoredBlob>, StorageError>;

    /// Removes a committed blob; returns the bytes freed (0 if it was not there).
    async fn delete(&self, digest: &Digest) -> Result<u64, StorageError>;

    /// Removes staged uploads that are not in `live` (ids of sessions still open) and were
    /// last written at least `min_age_secs` ago: what abandoned uploads and crashes left.
    async fn purge_staged(
        &self,
        live: &HashSet<String>,
        min_age_secs: u64,
    ) -> Result<usize, StorageError>;

    /// Proves the store accepts writes and has at least `min_free` bytes of room (0: no
    /// check of room).
    async fn check_writable(&self, min_free: u64) -> Result<(), StorageError>;

    /// Bytes that can still be written, if the backend can tell.
    async fn free_bytes(&self) -> Result<Option<u64>, StorageError>;
}

/// An upload being staged: bytes are hashed as they are written, and the upload can be
/// resumed by a later request at [`StagedBlob::offset`]. Dropping it discards the bytes.
#[async_trait::async_trait]
pub trait StagedBlob: Send + Sync + Debug {
    /// The upload id it was staged under.
    fn id(&self) -> &str;

    /// Bytes written and hashed. Exact after [`StagedBlob::flush`].
    fn offset(&self) -> u64;

    /// The offset as of the last completed write, readable without the handle (status
    /// requests while another request holds the upload).
    fn progress(&self) -> Arc<AtomicU64>;

    /// Queues one chunk; may write a batch.
    async fn push(&mut self, chunk: Bytes) -> Result<(), StorageError>;

    /// Writes everything queued and waits for it; returns the exact offset.
    async fn flush(&mut self) -> Result<u64, StorageError>;

    /// Lets go of per-request resources (an open file) until the next write: an upload
    /// session lives for hours between requests.
    fn release(&mut self);

    /// A reader of the bytes written so far, for requests that follow a download while it
    /// is staged (the proxy cache). `None` if the backend cannot read staged bytes.
    fn tail(&self) -> Option<Box<dyn StagedTail>>;

    /// For the backend that created it, to take its own handle back in `commit`.
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send>;
}

/// Reads the written part of a staged upload; stays valid after the upload is committed.
#[async_trait::async_trait]
pub trait StagedTail: Send + Sync + Debug {
    /// Exactly `len` bytes at `offset` (which the writer has already written).
    async fn read_at(&self, offset: u64, len: usize) -> Result<Bytes, StorageError>;
}

/// The outcome of a commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Committed {
    pub size: u64,
    /// False when identical content was already stored (a concurrent or earlier commit).
    pub new: bool,
}

/// `len` bytes from `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub len: u64,
}

/// Size and last modification (seconds since the Unix epoch, real time) of a blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobStat {
    pub size: u64,
    pub modified: i64,
}

pub use super::StoredBlob;

/// An opened blob: its whole size and the body of the part asked for.
#[derive(Debug)]
pub struct OpenedBlob {
    /// The size of the whole blob as stored (not of the range).
    pub size: u64,
    pub body: BlobBody,
}

/// How the HTTP layer sends a blob.
pub enum BlobBody {
    /// A local file: `len` bytes from `offset`. Lets the server read in large blocks (or
    /// use `sendfile`) without the store in the loop.
    File {
        file: std::fs::File,
        offset: u64,
        len: u64,
    },
    /// Bytes from elsewhere (an object store), `len` of them.
    Stream {
        len: u64,
        stream: BoxStream<'static, std::io::Result<Bytes>>,
    },
    /// The client fetches the bytes itself (a presigned URL).
    Redirect(String),
}

impl Debug for BlobBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlobBody::File { offset, len, .. } => f
                .debug_struct("File")
                .field("offset", offset)
                .field("len", len)
                .finish(),
            BlobBody::Stream { len, .. } => f.debug_struct("Stream").field("len", len).finish(),
            BlobBody::Redirect(url) => f.debug_tuple("Redirect").field(url).finish(),
        }
    }
}
