//! What the importer reads from Nexus's REST API (`/service/rest/v1/…`), typed where the
//! importer decides something from a field, and kept as JSON where it only carries the
//! document on to Berth (repository settings are mapped field by field in `mapping`).
//! Every field Nexus may leave out or send as `null` is optional: the shapes vary between
//! releases (3.42 … 3.9x, see `nexus-rest-api.md`).

use serde::Deserialize;
use serde_json::Value;

/// An entry of `GET /v1/repositories`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct RepositorySummary {
    pub name: String,
    pub format: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub url: Option<String>,
}

/// An entry of `GET /v1/blobstores`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BlobStoreSummary {
    pub name: String,
    /// `File`, `S3`, `Group`, …
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub blob_count: Option<u64>,
    #[serde(default)]
    pub total_size_in_bytes: Option<u64>,
}

/// `GET /v1/blobstores/file/{name}`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FileBlobStore {
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub soft_quota: Option<SoftQuota>,
    /// Berth's extension (absent in Nexus).
    #[serde(default)]
    pub hard_quota: Option<Value>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct SoftQuota {
    /// `spaceUsedQuota` | `spaceRemainingQuota`.
    #[serde(rename = "type")]
    pub kind: String,
    pub limit: u64,
}

/// An entry of `GET /v1/security/users`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub user_id: String,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email_address: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// An entry of `GET /v1/security/roles`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub privileges: Vec<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub read_only: bool,
}

/// An entry of `GET /v1/security/privileges` (type-specific fields optional).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Privilege {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub actions: Option<Vec<String>>,
    #[serde(default)]
    pub content_selector: Option<String>,
}

/// `GET /v1/security/anonymous`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Anonymous {
    pub enabled: bool,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub realm_name: Option<String>,
}

/// A cleanup policy (`v1/cleanup-policies` in Pro, `internal/cleanup-policies` in CE).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CleanupPolicy {
    pub name: String,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub criteria_last_blob_updated: Option<i64>,
    #[serde(default)]
    pub criteria_last_downloaded: Option<i64>,
    #[serde(default)]
    pub criteria_release_type: Option<String>,
    #[serde(default)]
    pub criteria_asset_regex: Option<String>,
    #[serde(default)]
    pub retain: Option<i64>,
}

/// Parses a Nexus list document, naming the endpoint when it is not what Nexus documents.
pub fn parse_list<T: serde::de::DeserializeOwned>(
    endpoint: &str,
    value: Value,
) -> Result<Vec<T>, super::error::ImportError> {
    serde_json::from_value(value).map_err(|e| {
        super::error::ImportError::Malformed(format!(
            "source Nexus {endpoint}: not the documented shape: {e}"
        ))
    })
}

/// True if a privilege concerns docker repositories (a `repository-view` or
/// `repository-content-selector` on format `docker` or `*`).
pub fn is_docker_privilege(p: &Privilege) -> bool {
    p.kind.starts_with("repository-") && matches!(p.format.as_deref(), Some("docker") | Some("*"))
}

/// True for the privilege names Nexus (and Berth) derive from repositories:
/// `nx-repository-view-<format>-<repo>-<action>` on docker or all formats.
pub fn is_builtin_docker_privilege(name: &str) -> bool {
    name.starts_with("nx-repository-view-docker-") || name.starts_with("nx-repository-view-*-")
}

#[cfg(test)]
mod tests {
    //! Fixtures written for these tests from the shapes Sonatype documents for Nexus 3
    //! (REST API reference pages and the examples in `nexus-rest-api.md`).
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/import/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    #[test]
    fn the_repository_list_parses_with_every_format_and_type() {
        let list: Vec<RepositorySummary> =
            parse_list("repositories", fixture("repositories.json")).unwrap();
        assert_eq!(list.len(), 5);
        let docker: Vec<_> = list.iter().filter(|r| r.format == "docker").collect();
        assert_eq!(docker.len(), 3);
        assert_eq!(list[3].kind, "proxy");
    }

    #[test]
    fn blob_stores_parse_file_and_s3_with_quotas() {
        let list: Vec<BlobStoreSummary> =
            parse_list("blobstores", fixture("blobstores.json")).unwrap();
        assert_eq!(list[0].kind, "File");
        assert_eq!(list[1].kind, "S3");
        let file: FileBlobStore = serde_json::from_value(fixture("blobstore-file.json")).unwrap();
        assert_eq!(file.soft_quota.unwrap().kind, "spaceUsedQuota");
        assert_eq!(file.path.as_deref(), Some("/nexus-data/blobs/docker"));
    }

    #[test]
    fn users_roles_and_privileges_parse_with_nulls_and_extra_fields() {
        let users: Vec<User> = parse_list("users", fixture("users.json")).unwrap();
        assert_eq!(users[1].user_id, "ci-bot");
        assert_eq!(users[1].roles, ["docker-push"]);
        assert_eq!(users[2].source.as_deref(), Some("LDAP"));
        let roles: Vec<Role> = parse_list("roles", fixture("roles.json")).unwrap();
        assert!(roles[0].read_only);
        assert_eq!(roles[1].privileges.len(), 4);
        let privileges: Vec<Privilege> =
            parse_list("privileges", fixture("privileges.json")).unwrap();
        let docker: Vec<&str> = privileges
            .iter()
            .filter(|p| is_docker_privilege(p))
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(
            docker,
            [
                "nx-repository-view-docker-docker-hosted-read",
                "team-a-read",
                "docker-hosted-push"
            ]
        );
    }

    #[test]
    fn anonymous_and_cleanup_policies_parse() {
        let a: Anonymous = serde_json::from_value(fixture("anonymous.json")).unwrap();
        assert!(a.enabled);
        let p: Vec<CleanupPolicy> =
            parse_list("cleanup", fixture("cleanup-policies.json")).unwrap();
        assert_eq!(p[0].criteria_last_blob_updated, Some(30));
        assert_eq!(p[1].format.as_deref(), Some("maven2"));
    }

    #[test]
    fn a_list_of_the_wrong_shape_is_a_clear_error() {
        let e = parse_list::<User>("users", serde_json::json!({"items": []})).unwrap_err();
        assert!(e.to_string().contains("source Nexus users"), "{e}");
    }
}
