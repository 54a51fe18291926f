//! `GET|HEAD|DELETE /v2/<name>/blobs/<digest>`.
//!
//! A blob is served only if this image links it (pushed, mounted or part of a manifest
//! here); the store being shared does not make blobs visible across images.

use actix_files::{HttpRange, NamedFile};
use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::error::ApiError;
use super::headers::DOCKER_CONTENT_DIGEST_LC;
use super::Ctx;
use crate::oci::{Digest, ImageName, OciErrorCode};
use crate::registry::messages::UnlinkBlob;
use crate::registry::RegistryError;

/// Files up to this size are read on the worker thread rather than the blocking pool.
const SYNC_READ_MAX: u64 = 64 * 1024;

pub async fn get(
    ctx: &Ctx,
    req: &HttpRequest,
    name: ImageName,
    digest: Digest,
) -> Result<HttpResponse, ApiError> {
    let unknown = || RegistryError::BlobUnknown(digest.clone());
    let image = ctx.repo.image(&name).await?.ok_or_else(unknown)?;
    let size = image
        .blob_size(&digest)
        .or_else(|| image.manifest(&digest).map(|m| m.size))
        .ok_or_else(unknown)?;
    check_range(req, size)?;
    let file = match NamedFile::open_async(ctx.repo.blob_path(&digest)).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::error!(%digest, image = %name, "linked blob is missing from the store");
            return Err(unknown().into());
        }
        Err(e) => return Err(crate::storage::StorageError::Io(e).into()),
    };
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

/// Refuses a `Range` that cannot be satisfied with the spec's JSON error (the file server
/// would answer with an empty 416).
fn check_range(req: &HttpRequest, size: u64) -> Result<(), ApiError> {
    let Some(value) = req.headers().get(header::RANGE) else {
        return Ok(());
    };
    let ok = value
        .to_str()
        .ok()
        .and_then(|v| HttpRange::parse(v, size).ok())
        .is_some_and(|r| !r.is_empty());
    if ok {
        return Ok(());
    }
    Err(ApiError::code(OciErrorCode::RangeInvalid)
        .with_status(StatusCode::RANGE_NOT_SATISFIABLE)
        .with_header("content-range", format!("bytes */{size}")))
}

fn mime_octet_stream() -> mime::Mime {
    let ContentType(m) = ContentType::octet_stream();
    m
}

pub async fn delete(ctx: &Ctx, name: ImageName, digest: Digest) -> Result<HttpResponse, ApiError> {
    ctx.repo.send(UnlinkBlob { name, digest }).await?;
    Ok(HttpResponse::Accepted().finish())
}
