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

mod blob_store;
mod digest_writer;
mod error;
mod fs;
mod gate;
mod listing;
pub mod s3;

pub use blob_store::{
    BlobBody, BlobStat, BlobStore, ByteRange, Committed, OpenedBlob, StagedBlob, StagedTail,
};
pub use digest_writer::DigestWriter;
pub use error::StorageError;
pub use fs::FileStore;
pub use gate::{GcGate, SweepGuard};
pub use listing::StoredBlob;
pub use s3::{S3Options, S3Store, PART_SIZE};
