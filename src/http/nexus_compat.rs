//! What Nexus clients expect beyond the REST shapes themselves:
//! - a `Server` header they can read a Nexus version from (nexus3-cli parses
//!   `Nexus/<semver>-…` to pick its API paths), naming Berth as well;
//! - `/service/rest/beta/…`, where older Nexus versions served endpoints that are under
//!   `v1` today (nexus3-cli still calls `beta/security/realms`): rewritten to `v1` before
//!   routing, so the gate and every handler see one path;
//! - the Groovy script API (`/service/rest/v1/script`), which Berth does not run: a clear
//!   refusal naming the REST endpoint to use instead;
//! - `docker search` (`GET /v1/search`), which registries other than Docker Hub do not
//!   serve: `404 UNSUPPORTED` with a message rather than an authentication error.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, Uri};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest};

use super::admin::AdminError;
use super::error::ApiError;
use crate::oci::OciErrorCode;

/// The Nexus version Berth's admin API corresponds to, as Nexus clients parse it.
pub const NEXUS_COMPATIBLE: &str = "3.70.0-01";

/// The `Server` header value, e.g. `Nexus/3.70.0-01 (COMPATIBLE; Berth/0.1.0)`.
pub fn server_header() -> String {
    format!(
        "Nexus/{NEXUS_COMPATIBLE} (COMPATIBLE; Berth/{})",
        env!("CARGO_PKG_VERSION")
    )
}

const BETA: &str = "/service/rest/beta/";

/// Middleware (outermost): serves `/service/rest/beta/<x>` as `/service/rest/v1/<x>`.
pub async fn beta_alias(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(rest) = req.path().strip_prefix(BETA) {
        let target = match req.uri().query() {
            Some(q) => format!("/service/rest/v1/{rest}?{q}"),
            None => format!("/service/rest/v1/{rest}"),
        };
        if let Ok(uri) = target.parse::<Uri>() {
            req.match_info_mut().get_mut().update(&uri);
            req.head_mut().uri = uri;
        }
    }
    next.call(req).await
}

/// Routes registered on the main app (before the admin scope's catch-all).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/service/rest/v1/script", web::route().to(script_api))
        .route(
            "/service/rest/v1/script/{rest:.*}",
            web::route().to(script_api),
        )
        .route("/v1/search", web::route().to(docker_search));
}

/// Nexus's answer when scripting is disabled is 410 Gone; Berth never runs scripts. A
/// `HEAD`/`GET` of one script is a 404, so clients that check for their script first get
/// to the `POST`, whose body carries the message.
async fn script_api(req: HttpRequest) -> Result<actix_web::HttpResponse, AdminError> {
    let name = req.match_info().get("rest").unwrap_or_default();
    let instead = instead_of_script(name);
    let message = format!(
        "Berth does not support the Groovy script API (/service/rest/v1/script); use the \
         REST endpoint instead: {instead}"
    );
    match (req.method().as_str(), name.is_empty()) {
        ("HEAD" | "GET", false) => Err(AdminError::NotFound(message)),
        _ => Err(AdminError::Gone(message)),
    }
}

/// The REST endpoint doing what a nexus3-cli script (named after its task) would do.
fn instead_of_script(script: &str) -> &'static str {
    if script.contains("cleanup") {
        "/service/rest/v1/cleanup-policies"
    } else if script.contains("blobstore") {
        "/service/rest/v1/blobstores/file"
    } else if script.contains("task") {
        "/service/rest/v1/tasks"
    } else {
        "POST /service/rest/v1/repositories/docker/{hosted|proxy|group} (see docs/admin-api.md)"
    }
}

async fn docker_search() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::new(
        OciErrorCode::Unsupported,
        "search is not supported by this registry (docker search works against Docker Hub \
         only); list repositories with GET /v2/_catalog",
    )
    .with_status(StatusCode::NOT_FOUND))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_header_parses_as_a_nexus_version() {
        let header = server_header();
        let version = header.split(' ').next().unwrap().split('/').nth(1).unwrap();
        assert_eq!(version.split('-').next().unwrap(), "3.70.0");
        assert!(header.contains("Berth/"));
    }
}
