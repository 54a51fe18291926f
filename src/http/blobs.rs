//! `GET|HEAD|DELETE /v2/<name>/blobs/<digest>`.
//!
//! A blob is served only if this image links it (pushed, mounted or part of a manifest
//! here); the store being shared does not make blobs visible across images.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use super::error::ApiError;
use super::Ctx;
use crate::oci::{Digest, ImageName};
use crate::registry::messages::UnlinkBlob;
use crate::registry::{read, RegistryError};

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
    let mut response = super::blob_body::serve(req, &repo, size, name, digest).await?;
    if proxied {
        crate::proxy::metrics::saved(repo.name(), "hit");
        response.headers_mut().insert(
            header::HeaderName::from_static(super::proxy_blobs::CACHE_HEADER),
            header::HeaderValue::from_static("hit"),
        );
    }
    Ok(response)
}

pub async fn delete(ctx: &Ctx, name: ImageName, digest: Digest) -> Result<HttpResponse, ApiError> {
    ctx.writer()?.send(UnlinkBlob { name, digest }).await?;
    Ok(HttpResponse::Accepted().finish())
}
