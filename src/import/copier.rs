//! Copies a planned repository from the source registry to the target registry.
//!
//! - **Once per blob.** The first image to need a blob decides where it comes from (already
//!   on the target, or uploaded); every other image of the repository then gets it by a
//!   cross-repository mount (`POST …/uploads/?mount=&from=`), which moves no bytes. A
//!   per-digest `OnceCell` makes concurrent images wait for that first copy instead of
//!   uploading it twice.
//! - **Resumable.** A tag already pointing at the same digest on the target is skipped
//!   (the target accepted its manifest, so all its blobs are there), and a blob the target
//!   answers `HEAD` for is not sent again: a second run copies only what is missing.
//! - **Streaming.** A blob body goes from the source's response to the target's `PUT`
//!   chunk by chunk; memory per transfer is a few chunks, whatever the blob size. The
//!   target verifies the digest (Berth hashes while writing and refuses a mismatch).
//! - **Bounded.** At most `concurrency` images are worked on and `concurrency` blob bodies
//!   are in flight at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use futures_util::stream::{self, StreamExt};
use tokio::sync::{OnceCell, Semaphore};

use super::error::ImportError;
use super::plan::{ImagePlan, RepoPlan, TagPlan};
use super::progress::Progress;
use super::registry::{Mount, RegistryClient};
use super::report::RepositoryContent;

/// Copies one repository.
pub struct Copier<'a> {
    pub source: &'a RegistryClient,
    pub target: &'a RegistryClient,
    pub progress: Arc<Progress>,
    pub concurrency: usize,
    transfers: Semaphore,
    /// Digest → an image on the target that has the blob.
    homes: Mutex<HashMap<String, Arc<OnceCell<String>>>>,
    tags_copied: AtomicU64,
    tags_present: AtomicU64,
    blobs_copied: AtomicU64,
    blobs_mounted: AtomicU64,
    blobs_present: AtomicU64,
    bytes_copied: AtomicU64,
}

impl<'a> Copier<'a> {
    pub fn new(
        source: &'a RegistryClient,
        target: &'a RegistryClient,
        progress: Arc<Progress>,
        concurrency: usize,
    ) -> Self {
        let concurrency = concurrency.max(1);
        Copier {
            source,
            target,
            progress,
            concurrency,
            transfers: Semaphore::new(concurrency),
            homes: Mutex::new(HashMap::new()),
            tags_copied: AtomicU64::new(0),
            tags_present: AtomicU64::new(0),
            blobs_copied: AtomicU64::new(0),
            blobs_mounted: AtomicU64::new(0),
            blobs_present: AtomicU64::new(0),
            bytes_copied: AtomicU64::new(0),
        }
    }

    /// Copies every image of `plan`; failures are collected per tag, not fatal.
    pub async fn copy(&self, plan: &RepoPlan) -> RepositoryContent {
        let errors: Vec<String> = stream::iter(&plan.images)
            .map(|image| self.copy_image(image))
            .buffer_unordered(self.concurrency)
            .flat_map(stream::iter)
            .collect()
            .await;
        RepositoryContent {
            name: plan.name.clone(),
            images: plan.images.len() as u64,
            tags: plan.tags(),
            manifests: plan.manifests,
            blobs: plan.blobs.len() as u64,
            bytes: plan.bytes(),
            tags_copied: self.tags_copied.load(Relaxed),
            tags_present: self.tags_present.load(Relaxed),
            blobs_copied: self.blobs_copied.load(Relaxed),
            blobs_mounted: self.blobs_mounted.load(Relaxed),
            blobs_present: self.blobs_present.load(Relaxed),
            bytes_copied: self.bytes_copied.load(Relaxed),
            errors: plan.errors.iter().cloned().chain(errors).collect(),
        }
    }

    async fn copy_image(&self, image: &ImagePlan) -> Vec<String> {
        let mut errors = Vec::new();
        for tag in &image.tags {
            if let Err(e) = self.copy_tag(&image.name, tag).await {
                errors.push(format!("{}:{}: {e}", image.name, tag.tag));
            }
        }
        self.progress.images_done.fetch_add(1, Relaxed);
        errors
    }

    async fn copy_tag(&self, image: &str, tag: &TagPlan) -> Result<(), ImportError> {
        let there = self.target.head_manifest(image, &tag.tag).await?;
        if there.as_deref() == Some(tag.top.digest.as_str()) {
            // The target accepted this manifest, so it has every blob under it.
            for (digest, size) in &tag.blobs {
                self.home(digest)
                    .get_or_init(|| async {
                        self.count_present(*size);
                        image.to_string()
                    })
                    .await;
            }
            self.tags_present.fetch_add(1, Relaxed);
            return Ok(());
        }
        for (digest, size) in &tag.blobs {
            self.ensure_blob(image, digest, *size).await?;
        }
        for child in &tag.children {
            self.target
                .put_manifest(image, &child.digest, child)
                .await?;
        }
        self.target.put_manifest(image, &tag.tag, &tag.top).await?;
        self.tags_copied.fetch_add(1, Relaxed);
        Ok(())
    }

    fn home(&self, digest: &str) -> Arc<OnceCell<String>> {
        self.homes
            .lock()
            .unwrap()
            .entry(digest.to_string())
            .or_default()
            .clone()
    }

    /// Makes sure `image` on the target has blob `digest`.
    async fn ensure_blob(&self, image: &str, digest: &str, size: u64) -> Result<(), ImportError> {
        let cell = self.home(digest);
        let mut first = false;
        let home = cell
            .get_or_try_init(|| async {
                first = true;
                if self.target.has_blob(image, digest).await? {
                    self.count_present(size);
                } else {
                    self.upload(image, digest, None).await?;
                    self.blobs_copied.fetch_add(1, Relaxed);
                    self.progress.blobs_copied.fetch_add(1, Relaxed);
                }
                Ok::<_, ImportError>(image.to_string())
            })
            .await?;
        if first || home == image || self.target.has_blob(image, digest).await? {
            return Ok(());
        }
        match self
            .target
            .mount_or_start(image, digest, Some(home))
            .await?
        {
            Mount::Mounted => {
                self.blobs_mounted.fetch_add(1, Relaxed);
                self.progress.blobs_mounted.fetch_add(1, Relaxed);
            }
            // The target declined the mount: send the bytes after all.
            Mount::Upload(session) => self.upload(image, digest, Some(session)).await?,
        }
        Ok(())
    }

    fn count_present(&self, size: u64) {
        self.blobs_present.fetch_add(1, Relaxed);
        self.progress.blobs_present.fetch_add(1, Relaxed);
        self.progress.bytes_skipped.fetch_add(size, Relaxed);
    }

    /// Streams the blob from the source into an upload session on the target.
    async fn upload(
        &self,
        image: &str,
        digest: &str,
        session: Option<reqwest::Url>,
    ) -> Result<(), ImportError> {
        let _permit = self.transfers.acquire().await.expect("never closed");
        let session = match session {
            Some(s) => s,
            None => match self.target.mount_or_start(image, digest, None).await? {
                Mount::Upload(s) => s,
                Mount::Mounted => return Ok(()),
            },
        };
        let response = self.source.get_blob(image, digest).await?;
        let length = response.content_length();
        let progress = self.progress.clone();
        let body = response.bytes_stream().map(move |chunk| {
            if let Ok(bytes) = &chunk {
                progress.bytes_copied.fetch_add(bytes.len() as u64, Relaxed);
            }
            chunk
        });
        self.target
            .finish_upload(
                image,
                session,
                digest,
                length,
                reqwest::Body::wrap_stream(body),
            )
            .await?;
        self.bytes_copied.fetch_add(length.unwrap_or(0), Relaxed);
        Ok(())
    }
}

/// Pulls every tag a source proxy has cached through the target's proxy repository, so the
/// target fetches and caches the same content from the upstream (`--warm-proxies`).
pub async fn warm(plan: &RepoPlan, target: &RegistryClient) -> Vec<String> {
    let mut errors = Vec::new();
    for image in &plan.images {
        for tag in &image.tags {
            if let Err(e) = warm_tag(target, &image.name, tag).await {
                errors.push(format!("{}:{}: {e}", image.name, tag.tag));
            }
        }
    }
    errors
}

async fn warm_tag(target: &RegistryClient, image: &str, tag: &TagPlan) -> Result<(), ImportError> {
    target.get_manifest(image, &tag.tag).await?;
    for child in &tag.children {
        target.get_manifest(image, &child.digest).await?;
    }
    for (digest, _) in &tag.blobs {
        let mut body = target.get_blob(image, digest).await?.bytes_stream();
        while let Some(chunk) = body.next().await {
            chunk
                .map_err(|e| ImportError::Unreachable(format!("warming {image}@{digest}: {e}")))?;
        }
    }
    Ok(())
}
