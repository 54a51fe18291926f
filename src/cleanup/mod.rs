//! Cleanup policies, the Nexus way (`/service/rest/v1/cleanup-policies`, see
//! `nexus-rest-api.md` §11): named sets of criteria that repositories attach through their
//! `cleanup.policyNames`, applied by the `repository.cleanup` task.
//!
//! A tag matches a policy when **all** of the policy's tag criteria that are set match
//! (Nexus ANDs them): last updated (pushed or re-tagged) at least `criteriaLastBlobUpdated`
//! days ago; last downloaded at least `criteriaLastDownloaded` days ago (never downloaded
//! counts from when it was tagged, as in Nexus); name matching `criteriaAssetRegex`; and,
//! with `keepLatest` N, not among the image's N most recently updated tags. Independently,
//! `untaggedOlderThanHours` selects manifests no tag points at, no index lists and that are
//! no referrer, stored at least that many hours ago. A repository loses what any of its
//! policies selects. Evaluation is pure ([`evaluate`]) so the preview and the run agree.

use std::collections::{BTreeMap, BTreeSet, HashMap};

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

    fn has_tag_criteria(&self) -> bool {
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
fn anchored(regex: &str) -> Result<regex::Regex, regex::Error> {
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

/// What a run deletes from one repository (the preview answers exactly this).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Tags to delete, with the policies that selected each.
    pub tags: Vec<PlannedTag>,
    /// Manifests to delete afterwards: untagged ones a policy selected, and those whose last
    /// tag the plan deletes (so garbage collection can reclaim their blobs).
    pub manifests: Vec<PlannedManifest>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlannedTag {
    pub image: String,
    pub tag: String,
    pub digest: String,
    pub policies: Vec<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlannedManifest {
    pub image: String,
    pub digest: String,
}

const DAY: i64 = 86_400;

/// The deletions `policies` select among `tags` and `untagged` at time `now` (Unix
/// seconds). `children` are `(image, digest)` of manifests another manifest holds (listed by
/// an index, or a referrer whose subject is there): they never go with their tags.
pub fn evaluate(
    policies: &[Policy],
    tags: &[TagFacts],
    untagged: &[UntaggedFacts],
    children: &BTreeSet<(String, String)>,
    now: i64,
) -> Plan {
    // The newest first, per image, for keep-N (ties broken by name for a stable order).
    let mut by_image: BTreeMap<&str, Vec<&TagFacts>> = BTreeMap::new();
    for t in tags {
        by_image.entry(&t.image).or_default().push(t);
    }
    let mut rank: HashMap<(&str, &str), usize> = HashMap::new();
    for list in by_image.values_mut() {
        list.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.tag.cmp(&b.tag)));
        for (i, t) in list.iter().enumerate() {
            rank.insert((&t.image, &t.tag), i);
        }
    }
    let mut selected: BTreeMap<(String, String), PlannedTag> = BTreeMap::new();
    let mut manifests: BTreeSet<(String, String)> = BTreeSet::new();
    for policy in policies {
        let regex = policy
            .criteria_asset_regex
            .as_deref()
            .and_then(|r| anchored(r).ok());
        if policy.has_tag_criteria() {
            for t in tags {
                let age = |since: i64| now - since;
                let matches = policy
                    .criteria_last_blob_updated
                    .is_none_or(|d| age(t.updated_at) >= d as i64 * DAY)
                    && policy.criteria_last_downloaded.is_none_or(|d| {
                        age(t.last_downloaded.unwrap_or(t.updated_at)) >= d as i64 * DAY
                    })
                    && regex.as_ref().is_none_or(|r| {
                        r.is_match(&t.tag)
                            || r.is_match(&format!("/v2/{}/manifests/{}", t.image, t.tag))
                            || r.is_match(&format!("v2/{}/manifests/{}", t.image, t.tag))
                    })
                    && policy
                        .keep_latest
                        .is_none_or(|n| rank[&(t.image.as_str(), t.tag.as_str())] >= n as usize);
                if matches {
                    selected
                        .entry((t.image.clone(), t.tag.clone()))
                        .or_insert_with(|| PlannedTag {
                            image: t.image.clone(),
                            tag: t.tag.clone(),
                            digest: t.digest.clone(),
                            policies: Vec::new(),
                        })
                        .policies
                        .push(policy.name.clone());
                }
            }
        }
        if let Some(hours) = policy.untagged_older_than_hours {
            for m in untagged {
                if now - m.created_at >= hours as i64 * 3600 {
                    manifests.insert((m.image.clone(), m.digest.clone()));
                }
            }
        }
    }
    // A manifest whose every tag goes, and that no index lists, goes with them.
    let mut remaining: HashMap<(&str, &str), usize> = HashMap::new();
    for t in tags {
        if !selected.contains_key(&(t.image.clone(), t.tag.clone())) {
            *remaining.entry((&t.image, &t.digest)).or_default() += 1;
        }
    }
    for t in selected.values() {
        let key = (t.image.clone(), t.digest.clone());
        if !remaining.contains_key(&(t.image.as_str(), t.digest.as_str()))
            && !children.contains(&key)
        {
            manifests.insert(key);
        }
    }
    Plan {
        tags: selected.into_values().collect(),
        manifests: manifests
            .into_iter()
            .map(|(image, digest)| PlannedManifest { image, digest })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(image: &str, tag: &str, updated_at: i64) -> TagFacts {
        TagFacts {
            image: image.into(),
            tag: tag.into(),
            digest: format!("sha256:{tag}"),
            updated_at,
            last_downloaded: None,
        }
    }

    fn policy(body: &str) -> Policy {
        Policy::from_body(body.as_bytes(), None).unwrap()
    }

    #[test]
    fn keep_latest_keeps_the_newest_per_image() {
        let p = policy(r#"{"name":"k","format":"docker","keepLatest":2}"#);
        let tags = [
            tag("a", "1", 10),
            tag("a", "2", 30),
            tag("a", "3", 20),
            tag("b", "1", 1),
        ];
        let plan = evaluate(&[p], &tags, &[], &BTreeSet::new(), 100);
        let gone: Vec<_> = plan.tags.iter().map(|t| (&*t.image, &*t.tag)).collect();
        assert_eq!(gone, [("a", "1")]);
        assert_eq!(plan.manifests.len(), 1);
    }

    #[test]
    fn criteria_are_anded() {
        let p = policy(
            r#"{"name":"k","format":"docker","criteriaLastBlobUpdated":1,"criteriaAssetRegex":"dev-.*"}"#,
        );
        let tags = [
            tag("a", "dev-1", 0),
            tag("a", "v1", 0),
            tag("a", "dev-2", DAY * 2),
        ];
        let plan = evaluate(&[p], &tags, &[], &BTreeSet::new(), DAY * 2);
        let gone: Vec<_> = plan.tags.iter().map(|t| &*t.tag).collect();
        assert_eq!(gone, ["dev-1"]);
    }

    #[test]
    fn a_policy_needs_a_criterion() {
        let e = Policy::from_body(br#"{"name":"k","format":"docker"}"#, None).unwrap_err();
        assert_eq!(e.0, "criteria");
        let e = Policy::from_body(br#"{"name":"k","format":"docker","keepLatest":0}"#, None)
            .unwrap_err();
        assert_eq!(e.0, "keepLatest");
    }
}
