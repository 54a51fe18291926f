//! The handle of one hosted repository: its actor (the single writer) and its core (the
//! state request handlers read directly). Proxy repositories use the same handle: their
//! cached content is stored like hosted content, and [`Hosted::proxy`] reaches the upstream.
//!
//! Every write that makes content referenced goes through this handle's `push_*`, `cache_*`
//! and `mount_blob` methods, which follow the one GC protocol (see `registry::gc`): the
//! store's reference lock is held from before the content is published until the actor
//! has committed the reference. HTTP handlers and the proxy cache never take it themselves.

use std::sync::Arc;

use actix::{Handler, Message};
use bytes::Bytes;

use super::actor::Supervised;
use super::{messages, ImageState, RegistryError, RepoCore, RepositoryActor, UploadSession};
use crate::meta::{ManifestRecord, ReferrersPage};
use crate::model::RepositoryConfig;
use crate::oci::{Algorithm, Digest, ImageName};
use crate::storage::{ByteRange, OpenedBlob, StagedBlob};

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

    /// The image's state after a manifest miss in it: read again from the database when
    /// other nodes write it too (their change may not be announced here yet), else `None`
    /// (the miss stands). Only misses pay this; hits are answered from memory.
    pub async fn revalidated(
        &self,
        name: &ImageName,
    ) -> Result<Option<Arc<ImageState>>, RegistryError> {
        if !self.core.revalidate_misses {
            return Ok(None);
        }
        self.send(messages::ReloadImage { name: name.clone() })
            .await
    }

    /// After a blob miss in image `image`: in a cluster, whether another node linked the
    /// blob since this node loaded the image (one primary-key lookup), and if so the image
    /// read again. A client checks a layer with `HEAD` right after its upload, and the
    /// load balancer may send that `HEAD` to another node than the upload's. `None` on a
    /// single node or when the database does not link it either.
    pub async fn revalidated_blob(
        &self,
        image: &ImageState,
        digest: &Digest,
    ) -> Result<Option<Arc<ImageState>>, RegistryError> {
        if !self.core.revalidate_misses
            || self.core.meta.blob_link(image.id, digest).await?.is_none()
        {
            return Ok(None);
        }
        self.revalidated(&image.name).await
    }

    /// One page of the referrers of `page.subject` in image `name`, in digest order. On a
    /// single node, from the image's state in memory. When nodes share the database, from
    /// one page query on every request: the list shows a referrer pushed a moment ago
    /// through another node, and a flood of referrers GETs (anonymous pull may be on) costs
    /// one indexed query each, neither a reload of the whole image through its actor (every
    /// tag and manifest record, serialised) nor a place in the image cache.
    pub async fn referrers(
        &self,
        name: &ImageName,
        page: &ReferrersPage<'_>,
    ) -> Result<Vec<Arc<ManifestRecord>>, RegistryError> {
        if self.core.revalidate_misses {
            let rows = self
                .core
                .meta
                .referrers(&self.core.name, name, page)
                .await?;
            return Ok(rows.into_iter().map(Arc::new).collect());
        }
        let Some(image) = self.image(name).await? else {
            return Ok(Vec::new());
        };
        let mut found = image.referrers(page.subject, page.artifact_type, page.after);
        found.truncate(page.limit.max(0) as usize);
        Ok(found)
    }

    /// Tags of image `name` after `last`, at most `limit`, in order; `None` if the image
    /// does not exist here (or holds nothing). A loaded image answers from memory; one that
    /// is not loaded answers from a page query, so listing a page of a 10,000-tag image
    /// neither loads it nor evicts images clients pull. When nodes share the database the
    /// page query always answers: the list shows a tag pushed a moment ago through another
    /// node, whose announcement may not have arrived here yet.
    pub async fn tag_names(
        &self,
        name: &ImageName,
        last: Option<&str>,
        limit: usize,
    ) -> Result<Option<Vec<String>>, RegistryError> {
        if let Some(image) = self
            .core
            .images
            .get(name)
            .filter(|_| !self.core.revalidate_misses)
        {
            return Ok(image
                .has_content()
                .then(|| image.tags_page(last, limit).tags));
        }
        let rows = self
            .core
            .activity
            .tag_page(
                &self.core.name,
                name.as_str(),
                last.unwrap_or(""),
                limit as i64,
            )
            .await?;
        if !rows.is_empty() {
            return Ok(Some(rows.into_iter().map(|r| r.tag).collect()));
        }
        // An empty page: past the last tag of an image (which exists), or an image without
        // tags (an empty list) or without anything (unknown). Both are told apart by
        // existence queries, never by loading the image: in a cluster a load is a reload
        // through the actor on every request, so a flood of `tags/list` on an untagged or
        // unknown name would read whole images from the database.
        if last.is_some() {
            let found = self.core.meta.find_image(&self.core.name, name).await?;
            return Ok(found.map(|_| Vec::new()));
        }
        let holds = self
            .core
            .meta
            .image_has_content(&self.core.name, name)
            .await?;
        Ok(holds.then(Vec::new))
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
        let bytes = self.core.store.read_bytes(digest).await?;
        self.core.manifests.insert(digest.clone(), bytes.clone());
        Ok(bytes)
    }

    /// A manifest's bytes from the cache if there, else from the store without caching
    /// them: for reads of many manifests at once (the referrers list), which must not
    /// evict the manifests clients pull.
    pub async fn manifest_bytes_uncached(&self, digest: &Digest) -> Result<Bytes, RegistryError> {
        match self.core.manifests.peek(digest) {
            Some(bytes) => Ok(bytes),
            None => Ok(self.core.store.read_bytes(digest).await?),
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

    /// Opens a stored blob, whole or `range`, for the HTTP layer to send.
    pub async fn open_blob(
        &self,
        digest: &Digest,
        range: Option<ByteRange>,
    ) -> Result<OpenedBlob, RegistryError> {
        Ok(self.core.store.open(digest, range).await?)
    }

    /// Refuses new content while the store's hard quota is reached.
    pub fn check_capacity(&self) -> Result<(), RegistryError> {
        Ok(self.core.store.ensure_capacity()?)
    }

    /// Stages a blob outside an upload session (a monolithic push, a proxy download).
    pub async fn stage_blob(
        &self,
        id: &str,
        algorithm: Algorithm,
    ) -> Result<Box<dyn StagedBlob>, RegistryError> {
        self.check_capacity()?;
        Ok(self.core.store.stage(id, algorithm).await?)
    }

    /// A pushed blob: verified, published and linked to `name` (ending upload `session`).
    pub async fn push_blob(
        &self,
        staged: Box<dyn StagedBlob>,
        name: &ImageName,
        digest: &Digest,
        session: Option<String>,
    ) -> Result<u64, RegistryError> {
        let size = self.publish_blob(staged, name, digest, session).await?;
        crate::metrics::blob_pushed(&self.config().name, size);
        Ok(size)
    }

    /// A blob downloaded by the proxy cache: verified, published and linked like a push.
    pub async fn cache_blob(
        &self,
        staged: Box<dyn StagedBlob>,
        name: &ImageName,
        digest: &Digest,
    ) -> Result<u64, RegistryError> {
        self.publish_blob(staged, name, digest, None).await
    }

    async fn publish_blob(
        &self,
        staged: Box<dyn StagedBlob>,
        name: &ImageName,
        digest: &Digest,
        session: Option<String>,
    ) -> Result<u64, RegistryError> {
        // Publish and link under the store's reference lock (see `registry::gc`).
        let _refs = self.core.store.gc.referencing().await?;
        let size = self.core.store.commit_counted(staged, digest).await?;
        let msg = messages::LinkBlob {
            name: name.clone(),
            digest: digest.clone(),
            size,
            session,
        };
        self.send(msg).await?;
        Ok(size)
    }

    /// Links a blob `from` holds into `name`; false if `from` does not hold it.
    pub async fn mount_blob(
        &self,
        name: &ImageName,
        from: ImageName,
        digest: &Digest,
    ) -> Result<bool, RegistryError> {
        // Held until the link is committed, so garbage collection cannot sweep the blob
        // between the check that the source has it and the new link.
        let _refs = self.core.store.gc.referencing().await?;
        let msg = messages::MountBlob {
            name: name.clone(),
            from,
            digest: digest.clone(),
        };
        self.send(msg).await
    }

    /// A pushed manifest: its bytes stored and its record (checked by the actor) committed.
    pub async fn push_manifest(
        &self,
        bytes: Bytes,
        msg: messages::PutManifest,
    ) -> Result<(), RegistryError> {
        {
            // From storing the bytes to committing the record, garbage collection waits:
            // the manifest's blobs cannot vanish after the check that they exist.
            let _refs = self.core.store.gc.referencing().await?;
            self.check_blobs_stored(&msg).await?;
            self.core
                .store
                .put_counted(&msg.record.digest, bytes)
                .await?;
            self.send(msg).await?;
        }
        crate::metrics::manifest_pushed(&self.config().name);
        Ok(())
    }

    /// With several nodes, checks (under the reference lock) that the store still holds
    /// every blob the manifest names: the actor checks this node's memory, which a sweep
    /// on another node does not update, and a `HEAD` on this node does not spare a blob
    /// from another node's sweep. One `stat` per blob; nothing on a single node, where the
    /// sweep drops the links from memory itself. A sparse repository may name absent
    /// content.
    async fn check_blobs_stored(&self, msg: &messages::PutManifest) -> Result<(), RegistryError> {
        if !self.core.store.gc.cluster().spans_nodes() || self.config().sparse_manifests {
            return Ok(());
        }
        for digest in &msg.blobs {
            if self.core.store.stat(digest).await?.is_none() {
                return Err(RegistryError::ManifestBlobUnknown(digest.clone()));
            }
        }
        Ok(())
    }

    /// A manifest the proxy cache fetched: stored and recorded under the same protocol.
    pub async fn cache_manifest(
        &self,
        bytes: Bytes,
        msg: messages::CacheManifest,
    ) -> Result<(), RegistryError> {
        let _refs = self.core.store.gc.referencing().await?;
        self.core
            .store
            .put_counted(&msg.record.digest, bytes)
            .await?;
        self.send(msg).await
    }

    /// Links into `name` a blob that another image of this repository links and the store
    /// holds (another node of the cluster cached it, and this node's memory does not know
    /// yet); its size, or `None` if there is no such blob. A blob only another repository
    /// holds is never adopted: its digest must not open it to readers of this one. Under
    /// the reference lock, like a mount: garbage collection cannot sweep the blob between
    /// the check and the link.
    pub async fn adopt_blob(
        &self,
        name: &ImageName,
        digest: &Digest,
    ) -> Result<Option<u64>, RegistryError> {
        let _refs = self.core.store.gc.referencing().await?;
        let linked = self
            .core
            .meta
            .images_linking(&self.core.name, digest, 1)
            .await?;
        if linked.is_empty() {
            return Ok(None);
        }
        let Some(stat) = self.core.store.stat(digest).await? else {
            return Ok(None);
        };
        let msg = messages::LinkBlob {
            name: name.clone(),
            digest: digest.clone(),
            size: stat.size,
            session: None,
        };
        self.send(msg).await?;
        Ok(Some(stat.size))
    }

    /// The locks this repository's store coordinates with the other nodes through.
    pub fn cluster_locks(&self) -> &Arc<dyn crate::meta::ClusterLocks> {
        self.core.store.gc.cluster()
    }

    /// Records that a client asked whether `digest` exists (`HEAD`): garbage collection
    /// spares it for a grace window (see `storage::gate`).
    pub fn touch_blob(&self, digest: &Digest) {
        self.core.store.gc.touch(digest, crate::clock::now());
    }
}
