//! The S3 blob store: blobs as objects in a bucket (AWS S3, Garage, MinIO, Ceph RGW, …),
//! through the `object_store` crate.
//!
//! Layout under the store's `prefix`:
//! ```text
//! <prefix>/blobs/sha256/ab/abcdef…   content-addressed, immutable
//! <prefix>/uploads/<session id>      a completed multipart upload, for the moment between
//!                                    its completion and the copy under its digest
//! ```
//! An upload is hashed while its parts stream to S3 and verified before it is completed, so
//! a digest mismatch aborts the multipart upload and nothing becomes visible. Multipart
//! uploads a crash abandons are invisible; a bucket lifecycle rule
//! (`AbortIncompleteMultipartUpload`) frees their parts.

mod config;
mod staged;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};
use tokio::sync::Mutex;

pub use config::S3Options;
pub use config::COPY_OBJECT_MAX_BYTES;
pub use staged::{S3Staged, PART_SIZE};

use super::{
    BlobBody, BlobStat, BlobStore, ByteRange, Committed, OpenedBlob, StagedBlob, StorageError,
    StoredBlob,
};
use crate::oci::{Algorithm, Digest};

/// Commits of one digest are serialised in this process (striped locks), so exactly one of
/// two concurrent commits reports the blob as new (the quota counts it once).
const COMMIT_STRIPES: usize = 64;

/// What the store and its staged uploads share.
pub(crate) struct Shared {
    name: String,
    client: Arc<AmazonS3>,
}

impl Shared {
    /// Any S3 failure other than "not found": the store is down or refuses us. The message
    /// names the store; it never carries credentials (the client does not print them).
    fn error(&self, e: object_store::Error) -> StorageError {
        StorageError::Unavailable {
            store: self.name.clone(),
            message: e.to_string(),
        }
    }
}

pub struct S3Store {
    shared: Arc<Shared>,
    location: String,
    prefix: String,
    /// Blob GETs answer with a pre-signed URL valid this long, when set.
    redirect: Option<Duration>,
    /// See `S3Options::copy_max_bytes`.
    copy_max_bytes: u64,
    commits: Vec<Mutex<()>>,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client holds the credentials: it is left out.
        f.debug_struct("S3Store")
            .field("name", &self.shared.name)
            .field("location", &self.location)
            .field("redirect", &self.redirect)
            .finish()
    }
}

impl S3Store {
    /// A store on the bucket `options` describe. Makes no request: an unreachable store is
    /// reported by the first operation (and by `check_writable`), so Berth starts anyway and
    /// other stores keep working.
    pub fn connect(name: &str, options: &S3Options) -> Result<Self, StorageError> {
        let client = options.client().map_err(|e| StorageError::Unavailable {
            store: name.to_string(),
            message: format!("invalid S3 settings: {e}"),
        })?;
        Ok(S3Store {
            shared: Arc::new(Shared {
                name: name.to_string(),
                client: Arc::new(client),
            }),
            location: options.location(),
            prefix: options.prefix.trim_matches('/').to_string(),
            redirect: options.redirect_ttl(),
            copy_max_bytes: options.copy_max_bytes,
            commits: (0..COMMIT_STRIPES).map(|_| Mutex::new(())).collect(),
        })
    }

    fn key(&self, rest: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(rest)
        } else {
            Path::from(format!("{}/{rest}", self.prefix))
        }
    }

    /// Where the blob with `digest` lives: `<prefix>/blobs/<algorithm>/<xx>/<hex>`.
    pub fn blob_key(&self, digest: &Digest) -> Path {
        let hex = digest.hex();
        self.key(&format!(
            "blobs/{}/{}/{hex}",
            digest.algorithm().as_str(),
            &hex[..2]
        ))
    }

    fn upload_key(&self, id: &str) -> Path {
        self.key(&format!("uploads/{id}"))
    }

    fn client(&self) -> &AmazonS3 {
        &self.shared.client
    }

    fn error(&self, e: object_store::Error) -> StorageError {
        self.shared.error(e)
    }

    fn stripe(&self, digest: &Digest) -> &Mutex<()> {
        let hex = digest.hex();
        let n = usize::from_str_radix(&hex[..4], 16).unwrap_or(0);
        &self.commits[n % COMMIT_STRIPES]
    }

    /// Copies an object too large for one `CopyObject` by reading it and writing it again as
    /// a multipart upload, one part in memory at a time. The copy becomes visible only when
    /// complete; on failure the multipart upload is aborted and the source stays.
    async fn copy_streamed(&self, from: &Path, to: &Path) -> Result<(), StorageError> {
        let source = self.client().get(from).await.map_err(|e| self.error(e))?;
        let mut stream = source.into_stream();
        let upload = self
            .client()
            .put_multipart(to)
            .await
            .map_err(|e| self.error(e))?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(self.error(e));
                }
            };
            // Bounded memory: at most a few parts in flight.
            if let Err(e) = writer.wait_for_capacity(2).await {
                return Err(self.error(e));
            }
            writer.put(chunk);
        }
        writer.finish().await.map_err(|e| self.error(e))?;
        tracing::info!(store = %self.name(), key = %to, copy_max_bytes = self.copy_max_bytes,
            "published a blob too large for one server-side copy by a streamed copy");
        Ok(())
    }

    /// Size of a committed blob, `None` if absent.
    async fn head(
        &self,
        digest: &Digest,
    ) -> Result<Option<object_store::ObjectMeta>, StorageError> {
        match self.client().head(&self.blob_key(digest)).await {
            Ok(meta) => Ok(Some(meta)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Parses `<prefix>/blobs/<algorithm>/<xx>/<hex>` back into a digest; `None` for
    /// anything else (never Berth's to report or remove).
    fn digest_of(&self, key: &Path) -> Option<Digest> {
        let key = key.as_ref();
        let rest = if self.prefix.is_empty() {
            key
        } else {
            key.strip_prefix(&self.prefix)?.strip_prefix('/')?
        };
        let mut parts = rest.split('/');
        let (Some("blobs"), Some(algorithm), Some(fan), Some(hex), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let digest = Digest::parse(&format!("{algorithm}:{hex}")).ok()?;
        (hex.get(..2) == Some(fan)).then_some(digest)
    }
}

impl BlobStore for S3Store {
    fn name(&self) -> &str {
        &self.shared.name
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn stage<'a>(
        &'a self,
        id: &'a str,
        algorithm: Algorithm,
    ) -> BoxFuture<'a, Result<Box<dyn StagedBlob>, StorageError>> {
        Box::pin(
            async move { Ok(Box::new(S3Staged::new(self, id, algorithm)) as Box<dyn StagedBlob>) },
        )
    }

    fn commit<'a>(
        &'a self,
        staged: Box<dyn StagedBlob>,
        expected: &'a Digest,
    ) -> BoxFuture<'a, Result<Committed, StorageError>> {
        Box::pin(async move {
            let mut staged = staged
                .into_any()
                .downcast::<S3Staged>()
                .map_err(|_| StorageError::Poisoned)?;
            let actual = staged.digest();
            if &actual != expected {
                staged.abort().await;
                return Err(StorageError::DigestMismatch {
                    expected: expected.clone(),
                    actual,
                });
            }
            let size = staged.offset();
            let _one_at_a_time = self.stripe(expected).lock().await;
            if self.head(expected).await?.is_some() {
                staged.abort().await;
                return Ok(Committed { size, new: false });
            }
            let target = self.blob_key(expected);
            if staged.finish(&target).await? {
                // A multipart upload is completed under its upload key (its digest was unknown
                // when it started); a server-side copy publishes it, then the upload key goes.
                let upload = staged.key().clone();
                if size <= self.copy_max_bytes {
                    self.client()
                        .copy(&upload, &target)
                        .await
                        .map_err(|e| self.error(e))?;
                } else {
                    self.copy_streamed(&upload, &target).await?;
                }
                if let Err(e) = self.client().delete(&upload).await {
                    tracing::warn!(store = %self.name(), error = %e,
                        "could not remove a completed upload object; purge_staged retries");
                }
            }
            Ok(Committed { size, new: true })
        })
    }

    fn put_bytes<'a>(
        &'a self,
        digest: &'a Digest,
        bytes: Bytes,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let _one_at_a_time = self.stripe(digest).lock().await;
            if self.head(digest).await?.is_some() {
                return Ok(false);
            }
            self.client()
                .put(&self.blob_key(digest), PutPayload::from(bytes))
                .await
                .map_err(|e| self.error(e))?;
            Ok(true)
        })
    }

    fn read_bytes<'a>(&'a self, digest: &'a Digest) -> BoxFuture<'a, Result<Bytes, StorageError>> {
        Box::pin(async move {
            let got = match self.client().get(&self.blob_key(digest)).await {
                Ok(got) => got,
                Err(object_store::Error::NotFound { .. }) => {
                    return Err(StorageError::NotFound(digest.clone()))
                }
                Err(e) => return Err(self.error(e)),
            };
            got.bytes().await.map_err(|e| self.error(e))
        })
    }

    fn open<'a>(
        &'a self,
        digest: &'a Digest,
        range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<OpenedBlob, StorageError>> {
        Box::pin(async move {
            let meta = self
                .head(digest)
                .await?
                .ok_or_else(|| StorageError::NotFound(digest.clone()))?;
            let size = meta.size;
            let (start, len) = super::clamp_range(range, size)?;
            if let Some(ttl) = self.redirect {
                // The client sends its Range header to the signed URL itself: the signature
                // covers the method and the key only, so ranged GETs keep working.
                let url = self
                    .client()
                    .signed_url(reqwest::Method::GET, &meta.location, ttl)
                    .await
                    .map_err(|e| self.error(e))?;
                return Ok(OpenedBlob {
                    size,
                    body: BlobBody::Redirect(url.to_string()),
                });
            }
            if len == 0 {
                return Ok(OpenedBlob {
                    size,
                    body: BlobBody::Stream {
                        len: 0,
                        stream: futures_util::stream::empty().boxed(),
                    },
                });
            }
            let options = GetOptions {
                range: range.map(|_| GetRange::Bounded(start..start + len)),
                ..Default::default()
            };
            let got = match self.client().get_opts(&meta.location, options).await {
                Ok(got) => got,
                // Deleted between the HEAD and the GET (GC).
                Err(object_store::Error::NotFound { .. }) => {
                    return Err(StorageError::NotFound(digest.clone()))
                }
                Err(e) => return Err(self.error(e)),
            };
            let name = self.shared.name.clone();
            let stream = got
                .into_stream()
                .map_err(move |e| std::io::Error::other(format!("blob store {name}: {e}")))
                .boxed();
            Ok(OpenedBlob {
                size,
                body: BlobBody::Stream { len, stream },
            })
        })
    }

    fn stat<'a>(
        &'a self,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Option<BlobStat>, StorageError>> {
        Box::pin(async move {
            Ok(self.head(digest).await?.map(|m| BlobStat {
                size: m.size,
                modified: m.last_modified.timestamp(),
            }))
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<StoredBlob>, StorageError>> {
        Box::pin(async move {
            let prefix = self.key("blobs");
            let mut listing = self.client().list(Some(&prefix));
            let mut out = Vec::new();
            while let Some(item) = listing.next().await {
                let meta = item.map_err(|e| self.error(e))?;
                if let Some(digest) = self.digest_of(&meta.location) {
                    out.push(StoredBlob {
                        digest,
                        size: meta.size,
                        modified: meta.last_modified.timestamp(),
                    });
                }
            }
            Ok(out)
        })
    }

    fn delete<'a>(&'a self, digest: &'a Digest) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            let Some(meta) = self.head(digest).await? else {
                return Ok(0);
            };
            match self.client().delete(&meta.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(meta.size),
                Err(e) => Err(self.error(e)),
            }
        })
    }

    fn purge_staged<'a>(
        &'a self,
        live: &'a HashSet<String>,
        min_age_secs: u64,
    ) -> BoxFuture<'a, Result<usize, StorageError>> {
        Box::pin(async move {
            // Only completed-but-not-copied upload objects are visible to a listing; abandoned
            // multipart uploads are aborted when their handle drops, or by a lifecycle rule.
            let prefix = self.key("uploads");
            let now = chrono::Utc::now().timestamp();
            let mut listing = self.client().list(Some(&prefix));
            let mut removed = 0;
            while let Some(item) = listing.next().await {
                let meta = item.map_err(|e| self.error(e))?;
                let id = meta.location.filename().unwrap_or_default();
                let age = now.saturating_sub(meta.last_modified.timestamp());
                if live.contains(id) || age < min_age_secs as i64 {
                    continue;
                }
                match self.client().delete(&meta.location).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => removed += 1,
                    Err(e) => return Err(self.error(e)),
                }
            }
            Ok(removed)
        })
    }

    fn check_writable(&self, _min_free: u64) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            // A bucket has no "free space"; a small write proves credentials and reachability.
            let probe = self.key("probe");
            self.client()
                .put(&probe, PutPayload::from_static(b"berth"))
                .await
                .map_err(|e| self.error(e))?;
            Ok(())
        })
    }

    fn free_bytes(&self) -> BoxFuture<'_, Result<Option<u64>, StorageError>> {
        Box::pin(async move { Ok(None) })
    }
}
