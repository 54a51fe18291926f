//! What a repository actor does for each message. Every method here runs serialized by
//! [`super::RepositoryActor`]; each writes the metadata store first and updates the
//! in-memory state only after that write succeeded.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use dashmap::DashMap;

use super::messages::*;
use super::{ImageCache, ImageState, ManifestCache, RegistryError, UploadSession};
use crate::meta::{Activity, ImageRecords, ManifestRecord, MetaError, NewManifest, TagWrite};
use crate::model::{RepositoryConfig, WritePolicy};
use crate::oci::{Algorithm, Digest, ImageName, Tag};
use crate::storage::ManagedStore;

/// Shared state of one repository: read concurrently by request handlers, changed only
/// through the actor.
#[derive(Debug)]
pub struct RepoCore {
    pub name: String,
    /// The current definition (policies, online flag); replaced when the admin API updates it.
    pub config: RwLock<Arc<RepositoryConfig>>,
    pub store: Arc<ManagedStore>,
    pub meta: Arc<dyn ImageRecords>,
    /// Pages of one image's tags straight from the database (`tags/list` of an image that
    /// is not loaded).
    pub activity: Arc<dyn Activity>,
    pub manifests: Arc<ManifestCache>,
    /// Loaded images, bounded by the process-wide image budget (see `image_cache`).
    pub images: ImageCache,
    pub uploads: DashMap<String, Arc<UploadSession>>,
    /// Idle time after which an upload session is removed.
    pub upload_expiry_secs: i64,
    /// Most open upload sessions in this repository, and per client address (0 = no cap).
    pub upload_caps: (usize, usize),
    /// `cluster.node_id`: the prefix of this node's upload session ids.
    pub node_id: Option<Arc<str>>,
    /// Proxy repositories: the upstream and the cache's bookkeeping.
    pub proxy: Option<Arc<crate::proxy::ProxyState>>,
    /// Pulls not yet written to the metadata store: `(image, tag or digest)` → (last pull,
    /// Unix seconds; pulls since the last flush). Flushed in batches (see
    /// `registry/cleanup.rs`) so a pull never waits on a write.
    pub downloads: DashMap<(String, String), (i64, u64)>,
    /// Counts invalidations of this repository's image states by other nodes' changes (see
    /// `registry/coherence.rs`). A load that read the database before an invalidation but
    /// cached its result after it would keep the stale state; the load compares this
    /// counter before and after and reads again if it moved.
    pub invalidations: AtomicU64,
    /// Other nodes write the same database: a miss in the cached state (a tag or manifest
    /// another node may have added a moment ago, its announcement still on the way; the
    /// blobs a manifest `PUT` names) is checked against the database before it is
    /// answered. Hits never are.
    pub revalidate_misses: bool,
}

impl RepoCore {
    /// Forgets the in-memory image states after a failure that may have left them out of
    /// step with the database; each image reloads from the database on its next use.
    /// Upload sessions stay: they live only in memory and a client may be mid-push.
    pub(super) fn reset(&self) {
        self.images.clear();
    }

    pub(super) async fn load_image(
        &self,
        msg: LoadImage,
    ) -> Result<Option<Arc<ImageState>>, RegistryError> {
        if let Some(image) = self.images.get(&msg.name) {
            return Ok(Some(image.clone()));
        }
        let Some(id) = self.meta.find_image(&self.name, &msg.name).await? else {
            return Ok(None);
        };
        Ok(Some(self.load(id, msg.name).await?))
    }

    /// Reads a cached image again (see `revalidate_misses`). Through the actor, so no write
    /// of this node interleaves; the cached state is replaced only once the read succeeded
    /// (a database outage does not cost the warm state).
    pub(super) async fn reload_image(
        &self,
        msg: ReloadImage,
    ) -> Result<Option<Arc<ImageState>>, RegistryError> {
        let cached = self.images.get(&msg.name).map(|i| i.id);
        match cached {
            Some(id) => Ok(Some(self.load(id, msg.name).await?)),
            None => self.load_image(LoadImage { name: msg.name }).await,
        }
    }

    /// Loads an image from the database. Garbage collection may remove blob links while
    /// this reads (it does not take the store's reference lock, because request handlers
    /// holding that lock wait on this actor); the gate's epoch tells whether a sweep batch
    /// overlapped the read, and then the image is read again. Another node's change may
    /// land the same way (announced between the read and the insert, so its invalidation
    /// found nothing to remove): the invalidation counter catches that one.
    async fn load(&self, id: i64, name: ImageName) -> Result<Arc<ImageState>, RegistryError> {
        loop {
            let epoch = self.store.gc.epoch();
            if epoch % 2 == 1 {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                continue;
            }
            let invalidations = self.invalidations.load(Ordering::SeqCst);
            let record = self.meta.load_image(id).await?;
            crate::metrics::image_loaded();
            let image = Arc::new(ImageState::new(id, name.clone(), record));
            self.images.insert(name.clone(), image.clone());
            if self.store.gc.epoch() == epoch
                && self.invalidations.load(Ordering::SeqCst) == invalidations
            {
                return Ok(image);
            }
        }
    }

    /// Another node changed image `name` (or, with `None`, any image of this repository):
    /// forget the cached state, so the next read loads it from the database. The counter
    /// moves first, so a load in flight either sees it move or inserts before the removal.
    pub(super) fn invalidate(&self, name: Option<&ImageName>) {
        self.invalidations.fetch_add(1, Ordering::SeqCst);
        match name {
            Some(name) => {
                self.images.remove(name);
            }
            None => self.images.clear(),
        }
    }

    /// The image read again from the database (see `revalidate_misses`).
    async fn reload(&self, image: &ImageState) -> Result<Arc<ImageState>, RegistryError> {
        self.load(image.id, image.name.clone()).await
    }

    /// The image, created if it does not exist yet.
    async fn ensure_image(&self, name: &ImageName) -> Result<Arc<ImageState>, RegistryError> {
        if let Some(image) = self.images.get(name) {
            return Ok(image.clone());
        }
        let id = self.meta.ensure_image(&self.name, name).await?;
        self.load(id, name.clone()).await
    }

    async fn existing_image(&self, name: &ImageName) -> Result<Arc<ImageState>, RegistryError> {
        self.load_image(LoadImage { name: name.clone() })
            .await?
            .ok_or_else(|| RegistryError::NameUnknown(name.clone()))
    }

    pub(super) async fn start_upload(
        &self,
        msg: StartUpload,
    ) -> Result<Arc<UploadSession>, RegistryError> {
        self.check_upload_caps(msg.client)?;
        let id = super::upload::new_id(self.node_id.as_deref());
        let writer = self.store.stage(&id, Algorithm::Sha256).await?;
        let session = Arc::new(UploadSession::new(id.clone(), msg.name, msg.client, writer));
        self.uploads.insert(id, session.clone());
        Ok(session)
    }

    /// Refuses a new session beyond the repository's or the client's cap. Counted here, in
    /// the single writer, so concurrent starts cannot overshoot.
    fn check_upload_caps(&self, client: Option<std::net::IpAddr>) -> Result<(), RegistryError> {
        let (per_repository, per_client) = self.upload_caps;
        let refuse = |reason: &'static str, detail: String| {
            metrics::counter!(crate::metrics::UPLOADS_REFUSED, "reason" => reason).increment(1);
            Err(RegistryError::TooManyUploads(detail))
        };
        if per_repository > 0 && self.uploads.len() >= per_repository {
            return refuse(
                "repository",
                format!(
                    "repository {} has {per_repository} upload sessions open (limits.upload_sessions_per_repository); finish or cancel some first",
                    self.name
                ),
            );
        }
        if let (Some(ip), true) = (client, per_client > 0) {
            let open = self.uploads.iter().filter(|s| s.client == Some(ip)).count();
            if open >= per_client {
                return refuse(
                    "client",
                    format!(
                        "{ip} has {per_client} upload sessions open in repository {} (limits.upload_sessions_per_client); finish or cancel some first",
                        self.name
                    ),
                );
            }
        }
        Ok(())
    }

    pub(super) async fn end_upload(&self, msg: EndUpload) -> Result<(), RegistryError> {
        self.uploads.remove(&msg.id);
        Ok(())
    }

    pub(super) async fn link_blob(&self, msg: LinkBlob) -> Result<(), RegistryError> {
        let image = self.ensure_image(&msg.name).await?;
        self.meta
            .link_blob(self.store.name(), image.id, &msg.digest, msg.size)
            .await?;
        image.link_blob(msg.digest, msg.size);
        self.images.recharge(&image);
        if let Some(id) = msg.session {
            self.uploads.remove(&id);
        }
        Ok(())
    }

    pub(super) async fn mount_blob(&self, msg: MountBlob) -> Result<bool, RegistryError> {
        let Some(from) = self.load_image(LoadImage { name: msg.from }).await? else {
            return Ok(false);
        };
        let Some(size) = from.blob_size(&msg.digest) else {
            return Ok(false);
        };
        self.link_blob(LinkBlob {
            name: msg.name,
            digest: msg.digest,
            size,
            session: None,
        })
        .await?;
        Ok(true)
    }

    /// Unlinks a blob from an image, unless a manifest of the image still names it: the
    /// image would then still be listed and pullable by tag, but fail on the missing layer.
    /// Checked inside the actor, so no manifest can be stored between the check and the
    /// unlink.
    pub(super) async fn unlink_blob(&self, msg: UnlinkBlob) -> Result<(), RegistryError> {
        let image = self.existing_image(&msg.name).await?;
        let users = self
            .meta
            .manifests_using_blob(image.id, &msg.digest)
            .await?;
        if !users.is_empty() {
            return Err(RegistryError::BlobInUse {
                digest: msg.digest,
                manifests: users.iter().map(|m| with_tags(&image, m)).collect(),
            });
        }
        if !self.meta.unlink_blob(image.id, &msg.digest).await? {
            return Err(RegistryError::BlobUnknown(msg.digest));
        }
        image.unlink_blob(&msg.digest);
        self.images.recharge(&image);
        Ok(())
    }

    pub(super) async fn put_manifest(&self, msg: PutManifest) -> Result<(), RegistryError> {
        let mut image = self.ensure_image(&msg.name).await?;
        let missing = |image: &ImageState| {
            msg.blobs.iter().any(|d| image.blob_size(d).is_none())
                || msg.children.iter().any(|d| image.manifest(d).is_none())
        };
        // Blobs pushed through another node a moment ago may not be announced here yet.
        if self.revalidate_misses && missing(&image) {
            image = self.reload(&image).await?;
        }
        for tag in &msg.tags {
            self.check_tag(&image, tag.as_str(), &msg.record.digest, msg.rights)?;
        }
        // A sparse repository (a mirror that copies some platforms only) accepts
        // references to content it does not hold; pulling that content is a 404. What it
        // does hold must still match the declared sizes.
        let sparse = self.config.read().unwrap().sparse_manifests;
        for digest in &msg.blobs {
            let stored = image.blob_size(digest);
            check_reference(digest, stored, &msg.sizes, sparse)?;
        }
        for digest in &msg.children {
            let stored = image.manifest(digest).map(|m| m.size);
            check_reference(digest, stored, &msg.sizes, sparse)?;
        }
        let writes: Vec<TagWrite> = msg
            .tags
            .iter()
            .map(|tag| match self.may_redeploy(tag.as_str()) {
                true => TagWrite::moving(tag),
                false => TagWrite::once(tag),
            })
            .collect();
        self.record_manifest(&image, msg.record, &msg.blobs, &msg.children, &writes)
            .await
    }

    /// Writes a checked manifest (and its tags) to the database, then to the in-memory state.
    async fn record_manifest(
        &self,
        image: &Arc<ImageState>,
        record: ManifestRecord,
        blobs: &[Digest],
        children: &[Digest],
        tags: &[TagWrite<'_>],
    ) -> Result<(), RegistryError> {
        let new = NewManifest {
            record: &record,
            blobs,
            children,
        };
        // The in-memory check (`check_redeploy`) refused moves already; the database
        // repeats it in the write transaction, where it holds across processes too.
        self.meta
            .put_manifest(self.store.name(), image.id, &new, tags)
            .await
            .map_err(|e| match e {
                MetaError::TagExists { tag, current } => self.redeploy_refused(&tag, &current),
                e => e.into(),
            })?;
        let digest = record.digest.clone();
        image.insert_manifest(record);
        for write in tags {
            image.set_tag(write.tag.as_str(), digest.clone());
        }
        self.images.recharge(image);
        Ok(())
    }

    /// Whether `tag` may point at `digest`: creating it needs `add`, moving it `edit`
    /// (pointing it where it already points changes nothing and needs neither), and the
    /// write policy must allow the move.
    fn check_tag(
        &self,
        image: &ImageState,
        tag: &str,
        digest: &Digest,
        rights: TagRights,
    ) -> Result<(), RegistryError> {
        let refused = |privilege: &str, what: &str| -> Result<(), RegistryError> {
            Err(RegistryError::Denied(format!(
                "{what} tag {tag} of {} needs the {privilege} privilege on repository {}",
                image.name, self.name
            )))
        };
        match image.tag(tag) {
            None if !rights.create => refused("add", "creating"),
            Some(current) if &current != digest && !rights.repoint => refused("edit", "moving"),
            _ => self.check_redeploy(image, tag, digest),
        }
    }

    /// `ALLOW_ONCE`: a tag that exists may not move to another digest (re-pushing the same
    /// digest is fine), except `latest` when `latest_policy` allows it. Checked inside the
    /// actor, so no concurrent push can slip between the check and the write.
    fn check_redeploy(
        &self,
        image: &ImageState,
        tag: &str,
        digest: &Digest,
    ) -> Result<(), RegistryError> {
        if self.may_redeploy(tag) {
            return Ok(());
        }
        match image.tag(tag) {
            Some(current) if &current != digest => {
                Err(self.redeploy_refused(tag, current.as_str()))
            }
            _ => Ok(()),
        }
    }

    /// Whether the write policy lets `tag` move to another digest.
    fn may_redeploy(&self, tag: &str) -> bool {
        let config = self.config.read().unwrap();
        config.write_policy != WritePolicy::AllowOnce || (config.latest_policy && tag == "latest")
    }

    fn redeploy_refused(&self, tag: &str, current: &str) -> RegistryError {
        RegistryError::Denied(format!(
            "repository {} does not allow redeploy (write policy ALLOW_ONCE): tag {tag} already points to {current}",
            self.name
        ))
    }

    /// A proxy's cached manifest: no redeploy policy and no reference checks (the upstream
    /// is the authority; referenced blobs arrive when clients ask for them).
    pub(super) async fn cache_manifest(&self, msg: CacheManifest) -> Result<(), RegistryError> {
        let image = self.ensure_image(&msg.name).await?;
        let tags: Vec<Tag> = msg.tag.into_iter().collect();
        let writes: Vec<TagWrite> = tags.iter().map(TagWrite::moving).collect();
        self.record_manifest(&image, msg.record, &msg.blobs, &msg.children, &writes)
            .await
    }

    pub(super) async fn delete_manifest(&self, msg: DeleteManifest) -> Result<(), RegistryError> {
        let image = self.existing_image(&msg.name).await?;
        let Some(tags) = self.meta.delete_manifest(image.id, &msg.digest).await? else {
            return Err(RegistryError::ManifestUnknown(msg.digest.to_string()));
        };
        image.remove_manifest(&msg.digest, &tags);
        self.images.recharge(&image);
        Ok(())
    }

    pub(super) async fn delete_tag(&self, msg: DeleteTag) -> Result<(), RegistryError> {
        let image = self.existing_image(&msg.name).await?;
        if !self.meta.delete_tag(image.id, &msg.tag).await? {
            return Err(RegistryError::ManifestUnknown(msg.tag.to_string()));
        }
        image.remove_tag(msg.tag.as_str());
        self.images.recharge(&image);
        Ok(())
    }

    pub(super) async fn expire_uploads(&self, _: ExpireUploads) {
        let expiry = self.upload_expiry_secs;
        let before = self.uploads.len();
        self.uploads.retain(|_, s| s.idle_secs() < expiry);
        let removed = before - self.uploads.len();
        if removed > 0 {
            tracing::info!(repository = %self.name, removed, "expired idle upload sessions");
        }
    }
}

/// A manifest's reference to `digest` holds if the content is in the image (`stored` is
/// its size) and the descriptor declares that size: a client trusts a descriptor's size
/// when it pulls, so a wrong one would make a valid-looking image that cannot be pulled.
/// With `absent_ok` (a sparse repository) content that is not in the image passes.
fn check_reference(
    digest: &Digest,
    stored: Option<u64>,
    declared: &std::collections::HashMap<Digest, u64>,
    absent_ok: bool,
) -> Result<(), RegistryError> {
    let stored = match stored {
        Some(size) => size,
        None if absent_ok => return Ok(()),
        None => return Err(RegistryError::ManifestBlobUnknown(digest.clone())),
    };
    match declared.get(digest) {
        Some(&size) if size != stored => Err(RegistryError::SizeMismatch {
            digest: digest.clone(),
            declared: size,
            stored,
        }),
        _ => Ok(()),
    }
}

/// `digest (tags a, b)` for a manifest of `image`, so a refusal names what the user knows.
fn with_tags(image: &ImageState, digest: &str) -> String {
    let tags = Digest::parse(digest)
        .map(|d| image.tags_of(&d))
        .unwrap_or_default();
    if tags.is_empty() {
        digest.to_string()
    } else {
        format!("{digest} (tags {})", tags.join(", "))
    }
}
