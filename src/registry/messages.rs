//! Messages to a repository actor: one per state change. Each is small (names, digests,
//! parsed manifests), never blob bytes.

use std::sync::Arc;

use actix::Message;

use super::{ImageState, RegistryError, UploadSession};
use crate::meta::ManifestRecord;
use crate::oci::{Digest, ImageName, Tag};

/// Load an image's state into memory (no-op if loaded); `None` if it does not exist.
#[derive(Message)]
#[rtype(result = "Result<Option<Arc<ImageState>>, RegistryError>")]
pub struct LoadImage {
    pub name: ImageName,
}

/// Read an image's state again from the database (after a miss, when other nodes write
/// it too); the cached state stays if the read fails. `None` if it does not exist.
#[derive(Message)]
#[rtype(result = "Result<Option<Arc<ImageState>>, RegistryError>")]
pub struct ReloadImage {
    pub name: ImageName,
}

/// Open a new upload session for `name`.
#[derive(Message)]
#[rtype(result = "Result<Arc<UploadSession>, RegistryError>")]
pub struct StartUpload {
    pub name: ImageName,
    /// The client's address, for the per-client cap on open sessions.
    pub client: Option<std::net::IpAddr>,
}

/// Forget an upload session (its temp file goes with it).
#[derive(Message)]
#[rtype(result = "Result<(), RegistryError>")]
pub struct EndUpload {
    pub id: String,
}

/// Record that a verified, published blob belongs to `name`; ends `session` if given.
#[derive(Message)]
#[rtype(result = "Result<(), RegistryError>")]
pub struct LinkBlob {
    pub name: ImageName,
    pub digest: Digest,
    pub size: u64,
    pub session: Option<String>,
}

/// Link a blob that `from` holds into `name`; false if `from` does not hold it.
#[derive(Message)]
#[rtype(result = "Result<bool, RegistryError>")]
pub struct MountBlob {
    pub name: ImageName,
    pub from: ImageName,
    pub digest: Digest,
}

/// Remove `name`'s link to a blob.
#[derive(Message)]
#[rtype(result = "Result<(), RegistryError>")]
pub struct UnlinkBlob {
    pub name: ImageName,
    pub digest: Digest,
}

/// Store a manifest whose bytes are already in the blob store and point every tag of
/// `tags` at it: all of them or, if any is refused, none.
#[derive(Message)]
#[rtype(result = "Result<(), RegistryError>")]
pub struct PutManifest {
    pub name: ImageName,
    pub tags: Vec<Tag>,
    pub record: ManifestRecord,
    pub blobs: Vec<Digest>,
    pub children: Vec<Digest>,
    pub rights: TagRights,
    /// The size each descriptor declares (see `ParsedManifest::sizes`).
    pub sizes: std::collections::HashMap<Digest, u64>,
}

/// What the pusher may do to tags, from the security model (Nexus: `add` creates, `edit`
/// changes what exists). Decided per tag inside the actor, where "new" or "moved" is known
/// for certain: the HTTP gate runs before anyone can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagRights {
    /// May point a tag that does not exist yet (`add`).
    pub create: bool,
    /// May point an existing tag at another manifest (`edit`).
    pub repoint: bool,
}

impl TagRights {
    /// Security off, or a caller holding both privileges.
    pub const ALL: TagRights = TagRights {
        create: true,
        repoint: true,
    };
}

/// Delete a manifest and the tags pointing at it.
#[derive(Message)]
#[rtype(result = "Result<(), RegistryError>")]
pub struct DeleteManifest {
    pub name: ImageName,
    pub digest: Digest,
}

/// Delete one tag (the manifest stays).
#[derive(Message)]
#[rtype(result = "Result<(), RegistryError>")]
pub struct DeleteTag {
    pub name: ImageName,
    pub tag: Tag,
}

/// Remove upload sessions idle for longer than the configured expiry.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ExpireUploads;

/// Record a manifest a proxy fetched from its upstream (bytes already in the blob store),
/// optionally tagging it. Unlike a push, its blobs need not be cached yet: they are fetched
/// when a client asks for them.
#[derive(Message)]
#[rtype(result = "Result<(), RegistryError>")]
pub struct CacheManifest {
    pub name: ImageName,
    pub tag: Option<Tag>,
    pub record: ManifestRecord,
    pub blobs: Vec<Digest>,
    pub children: Vec<Digest>,
}

/// Cleanup: delete `tag` only if it still points at `digest` (a push may have moved it
/// since the plan was made). True if deleted.
#[derive(Message)]
#[rtype(result = "Result<bool, RegistryError>")]
pub struct CleanupTag {
    pub name: ImageName,
    pub tag: Tag,
    pub digest: Digest,
}

/// Cleanup: delete a manifest only if no tag points at it any more. True if deleted.
#[derive(Message)]
#[rtype(result = "Result<bool, RegistryError>")]
pub struct CleanupManifest {
    pub name: ImageName,
    pub digest: Digest,
}
