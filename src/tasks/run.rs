//! Starting tasks (on demand or by schedule) and recording how they went.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use actix_web::web::Data;
use futures_util::FutureExt;

use super::TaskDef;
use crate::clock::now;
use crate::registry::{Registry, RegistryError};

/// Why a task could not start.
#[derive(Debug, PartialEq, Eq)]
pub enum StartError {
    NotFound,
    Disabled,
    AlreadyRunning,
}

/// How often the scheduler looks for due tasks.
const SCHEDULER_TICK: Duration = Duration::from_secs(10);

/// Starts task `id` in the background. Must run inside an actix system.
pub fn start(registry: &Data<Registry>, id: &str) -> Result<(), StartError> {
    let def = registry.task_def(id).ok_or(StartError::NotFound)?;
    if !def.enabled {
        return Err(StartError::Disabled);
    }
    let state = registry.tasks().state(id);
    {
        let mut s = state.lock().unwrap();
        if s.running {
            return Err(StartError::AlreadyRunning);
        }
        s.running = true;
        s.progress = None;
    }
    let registry = registry.clone();
    actix_web::rt::spawn(async move {
        execute(&registry, &def).await;
    });
    Ok(())
}

async fn execute(registry: &Registry, def: &TaskDef) {
    let started = wall_clock();
    tracing::info!(task = %def.id, kind = %def.type_id, "task started");
    // A panicking run is a failed run: the task must not stay RUNNING (refusing every later
    // start with 409) because its runner died.
    let outcome = AssertUnwindSafe(registry.execute_task(def))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            metrics::counter!(crate::metrics::TASK_PANICS, "task" => def.id.clone()).increment(1);
            Err(RegistryError::Unavailable(
                "the task panicked; see the server log".into(),
            ))
        });
    let state = registry.tasks().state(&def.id);
    let mut s = state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    s.running = false;
    s.last_run = Some(started);
    match outcome {
        Ok(report) => {
            tracing::info!(task = %def.id, %report, "task finished");
            s.last_ok = Some(true);
            s.last_report = Some(report);
        }
        Err(e) => {
            tracing::error!(task = %def.id, error = %e, "task failed");
            s.last_ok = Some(false);
            s.last_report = Some(serde_json::json!({ "error": e.to_string() }));
        }
    }
}

/// Real time in Unix seconds. Schedules follow the wall clock, never the test clock (which
/// only ages content), so moving the test clock does not fire scheduled tasks.
pub fn wall_clock() -> i64 {
    now() - crate::clock::clock_offset()
}

/// Runs scheduled tasks when due: each task's next start is computed from the clock when
/// first seen and after each start. Must run inside an actix system.
pub fn spawn_scheduler(registry: Data<Registry>) {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(SCHEDULER_TICK);
        loop {
            tick.tick().await;
            run_due(&registry);
        }
    });
}

fn run_due(registry: &Data<Registry>) {
    let now = wall_clock();
    for def in registry.task_defs() {
        if !def.enabled {
            continue;
        }
        let state = registry.tasks().state(&def.id);
        let due = {
            let mut s = state.lock().unwrap();
            match s.next_run {
                Some(at) if at <= now => {
                    s.next_run = def.schedule.next_after(now);
                    true
                }
                Some(_) => false,
                None => {
                    s.next_run = def.schedule.next_after(now);
                    false
                }
            }
        };
        if due {
            if let Err(e) = start(registry, &def.id) {
                tracing::warn!(task = %def.id, ?e, "scheduled task did not start");
            }
        }
    }
}
