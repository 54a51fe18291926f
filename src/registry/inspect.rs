//! Read-only views for the admin API: stored blob store definitions and usage, the admin
//! access list, and component/asset listings across the hosted repositories a repository
//! reaches. Nothing here changes state.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

use super::{Registry, RegistryError, Repository};
use crate::meta::{BrowseKind, BrowseRow};
use crate::model::{BlobStoreConfig, RepositoryKind};
use crate::oci::manifest::{index_children, is_index};
use crate::oci::{Digest, ImageName};

/// One child of an image index, as the browse views show it: which platform it is for and
/// whether this repository holds it (a sparse index may list platforms it does not).
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexChild {
    pub digest: String,
    pub media_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<serde_json::Value>,
    pub present: bool,
}

/// One page of a listing: (hosted repository holding the row, row), and whether more follow.
pub struct BrowsePage {
    pub rows: Vec<(String, BrowseRow)>,
    pub more: bool,
}

impl Registry {
    /// Client addresses allowed to call the admin REST API (until authentication exists).
    pub fn admin_allowed_from(&self) -> &[IpAddr] {
        &self.settings.admin_allowed_from
    }

    /// Every blob store definition as stored (declared ones are stored at start), by name.
    pub async fn blob_store_configs(&self) -> Result<Vec<BlobStoreConfig>, RegistryError> {
        Ok(self.meta.load_blob_stores().await?)
    }

    /// (bytes, blob count) a store holds, per the metadata.
    /// Bytes and blob count held by a hosted repository's images.
    pub async fn repository_usage(&self, name: &str) -> Result<(u64, u64), RegistryError> {
        Ok(self.meta.reports().repository_usage(name).await?)
    }

    pub async fn store_usage(&self, name: &str) -> Result<(u64, u64), RegistryError> {
        Ok(self.meta.reports().store_usage(name).await?)
    }

    /// Rows of `repository` after path `after`, at most `limit`; `None` if the repository
    /// does not exist. A group lists its hosted members (depth-first, offline ones too: this
    /// is an inventory, not a pull); when two members hold the same path, the first wins,
    /// as it would for a pull.
    pub async fn browse(
        &self,
        repository: &str,
        kind: BrowseKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Option<BrowsePage>, RegistryError> {
        if self.repository(repository).is_none() {
            return Ok(None);
        }
        let mut merged: BTreeMap<String, (String, BrowseRow)> = BTreeMap::new();
        for hosted in self.hosted_under(repository) {
            // limit + 1 per member is enough to fill the page and know whether more follow.
            let rows = self
                .meta
                .reports()
                .browse(&hosted, kind, after, limit as i64 + 1)
                .await?;
            for row in rows {
                merged
                    .entry(row.path.clone())
                    .or_insert_with(|| (hosted.clone(), row));
            }
        }
        let more = merged.len() > limit;
        let rows = merged.into_values().take(limit).collect();
        Ok(Some(BrowsePage { rows, more }))
    }

    /// The children of index `digest` of `image` in hosted repository `repository`, each
    /// with its platform and whether the image holds it. Empty when the repository, image
    /// or manifest is gone, or the manifest is no index.
    pub async fn index_children(
        &self,
        repository: &str,
        image: &str,
        digest: &str,
    ) -> Result<Vec<IndexChild>, RegistryError> {
        let (Some(Repository::Hosted(hosted)), Ok(name), Ok(digest)) = (
            self.repository(repository),
            ImageName::parse(image),
            Digest::parse(digest),
        ) else {
            return Ok(Vec::new());
        };
        let Some(state) = hosted.image(&name).await? else {
            return Ok(Vec::new());
        };
        if !state
            .manifest(&digest)
            .is_some_and(|m| is_index(&m.media_type))
        {
            return Ok(Vec::new());
        }
        let bytes = hosted.manifest_bytes(&digest).await?;
        // Stored bytes were parsed when pushed; a failure here means nothing to show.
        let children = index_children(&bytes).unwrap_or_default();
        Ok(children
            .into_iter()
            .map(|c| IndexChild {
                present: Digest::parse(&c.digest).is_ok_and(|d| state.manifest(&d).is_some()),
                digest: c.digest,
                media_type: c.media_type,
                platform: c.platform,
            })
            .collect())
    }

    /// Names of the hosted repositories `name` reaches, in pull order, each once.
    fn hosted_under(&self, name: &str) -> Vec<String> {
        fn walk(
            registry: &Registry,
            name: &str,
            seen: &mut HashSet<String>,
            out: &mut Vec<String>,
        ) {
            let Some(repo) = registry.repository(name) else {
                return;
            };
            if !seen.insert(name.to_string()) {
                return;
            }
            let config = repo.config();
            match config.kind {
                RepositoryKind::Hosted | RepositoryKind::Proxy => out.push(config.name.clone()),
                RepositoryKind::Group => {
                    for member in &config.members {
                        walk(registry, member, seen, out);
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(self, name, &mut HashSet::new(), &mut out);
        out
    }
}
