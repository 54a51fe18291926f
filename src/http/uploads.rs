//! Blob uploads: `POST /v2/<name>/blobs/uploads/` (session, monolithic with `?digest=`, or
//! mount with `?mount=&from=`), and `GET|PATCH|PUT|DELETE /v2/<name>/blobs/uploads/<id>`.
//!
//! Request bodies stream straight into the session's staged upload; a PATCH whose body is
//! cut short keeps what arrived, so the client can ask for the offset and resume.

use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use super::error::{upload_range, ApiError};
use super::headers::*;
use super::{gate, Ctx};
use crate::auth::Action;
use crate::oci::{Digest, ImageName};
use crate::registry::messages::{EndUpload, StartUpload};
use crate::registry::{Hosted, RegistryError};
use crate::storage::StagedBlob;

pub async fn start(
    ctx: &Ctx,
    req: &HttpRequest,
    body: web::Payload,
    name: ImageName,
) -> Result<HttpResponse, ApiError> {
    let q = query(req);
    if let Some(mount) = param(&q, "mount") {
        if let Some(response) = try_mount(ctx, req, &name, mount, param(&q, "from")).await? {
            return Ok(response);
        }
    }
    // A mount adds no bytes; anything else is a new blob.
    ctx.usage.check_growth().await?;
    if param(&q, "digest").is_some() {
        return monolithic(ctx, body, name, digest_param(&q)?).await;
    }
    let repo = ctx.writer()?;
    repo.check_capacity()?;
    let client = super::client_addr::client_ip(req);
    let msg = StartUpload {
        name: name.clone(),
        client,
    };
    let session = repo.send(msg).await?;
    Ok(accepted(ctx, &name, &session.id, 0))
}

/// Mounts blob `mount` from image `from`, or, without `from`, from any image of the
/// repository that links it (automatic cross-mount, which the spec allows). The source must
/// be an image the caller may read: a mount must never reveal a blob its caller could not
/// pull. `None` (fall back to a new session, as the spec says) when the arguments are
/// invalid or no readable source has the blob.
async fn try_mount(
    ctx: &Ctx,
    req: &HttpRequest,
    name: &ImageName,
    mount: &str,
    from: Option<&str>,
) -> Result<Option<HttpResponse>, ApiError> {
    let Ok(digest) = Digest::parse(mount) else {
        return Ok(None);
    };
    let repo = ctx.writer()?;
    let source = match from {
        Some(from) => named_source(ctx, req, from),
        None => any_source(ctx, req, &repo, &digest).await?,
    };
    let Some(from) = source else {
        return Ok(None);
    };
    if !repo.mount_blob(name, from, &digest).await? {
        return Ok(None);
    }
    Ok(Some(created(ctx, name, &digest)))
}

/// The image `from` names, if valid and readable by the caller.
fn named_source(ctx: &Ctx, req: &HttpRequest, from: &str) -> Option<ImageName> {
    // Under path routing the client names the source as it pushed it, with the
    // `repository/<repo>/` prefix; the image inside the repository has no prefix.
    let from = from.strip_prefix(&*ctx.prefix).unwrap_or(from);
    let from = ImageName::parse(from).ok()?;
    readable(ctx, req, &from).then_some(from)
}

/// How many images linking a blob an automatic cross-mount considers.
const MOUNT_CANDIDATES: i64 = 32;

/// The first image of the repository that links `digest` and that the caller may read.
async fn any_source(
    ctx: &Ctx,
    req: &HttpRequest,
    repo: &Hosted,
    digest: &Digest,
) -> Result<Option<ImageName>, ApiError> {
    let candidates = repo.images_linking(digest, MOUNT_CANDIDATES).await?;
    Ok(candidates
        .into_iter()
        .find(|image| readable(ctx, req, image)))
}

/// Whether the caller could pull `image` through the address it used for this request.
fn readable(ctx: &Ctx, req: &HttpRequest, image: &ImageName) -> bool {
    gate::may(
        req,
        &ctx.repo.config(),
        &ctx.client_name(image),
        Action::Read,
    )
}

/// `POST …/uploads/?digest=`: the whole blob in one request.
async fn monolithic(
    ctx: &Ctx,
    body: web::Payload,
    name: ImageName,
    digest: Digest,
) -> Result<HttpResponse, ApiError> {
    let repo = ctx.writer()?;
    let id = uuid::Uuid::new_v4().to_string();
    let mut writer = repo.stage_blob(&id, digest.algorithm()).await?;
    stream_into(&mut *writer, body).await?;
    finish(ctx, &repo, writer, &name, &digest, None).await
}

pub async fn patch(
    ctx: &Ctx,
    req: &HttpRequest,
    body: web::Payload,
    name: ImageName,
    id: String,
) -> Result<HttpResponse, ApiError> {
    let session = ctx.writer()?.upload(&name, &id)?;
    let mut guard = session.lock()?;
    let writer = guard.as_mut().ok_or(RegistryError::UploadUnknown)?;
    // Settle what an earlier request left queued (a client that reset its connection
    // cancels its handler mid-write) before the offset is compared.
    let offset = writer.flush().await?;
    check_chunk(req, offset)?;
    let offset = stream_into(&mut **writer, body).await?;
    session.touch();
    Ok(accepted(ctx, &name, &id, offset))
}

pub async fn complete(
    ctx: &Ctx,
    req: &HttpRequest,
    body: web::Payload,
    name: ImageName,
    id: String,
) -> Result<HttpResponse, ApiError> {
    let digest = digest_param(&query(req))?;
    let repo = ctx.writer()?;
    let session = repo.upload(&name, &id)?;
    let mut guard = session.lock()?;
    let writer = guard.as_mut().ok_or(RegistryError::UploadUnknown)?;
    let offset = writer.flush().await?;
    check_chunk(req, offset)?;
    // From here on the session is spent whatever happens: a failed completion is final.
    let mut writer = guard.take().ok_or(RegistryError::UploadUnknown)?;
    drop(guard);
    let outcome = match stream_into(&mut *writer, body).await {
        Ok(_) => finish(ctx, &repo, writer, &name, &digest, Some(id.clone())).await,
        Err(e) => Err(e.into()),
    };
    if outcome.is_err() {
        repo.send(EndUpload { id }).await?;
    }
    outcome
}

pub async fn status(ctx: &Ctx, name: ImageName, id: String) -> Result<HttpResponse, ApiError> {
    let session = ctx.writer()?.upload(&name, &id)?;
    let offset = session.offset().await?;
    Ok(HttpResponse::NoContent()
        .insert_header(("Location", ctx.url(&name, &format!("blobs/uploads/{id}"))))
        .insert_header(("Range", upload_range(offset)))
        .insert_header((DOCKER_UPLOAD_UUID, id.as_str()))
        .insert_header((UPLOAD_SESSION_ID, id.as_str()))
        .finish())
}

pub async fn cancel(ctx: &Ctx, name: ImageName, id: String) -> Result<HttpResponse, ApiError> {
    let repo = ctx.writer()?;
    repo.upload(&name, &id)?;
    repo.send(EndUpload { id }).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A chunk must start at the current offset and, when both headers are given, its
/// `Content-Range` must agree with its `Content-Length`; otherwise 416 with the offset.
fn check_chunk(req: &HttpRequest, offset: u64) -> Result<(), ApiError> {
    let range = content_range(req).map_err(|_| RegistryError::RangeInvalid { offset })?;
    let Some((start, end)) = range else {
        return Ok(());
    };
    let length_ok = content_length(req).is_none_or(|n| n == end - start + 1);
    if start != offset || !length_ok {
        return Err(RegistryError::RangeInvalid { offset }.into());
    }
    Ok(())
}

/// Streams the request body into `writer`; returns the new offset. If the body breaks off
/// (or stalls past `limits.body_read_timeout_secs`, see `http::body_timeout`), what arrived
/// stays written (and hashed) and the error is returned. Either way the writer's file is
/// closed again: a session holds no descriptor between requests.
async fn stream_into(
    writer: &mut dyn StagedBlob,
    body: web::Payload,
) -> Result<u64, RegistryError> {
    let outcome = write_body(writer, body).await;
    writer.release();
    outcome
}

async fn write_body(
    writer: &mut dyn StagedBlob,
    mut body: web::Payload,
) -> Result<u64, RegistryError> {
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(bytes) => writer.push(bytes).await?,
            Err(e) => {
                // Every chunk received so far is real data: keep it, so the offset a
                // status request reports is what actually arrived.
                writer.flush().await?;
                return Err(RegistryError::BodyInvalid(e.to_string()));
            }
        }
    }
    Ok(writer.flush().await?)
}

/// Verifies and publishes the blob, links it to the image, ends the session.
async fn finish(
    ctx: &Ctx,
    repo: &Hosted,
    writer: Box<dyn StagedBlob>,
    name: &ImageName,
    digest: &Digest,
    session: Option<String>,
) -> Result<HttpResponse, ApiError> {
    repo.push_blob(writer, name, digest, session).await?;
    Ok(created(ctx, name, digest))
}

fn accepted(ctx: &Ctx, name: &ImageName, id: &str, offset: u64) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header(("Location", ctx.url(name, &format!("blobs/uploads/{id}"))))
        .insert_header(("Range", upload_range(offset)))
        .insert_header((DOCKER_UPLOAD_UUID, id))
        .insert_header((UPLOAD_SESSION_ID, id))
        .finish()
}

fn created(ctx: &Ctx, name: &ImageName, digest: &Digest) -> HttpResponse {
    HttpResponse::Created()
        .insert_header(("Location", ctx.url(name, &format!("blobs/{digest}"))))
        .insert_header((DOCKER_CONTENT_DIGEST, digest.as_str()))
        .finish()
}
