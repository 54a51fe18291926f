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
    /// Remembers that `image:tag` was pulled now (memory only: no database write here).
    pub fn note_download(&self, image: &ImageName, tag: &str) {
        self.core
            .downloads
            .insert((image.as_str().to_string(), tag.to_string()), now());
    }
}

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
        let mut batch = Vec::new();
        for repo in self.repos.iter() {
            if let Repository::Hosted(h) = repo.value() {
                h.core.downloads.retain(|(image, tag), at| {
                    batch.push((h.core.name.clone(), image.clone(), tag.clone(), *at));
                    false
                });
            }
        }
        if !batch.is_empty() {
            self.meta.cleanup().record_downloads(&batch).await?;
        }
        Ok(batch.len())
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
