//! `GET|HEAD|DELETE /v2/<name>/blobs/<digest>`.
//!
//! A blob is served only if this image links it (pushed, mounted or part of a manifest
//! here); the store being shared does not make blobs visible across images.

use actix_files::{HttpRange, NamedFile};
use actix_web::body::SizedStream;
use actix_web::http::header::{self, ContentType};
use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};

use super::error::ApiError;
use super::headers::DOCKER_CONTENT_DIGEST_LC;
use super::Ctx;
use crate::oci::{Digest, ImageName, OciErrorCode};
use crate::registry::messages::UnlinkBlob;
use crate::registry::{read, RegistryError};

/// Files up to this size are read on the worker thread rather than the blocking pool.
const SYNC_READ_MAX: u64 = 64 * 1024;
/// Read size of a whole-blob GET.
const READ_BLOCK: u64 = 512 << 10;

pub async fn get(
    ctx: &Ctx,
    req: &HttpRequest,
    name: ImageName,
    digest: Digest,
) -> Result<HttpResponse, ApiError> {
    let readers = ctx.readers()?;
    let (repo, size) = match read::find_blob(&readers, &name, &digest).await {
        Err(RegistryError::BlobUnknown(_)) if readers.iter().any(|r| r.proxy().is_some()) => {
            return super::proxy_blobs::get(req, &readers, name, digest).await;
        }
        found => found?,
    };
    let proxied = repo.proxy().is_some();
    let mut response = serve(req, &repo, size, name, digest).await?;
    if proxied {
        crate::proxy::metrics::saved(repo.name(), "hit");
        response.headers_mut().insert(
            header::HeaderName::from_static(super::proxy_blobs::CACHE_HEADER),
            header::HeaderValue::from_static("hit"),
        );
    }
    Ok(response)
}

/// Serves a blob the store holds.
pub(super) async fn serve(
    req: &HttpRequest,
    repo: &crate::registry::Hosted,
    size: u64,
    name: ImageName,
    digest: Digest,
) -> Result<HttpResponse, ApiError> {
    let unknown = || RegistryError::BlobUnknown(digest.clone());
    if req.method() == Method::HEAD {
        // A client checking before it skips an upload: protect the blob from garbage
        // collection for a grace window (an in-memory map entry; nothing is written).
        repo.store().gc.touch(&digest, crate::clock::now());
    }
    check_range(req, size)?;
    if req.method() == Method::GET {
        crate::metrics::blob_pulled(repo.name());
    }
    let path = repo.blob_path(&digest);
    if size > SYNC_READ_MAX
        && req.method() == Method::GET
        && !req.headers().contains_key(header::RANGE)
    {
        return match tokio::fs::File::open(&path).await {
            Ok(f) => {
                check_length(f.metadata().await.map(|m| m.len()), size, &name, &digest)?;
                Ok(whole_blob(f.into_std().await, size, &digest))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::error!(%digest, image = %name, "linked blob is missing from the store");
                Err(unknown().into())
            }
            Err(e) => Err(crate::storage::StorageError::Io(e).into()),
        };
    }
    let file = match NamedFile::open_async(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::error!(%digest, image = %name, "linked blob is missing from the store");
            return Err(unknown().into());
        }
        Err(e) => return Err(crate::storage::StorageError::Io(e).into()),
    };
    check_length(Ok(file.metadata().len()), size, &name, &digest)?;
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

/// The file must hold exactly the recorded size: `HEAD` and `GET` then report the size the
/// blob was pushed with, which is what manifests declare. A file of another length is
/// damaged (truncated, or changed behind Berth's back): it is logged and answered as
/// missing, never served, so a client pushes the blob again, which replaces the file.
fn check_length(
    on_disk: std::io::Result<u64>,
    size: u64,
    name: &ImageName,
    digest: &Digest,
) -> Result<(), ApiError> {
    let on_disk = on_disk.map_err(crate::storage::StorageError::Io)?;
    if on_disk == size {
        return Ok(());
    }
    tracing::error!(%digest, image = %name, on_disk, recorded = size, "blob file is damaged: its length is not the recorded size; push the blob again to repair it");
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

/// Refuses a `Range` that cannot be satisfied with the spec's JSON error (the file server
/// would answer with an empty 416).
fn check_range(req: &HttpRequest, size: u64) -> Result<(), ApiError> {
    let Some(value) = req.headers().get(header::RANGE) else {
        return Ok(());
    };
    parse_range(value, size).map(|_| ())
}

/// The first range of a `Range` header against a blob of `size` bytes, as `(start, length)`
/// (a blob server answers one range, as the file server does); `416` with the spec's error
/// if it cannot be satisfied.
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

pub async fn delete(ctx: &Ctx, name: ImageName, digest: Digest) -> Result<HttpResponse, ApiError> {
    ctx.writer()?.send(UnlinkBlob { name, digest }).await?;
    Ok(HttpResponse::Accepted().finish())
}
