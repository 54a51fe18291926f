//! Definition documents (repositories, blob stores, cleanup policies, tasks) and the
//! security model's records: one JSON document per key, one table per kind.

use async_trait::async_trait;
use sqlx::Row;

use super::changes::announce;
use super::PgMeta;
use crate::meta::{Change, DocKind, Documents, MetaError, SecurityRecords, SecurityTable};

/// `(table, key column)` of a kind; constants, never user input.
fn table(kind: DocKind) -> (&'static str, &'static str) {
    match kind {
        DocKind::Repositories => ("repositories", "name"),
        DocKind::BlobStores => ("blob_stores", "name"),
        DocKind::CleanupPolicies => ("cleanup_policies", "name"),
        DocKind::Tasks => ("tasks", "id"),
    }
}

/// `(table, key column, value column)`; constants, never user input.
fn columns(table: SecurityTable) -> (&'static str, &'static str, &'static str) {
    match table {
        SecurityTable::Users => ("security_users", "user_id", "record"),
        SecurityTable::Roles => ("security_roles", "id", "record"),
        SecurityTable::Privileges => ("security_privileges", "name", "record"),
        SecurityTable::Settings => ("security_settings", "key", "value"),
    }
}

#[async_trait]
impl Documents for PgMeta {
    async fn load_documents(&self, kind: DocKind) -> Result<Vec<String>, MetaError> {
        let (table, key) = table(kind);
        let sql = format!("SELECT config FROM {table} ORDER BY {key}");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    async fn save_document(&self, kind: DocKind, key: &str, json: &str) -> Result<(), MetaError> {
        let (table, k) = table(kind);
        let sql = format!(
            "INSERT INTO {table} ({k}, config) VALUES ($1, $2) \
             ON CONFLICT ({k}) DO UPDATE SET config = excluded.config"
        );
        let mut tx = super::write_tx(&self.pool).await?;
        sqlx::query(&sql)
            .bind(key)
            .bind(json)
            .execute(&mut *tx)
            .await?;
        self.announce_definitions(&mut tx, kind).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_document(&self, kind: DocKind, key: &str) -> Result<bool, MetaError> {
        let (table, k) = table(kind);
        let mut tx = super::write_tx(&self.pool).await?;
        let done = sqlx::query(&format!("DELETE FROM {table} WHERE {k} = $1"))
            .bind(key)
            .execute(&mut *tx)
            .await?;
        self.announce_definitions(&mut tx, kind).await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_repository(&self, name: &str) -> Result<(), MetaError> {
        let mut tx = super::write_tx(&self.pool).await?;
        sqlx::query("DELETE FROM images WHERE repository = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM repositories WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        // Its images are gone too: a node that keeps the repository's core (the definition
        // is re-created before it reloads) must not serve them.
        let images = Change::Image {
            repository: name.to_string(),
            image: None,
        };
        announce(&mut tx, &self.node, images).await?;
        announce(&mut tx, &self.node, Change::Definitions).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), MetaError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

#[async_trait]
impl SecurityRecords for PgMeta {
    async fn load_records(&self, table: SecurityTable) -> Result<Vec<String>, MetaError> {
        let (name, key, value) = columns(table);
        let rows = sqlx::query(&format!("SELECT {value} FROM {name} ORDER BY {key}"))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    async fn get_record(
        &self,
        table: SecurityTable,
        key: &str,
    ) -> Result<Option<String>, MetaError> {
        let (name, k, value) = columns(table);
        let row = sqlx::query(&format!("SELECT {value} FROM {name} WHERE {k} = $1"))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn put_record(
        &self,
        table: SecurityTable,
        key: &str,
        json: &str,
    ) -> Result<(), MetaError> {
        let (name, k, value) = columns(table);
        let mut tx = super::write_tx(&self.pool).await?;
        sqlx::query(&format!(
            "INSERT INTO {name} ({k}, {value}) VALUES ($1, $2) \
             ON CONFLICT ({k}) DO UPDATE SET {value} = excluded.{value}"
        ))
        .bind(key)
        .bind(json)
        .execute(&mut *tx)
        .await?;
        announce(&mut tx, &self.node, Change::Security).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_record(&self, table: SecurityTable, key: &str) -> Result<(), MetaError> {
        let (name, k, _) = columns(table);
        let mut tx = super::write_tx(&self.pool).await?;
        sqlx::query(&format!("DELETE FROM {name} WHERE {k} = $1"))
            .bind(key)
            .execute(&mut *tx)
            .await?;
        announce(&mut tx, &self.node, Change::Security).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl PgMeta {
    /// Repository and blob store definitions and created tasks are what nodes keep in
    /// memory; cleanup policies are read where they are used.
    async fn announce_definitions(
        &self,
        tx: &mut sqlx::PgConnection,
        kind: DocKind,
    ) -> Result<(), MetaError> {
        match kind {
            DocKind::Repositories | DocKind::BlobStores | DocKind::Tasks => {
                announce(tx, &self.node, Change::Definitions).await
            }
            DocKind::CleanupPolicies => Ok(()),
        }
    }
}
