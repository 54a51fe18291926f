//! `GET /service/rest/v1/usage` (Berth's usage JSON, admin API) and
//! `GET /service/rest/v1/status/check` (Nexus's map of named health checks, each
//! `{"healthy", "message", …}`; 200 whatever the results, as in Nexus).

use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};

use crate::registry::Registry;
use crate::usage::{window::WINDOW_HOURS, Counted, Reading};

fn reading_json(r: &Reading) -> Value {
    json!({
        "value": r.value,
        "limit": r.settings.limit,
        "warnRatio": r.settings.warn_ratio,
        "warnAt": (r.settings.warn_ratio * r.settings.limit as f64).ceil() as u64,
        "action": r.settings.action.as_str(),
        "state": r.level.as_str(),
        "message": r.message(),
    })
}

/// The usage figures, their limits and states, and the hour buckets of the window.
pub async fn usage(registry: web::Data<Registry>) -> HttpResponse {
    let usage = registry.usage();
    let readings = match usage.refresh().await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "cannot count components");
            usage.readings()
        }
    };
    let totals = usage.totals();
    let hours: Vec<Value> = usage
        .hours()
        .iter()
        .map(|h| json!({"start": h.hour, "requests": h.requests, "unauthorized": h.unauthorized}))
        .collect();
    let counted = match usage.settings().counted {
        Counted::All => "all",
        Counted::Repository => "repository",
    };
    HttpResponse::Ok().json(json!({
        "windowHours": WINDOW_HOURS,
        "counted": counted,
        "requests": reading_json(&readings[0]),
        "components": reading_json(&readings[1]),
        "unauthorizedRequests": totals.unauthorized,
        "hours": hours,
    }))
}

fn check(healthy: bool, message: String) -> Value {
    let time = crate::clock::now() * 1000;
    json!({"healthy": healthy, "message": message, "error": null, "details": null,
           "time": time, "duration": 0})
}

/// Named checks: usage thresholds (failing under `warn`/`enforce` when near or over),
/// blob store quotas, readiness.
pub async fn status_check(registry: web::Data<Registry>) -> HttpResponse {
    let usage = registry.usage();
    let readings = usage.refresh().await.unwrap_or_else(|_| usage.readings());
    let mut checks = Map::new();
    for (name, r) in ["Usage Requests", "Usage Components"].iter().zip(&readings) {
        checks.insert(name.to_string(), check(r.healthy(), r.message()));
    }
    let stores = registry.blob_stores();
    let violating = stores
        .iter()
        .filter(|s| s.soft_quota().is_some_and(|q| s.used_bytes() > q))
        .count();
    checks.insert(
        "Blob Stores Quota".into(),
        check(
            violating == 0,
            format!(
                "{violating}/{} blob stores violating their quota",
                stores.len()
            ),
        ),
    );
    let writable = registry.check_writable().await;
    checks.insert(
        "Blob Stores Ready".into(),
        check(
            writable.is_ok(),
            match writable {
                Ok(()) => "every blob store and the metadata database accept writes".into(),
                Err(e) => e.to_string(),
            },
        ),
    );
    HttpResponse::Ok().json(Value::Object(checks))
}
