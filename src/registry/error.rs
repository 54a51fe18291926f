//! Errors of the registry layer (what a repository refuses, and why).

use crate::meta::MetaError;
use crate::oci::{Digest, ImageName};
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("repository {0} is not known")]
    NameUnknown(ImageName),
    #[error("blob {0} is not known in this repository")]
    BlobUnknown(Digest),
    #[error("manifest {0} is not known in this repository")]
    ManifestUnknown(String),
    #[error("upload session is not known")]
    UploadUnknown,
    #[error("upload session is busy with another request")]
    UploadBusy { offset: u64 },
    #[error("chunk does not start at the current upload offset {offset}")]
    RangeInvalid { offset: u64 },
    #[error("manifest references {0}, which is not in this repository")]
    ManifestBlobUnknown(Digest),
    #[error("manifest declares {digest} with size {declared}, but the stored content has {stored} bytes")]
    SizeMismatch {
        digest: Digest,
        declared: u64,
        stored: u64,
    },
    #[error("blob {digest} is used by manifest {}; delete the manifest first", manifests.join(", "))]
    BlobInUse {
        digest: Digest,
        manifests: Vec<String>,
    },
    #[error("request body could not be read: {0}")]
    BodyInvalid(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error("{0}")]
    Denied(String),
    #[error("repository {0} is offline")]
    Offline(String),
    #[error("{0}")]
    Definition(String),
    #[error("repository {0} does not exist")]
    RepositoryUnknown(String),
    #[error("blob store {0} does not exist")]
    BlobStoreUnknown(String),
    /// A shared resource (such as the manifest body budget) stayed exhausted.
    #[error("{0}")]
    Busy(String),
    /// A cap on open upload sessions is reached.
    #[error("{0}")]
    TooManyUploads(String),
    #[error("repository actor is unavailable: {0}")]
    Unavailable(String),
    /// A proxy could not get content from its upstream and had nothing cached.
    #[error("proxy repository {repository}: {error}")]
    Upstream {
        repository: String,
        error: crate::proxy::UpstreamError,
    },
}

impl From<actix::MailboxError> for RegistryError {
    fn from(e: actix::MailboxError) -> Self {
        RegistryError::Unavailable(e.to_string())
    }
}
