//! Reads across the hosted repositories a request consults (one for a hosted repository,
//! the members in order for a group): the first that has a manifest or blob serves it; tag,
//! catalog and referrer lists are merged, sorted and deduplicated.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{Hosted, ImageState, RegistryError};
use crate::meta::{ManifestRecord, ReferrersPage};
use crate::oci::{Digest, ImageName, Reference};

pub use super::found::{FoundManifest, ProxyServe};

/// The first reader that resolves `reference` in image `name`. `NAME_UNKNOWN` if no reader
/// knows the image, `MANIFEST_UNKNOWN` if some do but none has the reference.
pub async fn find_manifest(
    readers: &[Hosted],
    name: &ImageName,
    reference: &Reference,
) -> Result<FoundManifest, RegistryError> {
    let mut image_seen = false;
    let mut upstream_error = None;
    for repo in readers {
        if let Some(proxy) = repo.proxy() {
            match super::proxied::find_manifest(repo, proxy, name, reference).await {
                Ok(found) => return Ok(found),
                Err(RegistryError::ManifestUnknown(_)) => image_seen = true,
                Err(RegistryError::NameUnknown(_)) => {}
                // A later member may still have it; report the upstream only if none does.
                Err(e @ RegistryError::Upstream { .. }) => {
                    upstream_error.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
            continue;
        }
        let Some(image) = repo.image(name).await? else {
            continue;
        };
        image_seen = true;
        let mut found = resolve(&image, reference);
        if found.is_none() {
            if let Some(fresh) = repo.revalidated(name).await? {
                found = resolve(&fresh, reference);
            }
        }
        if let Some((digest, record)) = found {
            return Ok(FoundManifest {
                repo: repo.clone(),
                digest,
                record,
                proxy: None,
            });
        }
    }
    if let Some(e) = upstream_error {
        return Err(e);
    }
    if image_seen {
        Err(RegistryError::ManifestUnknown(reference.to_string()))
    } else {
        Err(RegistryError::NameUnknown(name.clone()))
    }
}

/// The manifest `reference` names in `image`, if it holds it.
fn resolve(image: &ImageState, reference: &Reference) -> Option<(Digest, Arc<ManifestRecord>)> {
    let digest = match reference {
        Reference::Tag(tag) => image.tag(tag.as_str())?,
        Reference::Digest(d) => d.clone(),
    };
    image.manifest(&digest).map(|record| (digest, record))
}

/// The size of blob (or manifest) `digest` in `image`, if it holds it.
fn stored_size(image: &ImageState, digest: &Digest) -> Option<u64> {
    image
        .blob_size(digest)
        .or_else(|| image.manifest(digest).map(|m| m.size))
}

/// The first reader whose image links blob `digest` (or holds it as a manifest), with size.
pub async fn find_blob(
    readers: &[Hosted],
    name: &ImageName,
    digest: &Digest,
) -> Result<(Hosted, u64), RegistryError> {
    for repo in readers {
        let Some(image) = repo.image(name).await? else {
            continue;
        };
        if let Some(size) = stored_size(&image, digest) {
            return Ok((repo.clone(), size));
        }
        // In a cluster a miss asks the database whether another node linked the blob a
        // moment ago (one key lookup; clients probe every layer before pushing it, so the
        // whole image is read again only when the link exists).
        if let Some(image) = repo.revalidated_blob(&image, digest).await? {
            if let Some(size) = stored_size(&image, digest) {
                return Ok((repo.clone(), size));
            }
        }
    }
    Err(RegistryError::BlobUnknown(digest.clone()))
}

/// Tags of image `name` across readers, sorted and deduplicated, after `last`, at most
/// `limit`, and whether more follow. `None` if no reader has the image.
pub async fn tags(
    readers: &[Hosted],
    name: &ImageName,
    last: Option<&str>,
    limit: usize,
) -> Result<Option<(Vec<String>, bool)>, RegistryError> {
    let mut merged = BTreeSet::new();
    let mut found = false;
    for repo in readers {
        // limit + 1 from each reader is enough to fill the page and know if more follow.
        if let Some(page) = repo.tag_names(name, last, limit.saturating_add(1)).await? {
            found = true;
            merged.extend(page);
        }
    }
    if !found {
        return Ok(None);
    }
    let more = merged.len() > limit;
    Ok(Some((merged.into_iter().take(limit).collect(), more)))
}

/// Image names across readers, sorted and deduplicated, after `last`, at most `limit`.
pub async fn catalog(
    readers: &[Hosted],
    last: Option<&str>,
    limit: usize,
) -> Result<(Vec<String>, bool), RegistryError> {
    let mut merged = BTreeSet::new();
    for repo in readers {
        merged.extend(repo.list_images(last, limit as i64 + 1).await?);
    }
    let more = merged.len() > limit;
    Ok((merged.into_iter().take(limit).collect(), more))
}

/// A referrer and the repository whose store holds its bytes.
pub struct Referrer {
    pub repo: Hosted,
    pub record: Arc<ManifestRecord>,
}

/// Referrers of `subject` across readers with a digest after `after`, deduplicated by
/// digest (the first reader wins), in digest order, at most `limit`. Each reader gives at
/// most `limit` too: the first `limit` of the merged list are among them.
pub async fn referrers(
    readers: &[Hosted],
    name: &ImageName,
    subject: &Digest,
    artifact_type: Option<&str>,
    after: Option<&Digest>,
    limit: usize,
) -> Result<Vec<Referrer>, RegistryError> {
    let page = ReferrersPage {
        subject,
        artifact_type,
        after,
        limit: i64::try_from(limit).unwrap_or(i64::MAX),
    };
    let mut merged: BTreeMap<String, Referrer> = BTreeMap::new();
    for repo in readers {
        for record in repo.referrers(name, &page).await? {
            merged
                .entry(record.digest.to_string())
                .or_insert_with(|| Referrer {
                    repo: repo.clone(),
                    record,
                });
        }
    }
    Ok(merged.into_values().take(limit).collect())
}
