//! The registry's side of tasks: the work each task type does (the catalogue, schedules and
//! run states are `crate::tasks`).

use std::sync::{Arc, Mutex};

use serde_json::json;

use super::{Registry, RegistryError, Repository};
use crate::model::task::{
    RunState, TaskDef, CLEANUP, COMPACT, DOCKER_GC, PROXY_WARM, UPLOAD_PURGE,
};

/// Youngest a staged upload without a session may be to count as abandoned: a monolithic
/// upload or a proxy download in progress is staged too, without a session.
pub const ORPHAN_MIN_AGE_SECS: u64 = 3600;

impl Registry {
    /// Does the work of one task; returns its report.
    /// `state` is the task's run state, where the run publishes its progress.
    pub async fn execute_task(
        &self,
        def: &TaskDef,
        state: Arc<Mutex<RunState>>,
    ) -> Result<serde_json::Value, RegistryError> {
        let progress = {
            let state = state.clone();
            move |line: String| state.lock().unwrap().progress = Some(line.into())
        };
        let prop = |k: &str| def.properties.get(k).map(String::as_str);
        let hours = |k: &str| prop(k).and_then(|v| v.trim().parse::<u64>().ok());
        let grace = hours("deployOffset")
            .map(|h| h * 3600)
            .unwrap_or(self.settings.gc.grace_secs);
        match def.type_id.as_str() {
            COMPACT => {
                let store = prop("blobstoreName").unwrap_or_default();
                Ok(json!([self
                    .collect_garbage_reporting(store, grace, &progress)
                    .await?]))
            }
            DOCKER_GC => {
                let stores = self.stores_of(prop("repositoryName").unwrap_or("*"))?;
                let mut reports = Vec::new();
                for store in stores {
                    reports.push(
                        self.collect_garbage_reporting(&store, grace, &progress)
                            .await?,
                    );
                }
                Ok(json!(reports))
            }
            UPLOAD_PURGE => {
                let age = hours("age")
                    .map(|h| h * 3600)
                    .unwrap_or(self.settings.limits.upload_expiry_secs);
                let sessions = self.purge_uploads(age as i64);
                let orphans = self.purge_orphan_uploads(age).await?;
                Ok(json!({ "uploadsRemoved": sessions, "orphanFilesRemoved": orphans }))
            }
            CLEANUP => self.run_cleanup(prop("repositoryName")).await,
            PROXY_WARM => self.warm_task(def, state).await,
            other => Err(RegistryError::Definition(format!(
                "task type {other} is not supported"
            ))),
        }
    }

    /// The blob stores a Docker GC of `repository` (or `*`) collects.
    fn stores_of(&self, repository: &str) -> Result<Vec<String>, RegistryError> {
        if repository == "*" {
            return Ok(self
                .blob_stores()
                .iter()
                .map(|s| s.name().to_string())
                .collect());
        }
        match self.repository(repository) {
            Some(Repository::Hosted(h)) => Ok(vec![h.core.store.name().to_string()]),
            Some(Repository::Group(_)) => Ok(Vec::new()),
            None => Err(RegistryError::RepositoryUnknown(repository.to_string())),
        }
    }

    /// Removes staged uploads in every blob store that no session owns (left by a crash
    /// of a request between verification and publication, or by an older Berth).
    async fn purge_orphan_uploads(&self, max_idle_secs: u64) -> Result<usize, RegistryError> {
        let live: std::collections::HashSet<String> = self
            .repos
            .iter()
            .filter_map(|r| match r.value() {
                Repository::Hosted(h) => Some(h.core.clone()),
                _ => None,
            })
            .flat_map(|core| {
                core.uploads
                    .iter()
                    .map(|s| s.key().clone())
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut removed = 0;
        for store in self.blob_stores() {
            removed += store
                .purge_staged(&live, max_idle_secs.max(ORPHAN_MIN_AGE_SECS))
                .await?;
        }
        if removed > 0 {
            tracing::info!(removed, "purged upload files without a session");
        }
        Ok(removed)
    }

    /// Removes upload sessions of every hosted repository idle for `max_idle_secs` or more;
    /// their temp files go with them (the writer removes its file when dropped).
    pub fn purge_uploads(&self, max_idle_secs: i64) -> usize {
        let hosted: Vec<Arc<super::RepoCore>> = self
            .repos
            .iter()
            .filter_map(|r| match r.value() {
                Repository::Hosted(h) => Some(h.core.clone()),
                _ => None,
            })
            .collect();
        let mut removed = 0;
        for core in hosted {
            let before = core.uploads.len();
            core.uploads.retain(|_, s| s.idle_secs() < max_idle_secs);
            removed += before - core.uploads.len();
        }
        if removed > 0 {
            tracing::info!(removed, "purged idle upload sessions");
        }
        removed
    }
}
