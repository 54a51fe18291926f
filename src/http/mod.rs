//! The OCI Distribution API over actix-web.
//!
//! Every `/v2/…` request goes through [`dispatch`]: parse the path into an [`Endpoint`]
//! (invalid names and digests stop here), check the method, pick the repository, then call
//! the endpoint group's handler. Handlers return `Result<HttpResponse, ApiError>`; errors
//! become OCI JSON in `error.rs` only.

mod base;
mod blobs;
mod context;
mod endpoint;
pub mod error;
mod headers;
mod health;
mod manifests;
mod referrers;
mod tags;
mod uploads;

use actix_web::http::Method;
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpRequest, HttpResponse};

pub use context::Ctx;
pub use endpoint::Endpoint;
use error::ApiError;

use crate::config::Limits;
use crate::oci::OciErrorCode;
use crate::registry::Registry;

/// Registers every route of the server.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::live))
        .route("/readyz", web::get().to(health::writable))
        .route("/service/rest/v1/status", web::get().to(health::readable))
        .route(
            "/service/rest/v1/status/writable",
            web::get().to(health::writable),
        )
        .service(
            web::scope("/v2")
                .wrap(
                    DefaultHeaders::new().add(("Docker-Distribution-API-Version", "registry/2.0")),
                )
                .default_service(web::to(dispatch)),
        );
}

async fn dispatch(
    req: HttpRequest,
    body: web::Payload,
    registry: web::Data<Registry>,
    limits: web::Data<Limits>,
) -> Result<HttpResponse, ApiError> {
    let path = req.uri().path();
    let rest = path.strip_prefix("/v2").unwrap_or(path);
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let endpoint = Endpoint::parse(req.method(), rest)?;
    if !endpoint.allows(req.method()) {
        return Err(ApiError::new(
            OciErrorCode::Unsupported,
            format!("{} is not supported here", req.method()),
        ));
    }
    let repo = registry.default_repository().ok_or_else(|| {
        ApiError::new(
            OciErrorCode::NameUnknown,
            "no default repository is configured",
        )
    })?;
    let ctx = Ctx::new(repo, "/v2/".to_string(), limits.get_ref().clone());
    route(&ctx, endpoint, &req, body).await
}

async fn route(
    ctx: &Ctx,
    endpoint: Endpoint,
    req: &HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    use Endpoint as E;
    let method = req.method().clone();
    match endpoint {
        E::Base => Ok(base::check()),
        E::Catalog => base::catalog(ctx, req).await,
        E::Tags(name) => tags::list(ctx, req, name).await,
        E::Referrers(name, digest) => referrers::list(ctx, req, name, digest).await,
        E::Manifest(name, reference) => match method {
            Method::PUT => manifests::put(ctx, req, body, name, reference).await,
            Method::DELETE => manifests::delete(ctx, name, reference).await,
            _ => manifests::get(ctx, name, reference).await,
        },
        E::Blob(name, digest) => match method {
            Method::DELETE => blobs::delete(ctx, name, digest).await,
            _ => blobs::get(ctx, req, name, digest).await,
        },
        E::StartUpload(name) => uploads::start(ctx, req, body, name).await,
        E::Upload(name, id) => match method {
            Method::PATCH => uploads::patch(ctx, req, body, name, id).await,
            Method::PUT => uploads::complete(ctx, req, body, name, id).await,
            Method::DELETE => uploads::cancel(ctx, name, id).await,
            _ => uploads::status(ctx, name, id).await,
        },
    }
}
