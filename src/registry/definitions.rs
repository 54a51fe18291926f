//! Creating, changing and deleting repositories and blob stores.
//!
//! Definitions come from three places, applied in this order at start: those persisted in the
//! metadata database (earlier run-time changes), then those declared in the config file
//! (upserted, so applying the same file twice changes nothing), then, if no repository exists
//! at all, one hosted repository named `default_repository`. Every change is validated as a
//! whole (names, references, group cycles, ports) before anything is written, so a refused
//! change leaves nothing half-created.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use dashmap::DashMap;

use super::actor::Supervised;
use super::{Hosted, Registry, RegistryError, RepoCore, Repository};
use crate::model::{BlobStoreConfig, RepositoryConfig, RepositoryKind, DEFAULT_STORE};
use crate::storage::{FileStore, ManagedStore};

impl Registry {
    pub(super) async fn load_definitions(&self) -> anyhow::Result<()> {
        let mut stores: Vec<BlobStoreConfig> = self.meta.load_blob_stores().await?;
        if !stores.iter().any(|s| s.name == DEFAULT_STORE) {
            stores.insert(0, BlobStoreConfig::default_store());
        }
        for declared in &self.settings.blob_stores {
            upsert(&mut stores, declared.clone(), |s| &s.name);
        }
        for store in &stores {
            self.open_store(store).await?;
            self.meta.save_blob_store(store).await?;
        }
        let mut repos = self.meta.load_repositories().await?;
        for declared in &self.settings.repositories {
            upsert(&mut repos, declared.clone(), |r| &r.name);
        }
        if repos.is_empty() {
            repos.push(RepositoryConfig::default_hosted(&self.default_repository));
        }
        self.validate_all(&repos)?;
        for repo in &repos {
            self.meta.save_repository(repo).await?;
            self.install(repo.clone())?;
        }
        Ok(())
    }

    /// Creates a repository; refused if the name exists or the definition is invalid.
    pub async fn create_repository(&self, config: RepositoryConfig) -> Result<(), RegistryError> {
        let _guard = self.definitions.lock().await;
        if self.repos.contains_key(&config.name) {
            return Err(RegistryError::Definition(format!(
                "a repository named {} already exists",
                config.name
            )));
        }
        self.apply(config).await
    }

    /// Replaces a repository's definition; its kind and blob store cannot change.
    pub async fn update_repository(&self, config: RepositoryConfig) -> Result<(), RegistryError> {
        let _guard = self.definitions.lock().await;
        let current = self
            .repository(&config.name)
            .ok_or_else(|| RegistryError::RepositoryUnknown(config.name.clone()))?
            .config();
        if current.kind != config.kind {
            return Err(RegistryError::Definition(
                "a repository's type cannot change".into(),
            ));
        }
        if current.blob_store != config.blob_store
            && config.kind.stores_content()
            && self
                .meta
                .images()
                .repository_has_images(&config.name)
                .await?
        {
            // Moving content between stores is not supported; an empty repository (such as
            // the zero-config default, before the first push) may still pick its store.
            return Err(RegistryError::Definition(
                "the blob store of a repository that holds images cannot change".into(),
            ));
        }
        self.apply(config).await
    }

    /// Deletes a repository and its images; its blobs are reclaimed by garbage collection.
    /// Refused while a group names it.
    pub async fn delete_repository(&self, name: &str) -> Result<RepositoryConfig, RegistryError> {
        let _guard = self.definitions.lock().await;
        let config = self
            .repository(name)
            .ok_or_else(|| RegistryError::RepositoryUnknown(name.to_string()))?
            .config();
        if let Some(group) = self
            .repository_configs()
            .into_iter()
            .find(|g| g.members.iter().any(|m| m == name))
        {
            return Err(RegistryError::Definition(format!(
                "repository {name} is a member of group {}; remove it there first",
                group.name
            )));
        }
        self.meta.delete_repository(name).await?;
        self.repos.remove(name);
        Ok((*config).clone())
    }

    /// Creates or updates a blob store.
    pub async fn put_blob_store(&self, config: BlobStoreConfig) -> Result<(), RegistryError> {
        let _guard = self.definitions.lock().await;
        config
            .validate()
            .map_err(|e| RegistryError::Definition(e.to_string()))?;
        if let Some(existing) = self.stores.get(&config.name) {
            if self.store_location(&config) != existing.location() {
                return Err(RegistryError::Definition(
                    "a blob store's path cannot change".into(),
                ));
            }
        }
        self.open_store(&config)
            .await
            .map_err(|e| RegistryError::Definition(format!("cannot open blob store: {e}")))?;
        self.meta.save_blob_store(&config).await?;
        Ok(())
    }

    /// Deletes a blob store no repository uses (its directory is left on disk).
    pub async fn delete_blob_store(&self, name: &str) -> Result<(), RegistryError> {
        let _guard = self.definitions.lock().await;
        if !self.stores.contains_key(name) {
            return Err(RegistryError::BlobStoreUnknown(name.to_string()));
        }
        if let Some(user) = self
            .repository_configs()
            .into_iter()
            .find(|r| r.kind.stores_content() && r.blob_store == name)
        {
            return Err(RegistryError::Definition(format!(
                "blob store {name} is used by repository {}",
                user.name
            )));
        }
        self.meta.delete_blob_store(name).await?;
        self.stores.remove(name);
        Ok(())
    }

    pub fn blob_store(&self, name: &str) -> Option<Arc<ManagedStore>> {
        self.stores.get(name).map(|s| s.clone())
    }

    /// Every blob store, sorted by name.
    pub fn blob_stores(&self) -> Vec<Arc<ManagedStore>> {
        let mut all: Vec<Arc<ManagedStore>> = self.stores.iter().map(|s| s.clone()).collect();
        all.sort_by(|a, b| a.name().cmp(b.name()));
        all
    }

    /// Validates `config` against the other definitions, persists it, installs it.
    async fn apply(&self, config: RepositoryConfig) -> Result<(), RegistryError> {
        let mut all = self.repository_configs();
        upsert(&mut all, config.clone(), |r| &r.name);
        self.validate_all(&all)
            .map_err(|e| RegistryError::Definition(e.to_string()))?;
        self.meta.save_repository(&config).await?;
        self.install(config)?;
        Ok(())
    }

    /// Checks a complete set of repository definitions.
    pub(super) fn validate_all(&self, all: &[RepositoryConfig]) -> anyhow::Result<()> {
        let by_name: HashMap<&str, &RepositoryConfig> =
            all.iter().map(|r| (r.name.as_str(), r)).collect();
        let mut ports = HashMap::new();
        for repo in all {
            repo.validate()?;
            if repo.kind.stores_content() && !self.stores.contains_key(&repo.blob_store) {
                anyhow::bail!(
                    "repository {}: blob store {} does not exist",
                    repo.name,
                    repo.blob_store
                );
            }
            if let Some(port) = repo.http_port {
                if port == self.settings.listen.port() {
                    anyhow::bail!("repository {}: port {port} is the main port", repo.name);
                }
                if let Some(other) = ports.insert(port, &repo.name) {
                    anyhow::bail!(
                        "repositories {other} and {} both use port {port}",
                        repo.name
                    );
                }
            }
            for member in &repo.members {
                if !by_name.contains_key(member.as_str()) {
                    anyhow::bail!("group {}: member {member} does not exist", repo.name);
                }
            }
            if let Some(w) = &repo.writable_member {
                if by_name.get(w.as_str()).map(|r| r.kind) != Some(RepositoryKind::Hosted) {
                    anyhow::bail!(
                        "group {}: writable member {w} must be a hosted repository",
                        repo.name
                    );
                }
            }
        }
        for repo in all {
            if let Some(path) = cycle_from(repo, &by_name) {
                anyhow::bail!("groups form a cycle: {}", path.join(" → "));
            }
        }
        Ok(())
    }

    /// Makes a (validated, persisted) definition live. A hosted repository that already
    /// runs keeps its actor and state and only takes the new settings.
    pub(super) fn install(&self, config: RepositoryConfig) -> Result<(), RegistryError> {
        let upstream_error = |e: crate::proxy::UpstreamError| RegistryError::Upstream {
            repository: config.name.clone(),
            error: e,
        };
        if config.kind == RepositoryKind::Group {
            self.repos
                .insert(config.name.clone(), Repository::Group(Arc::new(config)));
            return Ok(());
        }
        if let Some(Repository::Hosted(h)) = self.repository(&config.name) {
            if h.core.store.name() == config.blob_store {
                if let (Some(state), Some(proxy)) = (&h.core.proxy, &config.proxy) {
                    state.update(proxy).map_err(upstream_error)?;
                }
                *h.core.config.write().unwrap() = Arc::new(config);
                return Ok(());
            }
            // An empty repository moving to another store gets a new core and actor; the
            // old actor stops once the last handle to it is gone.
        }
        let store = self
            .stores
            .get(&config.blob_store)
            .map(|s| s.clone())
            .expect("validated");
        let core = Arc::new(RepoCore {
            name: config.name.clone(),
            config: RwLock::new(Arc::new(config.clone())),
            store,
            meta: self.meta.images().clone(),
            activity: self.meta.activity().clone(),
            manifests: self.cache.clone(),
            images: self.image_budget.cache(),
            uploads: DashMap::new(),
            upload_expiry_secs: self.settings.limits.upload_expiry_secs as i64,
            upload_caps: (
                self.settings.limits.upload_sessions_per_repository,
                self.settings.limits.upload_sessions_per_client,
            ),
            node_id: self.settings.cluster.node_id.as_deref().map(Arc::from),
            downloads: DashMap::new(),
            invalidations: Default::default(),
            revalidate_misses: self.meta.changes().shared(),
            proxy: match &config.proxy {
                Some(p) => Some(Arc::new(
                    crate::proxy::ProxyState::new(&config.name, p)
                        .map_err(upstream_error)?
                        .with_manifest_max_bytes(self.settings.limits.manifest_max_bytes),
                )),
                None => None,
            },
        });
        let actor = Arc::new(Supervised::start(core.clone(), self.arbiter.handle()));
        self.repos
            .insert(config.name, Repository::Hosted(Hosted { core, actor }));
        Ok(())
    }

    pub(super) async fn open_store(&self, config: &BlobStoreConfig) -> anyhow::Result<()> {
        // An update keeps the running instance: upload writers hold it, and opening a file
        // store again would purge its `uploads/` directory under sessions in progress.
        if let Some(existing) = self.stores.get(&config.name) {
            let (used, _) = self.meta.reports().store_usage(&config.name).await?;
            existing.set_quota(config.soft_quota_bytes, config.hard_quota_bytes, used);
            return Ok(());
        }
        let backend: Arc<dyn crate::storage::BlobStore> = if super::backends::is_s3(config) {
            Arc::new(crate::storage::S3Store::connect(
                &config.name,
                &super::backends::s3_options(config),
            )?)
        } else {
            Arc::new(FileStore::open(&config.name, &self.store_root(config))?)
        };
        let store = ManagedStore::new(backend, self.meta.locks().clone());
        let (used, _) = self.meta.reports().store_usage(&config.name).await?;
        store.set_quota(config.soft_quota_bytes, config.hard_quota_bytes, used);
        self.stores.insert(config.name.clone(), Arc::new(store));
        Ok(())
    }

    /// What [`crate::storage::BlobStore::location`] reports for `config`: the bucket URL of
    /// an S3 store, the directory of a file store.
    fn store_location(&self, config: &BlobStoreConfig) -> String {
        if super::backends::is_s3(config) {
            super::backends::s3_options(config).location()
        } else {
            self.store_root(config).display().to_string()
        }
    }

    fn store_root(&self, config: &BlobStoreConfig) -> PathBuf {
        let path = PathBuf::from(&config.path);
        if path.is_absolute() {
            path
        } else {
            self.settings.data_dir.join("blobstores").join(path)
        }
    }
}

/// Replaces the item with the same key, or appends.
fn upsert<T>(items: &mut Vec<T>, item: T, key: impl Fn(&T) -> &String) {
    match items.iter().position(|i| key(i) == key(&item)) {
        Some(i) => items[i] = item,
        None => items.push(item),
    }
}

/// A cycle of group memberships reachable from `start`, if any.
fn cycle_from(
    start: &RepositoryConfig,
    by_name: &HashMap<&str, &RepositoryConfig>,
) -> Option<Vec<String>> {
    fn walk(
        repo: &RepositoryConfig,
        by_name: &HashMap<&str, &RepositoryConfig>,
        path: &mut Vec<String>,
        on_path: &mut HashSet<String>,
    ) -> Option<Vec<String>> {
        path.push(repo.name.clone());
        if !on_path.insert(repo.name.clone()) {
            return Some(path.clone());
        }
        for member in &repo.members {
            if let Some(next) = by_name.get(member.as_str()) {
                if let Some(cycle) = walk(next, by_name, path, on_path) {
                    return Some(cycle);
                }
            }
        }
        on_path.remove(&repo.name);
        path.pop();
        None
    }
    walk(start, by_name, &mut Vec::new(), &mut HashSet::new())
}
