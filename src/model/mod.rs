//! The Nexus repository model: what a repository or blob store *is*, independent of where
//! its definition came from (the TOML file, the admin REST API, or the metadata database
//! that persists run-time changes). Validation lives here so every entry point refuses the
//! same mistakes with the same message.
//!
//! Also the other plain data several layers share (so none of them imports another upwards):
//! proxy definitions ([`proxy`]), cleanup policies and the facts they are evaluated on
//! ([`cleanup`]), task definitions and run state ([`task`], [`schedule`]) and usage limit
//! settings ([`usage`]). The modules that act on them re-export them.

use serde::{Deserialize, Serialize};

pub mod cleanup;
pub mod proxy;
pub mod schedule;
pub mod task;
pub mod usage;

pub use proxy::{IndexType, ProxyConfig, Secret};

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

/// A named file blob store.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BlobStoreConfig {
    pub name: String,
    /// Directory; relative paths are under `<data_dir>/blobstores`.
    pub path: String,
    /// Above this many bytes the store is reported as over its soft quota (logs, status).
    #[serde(default)]
    pub soft_quota_bytes: Option<u64>,
    /// Above this many bytes new blobs are refused; reads keep working.
    #[serde(default)]
    pub hard_quota_bytes: Option<u64>,
}

impl BlobStoreConfig {
    pub fn default_store() -> Self {
        BlobStoreConfig {
            name: DEFAULT_STORE.to_string(),
            path: DEFAULT_STORE.to_string(),
            soft_quota_bytes: None,
            hard_quota_bytes: None,
        }
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        validate_name("name", &self.name)?;
        if self.path.trim().is_empty() {
            return Err(invalid("path", "must not be empty"));
        }
        if self.path.split('/').any(|c| c == "..") {
            return Err(invalid("path", "must not contain '..'"));
        }
        Ok(())
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
