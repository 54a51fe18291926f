//! Definition documents (repositories, blob stores, cleanup policies, tasks): one JSON
//! document per key, in one table per kind.

use async_trait::async_trait;
use sqlx::Row;

use super::SqliteMeta;
use crate::meta::{DocKind, Documents, MetaError};

/// `(table, key column)` of a kind; constants, never user input.
fn table(kind: DocKind) -> (&'static str, &'static str) {
    match kind {
        DocKind::Repositories => ("repositories", "name"),
        DocKind::BlobStores => ("blob_stores", "name"),
        DocKind::CleanupPolicies => ("cleanup_policies", "name"),
        DocKind::Tasks => ("tasks", "id"),
    }
}

#[async_trait]
impl Documents for SqliteMeta {
    async fn load_documents(&self, kind: DocKind) -> Result<Vec<String>, MetaError> {
        let (table, key) = table(kind);
        let sql = format!("SELECT config FROM {table} ORDER BY {key}");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    async fn save_document(&self, kind: DocKind, key: &str, json: &str) -> Result<(), MetaError> {
        let (table, k) = table(kind);
        let sql = format!(
            "INSERT INTO {table} ({k}, config) VALUES (?, ?) \
             ON CONFLICT ({k}) DO UPDATE SET config = excluded.config"
        );
        sqlx::query(&sql)
            .bind(key)
            .bind(json)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_document(&self, kind: DocKind, key: &str) -> Result<bool, MetaError> {
        let (table, k) = table(kind);
        let done = sqlx::query(&format!("DELETE FROM {table} WHERE {k} = ?"))
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_repository(&self, name: &str) -> Result<(), MetaError> {
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

    async fn ping(&self) -> Result<(), MetaError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
