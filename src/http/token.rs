//! The Docker Bearer Token realm (`DockerToken`): `GET /v2/token` (Basic or anonymous) and
//! `POST /v2/token` (OAuth2 form: `grant_type=password|refresh_token`), also under
//! `/repository/<repo>/v2/token` and on connector ports, wherever the challenge's realm
//! points. A token carries only the actions the caller holds *now*; requests re-check the
//! live model as well, so revocation does not wait for expiry.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::addressing::Address;
use super::error::ApiError;
use super::gate::{self, basic_credentials};
use super::headers::{param, query};
use crate::auth::token::{Access, Claims, Use, ISSUER};
use crate::auth::{Action, AuthError, Principal, Security};
use crate::oci::{ImageName, OciErrorCode};
use crate::registry::Registry;

/// `/v2/token`, registered ahead of the `/v2` scope that would otherwise take it. One
/// route per method (not a resource) so other methods fall through to the registry's own
/// error answer, as before.
pub fn configure_v2(cfg: &mut web::ServiceConfig) {
    routes(cfg, "/v2/token");
}

/// The token endpoint of a repository's own path (`/repository/<name>/v2/token`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    routes(cfg, "/repository/{repository}/v2/token");
}

fn routes(cfg: &mut web::ServiceConfig, path: &str) {
    cfg.route(path, web::get().to(get))
        .route(path, web::post().to(post));
}

/// `GET /v2/token?service=&scope=…&offline_token=`.
async fn get(
    req: HttpRequest,
    security: web::Data<Security>,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, ApiError> {
    let security = realm(&req, security)?;
    let q = query(&req);
    let who = match req.headers().get("authorization") {
        None => Principal::Anonymous,
        Some(v) => {
            let value = v
                .to_str()
                .map_err(|_| refusal(&req, &security, AuthError::BadCredentials))?;
            let encoded = value
                .strip_prefix("Basic ")
                .or_else(|| value.strip_prefix("basic "))
                .ok_or_else(|| refusal(&req, &security, AuthError::BadCredentials))?;
            match basic_credentials(encoded).map_err(|e| refusal(&req, &security, e))? {
                None => Principal::Anonymous,
                Some((user, secret)) => login(&req, &security, &user, &secret).await?,
            }
        }
    };
    let scopes: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' '))
        .collect();
    let offline = param(&q, "offline_token") == Some("true");
    let service = param(&q, "service").unwrap_or_default();
    Ok(issue(
        &req, &security, &registry, &who, &scopes, service, offline,
    ))
}

/// `POST /v2/token` with an OAuth2 form body.
async fn post(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    security: web::Data<Security>,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, ApiError> {
    let security = realm(&req, security)?;
    let form = form.into_inner();
    let field = |k: &str| param(&form, k).unwrap_or_default();
    let who = match field("grant_type") {
        "password" => login(&req, &security, field("username"), field("password")).await?,
        "refresh_token" => {
            let claims = security
                .tokens
                .verify(field("refresh_token"), Use::Refresh, crate::clock::now())
                .map_err(|e| refusal(&req, &security, e))?;
            // A password change, lost role or deactivation since issue voids it.
            match claims.sub.clone() {
                Some(user) if security.token_is_current(&claims) => Principal::User(user.into()),
                _ => return Err(refusal(&req, &security, AuthError::BadCredentials)),
            }
        }
        _ => {
            return Err(ApiError::new(
                OciErrorCode::Unsupported,
                "grant_type must be password or refresh_token",
            )
            .with_status(actix_web::http::StatusCode::BAD_REQUEST))
        }
    };
    let scopes: Vec<&str> = field("scope").split(' ').collect();
    let offline = field("access_type") == "offline";
    Ok(issue(
        &req,
        &security,
        &registry,
        &who,
        &scopes,
        field("service"),
        offline,
    ))
}

/// The realm answers only with security on (before that, `/v2/token` was no endpoint).
fn realm(
    req: &HttpRequest,
    security: web::Data<Security>,
) -> Result<web::Data<Security>, ApiError> {
    super::metrics_mw::label(req, Some("token"), None);
    if !security.enabled() {
        return Err(ApiError::new(OciErrorCode::NameUnknown, "no such endpoint")
            .with_status(actix_web::http::StatusCode::NOT_FOUND));
    }
    Ok(security)
}

async fn login(
    req: &HttpRequest,
    security: &Security,
    user: &str,
    secret: &str,
) -> Result<Principal, ApiError> {
    let client = super::client_addr::client_ip(req);
    match security.login(user, secret, client).await {
        Ok(user) => Ok(Principal::User(user)),
        Err(e) => Err(refusal(req, security, e)),
    }
}

fn refusal(req: &HttpRequest, security: &Security, e: AuthError) -> ApiError {
    gate::registry_refusal(req, security, e, None)
}

fn issue(
    req: &HttpRequest,
    security: &Security,
    registry: &Registry,
    who: &Principal,
    scopes: &[&str],
    service: &str,
    offline: bool,
) -> HttpResponse {
    let access: Vec<Access> = scopes
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| grant(req, security, registry, who, s))
        .collect();
    let now = crate::clock::now();
    let ttl = security.settings.token_ttl_secs as i64;
    let sub = match who {
        Principal::User(u) => Some(u.to_string()),
        _ => None,
    };
    let generation = sub
        .as_deref()
        .and_then(|u| security.credential_generation(u));
    let claims = |usage, ttl, access| Claims {
        iss: ISSUER.into(),
        sub: sub.clone(),
        aud: service.into(),
        exp: now + ttl,
        nbf: now,
        iat: now,
        jti: uuid::Uuid::new_v4().to_string(),
        access,
        usage,
        generation: generation.clone(),
    };
    let token = security.tokens.sign(&claims(Use::Access, ttl, access));
    let mut body = json!({
        "token": token, "access_token": token, "expires_in": ttl,
    });
    // refresh_ttl_secs = 0: no identity tokens, so `docker login` stores the credentials
    // themselves, which other clients (podman) sharing its config can use.
    if offline && sub.is_some() && security.settings.refresh_ttl_secs > 0 {
        let refresh_ttl = security.settings.refresh_ttl_secs as i64;
        body["refresh_token"] =
            json!(security
                .tokens
                .sign(&claims(Use::Refresh, refresh_ttl, Vec::new())));
    }
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(body)
}

/// What one `type:name:actions` scope yields for `who`: the requested actions they hold.
fn grant(
    req: &HttpRequest,
    security: &Security,
    registry: &Registry,
    who: &Principal,
    scope: &str,
) -> Option<Access> {
    let (kind, rest) = scope.split_once(':')?;
    let (name, wanted) = rest.rsplit_once(':')?;
    let (repo, image) = resolve(req, registry, name)?;
    let config = repo.config();
    let may = |a: Action| security.permits(who, &config, a);
    let actions: Vec<String> = match kind {
        "registry" if name == "catalog" && may(Action::Browse) => vec!["*".into()],
        "repository" if ImageName::parse(image).is_ok() => {
            let held = [
                ("pull", may(Action::Read)),
                ("push", may(Action::Add) || may(Action::Edit)),
                ("delete", may(Action::Delete)),
            ];
            let wanted: Vec<&str> = wanted.split(',').collect();
            held.iter()
                .filter(|(a, ok)| *ok && (wanted.contains(a) || wanted.contains(&"*")))
                .map(|(a, _)| a.to_string())
                .collect()
        }
        _ => Vec::new(),
    };
    (!actions.is_empty()).then(|| Access {
        kind: kind.into(),
        name: name.into(),
        actions,
        repository: config.name.clone(),
    })
}

/// The repository a scope's name lives in, addressed the way `dispatch` resolves paths.
fn resolve<'a>(
    req: &'a HttpRequest,
    registry: &Registry,
    name: &'a str,
) -> Option<(crate::registry::Repository, &'a str)> {
    match Address::of(req).scope(name) {
        (Some(repo), image) => Some((registry.repository(repo)?, image)),
        (None, image) => Some((registry.default_repository()?, image)),
    }
}
