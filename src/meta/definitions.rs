//! Persisted repository and blob store definitions (stored as JSON of `crate::model` types).

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::Row;

use super::{MetaError, MetaStore};
use crate::model::{BlobStoreConfig, RepositoryConfig, Secret};
use crate::sealed::SealKey;

/// The tables that hold one JSON document per key (definitions made through the config or
/// the admin API); the names are constants, never user input.
#[derive(Clone, Copy)]
pub(super) enum Table {
    Repositories,
    BlobStores,
    CleanupPolicies,
    Tasks,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Repositories => "repositories",
            Table::BlobStores => "blob_stores",
            Table::CleanupPolicies => "cleanup_policies",
            Table::Tasks => "tasks",
        }
    }

    /// The key column.
    fn key(self) -> &'static str {
        match self {
            Table::Tasks => "id",
            _ => "name",
        }
    }
}

impl MetaStore {
    /// Every stored repository definition, upstream passwords opened. A password stored in
    /// plain text (before sealing existed) is returned as is; saving seals it.
    pub async fn load_repositories(&self) -> Result<Vec<RepositoryConfig>, MetaError> {
        let mut all: Vec<RepositoryConfig> = self.load_all(Table::Repositories).await?;
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
        self.save(Table::Repositories, &config.name, &stored).await
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
        let mut tx = super::write_tx(&self.pool).await?;
        sqlx::query("DELETE FROM images WHERE repository = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM repositories WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Bytes and count of the distinct blobs and manifests a repository's images hold (a blob
    /// shared by several images counts once; blobs shared with other repositories count in
    /// each of them).
    pub async fn repository_usage(&self, name: &str) -> Result<(u64, u64), MetaError> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM ( \
               SELECT b.digest, b.size FROM image_blobs b JOIN images i ON i.id = b.image_id \
               WHERE i.repository = ?1 \
               UNION \
               SELECT m.digest, m.size FROM manifests m JOIN images i ON i.id = m.image_id \
               WHERE i.repository = ?1)",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.get::<i64, _>(0) as u64, row.get::<i64, _>(1) as u64))
    }

    /// Whether any image (even an empty one) exists in the repository.
    pub async fn repository_has_images(&self, name: &str) -> Result<bool, MetaError> {
        let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM images WHERE repository = ?)")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get::<i64, _>(0) != 0)
    }

    /// Every stored blob store definition, S3 secret keys opened.
    pub async fn load_blob_stores(&self) -> Result<Vec<BlobStoreConfig>, MetaError> {
        let mut all: Vec<BlobStoreConfig> = self.load_all(Table::BlobStores).await?;
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
        self.save(Table::BlobStores, &config.name, &stored).await
    }

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
        sqlx::query("DELETE FROM blob_stores WHERE name = ?")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Bytes and blob count a store holds, per the metadata.
    pub async fn store_usage(&self, store: &str) -> Result<(u64, u64), MetaError> {
        let row = sqlx::query("SELECT COALESCE(SUM(size), 0), COUNT(*) FROM blobs WHERE store = ?")
            .bind(store)
            .fetch_one(&self.pool)
            .await?;
        Ok((row.get::<i64, _>(0) as u64, row.get::<i64, _>(1) as u64))
    }

    pub(super) async fn load_all<T: DeserializeOwned>(
        &self,
        table: Table,
    ) -> Result<Vec<T>, MetaError> {
        let sql = format!(
            "SELECT config FROM {} ORDER BY {}",
            table.name(),
            table.key()
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|r| {
                let text: String = r.get(0);
                serde_json::from_str(&text).map_err(|e| MetaError::Corrupt(e.to_string()))
            })
            .collect()
    }

    pub(super) async fn save<T: Serialize>(
        &self,
        table: Table,
        name: &str,
        value: &T,
    ) -> Result<(), MetaError> {
        let json = serde_json::to_string(value).map_err(|e| MetaError::Corrupt(e.to_string()))?;
        let sql = format!(
            "INSERT INTO {table} ({key}, config) VALUES (?, ?) \
             ON CONFLICT({key}) DO UPDATE SET config = excluded.config",
            table = table.name(),
            key = table.key()
        );
        sqlx::query(&sql)
            .bind(name)
            .bind(json)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
