//! Manifests of a proxy repository: a tag is trusted for the metadata max age, then
//! revalidated with a `HEAD` (only a changed digest costs a `GET`); manifests by digest never
//! expire; a fetched manifest's digest is verified before it is cached.

use std::sync::Arc;

use futures_util::StreamExt;
use reqwest::Method;

use super::super::found::{FoundManifest, ProxyServe};
use super::super::messages::CacheManifest;
use super::super::{Hosted, RegistryError};
use crate::meta::ManifestRecord;
use crate::oci::{Algorithm, Digest, ImageName, ParsedManifest, Reference};
use crate::proxy::metrics as pm;
use crate::proxy::mirrors::Upstreamed;
use crate::proxy::upstream::MANIFEST_ACCEPT;
use crate::proxy::{Priority, ProxyState, UpstreamError};

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
            return Ok(served(proxy, name, reference, found.clone(), "hit"));
        }
    } else if proxy.known_missing(name.as_str(), &reference.to_string()) {
        return Err(RegistryError::ManifestUnknown(reference.to_string()));
    }
    if let Err(e) = proxy.check_callable() {
        return stale_or(proxy, name, reference, local, e);
    }
    if let (Reference::Tag(tag), Some(found)) = (reference, &local) {
        let head = proxy
            .upstreams()
            .request(
                Priority::Revalidate,
                Method::HEAD,
                name.as_str(),
                &format!("manifests/{tag}"),
                Some(MANIFEST_ACCEPT),
            )
            .await;
        match head {
            Ok(r) => {
                let same = r
                    .response
                    .headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|d| d == found.digest.as_str());
                if same {
                    proxy.mark_fresh(name.as_str(), tag.as_str());
                    return Ok(served(proxy, name, reference, found.clone(), "revalidated"));
                }
            }
            Err(e) => return upstream_failed(proxy, name, reference, local, e),
        }
    }
    match fetch_manifest(repo, proxy, name, reference).await {
        Ok(found) => {
            proxy.mark_validated(name.as_str(), &reference_key(reference));
            Ok(served(proxy, name, reference, found, "miss"))
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
        proxy: None,
    }))
}

/// `tag` or `sha256:…`: the reference as the proxy's bookkeeping keys it.
fn reference_key(reference: &Reference) -> String {
    match reference {
        Reference::Tag(t) => t.as_str().to_string(),
        Reference::Digest(d) => d.to_string(),
    }
}

/// Counts how a manifest was served and labels it for the response's cache headers.
fn served(
    proxy: &ProxyState,
    name: &ImageName,
    reference: &Reference,
    mut found: FoundManifest,
    cache: &'static str,
) -> FoundManifest {
    pm::request(&proxy.repository, cache);
    if cache == "hit" {
        pm::saved(&proxy.repository, "hit");
    }
    found.proxy = Some(ProxyServe {
        cache,
        validated: proxy.validated_at(name.as_str(), &reference_key(reference)),
    });
    found
}

/// After a failed upstream call (already counted against the URL that failed): a 404 is
/// remembered and reported as unknown; anything else falls back to the cached copy, if
/// there is one.
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
    stale_or(proxy, name, reference, local, error)
}

fn stale_or(
    proxy: &ProxyState,
    name: &ImageName,
    reference: &Reference,
    local: Option<FoundManifest>,
    error: UpstreamError,
) -> Result<FoundManifest, RegistryError> {
    match local {
        Some(found) => {
            tracing::info!(repository = %proxy.repository, %error, "serving a cached manifest the upstream could not confirm");
            Ok(served(proxy, name, reference, found, "stale"))
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
    let upstreams = proxy.upstreams();
    let upstreamed = upstreams
        .request(
            Priority::Fetch,
            Method::GET,
            name.as_str(),
            &format!("manifests/{reference}"),
            Some(MANIFEST_ACCEPT),
        )
        .await?;
    let upstream = upstreamed.upstream.clone();
    let received = receive_manifest(repo, proxy, name, reference, upstreamed).await;
    match &received {
        Ok(_) => upstreams.body_received(&upstream),
        Err(e) => upstreams.body_failed(&upstream, e),
    }
    received
}

/// Reads, verifies, stores and records the manifest an upstream is sending.
async fn receive_manifest(
    repo: &Hosted,
    proxy: &ProxyState,
    name: &ImageName,
    reference: &Reference,
    upstreamed: Upstreamed,
) -> Result<FoundManifest, UpstreamError> {
    let (response, upstream) = (upstreamed.response, upstreamed.upstream);
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
    let bytes = read_bounded(response, proxy.manifest_max_bytes(), upstream.base()).await?;
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
    proxy.expected_sizes.note_manifest(&bytes);
    let local_error =
        |e: RegistryError| UpstreamError::Unavailable(format!("cannot cache the manifest: {e}"));
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
    let msg = CacheManifest {
        name: name.clone(),
        tag,
        record: record.clone(),
        blobs: parsed.blobs,
        children: parsed.children,
    };
    repo.cache_manifest(bytes, msg).await.map_err(local_error)?;
    Ok(FoundManifest {
        repo: repo.clone(),
        digest,
        record: Arc::new(record),
        proxy: None,
    })
}

/// Reads a manifest body of at most `max` bytes. A larger one (announced, or sent chunked
/// without a length) is refused as soon as it passes the limit: the connection is dropped
/// rather than the rest read, so a hostile upstream cannot make Berth buffer it.
async fn read_bounded(
    response: reqwest::Response,
    max: usize,
    base: &str,
) -> Result<bytes::Bytes, UpstreamError> {
    let too_large = || {
        UpstreamError::Invalid(format!(
            "upstream {base} sent a manifest over {max} bytes (limits.manifest_max_bytes); \
             Berth stopped reading it"
        ))
    };
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let mut body = response.bytes_stream();
    let mut bytes = bytes::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            UpstreamError::Unavailable(format!("upstream {base} broke off sending a manifest: {e}"))
        })?;
        if bytes.len() + chunk.len() > max {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.freeze())
}
