//! Liveness and readiness, in Berth's own shape (`/healthz`, `/readyz`) and in Nexus's
//! (`/service/rest/v1/status`, `/service/rest/v1/status/writable`), so load balancers and
//! existing Nexus monitoring both work. None of them need credentials.

use actix_web::{web, HttpResponse};

use crate::registry::Registry;

/// The process is up and serving HTTP.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

/// Nexus `GET /v1/status`: 200 with an empty body when reads can be served, 503 otherwise.
pub async fn readable(registry: web::Data<Registry>) -> HttpResponse {
    match registry.check_readable().await {
        Ok(()) => HttpResponse::Ok().finish(),
        Err(e) => unavailable(&e),
    }
}

/// Nexus `GET /v1/status/writable` and `/readyz`: 200 when pushes can be accepted (metadata
/// database answers, every blob store accepts a write), 503 otherwise.
pub async fn writable(registry: web::Data<Registry>) -> HttpResponse {
    match registry.check_writable().await {
        Ok(()) => HttpResponse::Ok().finish(),
        Err(e) => unavailable(&e),
    }
}

/// 503 with the reason as plain text, so an operator's `curl` (or a load balancer's log)
/// says what is wrong.
fn unavailable(e: &crate::registry::RegistryError) -> HttpResponse {
    tracing::warn!(error = %e, "health check failed");
    HttpResponse::ServiceUnavailable()
        .content_type("text/plain; charset=utf-8")
        .body(e.to_string())
}
