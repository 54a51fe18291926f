//! Which storage backend a blob store definition opens: a directory or an S3 bucket.

use std::path::PathBuf;

use crate::model::{BlobStoreConfig, BlobStoreKind, DEFAULT_REDIRECT_TTL_SECS};
use crate::storage::S3Options;

/// The S3 connection settings of an `s3` store definition.
pub(super) fn s3_options(config: &BlobStoreConfig) -> S3Options {
    S3Options {
        endpoint: config.endpoint.clone(),
        region: config.region.clone().unwrap_or_default(),
        bucket: config.bucket.clone().unwrap_or_default(),
        prefix: config.prefix.clone(),
        path_style: config.path_style.unwrap_or(true),
        access_key_id: config.access_key_id.clone(),
        secret_access_key: config
            .secret_access_key
            .as_ref()
            .map(|s| s.expose().to_string()),
        credentials_file: config.credentials_file.as_ref().map(PathBuf::from),
        redirect_secs: if config.redirect {
            config
                .redirect_ttl_secs
                .unwrap_or(DEFAULT_REDIRECT_TTL_SECS)
        } else {
            0
        },
        copy_max_bytes: config
            .copy_max_bytes
            .unwrap_or(crate::storage::s3::COPY_OBJECT_MAX_BYTES),
    }
}

/// True for a store whose bytes are in S3.
pub(super) fn is_s3(config: &BlobStoreConfig) -> bool {
    config.kind == BlobStoreKind::S3
}
