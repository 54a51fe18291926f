//! Repositories and the images in them.
//!
//! A [`Registry`] maps repository names to [`Repository`] values (a `DashMap`, read on every
//! request). A hosted repository has one [`RepositoryActor`] that serializes its state
//! changes, and a [`RepoCore`] whose in-memory image states and upload sessions request
//! handlers read without going through the actor. A group is a list of member names,
//! resolved per request: reads ask the hosted repositories it reaches in order, writes go to
//! its writable member.
//!
//! Vocabulary: a *repository* is a Berth (Nexus-style) repository such as `docker-hosted`; an
//! *image* is what the OCI spec calls a repository name (`library/redis`) inside it.

mod activity;
mod actor;
mod backends;
mod budget;
mod cache;
mod cleanup;
mod coherence;
mod core;
mod definitions;
mod error;
mod found;
mod gc;
mod hosted;
mod image;
mod image_cache;
mod inspect;
pub mod messages;
pub mod proxied;
pub mod read;
mod tasks;
mod upload;
mod usage;
pub mod warm;

use std::collections::HashSet;
use std::sync::Arc;

use actix::Arbiter;
use dashmap::DashMap;

pub use actor::RepositoryActor;
pub use budget::{MemoryBudget, Reservation};
pub use cache::ManifestCache;
pub use cleanup::spawn_download_flusher;
pub use core::RepoCore;
pub use error::RegistryError;
pub use gc::GcReport;
pub use hosted::Hosted;
pub use image::{ImageState, TagPage, REFERRERS_MEDIA_TYPE};
pub use image_cache::{ImageBudget, ImageCache};
pub use inspect::{BrowsePage, IndexChild};
pub use upload::{UploadSession, WriterGuard};

use crate::config::Settings;
use crate::meta::Meta;
use crate::model::{RepositoryConfig, WritePolicy};
use crate::storage::ManagedStore;

/// A repository of any kind.
#[derive(Clone)]
pub enum Repository {
    /// A hosted repository, or a proxy (a hosted store of cached content plus an upstream).
    Hosted(Hosted),
    Group(Arc<RepositoryConfig>),
}

impl Repository {
    pub fn config(&self) -> Arc<RepositoryConfig> {
        match self {
            Repository::Hosted(h) => h.config(),
            Repository::Group(c) => c.clone(),
        }
    }
}

/// All repositories and blob stores of this server.
pub struct Registry {
    repos: DashMap<String, Repository>,
    stores: DashMap<String, Arc<ManagedStore>>,
    default_repository: String,
    meta: Meta,
    settings: Settings,
    cache: Arc<ManifestCache>,
    /// The one budget of loaded image states, shared by every repository's `ImageCache`.
    image_budget: Arc<ImageBudget>,
    /// Memory for manifest bodies being received (see `budget`).
    manifest_bodies: MemoryBudget,
    /// Serializes definition changes (create/update/delete of repositories and stores).
    definitions: tokio::sync::Mutex<()>,
    /// The thread repository actors run on, apart from the HTTP workers.
    arbiter: Arbiter,
}

impl Registry {
    /// Opens the blob stores and repositories the metadata (opened by `startup`, secrets
    /// sealing on) and the config file define. Must run inside an actix system.
    pub async fn open(settings: &Settings, meta: Meta) -> anyhow::Result<Self> {
        let registry = Registry {
            repos: DashMap::new(),
            stores: DashMap::new(),
            default_repository: settings.default_repository.clone(),
            meta,
            settings: settings.clone(),
            cache: Arc::new(ManifestCache::new(settings.limits.manifest_cache_bytes)),
            image_budget: ImageBudget::new(settings.limits.image_cache_bytes),
            manifest_bodies: MemoryBudget::new(
                settings.limits.manifest_buffer_bytes,
                settings.limits.manifest_max_bytes,
            ),
            definitions: tokio::sync::Mutex::new(()),
            arbiter: Arbiter::new(),
        };
        registry.load_definitions().await?;
        Ok(registry)
    }

    /// The repository that serves plain `/v2/` names on the main port.
    pub fn default_repository(&self) -> Option<Repository> {
        self.repository(&self.default_repository)
    }

    /// The memory budget manifest `PUT` bodies are read into.
    pub fn manifest_bodies(&self) -> &MemoryBudget {
        &self.manifest_bodies
    }

    pub fn default_repository_name(&self) -> &str {
        &self.default_repository
    }

    pub fn repository(&self, name: &str) -> Option<Repository> {
        self.repos.get(name).map(|r| r.clone())
    }

    /// Every repository definition, sorted by name.
    pub fn repository_configs(&self) -> Vec<RepositoryConfig> {
        let mut all: Vec<RepositoryConfig> =
            self.repos.iter().map(|r| (*r.config()).clone()).collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// The hosted repositories a read of `repo` consults, in order: the repository itself,
    /// or a group's members depth-first (each once; offline members skipped).
    pub fn readers(&self, repo: &Repository) -> Result<Vec<Hosted>, RegistryError> {
        let config = repo.config();
        if !config.online {
            return Err(RegistryError::Offline(config.name.clone()));
        }
        // The common case, a hosted repository, needs no walk (and no set of names, which
        // cost two allocations on every pull).
        if let Repository::Hosted(h) = repo {
            return Ok(vec![h.clone()]);
        }
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        self.collect_readers(repo, &mut out, &mut seen);
        Ok(out)
    }

    fn collect_readers(
        &self,
        repo: &Repository,
        out: &mut Vec<Hosted>,
        seen: &mut HashSet<String>,
    ) {
        let config = repo.config();
        if !config.online || !seen.insert(config.name.clone()) {
            return;
        }
        match repo {
            Repository::Hosted(h) => out.push(h.clone()),
            Repository::Group(g) => {
                for member in &g.members {
                    if let Some(m) = self.repository(member) {
                        self.collect_readers(&m, out, seen);
                    }
                }
            }
        }
    }

    /// The hosted repository a write to `repo` lands in: itself, or a group's writable
    /// member. Read-only (`DENY`) and offline repositories refuse.
    pub fn writer(&self, repo: &Repository) -> Result<Hosted, RegistryError> {
        let config = repo.config();
        if !config.online {
            return Err(RegistryError::Offline(config.name.clone()));
        }
        let hosted = match repo {
            Repository::Hosted(h) => h.clone(),
            Repository::Group(g) => {
                let member = g.writable_member.as_deref().ok_or_else(|| {
                    RegistryError::Denied(format!(
                        "group repository {} has no writable member; push to a hosted repository",
                        g.name
                    ))
                })?;
                match self.repository(member) {
                    Some(Repository::Hosted(h)) => h,
                    _ => {
                        return Err(RegistryError::Denied(format!(
                            "the writable member {member} of group {} is not a hosted repository",
                            g.name
                        )))
                    }
                }
            }
        };
        let target = hosted.config();
        if target.kind == crate::model::RepositoryKind::Proxy {
            return Err(RegistryError::Denied(format!(
                "repository {} is a proxy of {}; proxies are read-only, push to a hosted repository",
                target.name,
                target.proxy.as_ref().map_or("", |p| p.remote_url.as_str())
            )));
        }
        if !target.online {
            return Err(RegistryError::Offline(target.name.clone()));
        }
        if target.write_policy == WritePolicy::Deny {
            return Err(RegistryError::Denied(format!(
                "repository {} is read-only (write policy DENY)",
                target.name
            )));
        }
        Ok(hosted)
    }

    /// Reads can be served: the metadata database answers.
    pub async fn check_readable(&self) -> Result<(), RegistryError> {
        Ok(self.meta.ping().await?)
    }

    /// Writes can be accepted: the database answers and every blob store takes a write.
    pub async fn check_writable(&self) -> Result<(), RegistryError> {
        self.check_readable().await?;
        let stores: Vec<Arc<ManagedStore>> = self.stores.iter().map(|s| s.clone()).collect();
        for store in stores {
            store
                .check_writable(self.settings.limits.store_min_free_bytes)
                .await?;
        }
        Ok(())
    }
}
