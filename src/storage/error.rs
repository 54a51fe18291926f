//! Errors of the storage layer.

use crate::oci::Digest;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("content digest {actual} does not match the expected {expected}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("blob {0} is not in the store")]
    NotFound(Digest),
    #[error("blob store {store} is full: {used} bytes stored, hard quota {limit} bytes")]
    QuotaExceeded {
        store: String,
        used: u64,
        limit: u64,
    },
    #[error("the range asked for is not within the blob's {size} bytes")]
    RangeInvalid { size: u64 },
    #[error("the upload was interrupted and can no longer be resumed")]
    Poisoned,
    /// The store's server cannot be reached or refuses Berth (an S3 outage, bad credentials):
    /// clients are told the store is unavailable, and other stores keep working.
    #[error("blob store {store} is unavailable: {message}")]
    Unavailable { store: String, message: String },
    #[error("blob store {store} is nearly full: {free} bytes free, below the minimum of {min} bytes (limits.store_min_free_bytes)")]
    NearlyFull { store: String, free: u64, min: u64 },
}

impl StorageError {
    /// True when the process (or system) is out of file descriptors: a load condition that
    /// passes, so clients are told to retry rather than shown an internal error.
    pub fn is_out_of_descriptors(&self) -> bool {
        matches!(self, StorageError::Io(e) if e.raw_os_error() == Some(libc::EMFILE)
            || e.raw_os_error() == Some(libc::ENFILE))
    }

    /// True for "no space left on device" and quota errors, which clients should see as a
    /// clear refusal rather than an internal error.
    pub fn is_out_of_space(&self) -> bool {
        matches!(self, StorageError::Io(e) if e.raw_os_error() == Some(libc::ENOSPC)
            || e.raw_os_error() == Some(libc::EDQUOT))
    }
}
