//! Nexus `/v1/blobstores…` for file blob stores: list with usage, create, read, update,
//! delete, and the soft-quota status. Berth's hard quota travels as an extra `hardQuota`
//! field next to Nexus's `softQuota`.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::error::AdminError;
use super::wire::{self, BlobStoreRequest};
use crate::model::{BlobStoreConfig, BlobStoreKind};
use crate::registry::Registry;

/// `GET /v1/blobstores`
pub async fn list(registry: web::Data<Registry>) -> Result<HttpResponse, AdminError> {
    let configs = registry.blob_store_configs().await?;
    let mut out = Vec::new();
    for store in registry.blob_stores() {
        let (bytes, count) = registry.store_usage(store.name()).await?;
        let is_s3 = configs
            .iter()
            .any(|c| c.name == store.name() && c.kind == BlobStoreKind::S3);
        let mut entry = json!({
            "softQuota": wire::soft_quota(store.soft_quota()),
            "hardQuota": wire::hard_quota(store.hard_quota()),
            "name": store.name(),
            "type": if is_s3 { "S3" } else { "File" },
            "blobCount": count,
            "totalSizeInBytes": bytes,
        });
        // A bucket has no free space to report; only a
        // file store's disk does, and a disk that cannot be asked is flagged unavailable.
        if !is_s3 {
            let available = store.free_bytes().await.ok().flatten();
            entry["unavailable"] = json!(available.is_none());
            entry["availableSpaceInBytes"] = json!(available.unwrap_or(0));
        }
        out.push(entry);
    }
    Ok(HttpResponse::Ok().json(out))
}

/// `POST /v1/blobstores/file` → 204; a name already used (ignoring case) → 400.
pub async fn create(
    body: web::Bytes,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, AdminError> {
    let request: BlobStoreRequest = wire::parse_body(&body)?;
    let name = request
        .name
        .clone()
        .ok_or_else(|| AdminError::invalid("name", "may not be null"))?;
    refuse_taken_name(&registry, &name).await?;
    registry
        .put_blob_store(request.into_config(name, None)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/blobstores/file/{name}`: `path` and quotas; no `name`, as in Nexus.
pub async fn get(
    name: web::Path<String>,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, AdminError> {
    let config = find(&registry, &name).await?;
    Ok(HttpResponse::Ok().json(json!({
        "softQuota": wire::soft_quota(config.soft_quota_bytes),
        "hardQuota": wire::hard_quota(config.hard_quota_bytes),
        "path": config.path,
    })))
}

/// `PUT /v1/blobstores/file/{name}` → 204. The path cannot change; omitting it keeps it.
pub async fn update(
    name: web::Path<String>,
    body: web::Bytes,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, AdminError> {
    let current = find(&registry, &name).await?;
    let request: BlobStoreRequest = wire::parse_body(&body)?;
    let config = request.into_config(current.name, Some(current.path))?;
    registry.put_blob_store(config).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /v1/blobstores/{name}` → 204; 400 while a repository uses it. The directory
/// stays on disk.
pub async fn delete(
    name: web::Path<String>,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, AdminError> {
    registry.delete_blob_store(&name).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/blobstores/{name}/quota-status`
pub async fn quota_status(
    name: web::Path<String>,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, AdminError> {
    let store = registry
        .blob_store(&name)
        .ok_or_else(|| AdminError::blob_store_not_found(&name))?;
    let used = store.used_bytes();
    let message = match store.soft_quota() {
        Some(limit) if store.over_soft_quota() => {
            format!("Blob store {name} is using {used} bytes and has a limit of {limit} bytes")
        }
        Some(limit) => {
            format!("Blob store {name} is using {used} bytes, within its limit of {limit} bytes")
        }
        None => format!("Blob store {name} has no soft quota"),
    };
    Ok(HttpResponse::Ok().json(json!({
        "isViolation": store.over_soft_quota(),
        "message": message,
        "blobStoreName": store.name(),
    })))
}

async fn find(registry: &Registry, name: &str) -> Result<BlobStoreConfig, AdminError> {
    find_of_kind(registry, name, BlobStoreKind::File).await
}

/// The stored definition of blob store `name` if it is of `kind` (a file store is not found
/// under `/s3/`, nor the reverse, as in Nexus).
pub(super) async fn find_of_kind(
    registry: &Registry,
    name: &str,
    kind: BlobStoreKind,
) -> Result<BlobStoreConfig, AdminError> {
    registry
        .blob_store_configs()
        .await?
        .into_iter()
        .find(|c| c.name == name && c.kind == kind)
        .ok_or_else(|| AdminError::blob_store_not_found(name))
}

/// Refuses a new store's name that any store, of any kind, already has (ignoring case):
/// stored definitions and the stores open in this process (the configuration file's).
pub(super) async fn refuse_taken_name(registry: &Registry, name: &str) -> Result<(), AdminError> {
    let open = registry
        .blob_stores()
        .iter()
        .any(|s| s.name().eq_ignore_ascii_case(name));
    let taken = open
        || registry
            .blob_store_configs()
            .await?
            .iter()
            .any(|s| s.name.eq_ignore_ascii_case(name));
    if taken {
        return Err(AdminError::invalid(
            "name",
            "Name is already used, must be unique (ignoring case)",
        ));
    }
    Ok(())
}
