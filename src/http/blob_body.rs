//! Serving a stored blob, whole or a range, in whatever form its store hands it out (a local
//! file read in large blocks, a byte stream, or a redirect): shared by hosted and proxy
//! blob GETs.

use actix_files::{HttpRange, NamedFile};
use actix_web::body::SizedStream;
use actix_web::http::header::{self, ContentType};
use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;

use super::error::ApiError;
use super::headers::DOCKER_CONTENT_DIGEST_LC;
use crate::oci::{Digest, ImageName, OciErrorCode};
use crate::registry::RegistryError;
use crate::storage::{BlobBody, ByteRange, StorageError};

/// Files up to this size are read on the worker thread rather than the blocking pool.
const SYNC_READ_MAX: u64 = 64 * 1024;
/// Read size of a whole-blob GET.
const READ_BLOCK: u64 = 512 << 10;

/// Serves a blob the store holds, in whatever form the store hands it out.
pub(super) async fn serve(
    req: &HttpRequest,
    repo: &crate::registry::Hosted,
    size: u64,
    name: ImageName,
    digest: Digest,
) -> Result<HttpResponse, ApiError> {
    if req.method() == Method::HEAD {
        // A client checking before it skips an upload: protect the blob from garbage
        // collection for a grace window (an in-memory map entry; nothing is written).
        repo.touch_blob(&digest);
    }
    let range = match req.headers().get(header::RANGE) {
        Some(value) => Some(parse_range(value, size)?),
        None => None,
    };
    if req.method() == Method::GET {
        crate::metrics::blob_pulled(repo.name());
    }
    let wanted = range.map(|(start, len)| ByteRange { start, len });
    let opened = match repo.open_blob(&digest, wanted).await {
        Ok(opened) => opened,
        Err(RegistryError::Storage(StorageError::NotFound(_))) => {
            tracing::error!(%digest, image = %name, "linked blob is missing from the store");
            return Err(RegistryError::BlobUnknown(digest).into());
        }
        Err(e) => return Err(e.into()),
    };
    check_length(opened.size, size, &name, &digest)?;
    match opened.body {
        BlobBody::File { file, .. } => serve_file(req, file, size, &digest),
        BlobBody::Stream { len, stream } => Ok(streamed(req, range, size, len, stream, &digest)),
        // A pre-signed URL is signed for GET only: a HEAD sent there would be refused, so
        // Berth answers it from the size it already knows.
        BlobBody::Redirect(_) if req.method() == Method::HEAD => {
            let len = range.map_or(size, |(_, len)| len);
            let none = futures_util::stream::empty().boxed();
            Ok(streamed(req, range, size, len, none, &digest))
        }
        BlobBody::Redirect(url) => Ok(HttpResponse::TemporaryRedirect()
            .insert_header((header::LOCATION, url))
            .insert_header((DOCKER_CONTENT_DIGEST_LC, digest.as_str()))
            .finish()),
    }
}

/// A blob in a local file: large whole GETs are read in big blocks; `HEAD`, ranges and
/// small blobs go through the file server (which answers the request's `Range` itself).
fn serve_file(
    req: &HttpRequest,
    file: std::fs::File,
    size: u64,
    digest: &Digest,
) -> Result<HttpResponse, ApiError> {
    if size > SYNC_READ_MAX
        && req.method() == Method::GET
        && !req.headers().contains_key(header::RANGE)
    {
        return Ok(whole_blob(file, size, digest));
    }
    // The name only feeds content-type guessing and disposition, both overridden below.
    let file = NamedFile::from_file(file, digest.hex()).map_err(StorageError::Io)?;
    let mut response = file
        .use_etag(false)
        .use_last_modified(false)
        .disable_content_disposition()
        .set_content_type(mime_octet_stream())
        .read_mode_threshold(SYNC_READ_MAX)
        .into_response(req);
    let headers = response.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(digest.as_str()) {
        headers.insert(header::HeaderName::from_static(DOCKER_CONTENT_DIGEST_LC), v);
    }
    if let Ok(v) = header::HeaderValue::from_str(&format!("\"{digest}\"")) {
        headers.insert(header::ETAG, v);
    }
    Ok(response)
}

/// A blob the store streams (an object store): `200`, or `206` for a range; a `HEAD` gets
/// the same headers and no body.
fn streamed(
    req: &HttpRequest,
    range: Option<(u64, u64)>,
    size: u64,
    len: u64,
    stream: futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>,
    digest: &Digest,
) -> HttpResponse {
    let mut response = match range {
        Some((start, length)) => {
            let mut r = HttpResponse::PartialContent();
            let end = start + length - 1;
            r.insert_header((header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}")));
            r
        }
        None => HttpResponse::Ok(),
    };
    response
        .content_type(mime_octet_stream())
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((DOCKER_CONTENT_DIGEST_LC, digest.as_str()))
        .insert_header((header::ETAG, format!("\"{digest}\"")));
    if req.method() == Method::HEAD {
        let none = futures_util::stream::empty::<std::io::Result<Bytes>>();
        return response.body(SizedStream::new(len, none));
    }
    response.body(SizedStream::new(len, stream))
}

/// The stored blob must hold exactly the recorded size: `HEAD` and `GET` then report the
/// size the blob was pushed with, which is what manifests declare. A blob of another length
/// is damaged (truncated, or changed behind Berth's back): it is logged and answered as
/// missing, never served, so a client pushes the blob again, which replaces it.
fn check_length(stored: u64, size: u64, name: &ImageName, digest: &Digest) -> Result<(), ApiError> {
    if stored == size {
        return Ok(());
    }
    tracing::error!(%digest, image = %name, on_disk = stored, recorded = size, "blob file is damaged: its length is not the recorded size; push the blob again to repair it");
    Err(RegistryError::BlobUnknown(digest.clone()).into())
}

/// A whole large blob, read in 512 KiB blocks on the blocking pool. `NamedFile` reads 64 KiB
/// per blocking-pool round trip, which cut a single large GET to about a third of this
/// (0.7 vs 2.2 GB/s on loopback); it still serves `HEAD`, ranges and small blobs.
fn whole_blob(file: std::fs::File, size: u64, digest: &Digest) -> HttpResponse {
    let file = std::sync::Arc::new(file);
    let body = futures_util::stream::try_unfold(0u64, move |offset| {
        let file = file.clone();
        async move {
            if offset >= size {
                return Ok(None);
            }
            let len = (size - offset).min(READ_BLOCK) as usize;
            // Allocated here, on the worker, rather than on a blocking-pool thread: each of
            // those would grow its own malloc arena and keep it.
            let buf = Vec::with_capacity(len);
            let chunk = tokio::task::spawn_blocking(move || read_block(&file, buf, len))
                .await
                .map_err(std::io::Error::other)??;
            Ok::<_, std::io::Error>(Some((chunk, offset + len as u64)))
        }
    });
    HttpResponse::Ok()
        .content_type(mime_octet_stream())
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((DOCKER_CONTENT_DIGEST_LC, digest.as_str()))
        .insert_header((header::ETAG, format!("\"{digest}\"")))
        .body(SizedStream::new(size, body))
}

/// Reads the next `len` bytes (one read is in flight per response, so the file position is
/// the stream's offset). A blob that shrank is an error, not a short body.
fn read_block(file: &std::fs::File, mut buf: Vec<u8>, len: usize) -> std::io::Result<Bytes> {
    use std::io::Read;
    file.take(len as u64).read_to_end(&mut buf)?;
    if buf.len() < len {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Bytes::from(buf))
}

/// The first range of a `Range` header against a blob of `size` bytes, as `(start, length)`
/// (a blob server answers one range, as the file server does); `416` with the spec's error
/// if it cannot be satisfied (the file server would answer with an empty 416).
pub(super) fn parse_range(value: &header::HeaderValue, size: u64) -> Result<(u64, u64), ApiError> {
    value
        .to_str()
        .ok()
        .and_then(|v| HttpRange::parse(v, size).ok())
        .and_then(|r| r.first().map(|r| (r.start, r.length)))
        .filter(|(_, length)| *length > 0)
        .ok_or_else(|| {
            ApiError::code(OciErrorCode::RangeInvalid)
                .with_status(StatusCode::RANGE_NOT_SATISFIABLE)
                .with_header("content-range", format!("bytes */{size}"))
        })
}

pub(super) fn mime_octet_stream() -> mime::Mime {
    let ContentType(m) = ContentType::octet_stream();
    m
}
