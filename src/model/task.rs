//! Task definitions (Nexus type ids, schedules, properties) and what each did in this
//! process; the scheduler and the runs are `crate::tasks`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use dashmap::DashMap;
use serde::{Deserialize, Serialize};

use super::schedule::Schedule;

/// Nexus task type ids Berth implements.
pub const DOCKER_GC: &str = "repository.docker.gc";
pub const COMPACT: &str = "blobstore.compact";
pub const UPLOAD_PURGE: &str = "repository.docker.upload-purge";
pub const CLEANUP: &str = "repository.cleanup";
/// Berth's own: pre-warm a proxy (or group) with a list of images (`crate::registry::warm`).
pub const PROXY_WARM: &str = "repository.docker.proxy-warm";
pub const TYPES: &[&str] = &[DOCKER_GC, COMPACT, UPLOAD_PURGE, CLEANUP, PROXY_WARM];

/// A task definition (Berth's own shape, persisted as JSON for created tasks).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TaskDef {
    pub id: String,
    pub name: String,
    pub type_id: String,
    pub enabled: bool,
    pub schedule: Schedule,
    pub properties: BTreeMap<String, String>,
}

/// What happened to a task in this process.
#[derive(Clone, Debug, Default)]
pub struct RunState {
    pub running: bool,
    /// Unix seconds (Berth clock).
    pub last_run: Option<i64>,
    pub last_ok: Option<bool>,
    /// The report of the last run (e.g. blobs and bytes freed) or its error.
    pub last_report: Option<serde_json::Value>,
    /// Next scheduled start, Unix seconds.
    pub next_run: Option<i64>,
    /// Where the task is or ended (a GC's sweep counts as a line, a warm run's counts as an
    /// object); cleared when it starts, kept after it ends as the run's final count.
    pub progress: Option<serde_json::Value>,
}

/// Every task's run state, by id; definitions come from [`Tasks::all`].
#[derive(Debug, Default)]
pub struct Tasks {
    created: DashMap<String, TaskDef>,
    states: DashMap<String, Arc<Mutex<RunState>>>,
}

impl Tasks {
    /// Loads the created tasks (from the metadata store at start).
    pub fn with_created(created: Vec<TaskDef>) -> Self {
        let tasks = Tasks::default();
        for t in created {
            tasks.created.insert(t.id.clone(), t);
        }
        tasks
    }

    /// The default tasks for these hosted repositories and blob stores, then the created
    /// ones, sorted by id.
    pub fn all(
        &self,
        hosted: &[String],
        stores: &[String],
        compact_schedule: &str,
    ) -> Vec<TaskDef> {
        let mut out = defaults(hosted, stores, compact_schedule);
        out.extend(self.created.iter().map(|t| t.clone()));
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Makes the created tasks exactly `created` (read again from the metadata store after
    /// another node changed them); the run state of a task that is gone is dropped.
    pub fn replace_created(&self, created: Vec<TaskDef>) {
        let ids: std::collections::HashSet<&str> = created.iter().map(|t| t.id.as_str()).collect();
        let gone: Vec<String> = self
            .created
            .iter()
            .map(|t| t.key().clone())
            .filter(|id| !ids.contains(id.as_str()))
            .collect();
        for id in gone {
            self.remove_created(&id);
        }
        for t in created {
            self.created.insert(t.id.clone(), t);
        }
    }

    pub fn add_created(&self, def: TaskDef) {
        self.created.insert(def.id.clone(), def);
    }

    /// Removes a created task; false if there is none with this id.
    pub fn remove_created(&self, id: &str) -> bool {
        self.states.remove(id);
        self.created.remove(id).is_some()
    }

    pub fn is_created(&self, id: &str) -> bool {
        self.created.contains_key(id)
    }

    /// The run state of task `id` (created on first use).
    pub fn state(&self, id: &str) -> Arc<Mutex<RunState>> {
        self.states.entry(id.to_string()).or_default().clone()
    }
}

fn defaults(hosted: &[String], stores: &[String], compact_schedule: &str) -> Vec<TaskDef> {
    let mut out = Vec::new();
    let compact = Schedule::from_expression(compact_schedule);
    for store in stores {
        out.push(TaskDef {
            id: format!("blobstore.compact-{store}"),
            name: format!("Compact blob store {store}"),
            type_id: COMPACT.into(),
            enabled: true,
            schedule: compact.clone(),
            properties: BTreeMap::from([("blobstoreName".into(), store.clone())]),
        });
    }
    for repo in hosted {
        out.push(TaskDef {
            id: format!("repository.docker.gc-{repo}"),
            name: format!("Docker GC {repo}"),
            type_id: DOCKER_GC.into(),
            enabled: true,
            schedule: Schedule::Manual,
            properties: BTreeMap::from([("repositoryName".into(), repo.clone())]),
        });
    }
    out.push(TaskDef {
        id: "repository.docker.upload-purge".into(),
        name: "Docker - Delete incomplete uploads".into(),
        type_id: UPLOAD_PURGE.into(),
        enabled: true,
        schedule: Schedule::Cron("0 30 * * * ?".into()),
        properties: BTreeMap::new(),
    });
    // Nexus's "Cleanup service": applies every repository's attached cleanup policies.
    out.push(TaskDef {
        id: CLEANUP.into(),
        name: "Cleanup service".into(),
        type_id: CLEANUP.into(),
        enabled: true,
        schedule: Schedule::Cron("0 0 1 * * ?".into()),
        properties: BTreeMap::new(),
    });
    out
}
