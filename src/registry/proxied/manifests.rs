//! Manifests of a proxy repository: a tag is trusted for the metadata max age, then
//! revalidated with a `HEAD` (only a changed digest costs a `GET`); manifests by digest never
//! expire; a fetched manifest's digest is verified before it is cached.

use std::sync::Arc;

use reqwest::Method;

use super::super::messages::CacheManifest;
use super::super::read::FoundManifest;
use super::super::{Hosted, RegistryError};
use crate::meta::ManifestRecord;
use crate::oci::{Algorithm, Digest, ImageName, ParsedManifest, Reference};
use crate::proxy::metrics as pm;
use crate::proxy::upstream::MANIFEST_ACCEPT;
use crate::proxy::{ProxyState, UpstreamError};

/// Largest manifest accepted from an upstream (the push limit's default).
const MANIFEST_MAX: usize = 4 << 20;

/// The manifest `reference` of image `name` in proxy `repo`.
pub async fn find_manifest(
    repo: &Hosted,
    proxy: &Arc<ProxyState>,
    name: &ImageName,
    reference: &Reference,
) -> Result<FoundManifest, RegistryError> {
    let local = cached_manifest(repo, name, reference).await?;
    let fresh = match reference {
        Reference::Digest(_) => true,
        Reference::Tag(tag) => proxy.tag_is_fresh(name.as_str(), tag.as_str()),
    };
    if let Some(found) = &local {
        if fresh {
            pm::request(&proxy.repository, "hit");
            return Ok(found.clone());
        }
    } else if proxy.known_missing(name.as_str(), &reference.to_string()) {
        return Err(RegistryError::ManifestUnknown(reference.to_string()));
    }
    if let Err(e) = proxy.check_callable() {
        return stale_or(proxy, local, e);
    }
    let upstream = proxy.upstream();
    if let (Reference::Tag(tag), Some(found)) = (reference, &local) {
        let head = upstream
            .request(
                Method::HEAD,
                name.as_str(),
                &format!("manifests/{tag}"),
                Some(MANIFEST_ACCEPT),
            )
            .await;
        match head {
            Ok(r) => {
                proxy.record_success();
                let same = r
                    .headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|d| d == found.digest.as_str());
                if same {
                    proxy.mark_fresh(name.as_str(), tag.as_str());
                    pm::request(&proxy.repository, "revalidated");
                    return Ok(found.clone());
                }
            }
            Err(e) => return upstream_failed(proxy, name, reference, local, e),
        }
    }
    match fetch_manifest(repo, proxy, name, reference).await {
        Ok(found) => {
            proxy.record_success();
            if let Reference::Tag(tag) = reference {
                proxy.mark_fresh(name.as_str(), tag.as_str());
            }
            pm::request(&proxy.repository, "miss");
            Ok(found)
        }
        Err(e) => upstream_failed(proxy, name, reference, local, e),
    }
}

async fn cached_manifest(
    repo: &Hosted,
    name: &ImageName,
    reference: &Reference,
) -> Result<Option<FoundManifest>, RegistryError> {
    let Some(image) = repo.image(name).await? else {
        return Ok(None);
    };
    let digest = match reference {
        Reference::Tag(tag) => match image.tag(tag.as_str()) {
            Some(d) => d,
            None => return Ok(None),
        },
        Reference::Digest(d) => d.clone(),
    };
    Ok(image.manifest(&digest).map(|record| FoundManifest {
        repo: repo.clone(),
        digest,
        record,
        stale: false,
    }))
}

/// After a failed upstream call: a 404 is remembered and reported as unknown; anything
/// else falls back to the cached copy, if there is one.
fn upstream_failed(
    proxy: &ProxyState,
    name: &ImageName,
    reference: &Reference,
    local: Option<FoundManifest>,
    error: UpstreamError,
) -> Result<FoundManifest, RegistryError> {
    if let UpstreamError::NotFound = error {
        proxy.remember_missing(name.as_str(), &reference.to_string());
        return Err(RegistryError::ManifestUnknown(reference.to_string()));
    }
    proxy.record_failure(&error);
    stale_or(proxy, local, error)
}

fn stale_or(
    proxy: &ProxyState,
    local: Option<FoundManifest>,
    error: UpstreamError,
) -> Result<FoundManifest, RegistryError> {
    match local {
        Some(mut found) => {
            tracing::info!(repository = %proxy.repository, %error, "serving a cached manifest the upstream could not confirm");
            pm::request(&proxy.repository, "stale");
            found.stale = true;
            Ok(found)
        }
        None => {
            pm::request(&proxy.repository, "error");
            Err(RegistryError::Upstream {
                repository: proxy.repository.clone(),
                error,
            })
        }
    }
}

/// GETs a manifest, verifies its digest, stores and records it.
async fn fetch_manifest(
    repo: &Hosted,
    proxy: &ProxyState,
    name: &ImageName,
    reference: &Reference,
) -> Result<FoundManifest, UpstreamError> {
    let upstream = proxy.upstream();
    let response = upstream
        .request(
            Method::GET,
            name.as_str(),
            &format!("manifests/{reference}"),
            Some(MANIFEST_ACCEPT),
        )
        .await?;
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let claimed = response
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|d| Digest::parse(d).ok());
    if response
        .content_length()
        .is_some_and(|n| n > MANIFEST_MAX as u64)
    {
        return Err(UpstreamError::Invalid(format!(
            "upstream {} sent a manifest over {MANIFEST_MAX} bytes",
            upstream.base()
        )));
    }
    let bytes = response.bytes().await.map_err(|e| {
        UpstreamError::Unavailable(format!(
            "upstream {} broke off sending a manifest: {e}",
            upstream.base()
        ))
    })?;
    let expected = match reference {
        Reference::Digest(d) => Some(d.clone()),
        Reference::Tag(_) => claimed.filter(|d| d.algorithm() == Algorithm::Sha256),
    };
    let algorithm = expected
        .as_ref()
        .map_or(Algorithm::Sha256, |d| d.algorithm());
    let digest = Digest::of_bytes(algorithm, &bytes);
    if let Some(expected) = expected.filter(|e| e != &digest) {
        return Err(UpstreamError::Invalid(format!(
            "upstream {} sent a manifest whose digest is {digest}, not {expected}",
            upstream.base()
        )));
    }
    let parsed = ParsedManifest::parse(&bytes, content_type.as_deref()).map_err(|e| {
        UpstreamError::Invalid(format!(
            "upstream {} sent a manifest Berth cannot use: {e}",
            upstream.base()
        ))
    })?;
    let local_error =
        |e: RegistryError| UpstreamError::Unavailable(format!("cannot cache the manifest: {e}"));
    repo.store()
        .put_bytes(&digest, bytes.clone())
        .await
        .map_err(|e| local_error(e.into()))?;
    let record = ManifestRecord {
        digest: digest.clone(),
        media_type: parsed.media_type,
        size: bytes.len() as u64,
        artifact_type: parsed.artifact_type,
        subject: parsed.subject,
    };
    let tag = match reference {
        Reference::Tag(t) => Some(t.clone()),
        Reference::Digest(_) => None,
    };
    repo.send(CacheManifest {
        name: name.clone(),
        tag,
        record: record.clone(),
        blobs: parsed.blobs,
        children: parsed.children,
    })
    .await
    .map_err(local_error)?;
    Ok(FoundManifest {
        repo: repo.clone(),
        digest,
        record: Arc::new(record),
        stale: false,
    })
}
