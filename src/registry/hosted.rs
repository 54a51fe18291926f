//! The handle of one hosted repository: its actor (the single writer) and its core (the
//! state request handlers read directly). Proxy repositories use the same handle: their
//! cached content is stored like hosted content, and [`Hosted::proxy`] reaches the upstream.

use std::path::PathBuf;
use std::sync::Arc;

use actix::{Handler, Message};
use bytes::Bytes;

use super::actor::Supervised;
use super::{messages, ImageState, RegistryError, RepoCore, RepositoryActor, UploadSession};
use crate::model::RepositoryConfig;
use crate::oci::{Digest, ImageName};
use crate::storage::FileStore;

/// A cheap handle to one hosted repository.
#[derive(Clone)]
pub struct Hosted {
    pub(super) core: Arc<RepoCore>,
    /// The repository's actor, restarted if it stopped.
    pub(super) actor: Arc<Supervised>,
}

impl Hosted {
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// The upstream side of a proxy repository (`None` for hosted ones).
    pub fn proxy(&self) -> Option<&Arc<crate::proxy::ProxyState>> {
        self.core.proxy.as_ref()
    }

    pub fn store(&self) -> &FileStore {
        &self.core.store
    }

    /// The repository's current definition (shared, not copied: read on every request).
    pub fn config(&self) -> Arc<RepositoryConfig> {
        self.core.config.read().unwrap().clone()
    }

    /// Sends a state change to the repository actor and waits for its answer. A stopped
    /// actor is started again first (see [`Supervised`]).
    pub async fn send<M, T>(&self, msg: M) -> Result<T, RegistryError>
    where
        M: Message<Result = Result<T, RegistryError>> + Send + 'static,
        T: Send + 'static,
        RepositoryActor: Handler<M>,
    {
        self.actor.addr(&self.core).send(msg).await?
    }

    /// The image's state; loaded through the actor on first use.
    pub async fn image(&self, name: &ImageName) -> Result<Option<Arc<ImageState>>, RegistryError> {
        if let Some(image) = self.core.images.get(name) {
            return Ok(Some(image.clone()));
        }
        self.send(messages::LoadImage { name: name.clone() }).await
    }

    /// The upload session `id` of image `name`.
    pub fn upload(&self, name: &ImageName, id: &str) -> Result<Arc<UploadSession>, RegistryError> {
        match self.core.uploads.get(id) {
            Some(s) if &s.name == name => Ok(s.clone()),
            _ => Err(RegistryError::UploadUnknown),
        }
    }

    /// A manifest's bytes, from the cache or the store.
    pub async fn manifest_bytes(&self, digest: &Digest) -> Result<Bytes, RegistryError> {
        if let Some(bytes) = self.core.manifests.get(digest) {
            return Ok(bytes);
        }
        let bytes = self.core.store.read(digest).await?;
        self.core.manifests.insert(digest.clone(), bytes.clone());
        Ok(bytes)
    }

    /// A manifest's bytes from the cache if there, else from the store without caching
    /// them: for reads of many manifests at once (the referrers list), which must not
    /// evict the manifests clients pull.
    pub async fn manifest_bytes_uncached(&self, digest: &Digest) -> Result<Bytes, RegistryError> {
        match self.core.manifests.peek(digest) {
            Some(bytes) => Ok(bytes),
            None => Ok(self.core.store.read(digest).await?),
        }
    }

    /// Names of images with content, in order, after `last`, at most `limit`.
    pub async fn list_images(
        &self,
        last: Option<&str>,
        limit: i64,
    ) -> Result<Vec<String>, RegistryError> {
        Ok(self
            .core
            .meta
            .list_images(&self.core.name, last, limit)
            .await?)
    }

    /// Images of this repository that link blob `digest` (at most `limit`, by name).
    pub async fn images_linking(
        &self,
        digest: &Digest,
        limit: i64,
    ) -> Result<Vec<ImageName>, RegistryError> {
        let names = self
            .core
            .meta
            .images_linking(&self.core.name, digest, limit)
            .await?;
        // Rows read back from the database; one that no longer parses is skipped.
        Ok(names
            .iter()
            .filter_map(|n| ImageName::parse(n).ok())
            .collect())
    }

    /// Path of a blob in the store (for streaming it out).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.core.store.blob_path(digest)
    }
}
