//! The definition of a proxy repository: which upstream, how long cached metadata is
//! trusted, and how Berth talks to the upstream. Ages are kept in seconds (the TOML file
//! uses seconds so short ages are possible); the Nexus REST shape speaks minutes.

use serde::{Deserialize, Serialize};

use super::ModelError;

/// What the upstream is, in Nexus's terms. `Hub` means Docker Hub semantics: a name with a
/// single component (`alpine`) is asked for as `library/alpine`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IndexType {
    Hub,
    #[default]
    Registry,
    Custom,
}

impl IndexType {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "HUB" => Some(IndexType::Hub),
            "REGISTRY" => Some(IndexType::Registry),
            "CUSTOM" => Some(IndexType::Custom),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IndexType::Hub => "HUB",
            IndexType::Registry => "REGISTRY",
            IndexType::Custom => "CUSTOM",
        }
    }
}

/// A credential: stored and persisted, but never printed (`Debug` and logs show a
/// placeholder; `berth config` and the admin API leave it out).
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

/// Shown instead of a password wherever a definition is printed.
pub const REDACTED: &str = "<redacted>";

/// The proxy part of a repository definition.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// The upstream registry, e.g. `https://registry-1.docker.io`.
    pub remote_url: String,
    #[serde(default)]
    pub index_type: IndexType,
    /// Nexus `dockerProxy.indexUrl` (kept for `CUSTOM`; Berth asks `remote_url` for everything).
    #[serde(default)]
    pub index_url: Option<String>,
    /// How long cached blobs are kept; `-1` = forever. Blobs and manifests by digest are
    /// content-addressed, so Berth never revalidates them whatever this says.
    #[serde(default = "forever")]
    pub content_max_age_secs: i64,
    /// How long a cached tag is trusted before a HEAD asks the upstream where it points
    /// now; `-1` = forever.
    #[serde(default = "one_hour")]
    pub metadata_max_age_secs: i64,
    /// Remember "the upstream does not have it" for `negative_cache_ttl_secs`.
    #[serde(default = "yes")]
    pub negative_cache: bool,
    #[serde(default = "one_day")]
    pub negative_cache_ttl_secs: u64,
    /// Set by an operator: the upstream is never called; only cached content is served.
    #[serde(default)]
    pub blocked: bool,
    /// Stop calling an upstream that keeps failing, for a growing back-off period.
    #[serde(default = "yes")]
    pub auto_block: bool,
    /// Timeout of one upstream request (connect and response head), seconds.
    #[serde(default = "sixty")]
    pub timeout_secs: u64,
    #[serde(default)]
    pub user_agent_suffix: Option<String>,
    /// Upstream credentials (Basic, or exchanged for a Bearer token at the upstream's realm).
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// Other URLs serving the same content (a regional mirror, a pull-through cache), tried
    /// in order before `remote_url`; each one is auto-blocked on its own, and whatever one
    /// serves is verified against its digest like the origin's.
    #[serde(default)]
    pub mirror_urls: Vec<String>,
    /// Upstream requests in flight at most (a blob download holds its slot to the end);
    /// `0` = no cap. Cold misses wait for a slot; tag revalidations are skipped instead.
    #[serde(default)]
    pub max_connections: u32,
    /// Upstream requests started per second at most; `0` = no cap. Cold misses wait for
    /// their turn; tag revalidations that would wait are skipped (the cached tag is served).
    #[serde(default)]
    pub max_requests_per_sec: u32,
}

/// Mirrors a proxy may list (each is tried on a miss, so a long list is a slow failure).
const MAX_MIRRORS: usize = 8;

fn check_url(value: &str, field: &'static str) -> Result<(), ModelError> {
    let url = reqwest::Url::parse(value).map_err(|e| ModelError {
        field,
        message: format!("{value:?} is not a URL: {e}"),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ModelError {
            field,
            message: "must be an http:// or https:// URL with a host".into(),
        });
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ModelError {
            field,
            message: "must not contain credentials; set the username and password instead".into(),
        });
    }
    Ok(())
}

fn yes() -> bool {
    true
}
fn forever() -> i64 {
    -1
}
fn one_hour() -> i64 {
    3600
}
fn one_day() -> u64 {
    86_400
}
fn sixty() -> u64 {
    60
}

impl ProxyConfig {
    pub fn new(remote_url: &str) -> Self {
        ProxyConfig {
            remote_url: remote_url.to_string(),
            index_type: IndexType::default(),
            index_url: None,
            content_max_age_secs: forever(),
            metadata_max_age_secs: one_hour(),
            negative_cache: true,
            negative_cache_ttl_secs: one_day(),
            blocked: false,
            auto_block: true,
            timeout_secs: sixty(),
            user_agent_suffix: None,
            username: None,
            password: None,
            mirror_urls: Vec::new(),
            max_connections: 0,
            max_requests_per_sec: 0,
        }
    }

    /// The URLs to try, in order: the mirrors, then `remote_url`.
    pub fn urls(&self) -> impl Iterator<Item = &str> {
        self.mirror_urls
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(self.remote_url.as_str()))
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        check_url(&self.remote_url, "proxy.remoteUrl")?;
        for url in &self.mirror_urls {
            check_url(url, "proxy.mirrorUrls")?;
        }
        if self.mirror_urls.len() > MAX_MIRRORS {
            return Err(ModelError {
                field: "proxy.mirrorUrls",
                message: format!("at most {MAX_MIRRORS} mirrors"),
            });
        }
        if self.metadata_max_age_secs < -1 || self.content_max_age_secs < -1 {
            return Err(ModelError {
                field: "proxy.metadataMaxAge",
                message: "must be -1 (forever) or a number of minutes".into(),
            });
        }
        if self.timeout_secs == 0 || self.timeout_secs > 3600 {
            return Err(ModelError {
                field: "httpClient.connection.timeout",
                message: "must be from 1 to 3600 seconds".into(),
            });
        }
        if self.password.is_some() && self.username.is_none() {
            return Err(ModelError {
                field: "httpClient.authentication.username",
                message: "a password needs a username".into(),
            });
        }
        Ok(())
    }

    /// A copy safe to print: the password replaced by a placeholder.
    pub fn redacted(&self) -> Self {
        let mut out = self.clone();
        if out.password.is_some() {
            out.password = Some(Secret::new(REDACTED.into()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let mut c = ProxyConfig::new("https://registry-1.docker.io");
        c.username = Some("svc".into());
        c.password = Some(Secret::new("s3cret".into()));
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(!format!("{:?}", c.redacted().password).contains("s3cret"));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn remote_urls_must_be_http() {
        assert!(ProxyConfig::new("ftp://x").validate().is_err());
        assert!(ProxyConfig::new("not a url").validate().is_err());
        assert!(ProxyConfig::new("http://127.0.0.1:5000").validate().is_ok());
    }
}
