//! Repositories and the images in them.
//!
//! A [`Registry`] maps repository names to [`Repository`] handles (a `DashMap`, read on every
//! request). Each repository has one [`RepositoryActor`] that serializes its state changes,
//! and a [`RepoCore`] whose in-memory image states and upload sessions request handlers read
//! without going through the actor.
//!
//! Vocabulary: a *repository* is a Berth (Nexus-style) repository such as `docker-hosted`; an
//! *image* is what the OCI spec calls a repository name (`library/redis`) inside it.

mod actor;
mod cache;
mod core;
mod error;
mod image;
pub mod messages;
mod upload;

use std::path::Path;
use std::sync::Arc;

use actix::{Actor, Addr, Arbiter, Handler, Message};
use bytes::Bytes;
use dashmap::DashMap;

pub use actor::RepositoryActor;
pub use cache::ManifestCache;
pub use core::RepoCore;
pub use error::RegistryError;
pub use image::{ImageState, TagPage, REFERRERS_MEDIA_TYPE};
pub use upload::{UploadSession, WriterGuard};

use crate::config::Settings;
use crate::meta::MetaStore;
use crate::oci::{Digest, ImageName};
use crate::storage::FileStore;

/// All repositories of this server.
pub struct Registry {
    repos: DashMap<String, Repository>,
    default_repository: String,
    meta: MetaStore,
    /// The thread repository actors run on, apart from the HTTP workers.
    _arbiter: Arbiter,
}

impl Registry {
    /// Opens the metadata store and blob store under the data directory and starts the
    /// default hosted repository. Must run inside an actix system.
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let data = &settings.data_dir;
        std::fs::create_dir_all(data)?;
        let meta = MetaStore::open(&data.join("berth.db")).await?;
        let store = Arc::new(FileStore::open(
            "default",
            &data.join("blobstores").join("default"),
        )?);
        let arbiter = Arbiter::new();
        let registry = Registry {
            repos: DashMap::new(),
            default_repository: settings.default_repository.clone(),
            meta: meta.clone(),
            _arbiter: arbiter,
        };
        let cache = Arc::new(ManifestCache::new(settings.limits.manifest_cache_bytes));
        registry.add_hosted(&settings.default_repository, store, cache, settings);
        Ok(registry)
    }

    fn add_hosted(
        &self,
        name: &str,
        store: Arc<FileStore>,
        cache: Arc<ManifestCache>,
        settings: &Settings,
    ) {
        let core = Arc::new(RepoCore {
            name: name.to_string(),
            store,
            meta: self.meta.clone(),
            manifests: cache,
            images: DashMap::new(),
            uploads: DashMap::new(),
            upload_expiry_secs: settings.limits.upload_expiry_secs as i64,
        });
        let actor_core = core.clone();
        let actor = RepositoryActor::start_in_arbiter(&self._arbiter.handle(), move |_| {
            RepositoryActor::new(actor_core)
        });
        self.repos
            .insert(name.to_string(), Repository { core, actor });
    }

    /// The repository that serves `/v2/` names on the main port.
    pub fn default_repository(&self) -> Option<Repository> {
        self.repository(&self.default_repository)
    }

    /// Reads can be served: the metadata database answers.
    pub async fn check_readable(&self) -> Result<(), RegistryError> {
        Ok(self.meta.ping().await?)
    }

    /// Writes can be accepted: the database answers and every blob store takes a write.
    pub async fn check_writable(&self) -> Result<(), RegistryError> {
        self.check_readable().await?;
        let stores: Vec<Arc<FileStore>> = self.repos.iter().map(|r| r.core.store.clone()).collect();
        for store in stores {
            store.check_writable().await?;
        }
        Ok(())
    }

    pub fn repository(&self, name: &str) -> Option<Repository> {
        self.repos.get(name).map(|r| r.clone())
    }
}

/// A cheap handle to one repository.
#[derive(Clone)]
pub struct Repository {
    core: Arc<RepoCore>,
    actor: Addr<RepositoryActor>,
}

impl Repository {
    pub fn name(&self) -> &str {
        &self.core.name
    }

    pub fn store(&self) -> &FileStore {
        &self.core.store
    }

    /// Sends a state change to the repository actor and waits for its answer.
    pub async fn send<M, T>(&self, msg: M) -> Result<T, RegistryError>
    where
        M: Message<Result = Result<T, RegistryError>> + Send + 'static,
        T: Send + 'static,
        RepositoryActor: Handler<M>,
    {
        self.actor.send(msg).await?
    }

    /// The image's state; loaded through the actor on first use.
    pub async fn image(&self, name: &ImageName) -> Result<Option<Arc<ImageState>>, RegistryError> {
        if let Some(image) = self.core.images.get(name) {
            return Ok(Some(image.clone()));
        }
        self.send(messages::LoadImage { name: name.clone() }).await
    }

    /// Like [`Self::image`], but an unknown image is `NAME_UNKNOWN`.
    pub async fn existing_image(&self, name: &ImageName) -> Result<Arc<ImageState>, RegistryError> {
        self.image(name)
            .await?
            .ok_or_else(|| RegistryError::NameUnknown(name.clone()))
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

    /// Names of images with content, for `_catalog`.
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

    /// Path of a blob in the store (for streaming it out).
    pub fn blob_path(&self, digest: &Digest) -> std::path::PathBuf {
        self.core.store.blob_path(digest)
    }

    pub fn data_root(&self) -> &Path {
        self.core.store.root()
    }
}
