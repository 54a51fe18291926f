//! The registry's side of cleanup policies: storing them, recording pulls by tag (in memory,
//! flushed in batches), planning what a repository's policies delete, and deleting it
//! through the repository actor like a client's `DELETE` would (blobs are then reclaimed by
//! the next garbage collection).

use std::time::Duration;

use actix_web::web::Data;
use serde_json::{json, Value};

use super::messages::{CleanupManifest, CleanupTag, LoadImage};
use super::{Hosted, RegistryError, RepoCore, Repository};
use crate::cleanup::{evaluate, Plan, Policy};
use crate::clock::now;
use crate::oci::{Digest, ImageName, Tag};

/// How often pulls recorded in memory are written to the metadata store.
const DOWNLOAD_FLUSH: Duration = Duration::from_secs(5);

impl Hosted {
    /// Remembers that `image` was pulled now by `reference`, a tag or a digest (tags have
    /// no `:`); a digest counts for the tags pointing at it when flushed. Memory only: no
    /// database write here. Runs on every pull: a reference pulled since the last flush is
    /// updated in place (the same shard lock an insert takes), only the first pull after a
    /// flush builds the entry's key.
    pub fn note_download(&self, image: &ImageName, reference: &str) {
        let at = now();
        let pulled = (image.as_str(), reference);
        if let Some(mut entry) = self.core.downloads.get_mut(&pulled as &dyn PulledTag) {
            entry.0 = at;
            entry.1 += 1;
            return;
        }
        self.core
            .downloads
            .entry((image.as_str().to_string(), reference.to_string()))
            .and_modify(|(last, count)| {
                *last = at;
                *count += 1;
            })
            .or_insert((at, 1));
    }
}

/// An `(image, tag)` pair, owned or borrowed, so the map of pulls keyed by owned pairs can
/// be searched with borrowed ones. Hashes and compares exactly as `(String, String)` does
/// (a tuple hashes its fields in order, a `String` as its `str`), as `Borrow` requires.
trait PulledTag {
    fn pair(&self) -> (&str, &str);
}

impl PulledTag for (String, String) {
    fn pair(&self) -> (&str, &str) {
        (&self.0, &self.1)
    }
}

impl PulledTag for (&str, &str) {
    fn pair(&self) -> (&str, &str) {
        (self.0, self.1)
    }
}

impl<'a> std::borrow::Borrow<dyn PulledTag + 'a> for (String, String) {
    fn borrow(&self) -> &(dyn PulledTag + 'a) {
        self
    }
}

impl std::hash::Hash for dyn PulledTag + '_ {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.pair().hash(state);
    }
}

impl PartialEq for dyn PulledTag + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.pair() == other.pair()
    }
}

impl Eq for dyn PulledTag + '_ {}

impl RepoCore {
    pub(super) async fn cleanup_tag(&self, msg: CleanupTag) -> Result<bool, RegistryError> {
        let loaded = self.load_image(LoadImage {
            name: msg.name.clone(),
        });
        let Some(image) = loaded.await? else {
            return Ok(false);
        };
        if image.tag(msg.tag.as_str()).as_ref() != Some(&msg.digest) {
            return Ok(false);
        }
        self.delete_tag(super::messages::DeleteTag {
            name: msg.name,
            tag: msg.tag,
        })
        .await?;
        Ok(true)
    }

    pub(super) async fn cleanup_manifest(
        &self,
        msg: CleanupManifest,
    ) -> Result<bool, RegistryError> {
        let loaded = self.load_image(LoadImage {
            name: msg.name.clone(),
        });
        let Some(image) = loaded.await? else {
            return Ok(false);
        };
        // Re-checked here, in the single writer, because the plan may be stale: a tag, an
        // index listing it or its kept subject now holds the manifest.
        let Some(record) = image.manifest(&msg.digest) else {
            return Ok(false);
        };
        let subject_kept = record
            .subject
            .as_ref()
            .is_some_and(|s| image.manifest(s).is_some());
        if image.is_tagged(&msg.digest)
            || subject_kept
            || self
                .meta
                .is_listed_by_index(image.id, msg.digest.as_str())
                .await?
        {
            return Ok(false);
        }
        self.delete_manifest(super::messages::DeleteManifest {
            name: msg.name,
            digest: msg.digest,
        })
        .await?;
        Ok(true)
    }
}

impl super::Registry {
    pub async fn cleanup_policies(&self) -> Result<Vec<Policy>, RegistryError> {
        Ok(self.meta.load_cleanup_policies().await?)
    }

    pub async fn cleanup_policy(&self, name: &str) -> Result<Option<Policy>, RegistryError> {
        let all = self.cleanup_policies().await?;
        Ok(all.into_iter().find(|p| p.name == name))
    }

    pub async fn save_cleanup_policy(&self, policy: &Policy) -> Result<(), RegistryError> {
        let _guard = self.definitions.lock().await;
        Ok(self.meta.save_cleanup_policy(policy).await?)
    }

    /// The repositories that use policy `name`, sorted.
    pub fn repositories_using(&self, name: &str) -> Vec<String> {
        self.repository_configs()
            .into_iter()
            .filter(|r| r.cleanup_policies.iter().any(|p| p == name))
            .map(|r| r.name)
            .collect()
    }

    /// Deletes a policy no repository uses; false if it does not exist.
    pub async fn delete_cleanup_policy(&self, name: &str) -> Result<bool, RegistryError> {
        let _guard = self.definitions.lock().await;
        let users = self.repositories_using(name);
        if !users.is_empty() {
            return Err(RegistryError::Definition(format!(
                "cleanup policy {name} is used by {}; detach it first",
                users.join(", ")
            )));
        }
        Ok(self.meta.delete_cleanup_policy(name).await?)
    }

    /// Writes the pulls recorded in memory to the metadata store; returns how many.
    pub async fn flush_downloads(&self) -> Result<usize, RegistryError> {
        let mut pulls = Vec::new();
        for repo in self.repos.iter() {
            if let Repository::Hosted(h) = repo.value() {
                h.core.downloads.retain(|(image, reference), (at, count)| {
                    let name = h.core.name.clone();
                    pulls.push((name, image.clone(), reference.clone(), *at, *count));
                    false
                });
            }
        }
        let by_tag: Vec<_> = pulls
            .iter()
            .filter(|p| !p.2.contains(':'))
            .map(|(repo, image, tag, at, _)| (repo.clone(), image.clone(), tag.clone(), *at))
            .collect();
        if !by_tag.is_empty() {
            self.meta.cleanup().record_downloads(&by_tag).await?;
        }
        let n = pulls.len();
        if n > 0 {
            self.record_pulls(pulls).await?;
        }
        Ok(n)
    }

    /// What `policies` would delete from `repository` now.
    pub async fn cleanup_plan(
        &self,
        repository: &str,
        policies: &[Policy],
    ) -> Result<Plan, RegistryError> {
        match self.repository(repository) {
            Some(Repository::Hosted(_)) => {}
            Some(Repository::Group(_)) => {
                return Err(RegistryError::Definition(format!(
                    "{repository} is a group repository; cleanup applies to the repositories \
                     that store content"
                )))
            }
            None => return Err(RegistryError::RepositoryUnknown(repository.to_string())),
        }
        self.flush_downloads().await?;
        let tags = self.meta.cleanup().cleanup_tags(repository).await?;
        let untagged = self.meta.cleanup().cleanup_untagged(repository).await?;
        let children = self.meta.cleanup().cleanup_children(repository).await?;
        Ok(evaluate(policies, &tags, &untagged, &children, now()))
    }

    /// The policies attached to `repository` that exist (a missing one is logged).
    async fn attached_policies(
        &self,
        repository: &str,
        all: &[Policy],
    ) -> Result<Vec<Policy>, RegistryError> {
        let config = self
            .repository(repository)
            .ok_or_else(|| RegistryError::RepositoryUnknown(repository.to_string()))?
            .config();
        let mut out = Vec::new();
        for name in &config.cleanup_policies {
            match all.iter().find(|p| &p.name == name) {
                Some(p) => out.push(p.clone()),
                None => tracing::warn!(repository, policy = %name, "cleanup policy not found"),
            }
        }
        Ok(out)
    }

    /// Applies the attached policies of `repository` (all hosted repositories with
    /// policies when `None`); returns the task report, one entry per repository, with
    /// exactly what was deleted.
    pub async fn run_cleanup(&self, repository: Option<&str>) -> Result<Value, RegistryError> {
        let all = self.cleanup_policies().await?;
        let names: Vec<String> = match repository {
            Some(r) => vec![r.to_string()],
            None => self
                .repository_configs()
                .into_iter()
                .filter(|r| r.kind.stores_content() && !r.cleanup_policies.is_empty())
                .map(|r| r.name)
                .collect(),
        };
        let mut reports = Vec::new();
        for name in names {
            let policies = self.attached_policies(&name, &all).await?;
            if policies.is_empty() {
                continue;
            }
            let plan = self.cleanup_plan(&name, &policies).await?;
            let done = self.apply_plan(&name, &plan).await?;
            tracing::info!(
                repository = %name,
                tags = done.tags.len(),
                manifests = done.manifests.len(),
                "cleanup applied"
            );
            reports.push(json!({
                "repository": name,
                "policies": policies.iter().map(|p| &p.name).collect::<Vec<_>>(),
                "tags": done.tags,
                "manifests": done.manifests,
            }));
        }
        Ok(json!({ "repositories": reports }))
    }

    /// Deletes what the plan lists, each only if unchanged since it was planned; returns
    /// what was deleted.
    async fn apply_plan(&self, repository: &str, plan: &Plan) -> Result<Plan, RegistryError> {
        let Some(Repository::Hosted(h)) = self.repository(repository) else {
            return Err(RegistryError::RepositoryUnknown(repository.to_string()));
        };
        let mut done = Plan::default();
        for t in &plan.tags {
            // Rows read back from the metadata store; one that no longer parses is skipped.
            let (Ok(name), Ok(tag), Ok(digest)) = (
                ImageName::parse(&t.image),
                Tag::parse(&t.tag),
                Digest::parse(&t.digest),
            ) else {
                continue;
            };
            if h.send(CleanupTag { name, tag, digest }).await? {
                done.tags.push(t.clone());
            }
        }
        for m in &plan.manifests {
            let (Ok(name), Ok(digest)) = (ImageName::parse(&m.image), Digest::parse(&m.digest))
            else {
                continue;
            };
            if h.send(CleanupManifest { name, digest }).await? {
                done.manifests.push(m.clone());
            }
        }
        Ok(done)
    }
}

/// Writes recorded pulls to the metadata store every few seconds. Must run inside an actix
/// system.
pub fn spawn_download_flusher(registry: Data<super::Registry>) {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(DOWNLOAD_FLUSH);
        loop {
            tick.tick().await;
            if let Err(e) = registry.flush_downloads().await {
                tracing::warn!(error = %e, "could not record tag downloads");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::PulledTag;
    use dashmap::DashMap;

    #[test]
    fn a_pull_recorded_under_owned_names_is_found_by_borrowed_ones() {
        let pulls: DashMap<(String, String), i64> = DashMap::new();
        pulls.insert(("team/app".into(), "v1".into()), 1);
        let found = |image: &str, tag: &str| {
            let pulled = (image, tag);
            pulls.get(&pulled as &dyn PulledTag).map(|at| *at)
        };
        assert_eq!(found("team/app", "v1"), Some(1));
        assert_eq!(found("team/app", "v2"), None);
        assert_eq!(
            found("team/ap", "pv1"),
            None,
            "the split between the names counts"
        );
        *pulls
            .get_mut(&("team/app", "v1") as &dyn PulledTag)
            .unwrap() = 2;
        assert_eq!(found("team/app", "v1"), Some(2));
        assert_eq!(pulls.len(), 1);
    }
}
