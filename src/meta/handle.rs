//! [`Meta`]: the metadata handle startup builds and hands down. It holds the backend once
//! per consumer trait, and adds what every backend shares: typed definition documents and
//! the sealing of secrets inside them.

use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::*;
use crate::model::cleanup::Policy;
use crate::model::task::TaskDef;
use crate::model::{BlobStoreConfig, RepositoryConfig, Secret};
use crate::sealed::SealKey;

/// Handle to the metadata backend; cheap to clone.
#[derive(Clone, Debug)]
pub struct Meta {
    images: Arc<dyn ImageRecords>,
    documents: Arc<dyn Documents>,
    gc: Arc<dyn GcQueries>,
    usage: Arc<dyn UsageRecords>,
    reports: Arc<dyn Reports>,
    cleanup: Arc<dyn CleanupQueries>,
    security: Arc<dyn SecurityRecords>,
    activity: Arc<dyn Activity>,
    locks: Arc<dyn ClusterLocks>,
    changes: Arc<dyn Changes>,
    /// Seals secrets inside stored definitions (proxy upstream passwords); without it they
    /// are stored as given (tests of other records).
    secrets: Option<Arc<SealKey>>,
}

impl Meta {
    /// Opens (creating if needed) the database `url` names and applies its migrations:
    /// `sqlite://<path>` (or a bare path), or `postgres://…` with default pool settings.
    pub async fn connect(url: &str) -> Result<Self, MetaError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Self::open(Location::Postgres(PgSettings::new(url))).await;
        }
        if url.starts_with("sqlite:") {
            return Ok(Self::from_backend(
                super::sqlite::SqliteMeta::open_url(url).await?,
            ));
        }
        if url.contains("://") {
            return Err(MetaError::Url(super::redact_url(url)));
        }
        Self::open_file(Path::new(url)).await
    }

    /// Opens (creating if needed) the database at `location` and applies its migrations.
    pub async fn open(location: Location) -> Result<Self, MetaError> {
        match location {
            Location::Sqlite(path) => Self::open_file(&path).await,
            Location::Postgres(settings) => Ok(Self::from_backend(
                super::postgres::PgMeta::open(&settings).await?,
            )),
        }
    }

    /// The embedded default: a SQLite file.
    pub async fn open_file(path: &Path) -> Result<Self, MetaError> {
        Ok(Self::from_backend(
            super::sqlite::SqliteMeta::open(path).await?,
        ))
    }

    /// The embedded database of a data directory (created, as the directory, if missing).
    pub async fn open_data_dir(data_dir: &Path) -> Result<Self, MetaError> {
        std::fs::create_dir_all(data_dir)?;
        Self::connect(&Self::data_dir_url(data_dir)).await
    }

    /// The URL of the embedded database of a data directory.
    pub fn data_dir_url(data_dir: &Path) -> String {
        format!("sqlite://{}", data_dir.join("berth.db").display())
    }

    /// Wraps a backend: each consumer sees it through its own trait.
    pub fn from_backend<B: Backend + 'static>(backend: B) -> Self {
        let b = Arc::new(backend);
        Meta {
            images: b.clone(),
            documents: b.clone(),
            gc: b.clone(),
            usage: b.clone(),
            reports: b.clone(),
            cleanup: b.clone(),
            security: b.clone(),
            activity: b.clone(),
            locks: b.clone(),
            changes: b,
            secrets: None,
        }
    }

    /// Seals secrets in definitions with `key` from now on (and opens sealed ones on load).
    pub fn with_secrets(self, key: SealKey) -> Self {
        Meta {
            secrets: Some(Arc::new(key)),
            ..self
        }
    }

    pub fn images(&self) -> &Arc<dyn ImageRecords> {
        &self.images
    }

    pub fn documents(&self) -> &Arc<dyn Documents> {
        &self.documents
    }

    pub fn gc(&self) -> &Arc<dyn GcQueries> {
        &self.gc
    }

    pub fn usage(&self) -> &Arc<dyn UsageRecords> {
        &self.usage
    }

    pub fn reports(&self) -> &Arc<dyn Reports> {
        &self.reports
    }

    pub fn cleanup(&self) -> &Arc<dyn CleanupQueries> {
        &self.cleanup
    }

    pub fn activity(&self) -> &Arc<dyn Activity> {
        &self.activity
    }

    /// Locks and leases shared by every node on this database.
    pub fn locks(&self) -> &Arc<dyn ClusterLocks> {
        &self.locks
    }

    pub fn security(&self) -> &Arc<dyn SecurityRecords> {
        &self.security
    }

    pub fn changes(&self) -> &Arc<dyn Changes> {
        &self.changes
    }

    /// A trivial query, for readiness checks.
    pub async fn ping(&self) -> Result<(), MetaError> {
        self.documents.ping().await
    }

    /// Every stored repository definition, upstream passwords opened. A password stored in
    /// plain text (before sealing existed) is returned as is; saving seals it.
    pub async fn load_repositories(&self) -> Result<Vec<RepositoryConfig>, MetaError> {
        let mut all: Vec<RepositoryConfig> = self.load_all(DocKind::Repositories).await?;
        for config in &mut all {
            let name = config.name.clone();
            self.map_password(config, |key, stored| {
                if !SealKey::is_sealed(stored) {
                    return Ok(stored.to_string());
                }
                key.open(stored)
                    .map_err(|e| MetaError::Corrupt(format!("repository {name}: {e}")))
            })?;
        }
        Ok(all)
    }

    /// Stores a definition; its upstream password, if any, sealed.
    pub async fn save_repository(&self, config: &RepositoryConfig) -> Result<(), MetaError> {
        let mut stored = config.clone();
        self.map_password(&mut stored, |key, plain| Ok(key.seal(plain)))?;
        self.save(DocKind::Repositories, &config.name, &stored)
            .await
    }

    /// Replaces the proxy password of `config` by `f(key, password)` when there is a key.
    fn map_password(
        &self,
        config: &mut RepositoryConfig,
        f: impl Fn(&SealKey, &str) -> Result<String, MetaError>,
    ) -> Result<(), MetaError> {
        let (Some(key), Some(proxy)) = (&self.secrets, config.proxy.as_mut()) else {
            return Ok(());
        };
        if let Some(password) = proxy.password.as_mut() {
            *password = Secret::new(f(key, password.expose())?);
        }
        Ok(())
    }

    /// Deletes the definition and the repository's images (their blobs stay in the store
    /// until garbage collection).
    pub async fn delete_repository(&self, name: &str) -> Result<(), MetaError> {
        self.documents.delete_repository(name).await
    }

    /// Every stored blob store definition, S3 secret keys opened.
    pub async fn load_blob_stores(&self) -> Result<Vec<BlobStoreConfig>, MetaError> {
        let mut all: Vec<BlobStoreConfig> = self.load_all(DocKind::BlobStores).await?;
        for config in &mut all {
            let name = config.name.clone();
            self.map_store_secret(config, |key, stored| {
                if !SealKey::is_sealed(stored) {
                    return Ok(stored.to_string());
                }
                key.open(stored)
                    .map_err(|e| MetaError::Corrupt(format!("blob store {name}: {e}")))
            })?;
        }
        Ok(all)
    }

    /// Stores a definition; an S3 secret key, if any, sealed.
    pub async fn save_blob_store(&self, config: &BlobStoreConfig) -> Result<(), MetaError> {
        let mut stored = config.clone();
        self.map_store_secret(&mut stored, |key, plain| Ok(key.seal(plain)))?;
        self.save(DocKind::BlobStores, &config.name, &stored).await
    }

    /// Replaces the S3 secret key of `config` by `f(key, secret)` when there is a key.
    fn map_store_secret(
        &self,
        config: &mut BlobStoreConfig,
        f: impl Fn(&SealKey, &str) -> Result<String, MetaError>,
    ) -> Result<(), MetaError> {
        if let (Some(key), Some(secret)) = (&self.secrets, config.secret_access_key.as_mut()) {
            *secret = Secret::new(f(key, secret.expose())?);
        }
        Ok(())
    }

    pub async fn delete_blob_store(&self, name: &str) -> Result<(), MetaError> {
        self.documents
            .delete_document(DocKind::BlobStores, name)
            .await?;
        Ok(())
    }

    pub async fn load_cleanup_policies(&self) -> Result<Vec<Policy>, MetaError> {
        self.load_all(DocKind::CleanupPolicies).await
    }

    pub async fn save_cleanup_policy(&self, policy: &Policy) -> Result<(), MetaError> {
        self.save(DocKind::CleanupPolicies, &policy.name, policy)
            .await
    }

    /// True if the policy existed.
    pub async fn delete_cleanup_policy(&self, name: &str) -> Result<bool, MetaError> {
        self.documents
            .delete_document(DocKind::CleanupPolicies, name)
            .await
    }

    pub async fn load_tasks(&self) -> Result<Vec<TaskDef>, MetaError> {
        self.load_all(DocKind::Tasks).await
    }

    pub async fn save_task(&self, def: &TaskDef) -> Result<(), MetaError> {
        self.save(DocKind::Tasks, &def.id, def).await
    }

    pub async fn delete_task(&self, id: &str) -> Result<(), MetaError> {
        self.documents.delete_document(DocKind::Tasks, id).await?;
        Ok(())
    }

    async fn load_all<T: DeserializeOwned>(&self, kind: DocKind) -> Result<Vec<T>, MetaError> {
        let texts = self.documents.load_documents(kind).await?;
        texts
            .iter()
            .map(|t| serde_json::from_str(t).map_err(|e| MetaError::Corrupt(e.to_string())))
            .collect()
    }

    async fn save<T: Serialize>(
        &self,
        kind: DocKind,
        key: &str,
        value: &T,
    ) -> Result<(), MetaError> {
        let json = serde_json::to_string(value).map_err(|e| MetaError::Corrupt(e.to_string()))?;
        self.documents.save_document(kind, key, &json).await
    }
}
