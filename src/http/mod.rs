//! The OCI Distribution API over actix-web.
//!
//! Every `/v2/…` request goes through [`dispatch`]: parse the path into an [`Endpoint`]
//! (invalid names and digests stop here), check the method, pick the repository, then call
//! the endpoint group's handler. Handlers return `Result<HttpResponse, ApiError>`; errors
//! become OCI JSON in `error.rs` only.

pub mod access_log;
pub mod addressing;
pub(crate) mod admin;
mod base;
mod blob_body;
mod blobs;
pub mod body_timeout;
pub mod client_addr;
mod context;
mod endpoint;
pub mod error;
pub mod gate;
mod headers;
mod health;
mod manifests;
pub mod metrics_mw;
pub mod nexus_compat;
pub mod origin;
pub mod ports;
mod proxy_blobs;
mod referrers;
pub mod scrape;
pub mod state;
mod tag_params;
mod tags;
mod token;
mod uploads;
pub(crate) mod usage_api;
pub mod usage_mw;

use std::borrow::Cow;

use actix_web::http::Method;
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpRequest, HttpResponse};

use addressing::Address;
pub use context::Ctx;
pub use endpoint::Endpoint;
use error::ApiError;

use crate::config::Limits;
use crate::oci::OciErrorCode;
use crate::registry::{Registry, Repository};
use crate::usage::Usage;

/// Marks a connector-port server: every `/v2/` name there belongs to this repository.
#[derive(Clone, Debug)]
pub struct Connector(pub String);

fn api_version() -> DefaultHeaders {
    DefaultHeaders::new().add(("Docker-Distribution-API-Version", "registry/2.0"))
}

/// Registers the registry API under `/v2`. The app must register this before any other
/// route: actix tries routes in order, and every dynamic one ahead of `/v2` costs its regex
/// on each pull (18 routes tried, ≈ 8k of a warm manifest GET's ≈ 51k instructions, when
/// `/v2` came last).
pub fn configure_registry(cfg: &mut web::ServiceConfig) {
    token::configure_v2(cfg);
    cfg.service(
        web::scope("/v2")
            .wrap(api_version())
            .default_service(web::to(dispatch)),
    );
}

/// Registers the routes other than `/v2` (after `configure_registry`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::live))
        .route("/readyz", web::get().to(health::writable))
        .route("/service/rest/v1/status", web::get().to(health::readable))
        .route(
            "/service/rest/v1/status/writable",
            web::get().to(health::writable),
        )
        .route(
            "/service/rest/v1/status/check",
            web::get().to(usage_api::status_check),
        )
        .configure(nexus_compat::configure)
        .configure(admin::configure)
        .configure(token::configure)
        .service(
            web::scope("/repository/{repository}/v2")
                .wrap(api_version())
                .default_service(web::to(dispatch)),
        );
}

/// Which repository a request addresses, and how. Borrowed from the request where it can
/// be: the common `/v2/<image>/…` addressing allocates nothing here.
struct Target<'a> {
    repo: Repository,
    base: Cow<'static, str>,
    prefix: Cow<'static, str>,
    /// The path after the `/v2/` base, with any `repository/<repo>/` name prefix removed.
    rest: &'a str,
}

/// Looks up the repository the request's address names (see `addressing`).
fn resolve<'a>(req: &'a HttpRequest, registry: &Registry) -> Result<Target<'a>, ApiError> {
    let unknown = |name: &str| {
        ApiError::new(
            OciErrorCode::NameUnknown,
            format!("repository {name} does not exist"),
        )
    };
    let address = Address::of(req);
    let repo = match address.name() {
        Some(name) => registry.repository(name).ok_or_else(|| unknown(name))?,
        None => registry
            .default_repository()
            .ok_or_else(|| unknown(registry.default_repository_name()))?,
    };
    Ok(Target {
        repo,
        base: address.base(),
        prefix: address.prefix(),
        rest: address.rest,
    })
}

async fn dispatch(
    req: HttpRequest,
    body: web::Payload,
    registry: web::Data<Registry>,
    usage: web::Data<Usage>,
    limits: web::Data<Limits>,
) -> Result<HttpResponse, ApiError> {
    let unsupported = || {
        ApiError::new(
            OciErrorCode::Unsupported,
            format!("{} is not supported here", req.method()),
        )
    };
    let target = match resolve(&req, &registry).map_err(|e| gate::hide(&req, e)) {
        Ok(target) => target,
        // Clients ping `/v2/` before they address a repository by path: it answers even
        // when the default repository does not exist.
        Err(_)
            if matches!(req.uri().path(), "/v2" | "/v2/")
                && req.app_data::<Connector>().is_none() =>
        {
            metrics_mw::label(&req, Some("base"), None);
            if !Endpoint::Base.allows(req.method()) {
                return Err(unsupported());
            }
            gate::require_authenticated(&req)?;
            return Ok(base::check());
        }
        Err(e) => return Err(e),
    };
    metrics_mw::label(&req, None, Some(&target.repo.config().name));
    let endpoint = Endpoint::parse(req.method(), target.rest).map_err(|e| gate::hide(&req, e))?;
    metrics_mw::label(&req, Some(endpoint.route_label()), None);
    if !endpoint.allows(req.method()) {
        return Err(unsupported());
    }
    let client_name = endpoint.image().map(|n| match &target.prefix {
        Cow::Borrowed("") => Cow::Borrowed(n.as_str()),
        prefix => Cow::Owned(format!("{prefix}{n}")),
    });
    if !gate::authorize(
        &req,
        &target.repo.config(),
        client_name.as_deref(),
        &endpoint,
    )? {
        return Ok(base::empty_catalog());
    }
    let ctx = Ctx {
        registry,
        usage,
        repo: target.repo,
        base: target.base,
        prefix: target.prefix,
        limits,
    };
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
            _ => manifests::get(ctx, name, reference, method == Method::GET).await,
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
