//! Cleanup policies as stored and answered, and the facts a policy is evaluated on
//! (evaluation itself is `crate::cleanup`; the metadata store reads and writes these).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A cleanup policy as stored and answered (Nexus field names plus Berth's two extras).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub name: String,
    pub notes: Option<String>,
    pub format: String,
    pub criteria_last_blob_updated: Option<u64>,
    pub criteria_last_downloaded: Option<u64>,
    /// Accepted and answered, never applied: Docker tags have no release type.
    pub criteria_release_type: Option<String>,
    pub criteria_asset_regex: Option<String>,
    /// Berth: keep the N most recently updated tags of each image.
    pub keep_latest: Option<u64>,
    /// Berth: delete untagged manifests stored at least this many hours ago.
    pub untagged_older_than_hours: Option<u64>,
}

/// Why a policy body is refused: `(field, message)`.
pub type Invalid = (String, String);

const NAME_MAX: usize = 255;

impl Policy {
    /// Parses and validates a request body; `path_name` is the name in the URL on update.
    pub fn from_body(body: &[u8], path_name: Option<&str>) -> Result<Policy, Invalid> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ("*".to_string(), format!("invalid JSON: {e}")))?;
        let obj = value
            .as_object()
            .ok_or_else(|| invalid("*", "the body must be a JSON object"))?;
        let text = |field: &str| -> Result<Option<String>, Invalid> {
            match obj.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(invalid(field, "must be a string")),
            }
        };
        let count = |field: &str| -> Result<Option<u64>, Invalid> {
            match obj.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => match v.as_u64() {
                    Some(n) if n >= 1 => Ok(Some(n)),
                    _ => Err(invalid(field, "must be a whole number of at least 1")),
                },
            }
        };
        let name = match (path_name, text("name")?) {
            (Some(path), Some(body)) if path != body => {
                return Err(invalid(
                    "name",
                    "renaming a cleanup policy is not supported",
                ))
            }
            (Some(path), _) => path.to_string(),
            (None, Some(body)) => body,
            (None, None) => return Err(invalid("name", "may not be null")),
        };
        if name.is_empty()
            || name.len() > NAME_MAX
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || name.starts_with(['.', '_'])
        {
            return Err(invalid(
                "name",
                "use 1 to 255 letters, digits, '-', '_' or '.', not starting with '.' or '_'",
            ));
        }
        let format = text("format")?.ok_or_else(|| invalid("format", "may not be null"))?;
        if format != "docker" {
            return Err(invalid("format", "Berth only has docker repositories"));
        }
        let regex = text("criteriaAssetRegex")?;
        if let Some(r) = &regex {
            anchored(r)
                .map_err(|e| invalid("criteriaAssetRegex", &format!("invalid regex: {e}")))?;
        }
        let policy = Policy {
            name,
            notes: text("notes")?,
            format,
            criteria_last_blob_updated: count("criteriaLastBlobUpdated")?,
            criteria_last_downloaded: count("criteriaLastDownloaded")?,
            criteria_release_type: text("criteriaReleaseType")?,
            criteria_asset_regex: regex,
            keep_latest: count("keepLatest")?,
            untagged_older_than_hours: count("untaggedOlderThanHours")?,
        };
        if !policy.has_tag_criteria() && policy.untagged_older_than_hours.is_none() {
            return Err(invalid(
                "criteria",
                "set at least one of criteriaLastBlobUpdated, criteriaLastDownloaded, \
                 criteriaAssetRegex, keepLatest, untaggedOlderThanHours",
            ));
        }
        Ok(policy)
    }

    pub(crate) fn has_tag_criteria(&self) -> bool {
        self.criteria_last_blob_updated.is_some()
            || self.criteria_last_downloaded.is_some()
            || self.criteria_asset_regex.is_some()
            || self.keep_latest.is_some()
    }
}

fn invalid(field: &str, message: &str) -> Invalid {
    (field.to_string(), message.to_string())
}

/// Nexus matches the regex against the whole path, so Berth anchors it too.
pub(crate) fn anchored(regex: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!("^(?:{regex})$"))
}

/// One tag as evaluation sees it.
#[derive(Clone, Debug)]
pub struct TagFacts {
    pub image: String,
    pub tag: String,
    pub digest: String,
    /// Unix seconds the tag was last pointed at its manifest.
    pub updated_at: i64,
    pub last_downloaded: Option<i64>,
}

/// One manifest no tag points at, no index of its image lists, and that is no referrer.
#[derive(Clone, Debug)]
pub struct UntaggedFacts {
    pub image: String,
    pub digest: String,
    pub created_at: i64,
}
