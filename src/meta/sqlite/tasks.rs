//! Persisted task definitions (tasks created through the admin API).

use super::definitions::Table;
use super::{MetaError, MetaStore};
use crate::tasks::TaskDef;

impl MetaStore {
    pub async fn load_tasks(&self) -> Result<Vec<TaskDef>, MetaError> {
        self.load_all(Table::Tasks).await
    }

    pub async fn save_task(&self, def: &TaskDef) -> Result<(), MetaError> {
        self.save(Table::Tasks, &def.id, def).await
    }

    pub async fn delete_task(&self, id: &str) -> Result<(), MetaError> {
        sqlx::query("DELETE FROM tasks WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
