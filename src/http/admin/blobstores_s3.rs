//! Nexus `/v1/blobstores/s3…`: create, read and update S3 blob stores in Nexus's shape
//! (`bucketConfiguration.{bucket, bucketSecurity, advancedBucketConnection}`). The secret key
//! is write-only: a GET never returns it, and an update that omits it keeps the stored one.
//! A store's bucket, prefix, endpoint and credentials are fixed once created (as a file
//! store's path is); quotas and nothing else change at run time.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::AdminError;
use super::wire::{self, HardQuota, SoftQuota};
use crate::model::{BlobStoreConfig, BlobStoreKind, Secret, DEFAULT_REDIRECT_TTL_SECS};
use crate::registry::Registry;

/// Body of `POST /v1/blobstores/s3` and `PUT /v1/blobstores/s3/{name}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct S3StoreRequest {
    pub name: Option<String>,
    pub soft_quota: Option<SoftQuota>,
    /// Berth's addition, as on file stores.
    pub hard_quota: Option<HardQuota>,
    pub bucket_configuration: Option<BucketConfiguration>,
    /// Blob GETs answer `307` to a pre-signed URL (newer Nexus releases).
    pub pre_signed_url_enabled: Option<bool>,
    /// Berth's addition: lifetime of those URLs in seconds.
    pub pre_signed_url_ttl_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BucketConfiguration {
    pub bucket: Option<Bucket>,
    pub bucket_security: Option<BucketSecurity>,
    pub advanced_bucket_connection: Option<AdvancedConnection>,
    /// Accepted for Nexus clients; Berth leaves encryption to the bucket's own settings.
    pub encryption: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Bucket {
    pub region: Option<String>,
    pub name: Option<String>,
    pub prefix: Option<String>,
    /// Nexus: days before soft-deleted blobs are purged. Berth deletes at GC; accepted.
    pub expiration: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BucketSecurity {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub role: Option<String>,
    pub session_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AdvancedConnection {
    pub endpoint: Option<String>,
    pub signer_type: Option<String>,
    pub force_path_style: Option<bool>,
    pub max_connection_pool_size: Option<i64>,
}

impl S3StoreRequest {
    /// The definition for store `name`. `current` (an update) supplies the secret when the
    /// request leaves it out.
    fn into_config(
        self,
        name: String,
        current: Option<&BlobStoreConfig>,
    ) -> Result<BlobStoreConfig, AdminError> {
        let (soft, hard) = wire::quotas(self.soft_quota, self.hard_quota)?;
        let bucket_cfg = self
            .bucket_configuration
            .ok_or_else(|| AdminError::invalid("bucketConfiguration", "may not be null"))?;
        let bucket = bucket_cfg
            .bucket
            .ok_or_else(|| AdminError::invalid("bucketConfiguration.bucket", "may not be null"))?;
        let security = bucket_cfg.bucket_security.unwrap_or_default();
        if security.role.as_deref().is_some_and(|r| !r.is_empty())
            || security
                .session_token
                .as_deref()
                .is_some_and(|t| !t.is_empty())
        {
            return Err(AdminError::invalid(
                "bucketConfiguration.bucketSecurity",
                "role and sessionToken are not supported; give an access key and secret",
            ));
        }
        let advanced = bucket_cfg.advanced_bucket_connection.unwrap_or_default();
        let secret = security
            .secret_access_key
            .filter(|s| !s.is_empty())
            .map(Secret::new)
            .or_else(|| current.and_then(|c| c.secret_access_key.clone()));
        let config = BlobStoreConfig {
            name,
            kind: BlobStoreKind::S3,
            soft_quota_bytes: soft,
            hard_quota_bytes: hard,
            endpoint: advanced.endpoint.filter(|e| !e.is_empty()),
            region: bucket.region,
            bucket: bucket.name,
            prefix: bucket.prefix.unwrap_or_default(),
            path_style: advanced.force_path_style,
            access_key_id: security.access_key_id.filter(|k| !k.is_empty()),
            secret_access_key: secret,
            redirect: self.pre_signed_url_enabled.unwrap_or(false),
            redirect_ttl_secs: self.pre_signed_url_ttl_seconds,
            ..Default::default()
        };
        config.validate()?;
        Ok(config)
    }
}

/// `POST /v1/blobstores/s3` → 201; a name already used (ignoring case) → 400.
pub async fn create(
    body: web::Bytes,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, AdminError> {
    let request: S3StoreRequest = wire::parse_body(&body)?;
    let name = request
        .name
        .clone()
        .ok_or_else(|| AdminError::invalid("name", "may not be null"))?;
    super::blobstores::refuse_taken_name(&registry, &name).await?;
    registry
        .put_blob_store(request.into_config(name, None)?)
        .await?;
    Ok(HttpResponse::Created().finish())
}

/// `GET /v1/blobstores/s3/{name}`: the Nexus shape, without the secret.
pub async fn get(
    name: web::Path<String>,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, AdminError> {
    let c = find(&registry, &name).await?;
    Ok(HttpResponse::Ok().json(json!({
        "name": c.name,
        "type": "S3",
        "softQuota": wire::soft_quota(c.soft_quota_bytes),
        "hardQuota": wire::hard_quota(c.hard_quota_bytes),
        "preSignedUrlEnabled": c.redirect,
        "preSignedUrlTtlSeconds": c.redirect_ttl_secs.unwrap_or(DEFAULT_REDIRECT_TTL_SECS),
        "bucketConfiguration": {
            "bucket": {
                "region": c.region,
                "name": c.bucket,
                "prefix": c.prefix,
                "expiration": -1,
            },
            "encryption": null,
            // accessKeyId is not secret (it names the key); secretAccessKey is write-only.
            "bucketSecurity": { "accessKeyId": c.access_key_id, "role": null, "sessionToken": null },
            "advancedBucketConnection": {
                "endpoint": c.endpoint,
                "signerType": "DEFAULT",
                "forcePathStyle": c.path_style.unwrap_or(true),
                "maxConnectionPoolSize": null,
            },
        },
    })))
}

/// `PUT /v1/blobstores/s3/{name}` → 204. Only the quotas may differ from the stored
/// definition (the connection of a running store is fixed; create another store to move).
pub async fn update(
    name: web::Path<String>,
    body: web::Bytes,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, AdminError> {
    let current = find(&registry, &name).await?;
    let request: S3StoreRequest = wire::parse_body(&body)?;
    let config = request.into_config(current.name.clone(), Some(&current))?;
    let mut same_connection = config.clone();
    same_connection.soft_quota_bytes = current.soft_quota_bytes;
    same_connection.hard_quota_bytes = current.hard_quota_bytes;
    if same_connection != current {
        return Err(AdminError::invalid(
            "bucketConfiguration",
            "an S3 store's bucket, prefix, endpoint, credentials and pre-signed URL settings \
             cannot change at run time; only the quotas can (create another store to move)",
        ));
    }
    registry.put_blob_store(config).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn find(registry: &Registry, name: &str) -> Result<BlobStoreConfig, AdminError> {
    super::blobstores::find_of_kind(registry, name, BlobStoreKind::S3).await
}
