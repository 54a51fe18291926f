//! The security model's records (migration 0003): one JSON record per user, role and custom
//! privilege, and a key/value table of settings, in the same pool as everything else.

use async_trait::async_trait;
use sqlx::Row;

use super::SqliteMeta;
use crate::meta::{MetaError, SecurityRecords, SecurityTable};

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
impl SecurityRecords for SqliteMeta {
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
        let row = sqlx::query(&format!("SELECT {value} FROM {name} WHERE {k} = ?"))
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
        sqlx::query(&format!(
            "INSERT INTO {name} ({k}, {value}) VALUES (?, ?) \
             ON CONFLICT ({k}) DO UPDATE SET {value} = excluded.{value}"
        ))
        .bind(key)
        .bind(json)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_record(&self, table: SecurityTable, key: &str) -> Result<(), MetaError> {
        let (name, k, _) = columns(table);
        sqlx::query(&format!("DELETE FROM {name} WHERE {k} = ?"))
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
