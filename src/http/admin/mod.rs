//! The admin REST API in Nexus's shapes, under `/service/rest/v1/` (see
//! `/work/shared/nexus-rest-api.md` §1, §2, §10): repositories, file blob stores,
//! components and assets, so Nexus automation (Terraform's `go-nexus-client`, curl scripts)
//! can manage Berth.
//!
//! Until authentication exists, every route here is refused with 403 unless the client's
//! address is in `admin_allowed_from` (loopback by default). The status routes
//! (`/service/rest/v1/status…`) are registered before this scope and stay open. Connector
//! ports serve only their repository's `/v2/`, as in Nexus, so the admin API is 404 there.
//! Handlers return `Result<_, AdminError>`; `error.rs` alone turns errors into HTTP.

pub(crate) mod blobstores;
mod blobstores_s3;
pub(crate) mod cleanup;
mod components;
mod error;
mod proxy_wire;
pub(crate) mod repositories;
pub(crate) mod security;
pub(crate) mod tasks;
mod wire;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpRequest, ResponseError};

use super::Connector;
pub use error::AdminError;
pub(crate) use proxy_wire::status as proxy_status;

/// Registers the admin routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let query_errors = web::QueryConfig::default()
        .error_handler(|e, _| AdminError::invalid("*", e.to_string()).into());
    cfg.service(
        web::scope("/service/rest/v1")
            .wrap(from_fn(admit))
            .app_data(query_errors)
            .route("/repositories", web::get().to(repositories::list))
            .route("/repositories/{name}", web::get().to(repositories::get))
            .route(
                "/repositories/{name}",
                web::delete().to(repositories::delete),
            )
            .route(
                "/repositories/docker/{type}",
                web::post().to(repositories::create),
            )
            .route(
                "/repositories/docker/{type}/{name}",
                web::get().to(repositories::get_docker),
            )
            .route(
                "/repositories/docker/{type}/{name}",
                web::put().to(repositories::update),
            )
            .route("/blobstores", web::get().to(blobstores::list))
            .route("/blobstores/file", web::post().to(blobstores::create))
            .route(
                "/blobstores/{name}/quota-status",
                web::get().to(blobstores::quota_status),
            )
            .route("/blobstores/file/{name}", web::get().to(blobstores::get))
            .route("/blobstores/file/{name}", web::put().to(blobstores::update))
            .route("/blobstores/s3", web::post().to(blobstores_s3::create))
            .route("/blobstores/s3/{name}", web::get().to(blobstores_s3::get))
            .route(
                "/blobstores/s3/{name}",
                web::put().to(blobstores_s3::update),
            )
            .route("/blobstores/{name}", web::delete().to(blobstores::delete))
            .route("/components", web::get().to(components::components))
            .route("/assets", web::get().to(components::assets))
            .route("/usage", web::get().to(super::usage_api::usage))
            .route("/tasks", web::get().to(tasks::list))
            .route("/tasks", web::post().to(tasks::create))
            .route("/tasks/{id}", web::get().to(tasks::get))
            .route("/tasks/{id}", web::delete().to(tasks::delete))
            .route("/tasks/{id}/run", web::post().to(tasks::run))
            .route("/berth/clock", web::put().to(tasks::set_clock))
            .route("/cleanup-policies", web::get().to(cleanup::list))
            .route("/cleanup-policies", web::post().to(cleanup::create))
            .route("/cleanup-policies/{name}", web::get().to(cleanup::get))
            .route("/cleanup-policies/{name}", web::put().to(cleanup::update))
            .route(
                "/cleanup-policies/{name}",
                web::delete().to(cleanup::delete),
            )
            .route(
                "/cleanup-policies/{name}/preview",
                web::post().to(cleanup::preview),
            )
            .configure(security::configure)
            .default_service(web::to(not_found)),
    );
}

/// Lets a request through only on the main port and from an allowed address.
async fn admit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let refusal = if req.app_data::<Connector>().is_some() {
        Some(AdminError::NotFound(
            "the admin API is served on the main port only".into(),
        ))
    } else if !allowed(&req) {
        Some(AdminError::Forbidden(
            "the admin API is only available from the addresses in admin_allowed_from".into(),
        ))
    } else {
        None
    };
    match refusal {
        Some(e) => Ok(req.into_response(e.error_response()).map_into_right_body()),
        None => Ok(next.call(req).await?.map_into_left_body()),
    }
}

fn allowed(req: &ServiceRequest) -> bool {
    crate::http::state::AdminAllowList::admits(req.request())
}

async fn not_found() -> Result<actix_web::HttpResponse, AdminError> {
    Err(AdminError::NotFound("no such admin endpoint".into()))
}

/// `<scheme>://<host>` as the client addressed this server (for `url`, `downloadUrl`);
/// forwarded headers only from a trusted proxy (`http::origin`).
fn base_url(req: &HttpRequest) -> String {
    crate::http::origin::Origin::of(req).url()
}
