//! The Nexus repository model: what a repository or blob store *is*, independent of where
//! its definition came from (the TOML file, the admin REST API, or the metadata database
//! that persists run-time changes). Validation lives here so every entry point refuses the
//! same mistakes with the same message.
//!
//! Also the other plain data several layers share (so none of them imports another upwards):
//! proxy definitions ([`proxy`]), cleanup policies and the facts they are evaluated on
//! ([`cleanup`]), task definitions and run state ([`task`], [`schedule`]), usage limit
//! settings ([`usage`]) and the trusted reverse proxies ([`trusted_proxies`]). The modules
//! that act on them re-export them.

use serde::{Deserialize, Serialize};

pub mod cleanup;
pub mod proxy;
pub mod schedule;
pub mod task;
pub mod trusted_proxies;
pub mod usage;

pub use proxy::{IndexType, ProxyConfig, Secret};
pub use trusted_proxies::TrustedProxies;

/// The `default` blob store exists out of the box.
pub const DEFAULT_STORE: &str = "default";

/// Why a definition was refused (the admin API answers 400 with this message).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {message}")]
pub struct ModelError {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> ModelError {
    ModelError {
        field,
        message: message.into(),
    }
}

/// Repository kinds.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RepositoryKind {
    Hosted,
    /// A read-only pull-through cache of one upstream registry (see `crate::proxy`).
    Proxy,
    Group,
}

impl RepositoryKind {
    /// Hosted and proxy repositories keep content in a blob store; groups do not.
    pub fn stores_content(self) -> bool {
        matches!(self, RepositoryKind::Hosted | RepositoryKind::Proxy)
    }
}

/// Nexus deployment ("write") policy of a hosted repository.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WritePolicy {
    /// Redeploy allowed: tags may move.
    #[default]
    Allow,
    /// Disable redeploy: a tag, once set, cannot point elsewhere (same digest is fine).
    AllowOnce,
    /// Read-only.
    Deny,
}

impl WritePolicy {
    /// Accepts Nexus's spellings in any case (`allow_once`, `ALLOW_ONCE`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "ALLOW" => Some(WritePolicy::Allow),
            "ALLOW_ONCE" => Some(WritePolicy::AllowOnce),
            "DENY" => Some(WritePolicy::Deny),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WritePolicy::Allow => "ALLOW",
            WritePolicy::AllowOnce => "ALLOW_ONCE",
            WritePolicy::Deny => "DENY",
        }
    }
}

/// One repository's definition.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RepositoryConfig {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: RepositoryKind,
    #[serde(default = "yes")]
    pub online: bool,
    /// Blob store holding this repository's content (hosted only; groups store nothing).
    #[serde(default = "default_store")]
    pub blob_store: String,
    /// Connector port: the repository answers `/v2/…` on this port of its own.
    #[serde(default)]
    pub http_port: Option<u16>,
    /// Hosted: the deployment policy.
    #[serde(default)]
    pub write_policy: WritePolicy,
    /// Hosted with `ALLOW_ONCE`: the `latest` tag may still move.
    #[serde(default)]
    pub latest_policy: bool,
    /// Group: members in the order they are asked.
    #[serde(default)]
    pub members: Vec<String>,
    /// Group: the hosted member that receives pushes sent to the group.
    #[serde(default)]
    pub writable_member: Option<String>,
    /// Proxy: the upstream and the cache policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyConfig>,
    /// Nexus `docker.forceBasicAuth`: when false (and security allows anonymous access),
    /// anonymous clients may pull from this repository. Only matters with security enabled.
    #[serde(default = "yes")]
    pub force_basic_auth: bool,
    /// Nexus `cleanup.policyNames`: the cleanup policies the `repository.cleanup` task
    /// applies to this repository (see `crate::cleanup`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cleanup_policies: Vec<String>,
    /// Hosted: accept manifests that reference content this repository does not hold
    /// (sparse indexes: a mirror that copies only some platforms of an index). Off by
    /// default, so a push normally proves that everything it names is there. Absent
    /// content answers `MANIFEST_UNKNOWN` / `BLOB_UNKNOWN` when pulled.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sparse_manifests: bool,
}

fn yes() -> bool {
    true
}

fn default_store() -> String {
    DEFAULT_STORE.to_string()
}

impl RepositoryConfig {
    /// The repository Berth creates when nothing is configured.
    pub fn default_hosted(name: &str) -> Self {
        RepositoryConfig {
            name: name.to_string(),
            kind: RepositoryKind::Hosted,
            online: true,
            blob_store: default_store(),
            http_port: None,
            write_policy: WritePolicy::Allow,
            latest_policy: false,
            members: Vec::new(),
            writable_member: None,
            proxy: None,
            force_basic_auth: true,
            cleanup_policies: Vec::new(),
            sparse_manifests: false,
        }
    }

    /// Checks what can be checked without looking at other repositories.
    pub fn validate(&self) -> Result<(), ModelError> {
        validate_name("name", &self.name)?;
        if self.name.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(invalid(
                "name",
                "docker repository names must be lower case",
            ));
        }
        if self.http_port == Some(0) {
            return Err(invalid("httpPort", "must be a port number from 1 to 65535"));
        }
        if self.kind != RepositoryKind::Group
            && (!self.members.is_empty() || self.writable_member.is_some())
        {
            return Err(invalid("group", "only group repositories have members"));
        }
        if self.sparse_manifests && self.kind != RepositoryKind::Hosted {
            return Err(invalid(
                "docker.sparseManifests",
                "only hosted repositories take pushes; set it on the group's writable member",
            ));
        }
        if (self.kind == RepositoryKind::Proxy) != self.proxy.is_some() {
            return Err(invalid(
                "proxy",
                "proxy repositories, and only they, need proxy settings (remote_url …)",
            ));
        }
        match self.kind {
            RepositoryKind::Hosted => {}
            RepositoryKind::Proxy => {
                if let Some(proxy) = &self.proxy {
                    proxy.validate()?;
                }
            }
            RepositoryKind::Group => {
                if self.members.is_empty() {
                    return Err(invalid(
                        "group.memberNames",
                        "a group needs at least one member",
                    ));
                }
                if self.members.iter().any(|m| m == &self.name) {
                    return Err(invalid(
                        "group.memberNames",
                        "a group cannot contain itself",
                    ));
                }
                if let Some(w) = &self.writable_member {
                    if !self.members.contains(w) {
                        return Err(invalid(
                            "group.writableMember",
                            format!("{w} is not a member of the group"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Nexus's name rule for repositories and blob stores: `^[a-zA-Z0-9\-]{1}[a-zA-Z0-9_\-\.]*$`.
pub fn validate_name(field: &'static str, name: &str) -> Result<(), ModelError> {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'-');
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !first_ok || !rest_ok || name.len() > 200 {
        return Err(invalid(
            field,
            "must start with a letter, digit or '-' and contain only letters, digits, '_', '-' and '.' (at most 200)",
        ));
    }
    Ok(())
}

/// Where a blob store keeps its bytes.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BlobStoreKind {
    /// A directory on the local filesystem (`path`).
    #[default]
    File,
    /// A bucket of an S3 server (`endpoint`, `region`, `bucket`, `prefix`, credentials).
    S3,
}

impl BlobStoreKind {
    fn is_file(&self) -> bool {
        *self == BlobStoreKind::File
    }
}

/// A named blob store: a directory (`type = "file"`, the default) or an S3 bucket and
/// prefix (`type = "s3"`). S3 settings are left out of a file store's serialized form.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BlobStoreConfig {
    pub name: String,
    #[serde(
        rename = "type",
        default,
        skip_serializing_if = "BlobStoreKind::is_file"
    )]
    pub kind: BlobStoreKind,
    /// Directory of a file store; relative paths are under `<data_dir>/blobstores`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// Above this many bytes the store is reported as over its soft quota (logs, status).
    #[serde(default)]
    pub soft_quota_bytes: Option<u64>,
    /// Above this many bytes new blobs are refused; reads keep working.
    #[serde(default)]
    pub hard_quota_bytes: Option<u64>,
    /// S3: the server's URL (`None`: AWS for `region`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// S3: key prefix inside the bucket (stores may share a bucket under different prefixes).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// S3: path-style addressing (`endpoint/bucket/key`), what most self-hosted servers want.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_style: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// Never printed (`berth config`, logs) nor returned by the admin API; sealed at rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<Secret>,
    /// S3: a file with `aws_access_key_id` / `aws_secret_access_key` (AWS credentials format),
    /// read at start; without it and inline keys, `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<String>,
    /// S3: blob GETs answer `307` to a pre-signed URL instead of streaming through Berth.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redirect: bool,
    /// S3: how long a pre-signed URL is valid (seconds; default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_ttl_secs: Option<u64>,
    /// S3: largest blob published by one server-side copy (default 5 GiB, AWS's limit);
    /// larger blobs are copied by streaming. Lower it for servers with a smaller limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_max_bytes: Option<u64>,
}

/// Lifetime of pre-signed blob URLs unless `redirect_ttl_secs` says otherwise.
pub const DEFAULT_REDIRECT_TTL_SECS: u64 = 300;

impl BlobStoreConfig {
    pub fn default_store() -> Self {
        BlobStoreConfig {
            name: DEFAULT_STORE.to_string(),
            path: DEFAULT_STORE.to_string(),
            ..Default::default()
        }
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        validate_name("name", &self.name)?;
        match self.kind {
            BlobStoreKind::File => self.validate_file(),
            BlobStoreKind::S3 => self.validate_s3(),
        }
    }

    fn validate_file(&self) -> Result<(), ModelError> {
        if self.path.trim().is_empty() {
            return Err(invalid("path", "must not be empty"));
        }
        if self.path.split('/').any(|c| c == "..") {
            return Err(invalid("path", "must not contain '..'"));
        }
        let s3_only = [
            ("endpoint", self.endpoint.is_some()),
            ("bucket", self.bucket.is_some()),
            ("secret_access_key", self.secret_access_key.is_some()),
            ("redirect", self.redirect),
        ];
        if let Some((field, _)) = s3_only.iter().find(|(_, set)| *set) {
            return Err(invalid(
                field,
                "is an S3 setting; this store is a file store (set type = \"s3\")",
            ));
        }
        Ok(())
    }

    fn validate_s3(&self) -> Result<(), ModelError> {
        if !self.path.is_empty() {
            return Err(invalid(
                "path",
                "is a file store setting; an S3 store has bucket and prefix",
            ));
        }
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        if blank(&self.bucket) {
            return Err(invalid("bucket", "is required for an S3 store"));
        }
        if blank(&self.region) {
            return Err(invalid(
                "region",
                "is required for an S3 store (any name for servers without regions, e.g. garage)",
            ));
        }
        if let Some(endpoint) = &self.endpoint {
            let ok = reqwest::Url::parse(endpoint)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                return Err(invalid(
                    "endpoint",
                    format!("{endpoint:?} is not an http(s) URL"),
                ));
            }
        }
        if self.prefix.split('/').any(|c| c == "..") {
            return Err(invalid("prefix", "must not contain '..'"));
        }
        if self.access_key_id.is_some() != self.secret_access_key.is_some() {
            return Err(invalid(
                "secret_access_key",
                "access_key_id and secret_access_key go together",
            ));
        }
        if self.redirect_ttl_secs == Some(0) || self.redirect_ttl_secs > Some(7 * 24 * 3600) {
            return Err(invalid(
                "redirect_ttl_secs",
                "must be between 1 and 604800 (seven days, the S3 maximum)",
            ));
        }
        Ok(())
    }

    /// The definition as shown to people (`berth config`, logs): the secret replaced.
    pub fn redacted(&self) -> Self {
        let mut out = self.clone();
        if out.secret_access_key.is_some() {
            out.secret_access_key = Some(Secret::new(proxy::REDACTED.into()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nexus_names_are_checked() {
        assert!(validate_name("name", "docker-hosted").is_ok());
        assert!(validate_name("name", "a.b_c-1").is_ok());
        assert!(validate_name("name", "").is_err());
        assert!(validate_name("name", "_x").is_err());
        assert!(validate_name("name", "a/b").is_err());
        assert!(validate_name("name", "a b").is_err());
    }

    #[test]
    fn groups_need_members_and_a_writable_member_among_them() {
        let mut g = RepositoryConfig::default_hosted("g");
        g.kind = RepositoryKind::Group;
        assert!(g.validate().is_err());
        g.members = vec!["h".into()];
        g.writable_member = Some("other".into());
        assert!(g.validate().is_err());
        g.writable_member = Some("h".into());
        assert!(g.validate().is_ok());
        g.members.push("g".into());
        assert!(g.validate().is_err());
    }

    #[test]
    fn write_policies_parse_in_any_case() {
        assert_eq!(
            WritePolicy::parse("allow_once"),
            Some(WritePolicy::AllowOnce)
        );
        assert_eq!(WritePolicy::parse("DENY"), Some(WritePolicy::Deny));
        assert_eq!(WritePolicy::parse("maybe"), None);
    }
}
