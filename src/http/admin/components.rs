//! Nexus `GET /v1/components` and `GET /v1/assets` for docker repositories.
//!
//! The docker mapping Nexus uses: one component per *tag* (`name` = image, `version` =
//! tag) whose single asset is the manifest at `/v2/<image>/manifests/<tag>`; manifests by
//! digest and blobs are assets without a component. Pages hold 100 items; the
//! continuation token is the hex of the last path listed (opaque to clients).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::base_url;
use super::error::AdminError;
use super::wire::timestamp;
use crate::meta::{BrowseKind, BrowseRow};
use crate::oci::manifest::is_index;
use crate::registry::{BrowsePage, Registry};

/// Items per page (Nexus 3.94+).
const PAGE_SIZE: usize = 100;

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    repository: Option<String>,
    #[serde(rename = "continuationToken")]
    continuation_token: Option<String>,
}

/// `GET /v1/components?repository=<name>[&continuationToken=…]`
pub async fn components(
    req: HttpRequest,
    query: web::Query<PageQuery>,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, AdminError> {
    let page = browse(&registry, &query, BrowseKind::Tags).await?;
    let base = base_url(&req);
    let mut items: Vec<Value> = page
        .rows
        .iter()
        .map(|(repo, row)| component(&base, repo, row))
        .collect();
    add_platforms(&registry, &page, &mut items).await?;
    Ok(page_response(items, &page))
}

/// `GET /v1/assets?repository=<name>[&continuationToken=…]`
pub async fn assets(
    req: HttpRequest,
    query: web::Query<PageQuery>,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, AdminError> {
    let page = browse(&registry, &query, BrowseKind::Assets).await?;
    let base = base_url(&req);
    let mut items: Vec<Value> = page
        .rows
        .iter()
        .map(|(repo, row)| asset(&base, repo, row))
        .collect();
    add_platforms(&registry, &page, &mut items).await?;
    Ok(page_response(items, &page))
}

/// Berth's `berthPlatforms` on every item that is an image index: each child's digest,
/// media type, platform and whether the repository holds it (`present: false` for the
/// platforms a sparse index lists without their manifests).
async fn add_platforms(
    registry: &Registry,
    page: &BrowsePage,
    items: &mut [Value],
) -> Result<(), AdminError> {
    for ((repo, row), item) in page.rows.iter().zip(items.iter_mut()) {
        if !row.media_type.as_deref().is_some_and(is_index) {
            continue;
        }
        let children = registry
            .index_children(repo, &row.image, &row.digest)
            .await?;
        item["berthPlatforms"] = json!(children);
    }
    Ok(())
}

async fn browse(
    registry: &Registry,
    query: &PageQuery,
    kind: BrowseKind,
) -> Result<BrowsePage, AdminError> {
    let repository = query
        .repository
        .as_deref()
        .filter(|r| !r.is_empty())
        .ok_or_else(|| AdminError::Unprocessable("Parameter 'repository' is required".into()))?;
    let after = query
        .continuation_token
        .as_deref()
        .map(decode_token)
        .transpose()?;
    registry
        .browse(repository, kind, after.as_deref(), PAGE_SIZE)
        .await?
        .ok_or_else(AdminError::repository_not_found)
}

fn page_response(items: Vec<Value>, page: &BrowsePage) -> HttpResponse {
    let token = match page.rows.last() {
        Some((_, last)) if page.more => Value::String(hex::encode(&last.path)),
        _ => Value::Null,
    };
    HttpResponse::Ok().json(json!({ "items": items, "continuationToken": token }))
}

fn decode_token(token: &str) -> Result<String, AdminError> {
    hex::decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| AdminError::invalid("continuationToken", "not a token this server issued"))
}

fn component(base: &str, repo: &str, row: &BrowseRow) -> Value {
    let tag = row.tag.as_deref().unwrap_or_default();
    json!({
        "id": hex::encode(format!("{repo}:{}:{tag}", row.image)),
        "repository": repo,
        "format": "docker",
        "group": null,
        "name": row.image,
        "version": tag,
        "assets": [asset(base, repo, row)],
    })
}

fn asset(base: &str, repo: &str, row: &BrowseRow) -> Value {
    // Digests are `<algorithm>:<hex>`; Nexus's checksum map is keyed by algorithm.
    let checksum = match row.digest.split_once(':') {
        Some((algorithm, hex)) => json!({ algorithm: hex }),
        None => json!({}),
    };
    json!({
        "downloadUrl": format!("{base}/repository/{repo}{}", row.path),
        "path": row.path,
        "id": hex::encode(format!("{repo}{}", row.path)),
        "repository": repo,
        "format": "docker",
        "checksum": checksum,
        "contentType": row.media_type.as_deref().unwrap_or("application/octet-stream"),
        "lastModified": timestamp(row.modified),
        "lastDownloaded": null,
        "uploader": null,
        "uploaderIp": null,
        "fileSize": row.size,
    })
}
