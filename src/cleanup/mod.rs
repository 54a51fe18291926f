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

use serde::Serialize;

use crate::model::cleanup::anchored;
pub use crate::model::cleanup::{Policy, TagFacts, UntaggedFacts};

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
