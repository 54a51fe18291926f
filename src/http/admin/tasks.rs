//! Nexus `/v1/tasks…` (`nexus-rest-api.md` §12): list (with `?type=`), read, run, create
//! with a schedule, delete a created task. A task's JSON is Nexus's `TaskXO`, plus Berth's
//! `lastRunReport` (what the last run did, e.g. blobs and bytes freed).
//! Also `PUT /v1/berth/clock`, the test clock (only with `gc.test_clock = true`).

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::AdminError;
use super::wire;
use crate::registry::Registry;
use crate::tasks::{self, RunState, Schedule, StartError, TaskDef};

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(rename = "type")]
    type_id: Option<String>,
}

/// `GET /v1/tasks[?type=]`
pub async fn list(
    registry: web::Data<Registry>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AdminError> {
    let items: Vec<Value> = registry
        .task_defs()
        .iter()
        .filter(|t| query.type_id.as_ref().is_none_or(|ty| &t.type_id == ty))
        .map(|t| task_json(&registry, t))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"items": items, "continuationToken": null})))
}

/// `GET /v1/tasks/{id}`
pub async fn get(
    registry: web::Data<Registry>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let def = registry.task_def(&id).ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(task_json(&registry, &def)))
}

/// `POST /v1/tasks/{id}/run` → 204 (runs in the background).
pub async fn run(
    registry: web::Data<Registry>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    match tasks::start(&registry, &id) {
        Ok(()) => Ok(HttpResponse::NoContent().finish()),
        Err(StartError::NotFound) => Err(not_found()),
        Err(StartError::Disabled) => Err(AdminError::NotAllowed("Task is disabled".into())),
        Err(StartError::AlreadyRunning) => {
            Err(AdminError::Conflict("Task is already running".into()))
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Frequency {
    schedule: String,
    cron_expression: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskTemplate {
    #[serde(rename = "type")]
    type_id: String,
    name: String,
    #[serde(default = "yes")]
    enabled: bool,
    frequency: Frequency,
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

/// `POST /v1/tasks` → 201 + the task.
pub async fn create(
    registry: web::Data<Registry>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let t: TaskTemplate = wire::parse_body(&body)?;
    if !tasks::TYPES.contains(&t.type_id.as_str()) {
        return Err(AdminError::invalid(
            "type",
            format!(
                "unsupported task type; Berth runs {}",
                tasks::TYPES.join(", ")
            ),
        ));
    }
    if t.name.trim().is_empty() {
        return Err(AdminError::invalid("name", "may not be empty"));
    }
    let schedule = match (t.frequency.schedule.as_str(), t.frequency.cron_expression) {
        ("manual", _) => Schedule::Manual,
        ("cron", Some(expr)) => {
            Schedule::validate(&expr).map_err(|m| AdminError::invalid("frequency", m))?;
            Schedule::Cron(expr)
        }
        ("cron", None) => {
            return Err(AdminError::invalid(
                "frequency",
                "cronExpression is required",
            ))
        }
        (other, _) => {
            return Err(AdminError::invalid(
                "frequency",
                format!("schedule {other} is not supported; use manual or cron"),
            ))
        }
    };
    check_properties(&registry, &t.type_id, &t.properties)?;
    let def = TaskDef {
        id: uuid::Uuid::new_v4().to_string(),
        name: t.name,
        type_id: t.type_id,
        enabled: t.enabled,
        schedule,
        properties: t.properties,
    };
    registry.create_task(def.clone()).await?;
    Ok(HttpResponse::Created().json(task_json(&registry, &def)))
}

fn check_properties(
    registry: &Registry,
    type_id: &str,
    props: &BTreeMap<String, String>,
) -> Result<(), AdminError> {
    for key in ["deployOffset", "age"] {
        if props
            .get(key)
            .is_some_and(|v| v.trim().parse::<u64>().is_err())
        {
            return Err(AdminError::invalid(key, "must be a number of hours"));
        }
    }
    match type_id {
        tasks::COMPACT => {
            let store = props
                .get("blobstoreName")
                .ok_or_else(|| AdminError::invalid("blobstoreName", "is required"))?;
            if registry.blob_store(store).is_none() {
                return Err(AdminError::blob_store_not_found(store));
            }
        }
        tasks::PROXY_WARM => crate::registry::warm::check_properties(registry, props)
            .map_err(|(field, message)| AdminError::invalid(field, message))?,
        tasks::DOCKER_GC => {
            let repo = props
                .get("repositoryName")
                .map(String::as_str)
                .unwrap_or("*");
            if repo != "*" && registry.repository(repo).is_none() {
                return Err(AdminError::invalid(
                    "repositoryName",
                    "repository not found",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// `DELETE /v1/tasks/{id}` → 204; default tasks cannot be deleted (400).
pub async fn delete(
    registry: web::Data<Registry>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    if registry.delete_task(&id).await? {
        return Ok(HttpResponse::NoContent().finish());
    }
    match registry.task_def(&id) {
        Some(_) => Err(AdminError::invalid(
            "*",
            "default tasks follow their repository or blob store and cannot be deleted; disable scheduling with gc.compact_schedule",
        )),
        None => Err(not_found()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClockBody {
    offset_seconds: i64,
}

/// `PUT /v1/berth/clock` `{"offsetSeconds":N}` → 204: shifts Berth's clock (tests only).
pub async fn set_clock(
    registry: web::Data<Registry>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    if !registry.gc_settings().test_clock {
        return Err(AdminError::NotFound("no such admin endpoint".into()));
    }
    let b: ClockBody = wire::parse_body(&body)?;
    crate::clock::set_clock_offset(b.offset_seconds);
    tracing::warn!(offset = b.offset_seconds, "test clock moved");
    Ok(HttpResponse::NoContent().finish())
}

fn not_found() -> AdminError {
    AdminError::NotFound("Task not found".into())
}

fn task_json(registry: &Registry, def: &TaskDef) -> Value {
    let state: RunState = registry.tasks().state(&def.id).lock().unwrap().clone();
    let next_run = state
        .next_run
        .or_else(|| def.schedule.next_after(tasks::wall_clock()));
    let mut v = json!({
        "id": def.id,
        "name": def.name,
        "type": def.type_id,
        "message": message(&def.type_id),
        "currentState": if state.running { "RUNNING" } else { "WAITING" },
        "lastRunResult": state.last_ok.map(|ok| if ok { "OK" } else { "FAILED" }),
        "lastRun": state.last_run.map(iso),
        "nextRun": if def.enabled { next_run.map(iso) } else { None },
        "enabled": def.enabled,
        "schedule": def.schedule.kind(),
        "properties": def.properties,
        "notificationCondition": "FAILURE",
        "lastRunReport": state.last_report,
    });
    // The last progress line stays after the run: it is the run's final count.
    if let Some(progress) = &state.progress {
        v["berthProgress"] = progress.clone();
    }
    if let Schedule::Cron(expr) = &def.schedule {
        v["cronExpression"] = json!(expr);
    }
    v
}

fn message(type_id: &str) -> &'static str {
    match type_id {
        tasks::DOCKER_GC => "Delete unused manifests and images",
        tasks::COMPACT => "Compact blob store",
        tasks::UPLOAD_PURGE => "Delete incomplete uploads",
        tasks::PROXY_WARM => "Pre-warm a proxy with a list of images",
        _ => "",
    }
}

/// Nexus's timestamp format, e.g. `2025-01-10T16:15:25.622+00:00`.
fn iso(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string())
        .unwrap_or_default()
}
