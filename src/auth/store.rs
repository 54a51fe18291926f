//! Persistence of the security model in the metadata database (migration 0003): one JSON
//! record per user, role and custom privilege, and a key/value table for settings. The
//! whole model is small and loaded at start; every change is written here before memory.

use std::path::Path;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::AuthError;

/// A table of JSON records keyed by name.
#[derive(Clone, Copy)]
pub enum Table {
    Users,
    Roles,
    Privileges,
    Settings,
}

impl Table {
    fn sql(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Table::Users => ("security_users", "user_id", "record"),
            Table::Roles => ("security_roles", "id", "record"),
            Table::Privileges => ("security_privileges", "name", "record"),
            Table::Settings => ("security_settings", "key", "value"),
        }
    }
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Connects to the database the registry already opened and migrated.
    pub async fn open(path: &Path) -> Result<Self, AuthError> {
        let url = format!("sqlite://{}", path.display());
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(store_error)?
            .synchronous(SqliteSynchronous::Full)
            // A deleted user's password hash is overwritten, not left in free pages.
            .pragma("secure_delete", "ON")
            .busy_timeout(std::time::Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(store_error)?;
        Ok(Store { pool })
    }

    pub async fn load<T: DeserializeOwned>(&self, table: Table) -> Result<Vec<T>, AuthError> {
        let (name, _, value) = table.sql();
        let rows = sqlx::query(&format!("SELECT {value} FROM {name}"))
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|r| {
                let text: String = r.get(0);
                serde_json::from_str(&text).map_err(|e| AuthError::Store(e.to_string()))
            })
            .collect()
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        table: Table,
        key: &str,
    ) -> Result<Option<T>, AuthError> {
        let (name, k, value) = table.sql();
        let row = sqlx::query(&format!("SELECT {value} FROM {name} WHERE {k} = ?"))
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.map(|r| {
            let text: String = r.get(0);
            serde_json::from_str(&text).map_err(|e| AuthError::Store(e.to_string()))
        })
        .transpose()
    }

    pub async fn put<T: Serialize>(&self, table: Table, key: &str, v: &T) -> Result<(), AuthError> {
        let (name, k, value) = table.sql();
        let text = serde_json::to_string(v).map_err(|e| AuthError::Store(e.to_string()))?;
        sqlx::query(&format!(
            "INSERT INTO {name} ({k}, {value}) VALUES (?, ?) \
             ON CONFLICT({k}) DO UPDATE SET {value} = excluded.{value}"
        ))
        .bind(key)
        .bind(text)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    pub async fn delete(&self, table: Table, key: &str) -> Result<(), AuthError> {
        let (name, k, _) = table.sql();
        sqlx::query(&format!("DELETE FROM {name} WHERE {k} = ?"))
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

fn store_error(e: sqlx::Error) -> AuthError {
    AuthError::Store(e.to_string())
}
