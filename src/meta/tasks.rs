//! Persisted task definitions (tasks created through the admin API).

use sqlx::Row;

use super::{MetaError, MetaStore};
use crate::tasks::TaskDef;

impl MetaStore {
    pub async fn load_tasks(&self) -> Result<Vec<TaskDef>, MetaError> {
        let rows = sqlx::query("SELECT config FROM tasks ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|r| {
                let text: String = r.get(0);
                serde_json::from_str(&text).map_err(|e| MetaError::Corrupt(e.to_string()))
            })
            .collect()
    }

    pub async fn save_task(&self, def: &TaskDef) -> Result<(), MetaError> {
        let json = serde_json::to_string(def).map_err(|e| MetaError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO tasks (id, config) VALUES (?, ?) \
             ON CONFLICT(id) DO UPDATE SET config = excluded.config",
        )
        .bind(&def.id)
        .bind(json)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_task(&self, id: &str) -> Result<(), MetaError> {
        sqlx::query("DELETE FROM tasks WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
