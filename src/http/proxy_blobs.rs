//! Blobs a proxy repository has not cached yet: asked from the upstream of each proxy the
//! request reaches (in member order), streamed to the client while they are cached.

use actix_web::body::{BodyStream, SizedStream};
use actix_web::http::header;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse};

use super::error::ApiError;
use super::headers::DOCKER_CONTENT_DIGEST_LC;
use crate::oci::{Digest, ImageName};
use crate::registry::proxied::{self, BlobFetch};
use crate::registry::{read, Hosted, RegistryError};

/// Says how a proxy served a response: `miss` (fetched from the upstream now), `coalesced`
/// (streamed from another request's download in flight) or `stale` (a cached copy the
/// upstream could not confirm).
pub const CACHE_HEADER: &str = "x-berth-cache";

pub async fn get(
    req: &HttpRequest,
    readers: &[Hosted],
    name: ImageName,
    digest: Digest,
) -> Result<HttpResponse, ApiError> {
    let mut upstream_error = None;
    for repo in readers.iter().filter(|r| r.proxy().is_some()) {
        let outcome = if req.method() == Method::HEAD {
            proxied::blob_size(repo, &name, &digest)
                .await
                .map(|size| head(size, &digest))
        } else {
            match proxied::fetch_blob(repo, &name, &digest).await {
                Ok(BlobFetch::Streaming {
                    size,
                    body,
                    coalesced,
                }) => Ok(streaming(size, body, &digest, coalesced)),
                Ok(BlobFetch::Cached) => {
                    let (repo, size) =
                        read::find_blob(std::slice::from_ref(repo), &name, &digest).await?;
                    return super::blobs::serve(req, &repo, size, name, digest).await;
                }
                Err(e) => Err(e),
            }
        };
        match outcome {
            Ok(response) => return Ok(response),
            Err(RegistryError::BlobUnknown(_)) => {}
            Err(e @ RegistryError::Upstream { .. }) => {
                upstream_error.get_or_insert(e);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(upstream_error
        .unwrap_or(RegistryError::BlobUnknown(digest))
        .into())
}

fn head(size: u64, digest: &Digest) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(super::blobs::mime_octet_stream())
        .insert_header((DOCKER_CONTENT_DIGEST_LC, digest.as_str()))
        .insert_header((CACHE_HEADER, "miss"))
        .no_chunking(size)
        .finish()
}

fn streaming(
    size: Option<u64>,
    body: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
    digest: &Digest,
    coalesced: bool,
) -> HttpResponse {
    // An `Err` item makes actix abort the connection: the client sees a cut-off body, never
    // a complete wrong one.
    let stream = futures_util::stream::unfold(body, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut response = HttpResponse::Ok();
    response
        .content_type(super::blobs::mime_octet_stream())
        .insert_header((DOCKER_CONTENT_DIGEST_LC, digest.as_str()))
        .insert_header((header::ETAG, format!("\"{digest}\"")))
        .insert_header((CACHE_HEADER, if coalesced { "coalesced" } else { "miss" }));
    match size {
        Some(size) => response.body(SizedStream::new(size, stream)),
        None => response.body(BodyStream::new(stream)),
    }
}
