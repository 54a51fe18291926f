//! `GET|HEAD|PUT|DELETE /v2/<name>/manifests/<reference>`.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::error::ApiError;
use super::headers::{
    content_length, DOCKER_CONTENT_DIGEST, DOCKER_CONTENT_DIGEST_LC, OCI_SUBJECT,
};
use super::{gate, tag_params, Ctx};
use crate::auth::Action;
use crate::meta::ManifestRecord;
use crate::oci::{Algorithm, Digest, ImageName, OciErrorCode, ParsedManifest, Reference, Tag};
use crate::registry::messages::{DeleteManifest, DeleteTag, PutManifest, TagRights};
use crate::registry::{read, Hosted, Reservation};

/// `pull` is true for a GET (a HEAD does not count as a download for cleanup policies).
pub async fn get(
    ctx: &Ctx,
    name: ImageName,
    reference: Reference,
    pull: bool,
) -> Result<HttpResponse, ApiError> {
    let found = read::find_manifest(&ctx.readers()?, &name, &reference).await?;
    let (digest, record) = (found.digest, found.record);
    let bytes = found.repo.manifest_bytes(&digest).await?;
    if pull {
        // Docker's own pull is a HEAD by tag then a GET by digest: both forms count.
        let key = match &reference {
            Reference::Tag(tag) => tag.as_str(),
            Reference::Digest(d) => d.as_str(),
        };
        found.repo.note_download(&name, key);
    }
    let mut response = HttpResponse::Ok();
    if let Some(serve) = &found.proxy {
        super::proxy_blobs::cache_headers(&mut response, serve);
    }
    // Every warm pull builds these: static names (a `&str` name is parsed, and a custom one
    // copied, per response) and the quoted ETag in one allocation.
    Ok(response
        .content_type(record.media_type.as_str())
        .insert_header((
            HeaderName::from_static(DOCKER_CONTENT_DIGEST_LC),
            digest.as_str(),
        ))
        .insert_header((header::ETAG, quoted(digest.as_str())?))
        .body(bytes))
}

/// `"<digest>"` as a header value.
fn quoted(text: &str) -> Result<HeaderValue, ApiError> {
    let mut value = BytesMut::with_capacity(text.len() + 2);
    value.extend_from_slice(b"\"");
    value.extend_from_slice(text.as_bytes());
    value.extend_from_slice(b"\"");
    HeaderValue::from_maybe_shared(value.freeze())
        .map_err(|e| ApiError::new(OciErrorCode::Unavailable, format!("digest header: {e}")))
}

pub async fn put(
    ctx: &Ctx,
    req: &HttpRequest,
    body: web::Payload,
    name: ImageName,
    reference: Reference,
) -> Result<HttpResponse, ApiError> {
    let repo = ctx.writer()?;
    repo.check_capacity()?;
    let tags = tag_params::requested_tags(req, &reference)?;
    // Held until the response: the body and what is parsed from it stay in memory so long.
    let (bytes, _reserved) = read_limited(ctx, req, body).await?;
    let algorithm = match &reference {
        Reference::Digest(d) => d.algorithm(),
        Reference::Tag(_) => Algorithm::Sha256,
    };
    let digest = Digest::of_bytes(algorithm, &bytes);
    if let Reference::Digest(claimed) = &reference {
        if claimed != &digest {
            return Err(ApiError::new(
                OciErrorCode::DigestInvalid,
                format!("manifest digest is {digest}, not {claimed}"),
            ));
        }
    }
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    let parsed = ParsedManifest::parse(&bytes, content_type)?;
    check_new_components(ctx, &repo, &name, &tags).await?;
    let rights = tag_rights(ctx, req, &name);
    let subject = parsed.subject.clone();
    let record = ManifestRecord {
        digest: digest.clone(),
        media_type: parsed.media_type,
        size: bytes.len() as u64,
        artifact_type: parsed.artifact_type,
        subject: parsed.subject,
    };
    let msg = PutManifest {
        name: name.clone(),
        tags: tags.clone(),
        record,
        blobs: parsed.blobs,
        children: parsed.children,
        rights,
        sizes: parsed.sizes,
    };
    repo.push_manifest(bytes, msg).await?;
    if let Some(user) = pusher(req) {
        let tags: Vec<String> = tags.iter().map(|t| t.as_str().to_string()).collect();
        let image = name.as_str();
        (ctx.registry)
            .record_pusher(repo.name(), image, &tags, digest.as_str(), &user)
            .await;
    }
    let mut response = HttpResponse::Created();
    response
        .insert_header(("Location", ctx.url(&name, &format!("manifests/{digest}"))))
        .insert_header((DOCKER_CONTENT_DIGEST, digest.as_str()));
    if let Some(subject) = subject {
        response.insert_header((OCI_SUBJECT, subject.as_str()));
    }
    tag_params::add_oci_tags(&mut response, &reference, &tags);
    Ok(response.finish())
}

/// The user behind a push (Basic or a bearer token's subject), for "pushed by".
fn pusher(req: &HttpRequest) -> Option<String> {
    match req.extensions().get::<crate::auth::Principal>()? {
        crate::auth::Principal::User(user) => Some(user.to_string()),
        crate::auth::Principal::Token(claims) => claims.sub.clone(),
        crate::auth::Principal::Anonymous => None,
    }
}

/// What this caller may do to tags of the addressed repository (the gate let the push in
/// with `add` or `edit`; which one a tag needs is decided by the repository's actor).
fn tag_rights(ctx: &Ctx, req: &HttpRequest, name: &ImageName) -> TagRights {
    let (config, client) = (ctx.repo.config(), ctx.client_name(name));
    TagRights {
        create: gate::may(req, &config, &client, Action::Add),
        repoint: gate::may(req, &config, &client, Action::Edit),
    }
}

/// A new tag is a new component: refused while an enforced usage limit is reached.
/// Moving an existing tag and pushing by digest add no component and always pass.
async fn check_new_components(
    ctx: &Ctx,
    repo: &Hosted,
    name: &ImageName,
    tags: &[Tag],
) -> Result<(), ApiError> {
    if tags.is_empty() {
        return Ok(());
    }
    let image = repo.image(name).await?;
    let exists = |tag: &Tag| {
        image
            .as_ref()
            .is_some_and(|i| i.tag(tag.as_str()).is_some())
    };
    if !tags.iter().all(exists) {
        ctx.usage.check_growth().await?;
    }
    Ok(())
}

/// Reads a manifest body into memory reserved from the shared budget (its declared length,
/// or the largest manifest when undeclared), refusing anything over the limit without
/// buffering it.
async fn read_limited(
    ctx: &Ctx,
    req: &HttpRequest,
    mut body: web::Payload,
) -> Result<(Bytes, Reservation), ApiError> {
    let max = ctx.limits.manifest_max_bytes;
    let too_large = || {
        ApiError::new(
            OciErrorCode::ManifestInvalid,
            format!("manifest is larger than the limit of {max} bytes"),
        )
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
    };
    let declared = content_length(req);
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let wanted = declared.map_or(max, |n| n as usize);
    let reserved = ctx.registry.manifest_bodies().reserve(wanted).await?;
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                OciErrorCode::ManifestInvalid,
                format!("manifest body could not be read: {e}"),
            )
        })?;
        if buf.len() + chunk.len() > max {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((buf.freeze(), reserved))
}

pub async fn delete(
    ctx: &Ctx,
    name: ImageName,
    reference: Reference,
) -> Result<HttpResponse, ApiError> {
    let repo = ctx.writer()?;
    match reference {
        Reference::Tag(tag) => repo.send(DeleteTag { name, tag }).await?,
        Reference::Digest(digest) => repo.send(DeleteManifest { name, digest }).await?,
    }
    Ok(HttpResponse::Accepted().finish())
}
