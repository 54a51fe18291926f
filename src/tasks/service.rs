//! The task catalogue of this process: every definition (the defaults follow the
//! repositories and blob stores; created ones are persisted) and each task's run state.
//! Startup opens it and hands it to the scheduler and the admin API; the work each task
//! type does is the registry's (`Registry::execute_task`).

use std::sync::{Arc, Mutex};

use actix_web::web::Data;

use super::{RunState, TaskDef, Tasks};
use crate::config::GcSettings;
use crate::meta::Meta;
use crate::model::RepositoryKind;
use crate::registry::{Registry, RegistryError};

pub struct TaskService {
    registry: Data<Registry>,
    meta: Meta,
    tasks: Tasks,
    gc: GcSettings,
}

impl TaskService {
    /// Loads the created tasks from the metadata store.
    pub async fn open(
        registry: Data<Registry>,
        meta: Meta,
        gc: GcSettings,
    ) -> Result<Self, RegistryError> {
        let created = meta.load_tasks().await?;
        Ok(TaskService {
            registry,
            meta,
            tasks: Tasks::with_created(created),
            gc,
        })
    }

    /// The registry the tasks work on.
    pub fn registry(&self) -> &Data<Registry> {
        &self.registry
    }

    /// The cluster's locks (the scheduler's leader lease).
    pub fn locks(&self) -> &std::sync::Arc<dyn crate::meta::ClusterLocks> {
        self.meta.locks()
    }

    pub fn gc_settings(&self) -> &GcSettings {
        &self.gc
    }

    /// Every task definition: the defaults of the current repositories and blob stores,
    /// then the created ones.
    pub fn defs(&self) -> Vec<TaskDef> {
        let hosted: Vec<String> = self
            .registry
            .repository_configs()
            .into_iter()
            .filter(|r| r.kind == RepositoryKind::Hosted)
            .map(|r| r.name)
            .collect();
        let stores: Vec<String> = self
            .registry
            .blob_stores()
            .iter()
            .map(|s| s.name().to_string())
            .collect();
        self.tasks.all(&hosted, &stores, &self.gc.compact_schedule)
    }

    pub fn def(&self, id: &str) -> Option<TaskDef> {
        self.defs().into_iter().find(|t| t.id == id)
    }

    /// Persists and installs a created task.
    pub async fn create(&self, def: TaskDef) -> Result<(), RegistryError> {
        self.meta.save_task(&def).await?;
        self.tasks.add_created(def);
        Ok(())
    }

    /// Reads the created tasks again (another node created or deleted one: the scheduler
    /// may run on this node while the API call went to another).
    pub async fn reload(&self) -> Result<(), RegistryError> {
        let created = self.meta.load_tasks().await?;
        self.tasks.replace_created(created);
        Ok(())
    }

    /// Deletes a created task; default tasks cannot be deleted.
    pub async fn delete(&self, id: &str) -> Result<bool, RegistryError> {
        if !self.tasks.is_created(id) {
            return Ok(false);
        }
        self.meta.delete_task(id).await?;
        Ok(self.tasks.remove_created(id))
    }

    /// The run state of task `id` (created on first use).
    pub fn state(&self, id: &str) -> Arc<Mutex<RunState>> {
        self.tasks.state(id)
    }
}
