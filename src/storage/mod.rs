//! Blob storage: content-addressed files under a store root, written through a
//! [`DigestWriter`] so every byte is hashed on its way to disk and becomes visible only after
//! its digest is verified and the file is durably renamed into place.
//!
//! Layout of one file store (`root` is `<data>/blobstores/<name>`):
//! ```text
//! root/
//!   blobs/sha256/ab/abcdef…   immutable, content-addressed (layers, configs, manifests)
//!   blobs/sha512/…            same for sha512 digests
//!   uploads/<session id>      temp files of uploads in progress; never served
//!   tmp/<random>              temp files of small direct writes (manifests)
//! ```
//! A crash can only leave files under `uploads/` and `tmp/`; [`FileStore::open`] removes them.
//!
//! The registry sees none of this: it holds a [`ManagedStore`] (GC gate and quota) around an
//! `Arc<dyn BlobStore>` (see `blob_store` for the contract every backend keeps).

mod blob_store;
mod digest_writer;
mod error;
mod fs;
mod gate;
mod listing;
mod managed;
pub mod s3;

pub use blob_store::{
    BlobBody, BlobStat, BlobStore, ByteRange, Committed, OpenedBlob, StagedBlob, StagedTail,
    StoredBlob,
};
pub use digest_writer::DigestWriter;
pub use error::StorageError;
pub use fs::FileStore;
pub use gate::{GcGate, ReferenceGuard, RunGuard, RunRefused, SweepGuard};
pub use managed::ManagedStore;
pub use s3::{S3Options, S3Store, PART_SIZE};

/// `(offset, len)` of `range` within a blob of `size` bytes (the whole blob without one).
/// A range starting at or past the end cannot be served; one running past it is cut.
pub fn clamp_range(range: Option<ByteRange>, size: u64) -> Result<(u64, u64), StorageError> {
    match range {
        None => Ok((0, size)),
        Some(r) if r.start >= size || r.len == 0 => Err(StorageError::RangeInvalid { size }),
        Some(r) => Ok((r.start, r.len.min(size - r.start))),
    }
}
