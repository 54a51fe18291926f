//! Starting tasks (on demand or by schedule) and recording how they went.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use actix_web::web::Data;
use futures_util::FutureExt;

use super::{TaskDef, TaskService};
use crate::clock::now;
use crate::meta::Held;
use crate::registry::RegistryError;

/// Why a task could not start.
#[derive(Debug, PartialEq, Eq)]
pub enum StartError {
    NotFound,
    Disabled,
    AlreadyRunning,
}

/// How often the scheduler looks for due tasks.
const SCHEDULER_TICK: Duration = Duration::from_secs(10);
/// How often a node that does not run the scheduler tries to take over: a leader that died
/// is replaced within this (plus one tick) once the database has ended its session.
const LEADER_RETRY: Duration = Duration::from_secs(3);
/// The lease the scheduling node holds (`meta::ClusterLocks`).
const LEADER_LEASE: &str = "tasks-leader";

/// Starts task `id` in the background. Must run inside an actix system.
pub fn start(tasks: &Data<TaskService>, id: &str) -> Result<(), StartError> {
    let def = tasks.def(id).ok_or(StartError::NotFound)?;
    if !def.enabled {
        return Err(StartError::Disabled);
    }
    let state = tasks.state(id);
    {
        let mut s = state.lock().unwrap();
        if s.running {
            return Err(StartError::AlreadyRunning);
        }
        s.running = true;
        s.progress = None;
    }
    let tasks = tasks.clone();
    actix_web::rt::spawn(async move {
        execute(&tasks, &def).await;
    });
    Ok(())
}

async fn execute(tasks: &TaskService, def: &TaskDef) {
    let started = wall_clock();
    tracing::info!(task = %def.id, kind = %def.type_id, "task started");
    metrics::counter!(crate::metrics::TASK_RUNS, "task" => def.id.clone()).increment(1);
    // A panicking run is a failed run: the task must not stay RUNNING (refusing every later
    // start with 409) because its runner died.
    let state = tasks.state(&def.id);
    let outcome = AssertUnwindSafe(tasks.registry().execute_task(def, state.clone()))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            metrics::counter!(crate::metrics::TASK_PANICS, "task" => def.id.clone()).increment(1);
            Err(RegistryError::Unavailable(
                "the task panicked; see the server log".into(),
            ))
        });
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
///
/// Of several nodes sharing one database only the holder of the leader lease schedules;
/// the others retry every few seconds, so a dead leader (whose database session ended) is
/// replaced. On-demand runs (the tasks API) run on the node asked, whoever leads.
pub fn spawn_scheduler(tasks: Data<TaskService>) {
    actix_web::rt::spawn(async move {
        loop {
            let lease = become_leader(&tasks).await;
            schedule_while_leading(&tasks, lease).await;
        }
    });
}

async fn become_leader(tasks: &TaskService) -> Held {
    let mut warned = false;
    loop {
        match tasks.locks().try_lease(LEADER_LEASE).await {
            Ok(Some(lease)) => {
                tracing::info!("this node runs the scheduled tasks (leader lease taken)");
                metrics::gauge!(crate::metrics::TASKS_LEADER).set(1.0);
                return lease;
            }
            Ok(None) => {}
            Err(e) if !warned => {
                tracing::warn!(error = %e, "cannot ask for the scheduler's leader lease");
                warned = true;
            }
            Err(_) => {}
        }
        actix_web::rt::time::sleep(LEADER_RETRY).await;
    }
}

/// Schedules until the lease is lost (its database session ended: a restart, a broken
/// connection); another node may then lead, and this one becomes a follower.
async fn schedule_while_leading(tasks: &Data<TaskService>, mut lease: Held) {
    let mut tick = actix_web::rt::time::interval(SCHEDULER_TICK);
    loop {
        tick.tick().await;
        if !lease.still_held().await {
            tracing::warn!("the scheduler's leader lease was lost; following again");
            metrics::gauge!(crate::metrics::TASKS_LEADER).set(0.0);
            return;
        }
        run_due(tasks);
    }
}

fn run_due(tasks: &Data<TaskService>) {
    let now = wall_clock();
    for def in tasks.defs() {
        if !def.enabled {
            continue;
        }
        let state = tasks.state(&def.id);
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
            if let Err(e) = start(tasks, &def.id) {
                tracing::warn!(task = %def.id, ?e, "scheduled task did not start");
            }
        }
    }
}
