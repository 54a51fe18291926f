//! An upload staged in S3: chunks are hashed as they arrive and sent as multipart parts once
//! a part's worth is buffered, so an upload holds at most one part in memory whatever the
//! blob's size. A blob smaller than one part never starts a multipart upload: it is written
//! with one PUT at commit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{MultipartId, PutPayload};

use super::{S3Store, Shared};
use crate::oci::{Algorithm, Digest, Hasher};
use crate::storage::{StagedBlob, StagedTail, StorageError};

/// Bytes buffered before a part is sent. S3 wants every part but the last to be at least
/// 5 MiB; 8 MiB keeps requests few without holding much per upload.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

pub struct S3Staged {
    id: String,
    shared: Arc<Shared>,
    /// Where the multipart upload lands before it is copied under its digest.
    key: Path,
    hasher: Hasher,
    offset: u64,
    progress: Arc<AtomicU64>,
    /// Chunks not yet sent (less than a part, except briefly in `push`).
    buffer: Vec<Bytes>,
    buffered: usize,
    multipart: Option<MultipartId>,
    parts: Vec<PartId>,
    /// Set once the upload was completed or aborted: nothing left for `Drop` to clean.
    settled: bool,
}

impl std::fmt::Debug for S3Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Staged")
            .field("id", &self.id)
            .field("key", &self.key.as_ref())
            .field("offset", &self.offset)
            .field("parts", &self.parts.len())
            .finish()
    }
}

impl S3Staged {
    pub(super) fn new(store: &S3Store, id: &str, algorithm: Algorithm) -> Self {
        S3Staged {
            id: id.to_string(),
            shared: store.shared.clone(),
            key: store.upload_key(id),
            hasher: Hasher::new(algorithm),
            offset: 0,
            progress: Arc::new(AtomicU64::new(0)),
            buffer: Vec::new(),
            buffered: 0,
            multipart: None,
            parts: Vec::new(),
            settled: false,
        }
    }

    pub(super) fn digest(&self) -> Digest {
        self.hasher.peek()
    }

    pub(super) fn key(&self) -> &Path {
        &self.key
    }

    /// Sends the buffer as the next part (starting the multipart upload on the first).
    async fn send_part(&mut self) -> Result<(), StorageError> {
        let s3 = &self.shared.client;
        let id = match &self.multipart {
            Some(id) => id.clone(),
            None => {
                let id = s3
                    .create_multipart(&self.key)
                    .await
                    .map_err(|e| self.shared.error(e))?;
                self.multipart = Some(id.clone());
                id
            }
        };
        let payload: PutPayload = std::mem::take(&mut self.buffer).into_iter().collect();
        self.buffered = 0;
        let part = s3
            .put_part(&self.key, &id, self.parts.len(), payload)
            .await
            .map_err(|e| self.shared.error(e))?;
        self.parts.push(part);
        Ok(())
    }

    /// Makes the staged bytes an object at `key()`: the last part and `CompleteMultipartUpload`,
    /// or, for a blob that never filled a part, one PUT. Returns whether a multipart upload
    /// was used (the caller then copies the object under its digest).
    pub(super) async fn finish(&mut self, direct: &Path) -> Result<bool, StorageError> {
        let s3 = self.shared.client.clone();
        if self.multipart.is_none() {
            let payload: PutPayload = std::mem::take(&mut self.buffer).into_iter().collect();
            object_store::ObjectStore::put_opts(&*s3, direct, payload, Default::default())
                .await
                .map_err(|e| self.shared.error(e))?;
            self.settled = true;
            return Ok(false);
        }
        if self.buffered > 0 || self.parts.is_empty() {
            self.send_part().await?;
        }
        let id = self.multipart.clone().expect("multipart started");
        s3.complete_multipart(&self.key, &id, std::mem::take(&mut self.parts))
            .await
            .map_err(|e| self.shared.error(e))?;
        self.settled = true;
        Ok(true)
    }

    /// Aborts the multipart upload, if one was started: its parts are freed in S3.
    pub(super) async fn abort(&mut self) {
        self.settled = true;
        if let Some(id) = self.multipart.take() {
            if let Err(e) = self.shared.client.abort_multipart(&self.key, &id).await {
                tracing::warn!(store = %self.shared.name, upload = %self.id, error = %e,
                    "could not abort a multipart upload; a bucket lifecycle rule removes it");
            }
        }
    }
}

impl StagedBlob for S3Staged {
    fn id(&self) -> &str {
        &self.id
    }

    fn offset(&self) -> u64 {
        self.offset
    }

    fn progress(&self) -> Arc<AtomicU64> {
        self.progress.clone()
    }

    fn push(&mut self, chunk: Bytes) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            if chunk.is_empty() {
                return Ok(());
            }
            self.hasher.update(&chunk);
            self.offset += chunk.len() as u64;
            self.buffered += chunk.len();
            self.buffer.push(chunk);
            if self.buffered >= PART_SIZE {
                self.send_part().await?;
            }
            self.progress.store(self.offset, Ordering::Relaxed);
            Ok(())
        })
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<u64, StorageError>> {
        Box::pin(async move {
            // Less than a part stays in memory until the next PATCH or the commit: S3 refuses
            // parts under 5 MiB except the last.
            Ok(self.offset)
        })
    }

    fn release(&mut self) {}

    fn tail(&self) -> Option<Box<dyn StagedTail>> {
        // Parts in S3 cannot be read before the upload completes.
        None
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
        self
    }
}

impl Drop for S3Staged {
    /// An abandoned upload (session expired, client gone, mismatch) frees its parts.
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let Some(id) = self.multipart.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let shared = self.shared.clone();
        let key = self.key.clone();
        runtime.spawn(async move {
            let _ = shared.client.abort_multipart(&key, &id).await;
        });
    }
}
