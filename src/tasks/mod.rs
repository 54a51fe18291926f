//! Tasks, the Nexus way (`/service/rest/v1/tasks`, see `nexus-rest-api.md` §12): garbage
//! collection, blob store compaction and upload purge, each with a Nexus type id, run on a
//! cron schedule or on demand, with state, last run, result and next run.
//!
//! Default tasks are derived from the definitions, so every hosted repository and blob
//! store has them from the moment it exists (Berth users should not have to discover that
//! disk is never freed): `blobstore.compact` per blob store on `gc.compact_schedule`,
//! `repository.docker.gc` per hosted repository (manual), and one hourly
//! `repository.docker.upload-purge`, and the daily `repository.cleanup` (cleanup
//! policies, see `crate::cleanup`). Tasks created through the API are persisted. Run state
//! (last run, result, report) lives in memory: it is what this process did.

mod run;
mod service;

pub use crate::model::schedule::Schedule;
pub use crate::model::task::*;
pub use run::{spawn_scheduler, start, wall_clock, StartError};
pub use service::TaskService;
