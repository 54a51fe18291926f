//! Nexus JSON shapes of a docker proxy repository (`proxy`, `negativeCache`, `httpClient`,
//! `dockerProxy`) ↔ [`ProxyConfig`]. Nexus speaks minutes; Berth keeps seconds. The upstream
//! password is write-only: accepted here, never part of any answer.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::AdminError;
use crate::proxy::{IndexType, ProxyConfig, ProxyStatus, Secret};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProxyIn {
    pub remote_url: Option<String>,
    pub content_max_age: Option<i64>,
    pub metadata_max_age: Option<i64>,
    /// Berth: mirrors tried in order before `remoteUrl`.
    pub mirror_urls: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NegativeCacheIn {
    pub enabled: Option<bool>,
    pub time_to_live: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpClientIn {
    pub blocked: Option<bool>,
    pub auto_block: Option<bool>,
    pub connection: Option<ConnectionIn>,
    pub authentication: Option<AuthenticationIn>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConnectionIn {
    pub timeout: Option<i64>,
    pub user_agent_suffix: Option<String>,
    /// Berth: upstream requests in flight at most (0 = no cap).
    pub max_connections: Option<u32>,
    /// Berth: upstream requests started per second at most (0 = no cap).
    pub max_requests_per_second: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthenticationIn {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DockerProxyIn {
    pub index_type: Option<String>,
    pub index_url: Option<String>,
}

fn required<T>(value: Option<T>, id: &str) -> Result<T, AdminError> {
    value.ok_or_else(|| AdminError::invalid(id, "may not be null"))
}

/// Minutes (`-1` = forever) as seconds.
fn minutes(value: i64, id: &str) -> Result<i64, AdminError> {
    match value {
        -1 => Ok(-1),
        m if m >= 0 => Ok(m.saturating_mul(60)),
        _ => Err(AdminError::invalid(
            id,
            "must be -1 (forever) or minutes >= 0",
        )),
    }
}

fn to_minutes(secs: i64) -> i64 {
    if secs < 0 {
        -1
    } else {
        secs / 60
    }
}

pub fn proxy_config(
    proxy: ProxyIn,
    negative: Option<NegativeCacheIn>,
    client: Option<HttpClientIn>,
    docker: DockerProxyIn,
) -> Result<ProxyConfig, AdminError> {
    let mut config = ProxyConfig::new(&required(proxy.remote_url, "proxy.remoteUrl")?);
    config.mirror_urls = proxy.mirror_urls.unwrap_or_default();
    config.content_max_age_secs = minutes(
        required(proxy.content_max_age, "proxy.contentMaxAge")?,
        "proxy.contentMaxAge",
    )?;
    config.metadata_max_age_secs = minutes(
        required(proxy.metadata_max_age, "proxy.metadataMaxAge")?,
        "proxy.metadataMaxAge",
    )?;
    let index_type = required(docker.index_type, "dockerProxy.indexType")?;
    config.index_type = IndexType::parse(&index_type).ok_or_else(|| {
        AdminError::invalid(
            "dockerProxy.indexType",
            format!("{index_type} is not one of HUB, REGISTRY, CUSTOM"),
        )
    })?;
    config.index_url = docker.index_url.filter(|u| !u.is_empty());
    if config.index_type == IndexType::Custom && config.index_url.is_none() {
        return Err(AdminError::invalid(
            "dockerProxy.indexUrl",
            "required when indexType is CUSTOM",
        ));
    }
    if let Some(n) = negative {
        config.negative_cache = n.enabled.unwrap_or(true);
        if let Some(ttl) = n.time_to_live {
            let secs = minutes(ttl, "negativeCache.timeToLive")?;
            config.negative_cache_ttl_secs = secs.max(0) as u64;
        }
    }
    let client = client.unwrap_or_default();
    config.blocked = client.blocked.unwrap_or(false);
    config.auto_block = client.auto_block.unwrap_or(true);
    if let Some(c) = client.connection {
        if let Some(t) = c.timeout {
            config.timeout_secs = u64::try_from(t)
                .ok()
                .filter(|t| (1..=3600).contains(t))
                .ok_or_else(|| {
                    AdminError::invalid(
                        "httpClient.connection.timeout",
                        "must be 1 to 3600 seconds",
                    )
                })?;
        }
        config.user_agent_suffix = c.user_agent_suffix.filter(|s| !s.is_empty());
        config.max_connections = c.max_connections.unwrap_or(0);
        config.max_requests_per_sec = c.max_requests_per_second.unwrap_or(0);
    }
    if let Some(auth) = client.authentication {
        let kind = auth.kind.unwrap_or_else(|| "username".into());
        if kind != "username" {
            return Err(AdminError::invalid(
                "httpClient.authentication.type",
                format!("{kind} is not supported; use username (with password)"),
            ));
        }
        config.username = Some(required(
            auth.username.filter(|u| !u.is_empty()),
            "httpClient.authentication.username",
        )?);
        config.password = auth.password.map(Secret::new);
    }
    config.validate()?;
    Ok(config)
}

/// Adds the proxy sections to a `GET /v1/repositories/docker/proxy/{name}` answer.
pub fn insert_proxy_detail(out: &mut Map<String, Value>, proxy: &ProxyConfig) {
    out.insert(
        "proxy".into(),
        json!({
            "remoteUrl": proxy.remote_url,
            "contentMaxAge": to_minutes(proxy.content_max_age_secs),
            "metadataMaxAge": to_minutes(proxy.metadata_max_age_secs),
            "mirrorUrls": proxy.mirror_urls,
        }),
    );
    out.insert(
        "negativeCache".into(),
        json!({
            "enabled": proxy.negative_cache,
            "timeToLive": proxy.negative_cache_ttl_secs / 60,
        }),
    );
    let authentication = proxy.username.as_ref().map(|u| {
        // Write-only: the password is never returned.
        json!({"type": "username", "username": u, "preemptive": false})
    });
    out.insert(
        "httpClient".into(),
        json!({
            "blocked": proxy.blocked,
            "autoBlock": proxy.auto_block,
            "connection": {
                "retries": 0,
                "userAgentSuffix": proxy.user_agent_suffix,
                "timeout": proxy.timeout_secs,
                "enableCircularRedirects": false,
                "enableCookies": false,
                "useTrustStore": false,
                "maxConnections": proxy.max_connections,
                "maxRequestsPerSecond": proxy.max_requests_per_sec,
            },
            "authentication": authentication,
        }),
    );
    out.insert("routingRuleName".into(), Value::Null);
    out.insert(
        "dockerProxy".into(),
        json!({
            "indexType": proxy.index_type.as_str(),
            "indexUrl": proxy.index_url,
            "cacheForeignLayers": false,
            "foreignLayerUrlWhitelist": [],
        }),
    );
}

/// Berth's addition to a proxy's answers: whether the upstream is usable right now.
pub fn status(status: &ProxyStatus) -> Value {
    serde_json::to_value(status).unwrap_or(Value::Null)
}
