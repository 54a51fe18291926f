//! Blobs a proxy repository has not cached yet: asked from the upstream of each proxy the
//! request reaches (in member order), streamed to the client while they are cached.
//!
//! A `Range` on such a blob starts (or joins) the download of the whole blob and answers
//! `206` with the requested bytes from its temp file as soon as they are written (Dragonfly
//! probes with `bytes=0-0`; lazy-pulling snapshotters read many ranges). A part that ends
//! before the blob's last byte is sent before the whole blob is verified: a range cannot be
//! checked against the blob's digest by anyone, and forwarding it upstream would not be
//! verified either. The blob's last byte waits for verification, as for a whole blob.

use actix_web::body::{BodyStream, SizedStream};
use actix_web::http::header;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};

use super::error::ApiError;
use super::headers::DOCKER_CONTENT_DIGEST_LC;
use crate::oci::{Digest, ImageName};
use crate::registry::proxied::{self, BlobFetch, InFlight, PartFetch};
use crate::registry::read::ProxyServe;
use crate::registry::{read, Hosted, RegistryError};

/// Says how a proxy served a response (documented in the README, "Proxy repositories"):
/// - `hit`: from the cache, without asking the upstream (a blob, a manifest by digest, or a
///   tag within the metadata max age);
/// - `revalidated`: a cached tag the upstream just confirmed with a `HEAD`;
/// - `miss`: fetched from the upstream now (blobs stream while they are cached);
/// - `coalesced`: streamed from another request's download in flight;
/// - `stale`: a cached copy the upstream could not confirm (down, blocked, rate-limiting).
pub const CACHE_HEADER: &str = "x-berth-cache";
/// When the upstream last sent or confirmed a proxied manifest (an HTTP date); absent when
/// Berth does not know (its bookkeeping is in memory, so not across a restart).
pub const VALIDATED_HEADER: &str = "x-berth-last-validated";

/// `X-Berth-Cache`, and for a known validation time `Age` (seconds since, as RFC 9111
/// defines it for a cache) and `X-Berth-Last-Validated`.
pub fn cache_headers(response: &mut HttpResponseBuilder, serve: &ProxyServe) {
    response.insert_header((CACHE_HEADER, serve.cache));
    if let Some(at) = serve.validated {
        let age = at.elapsed().unwrap_or_default().as_secs();
        response.insert_header((header::AGE, age.to_string()));
        response.insert_header((VALIDATED_HEADER, header::HttpDate::from(at).to_string()));
    }
}

pub async fn get(
    req: &HttpRequest,
    readers: &[Hosted],
    name: ImageName,
    digest: Digest,
) -> Result<HttpResponse, ApiError> {
    let mut upstream_error = None;
    for repo in readers.iter().filter(|r| r.proxy().is_some()) {
        let range = req.headers().get(header::RANGE);
        let outcome = if req.method() == Method::HEAD {
            match proxied::blob_size(repo, &name, &digest).await {
                Ok(size) => return head(size, range, &digest),
                Err(e) => Err(e),
            }
        } else if let Some(range) = range {
            match proxied::fetch_blob_part(repo, &name, &digest).await {
                Ok(PartFetch::InFlight(part)) => return partial(range, part, &digest),
                Ok(PartFetch::Cached) => {
                    let (repo, size) =
                        read::find_blob(std::slice::from_ref(repo), &name, &digest).await?;
                    return super::blob_body::serve(req, &repo, size, name, digest).await;
                }
                Err(e) => Err(e),
            }
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
                    return super::blob_body::serve(req, &repo, size, name, digest).await;
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

/// `HEAD` of an uncached blob (nothing is downloaded); with a `Range`, the headers of the
/// `206` a GET would get.
fn head(
    size: u64,
    range: Option<&header::HeaderValue>,
    digest: &Digest,
) -> Result<HttpResponse, ApiError> {
    let (mut response, length) = match range {
        Some(range) => {
            let (start, length) = super::blob_body::parse_range(range, size)?;
            let mut r = HttpResponse::PartialContent();
            r.insert_header((header::CONTENT_RANGE, content_range(start, length, size)));
            (r, length)
        }
        None => (HttpResponse::Ok(), size),
    };
    // A sized empty body: actix answers a HEAD with the body's length as `Content-Length`
    // (`no_chunking(n).finish()` would announce 0).
    let none = futures_util::stream::empty::<Result<bytes::Bytes, std::io::Error>>();
    Ok(response
        .content_type(super::blob_body::mime_octet_stream())
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((DOCKER_CONTENT_DIGEST_LC, digest.as_str()))
        .insert_header((CACHE_HEADER, "miss"))
        .body(SizedStream::new(length, none)))
}

/// `206` with one range of a blob being downloaded.
fn partial(
    range: &header::HeaderValue,
    part: InFlight,
    digest: &Digest,
) -> Result<HttpResponse, ApiError> {
    let size = part.size;
    let (start, length) = super::blob_body::parse_range(range, size)?;
    let cache = if part.coalesced { "coalesced" } else { "miss" };
    let stream = receiver_stream(part.read(start, start + length));
    Ok(HttpResponse::PartialContent()
        .content_type(super::blob_body::mime_octet_stream())
        .insert_header((header::CONTENT_RANGE, content_range(start, length, size)))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((DOCKER_CONTENT_DIGEST_LC, digest.as_str()))
        .insert_header((header::ETAG, format!("\"{digest}\"")))
        .insert_header((CACHE_HEADER, cache))
        .body(SizedStream::new(length, stream)))
}

fn content_range(start: u64, length: u64, size: u64) -> String {
    format!("bytes {start}-{}/{size}", start + length - 1)
}

/// The body of a response fed by a download. An `Err` item makes actix abort the
/// connection: the client sees a cut-off body, never a complete wrong one.
fn receiver_stream(
    body: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    futures_util::stream::unfold(body, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

fn streaming(
    size: Option<u64>,
    body: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
    digest: &Digest,
    coalesced: bool,
) -> HttpResponse {
    let stream = receiver_stream(body);
    let mut response = HttpResponse::Ok();
    response
        .content_type(super::blob_body::mime_octet_stream())
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((DOCKER_CONTENT_DIGEST_LC, digest.as_str()))
        .insert_header((header::ETAG, format!("\"{digest}\"")))
        .insert_header((CACHE_HEADER, if coalesced { "coalesced" } else { "miss" }));
    match size {
        Some(size) => response.body(SizedStream::new(size, stream)),
        None => response.body(BodyStream::new(stream)),
    }
}
