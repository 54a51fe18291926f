//! Nexus JSON shapes ↔ Berth's model (`crate::model`).
//!
//! Requests are parsed leniently, as Nexus does: unknown fields (a GET result PUT back with
//! its `format`/`type`/`url`, fields of other repository types) are ignored. Fields Berth
//! has no behaviour for are accepted and answered with fixed values, except those whose
//! silent loss would surprise an operator (an HTTPS port, a subdomain),
//! which are refused with a 400 naming the field.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::AdminError;
use crate::model::{BlobStoreConfig, RepositoryConfig, RepositoryKind, WritePolicy};

/// Parses a JSON body whatever its `Content-Type` (curl's `-d` sends a form type).
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, AdminError> {
    serde_json::from_slice(body).map_err(|e| AdminError::invalid("*", format!("invalid JSON: {e}")))
}

/// The type segment of `/repositories/docker/{type}`.
pub fn parse_kind(segment: &str) -> Result<RepositoryKind, AdminError> {
    match segment {
        "hosted" => Ok(RepositoryKind::Hosted),
        "group" => Ok(RepositoryKind::Group),
        "proxy" => Ok(RepositoryKind::Proxy),
        other => Err(AdminError::NotFound(format!(
            "Berth does not implement docker {other} repositories"
        ))),
    }
}

pub fn kind_name(kind: RepositoryKind) -> &'static str {
    match kind {
        RepositoryKind::Hosted => "hosted",
        RepositoryKind::Group => "group",
        RepositoryKind::Proxy => "proxy",
    }
}

/// Body of `POST|PUT /v1/repositories/docker/{hosted|group}` (the fields Berth reads).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RepositoryRequest {
    pub name: Option<String>,
    pub online: Option<bool>,
    pub storage: Option<StorageIn>,
    pub docker: Option<DockerIn>,
    pub group: Option<GroupIn>,
    pub cleanup: Option<CleanupIn>,
    pub proxy: Option<super::proxy_wire::ProxyIn>,
    pub negative_cache: Option<super::proxy_wire::NegativeCacheIn>,
    pub http_client: Option<super::proxy_wire::HttpClientIn>,
    pub docker_proxy: Option<super::proxy_wire::DockerProxyIn>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StorageIn {
    pub blob_store_name: Option<String>,
    pub write_policy: Option<String>,
    pub latest_policy: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DockerIn {
    pub http_port: Option<u16>,
    pub https_port: Option<u16>,
    pub subdomain: Option<String>,
    pub force_basic_auth: Option<bool>,
    /// Berth: `sparse_manifests` (hosted only; see `RepositoryConfig`).
    pub sparse_manifests: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupIn {
    pub member_names: Option<Vec<String>>,
    pub writable_member: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CleanupIn {
    pub policy_names: Option<Vec<String>>,
}

fn required<T>(value: Option<T>, id: &str) -> Result<T, AdminError> {
    value.ok_or_else(|| AdminError::invalid(id, "may not be null"))
}

impl RepositoryRequest {
    /// The definition this request describes; `name` is the path's name on update.
    pub fn into_config(
        self,
        kind: RepositoryKind,
        name: Option<&str>,
    ) -> Result<RepositoryConfig, AdminError> {
        let name = match (name, self.name) {
            (Some(path), Some(body)) if path != body => {
                return Err(AdminError::invalid(
                    "name",
                    "Renaming a repository is not supported",
                ))
            }
            (Some(path), _) => path.to_string(),
            (None, body) => required(body, "name")?,
        };
        let online = required(self.online, "online")?;
        let storage = required(self.storage, "storage")?;
        let docker = self.docker.unwrap_or_default();
        if docker.https_port.is_some() {
            return Err(AdminError::invalid(
                "docker.httpsPort",
                "Berth serves plain HTTP on connector ports; terminate TLS in a reverse proxy",
            ));
        }
        if docker.subdomain.is_some() {
            return Err(AdminError::invalid(
                "docker.subdomain",
                "subdomain connectors are not supported; use httpPort or path routing",
            ));
        }
        let mut config = RepositoryConfig::default_hosted(&name);
        for policy in self
            .cleanup
            .and_then(|c| c.policy_names)
            .unwrap_or_default()
        {
            if !config.cleanup_policies.contains(&policy) {
                config.cleanup_policies.push(policy);
            }
        }
        config.kind = kind;
        config.online = online;
        config.blob_store = required(storage.blob_store_name, "storage.blobStoreName")?;
        config.http_port = docker.http_port;
        config.force_basic_auth = docker.force_basic_auth.unwrap_or(true);
        config.sparse_manifests = docker.sparse_manifests.unwrap_or(false);
        match kind {
            RepositoryKind::Hosted => {
                let policy = required(storage.write_policy, "storage.writePolicy")?;
                config.write_policy = WritePolicy::parse(&policy).ok_or_else(|| {
                    AdminError::invalid(
                        "storage.writePolicy",
                        format!("{policy} is not one of ALLOW, ALLOW_ONCE, DENY"),
                    )
                })?;
                config.latest_policy = storage.latest_policy.unwrap_or(false);
            }
            RepositoryKind::Group => {
                let group = required(self.group, "group")?;
                config.members = required(group.member_names, "group.memberNames")?;
                config.writable_member = group.writable_member.filter(|w| !w.is_empty());
            }
            RepositoryKind::Proxy => {
                config.proxy = Some(super::proxy_wire::proxy_config(
                    required(self.proxy, "proxy")?,
                    self.negative_cache,
                    self.http_client,
                    required(self.docker_proxy, "dockerProxy")?,
                )?);
            }
        }
        config.validate()?;
        Ok(config)
    }
}

/// `RepositoryXO`: one entry of `GET /v1/repositories`. `size` (bytes, as Nexus 3.94 reports
/// it) and Berth's `blobCount` describe a hosted repository's content; groups store nothing
/// of their own and report `null`.
pub fn repository_summary(
    config: &RepositoryConfig,
    base: &str,
    usage: Option<(u64, u64)>,
) -> Value {
    json!({
        "size": usage.map(|u| u.0),
        "blobCount": usage.map(|u| u.1),
        "name": config.name,
        "format": "docker",
        "type": kind_name(config.kind),
        "url": format!("{base}/repository/{}", config.name),
        "online": config.online,
        "attributes": match &config.proxy {
            Some(p) => json!({"proxy": {"remoteUrl": p.remote_url}}),
            None => json!({}),
        },
    })
}

/// The full `GET /v1/repositories/docker/{type}/{name}` object. Fields Berth has no
/// behaviour for carry the value that describes what Berth does (see admin-endpoints.md).
pub fn repository_detail(config: &RepositoryConfig, base: &str) -> Value {
    let mut out = repository_summary(config, base, None);
    let out_map = out.as_object_mut().expect("summary is an object");
    for key in ["attributes", "size", "blobCount"] {
        out_map.remove(key);
    }
    let docker = json!({
        "v1Enabled": false,
        "forceBasicAuth": config.force_basic_auth,
        "httpPort": config.http_port,
        "httpsPort": null,
        "subdomain": null,
        "pathEnabled": false,
    });
    out_map.insert("docker".into(), docker);
    if config.kind == RepositoryKind::Hosted {
        out_map["docker"]["sparseManifests"] = json!(config.sparse_manifests);
    }
    match config.kind {
        RepositoryKind::Hosted => {
            let storage = json!({
                "blobStoreName": config.blob_store,
                "strictContentTypeValidation": true,
                "writePolicy": config.write_policy.as_str(),
                "latestPolicy": config.latest_policy,
            });
            out_map.insert("storage".into(), storage);
            out_map.insert("cleanup".into(), cleanup_json(config));
            out_map.insert("component".into(), json!({"proprietaryComponents": false}));
        }
        RepositoryKind::Proxy => {
            let storage = json!({
                "blobStoreName": config.blob_store,
                "strictContentTypeValidation": true,
            });
            out_map.insert("storage".into(), storage);
            out_map.insert("cleanup".into(), cleanup_json(config));
            if let Some(proxy) = &config.proxy {
                super::proxy_wire::insert_proxy_detail(out_map, proxy);
            }
        }
        RepositoryKind::Group => {
            let storage = json!({
                "blobStoreName": config.blob_store,
                "strictContentTypeValidation": true,
            });
            out_map.insert("storage".into(), storage);
            let mut group = json!({ "memberNames": config.members });
            // Nexus omits a null writableMember (@JsonInclude(NON_NULL)).
            if let Some(w) = &config.writable_member {
                group["writableMember"] = json!(w);
            }
            out_map.insert("group".into(), group);
        }
    }
    out
}

/// Body of `POST /v1/blobstores/file` and `PUT /v1/blobstores/file/{name}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BlobStoreRequest {
    pub name: Option<String>,
    pub path: Option<String>,
    pub soft_quota: Option<SoftQuota>,
    /// Berth's own addition: above this many bytes new blobs are refused.
    pub hard_quota: Option<HardQuota>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SoftQuota {
    #[serde(rename = "type")]
    pub kind: String,
    pub limit: i64,
}

#[derive(Debug, Deserialize)]
pub struct HardQuota {
    pub limit: i64,
}

impl BlobStoreRequest {
    /// The definition for store `name`; `current_path` is kept when an update omits `path`
    /// (a new store defaults its path to its name, as the Nexus UI does).
    pub fn into_config(
        self,
        name: String,
        current_path: Option<String>,
    ) -> Result<BlobStoreConfig, AdminError> {
        let (soft, hard) = quotas(self.soft_quota, self.hard_quota)?;
        let path = self.path.or(current_path).unwrap_or_else(|| name.clone());
        let config = BlobStoreConfig {
            name,
            path,
            soft_quota_bytes: soft,
            hard_quota_bytes: hard,
            ..Default::default()
        };
        config.validate()?;
        Ok(config)
    }
}

/// `(soft, hard)` quota bytes from Nexus's `softQuota` and Berth's `hardQuota`.
pub fn quotas(
    soft: Option<SoftQuota>,
    hard: Option<HardQuota>,
) -> Result<(Option<u64>, Option<u64>), AdminError> {
    let soft = match soft {
        None => None,
        Some(q) if q.kind != "spaceUsedQuota" => {
            return Err(AdminError::invalid(
                "softQuota.type",
                format!("{} is not supported; Berth knows spaceUsedQuota", q.kind),
            ))
        }
        Some(q) => Some(positive(q.limit, "softQuota.limit")?),
    };
    let hard = match hard {
        None => None,
        Some(q) => Some(positive(q.limit, "hardQuota.limit")?),
    };
    Ok((soft, hard))
}

fn positive(limit: i64, id: &str) -> Result<u64, AdminError> {
    u64::try_from(limit)
        .ok()
        .filter(|l| *l > 0)
        .ok_or_else(|| AdminError::invalid(id, "must be greater than 0 (bytes)"))
}

/// Nexus `softQuota` (limit in bytes), or null.
pub fn soft_quota(limit: Option<u64>) -> Value {
    limit.map_or(
        Value::Null,
        |l| json!({"type": "spaceUsedQuota", "limit": l}),
    )
}

/// Berth's `hardQuota`, or null.
pub fn hard_quota(limit: Option<u64>) -> Value {
    limit.map_or(Value::Null, |l| json!({ "limit": l }))
}

/// Nexus's timestamp format (`2025-01-10T12:00:00.000+00:00`) for seconds since the epoch.
pub fn timestamp(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Nexus answers `cleanup: null` for a repository without policies.
fn cleanup_json(config: &RepositoryConfig) -> Value {
    if config.cleanup_policies.is_empty() {
        Value::Null
    } else {
        json!({ "policyNames": config.cleanup_policies })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_use_the_nexus_format() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000+00:00");
        assert_eq!(timestamp(1_736_510_400), "2025-01-10T12:00:00.000+00:00");
        assert_eq!(timestamp(951_782_400), "2000-02-29T00:00:00.000+00:00");
    }

    #[test]
    fn a_put_back_get_result_is_accepted() {
        let config = RepositoryConfig::default_hosted("docker-hosted");
        let body = repository_detail(&config, "http://h");
        let request: RepositoryRequest = parse_body(body.to_string().as_bytes()).unwrap();
        let again = request
            .into_config(RepositoryKind::Hosted, Some("docker-hosted"))
            .unwrap();
        assert_eq!(again, config);
    }
}
