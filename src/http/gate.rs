//! The security gate, in front of every handler when `security.enabled` is true.
//!
//! [`gate`] (middleware on the whole app) classifies the path with [`guard_of`], the table of
//! every route family, and refuses anything not in it. It authenticates the caller (Basic or
//! Bearer) and, for the admin API, requires the admin privilege. Registry routes need the
//! repository and endpoint first, so `dispatch` calls [`authorize`] once it has parsed them
//! and before any handler runs; the action comes from `Endpoint::actions`, the registry's
//! own table. Unauthenticated → 401 with a challenge (Bearer when the DockerToken realm is
//! active, else Basic); authenticated but not allowed → 403 `DENIED`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::addressing::{self, Address};
use super::admin::AdminError;
use super::endpoint::Endpoint;
use super::error::ApiError;
use super::origin::Origin;
use crate::auth::{Action, AuthError, Principal, Security};
use crate::model::RepositoryConfig;
use crate::oci::OciErrorCode;

/// Who may call a family of routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    /// Health and status: anyone.
    Public,
    /// The token endpoint authenticates by itself.
    Token,
    /// `/v2/…`: per endpoint and repository, decided by [`authorize`].
    Registry,
    /// Admin REST: a user holding `nx-all`.
    Admin,
    /// Metrics and `status/check`: a user holding `nx-metrics-all` (or `nx-all`).
    Metrics,
    /// The web UI (`/`, `/ui/…`): signs browsers in with its own session cookie and asks
    /// the same [`Security`] before every page and form (`crate::ui`).
    Ui,
}

/// The route table. Anything it does not list is denied.
pub fn guard_of(path: &str) -> Option<Guard> {
    let registry_path = |p: &str| p == "/v2" || p.starts_with("/v2/");
    let in_repository = addressing::path_routed(path).map(|(_, rest)| format!("/{rest}"));
    let v2 = in_repository.as_deref().unwrap_or(path);
    match path {
        "/healthz"
        | "/readyz"
        | "/service/rest/v1/status"
        | "/service/rest/v1/status/writable"
        | "/v1/search" => Some(Guard::Public),
        "/metrics" | "/service/rest/v1/status/check" => Some(Guard::Metrics),
        "/" | "/ui" => Some(Guard::Ui),
        _ if path.starts_with("/ui/") => Some(Guard::Ui),
        _ if v2 == "/v2/token" => Some(Guard::Token),
        _ if registry_path(v2) => Some(Guard::Registry),
        _ if in_repository.is_none() && path.starts_with("/service/rest/") => Some(Guard::Admin),
        _ if path.starts_with("/service/metrics/") => Some(Guard::Metrics),
        _ => None,
    }
}

/// The middleware.
pub async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(security) = req.app_data::<web::Data<Security>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    if !security.enabled() {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let refusal = match guard_of(req.path()) {
        Some(Guard::Public | Guard::Token | Guard::Ui) => None,
        Some(Guard::Registry) => match principal(req.request(), &security).await {
            Ok(who) => {
                req.extensions_mut().insert(who);
                None
            }
            Err(e) => Some(registry_refusal(req.request(), &security, e, None).error_response()),
        },
        Some(Guard::Admin) => admin_refusal(req.request(), &security, Guard::Admin).await,
        Some(Guard::Metrics) => admin_refusal(req.request(), &security, Guard::Metrics).await,
        None => {
            let e = match req.headers().contains_key(AUTHORIZATION) {
                true => AuthError::Denied,
                false => AuthError::Unauthenticated,
            };
            Some(registry_refusal(req.request(), &security, e, None).error_response())
        }
    };
    match refusal {
        Some(response) => Ok(req.into_response(response).map_into_right_body()),
        None => Ok(next.call(req).await?.map_into_left_body()),
    }
}

/// Credentials of a request: none (anonymous), Basic, or a bearer token.
pub async fn principal(req: &HttpRequest, security: &Security) -> Result<Principal, AuthError> {
    let Some(value) = req.headers().get(AUTHORIZATION) else {
        return Ok(Principal::Anonymous);
    };
    // Not `to_str`: its per-byte check of a long bearer token cost as much as the cache
    // lookup. Anything other than ASCII fails to decode below, as it failed `to_str` before.
    let value = std::str::from_utf8(value.as_bytes()).map_err(|_| AuthError::BadCredentials)?;
    let (scheme, rest) = value.split_once(' ').ok_or(AuthError::BadCredentials)?;
    if scheme.eq_ignore_ascii_case("basic") {
        // Every request of a Basic client comes here: the usual credentials decode on the
        // stack, long ones on the heap.
        let mut stack = [0u8; BASIC_ON_STACK];
        let heap;
        let decoded = match B64.decode_slice(rest.trim(), &mut stack) {
            Ok(n) => &stack[..n],
            Err(_) => {
                heap = B64
                    .decode(rest.trim())
                    .map_err(|_| AuthError::BadCredentials)?;
                &heap[..]
            }
        };
        return match split_basic(decoded)? {
            None => Ok(Principal::Anonymous),
            Some((user, secret)) => {
                let client = super::client_addr::client_ip(req);
                Ok(Principal::User(security.login(user, secret, client).await?))
            }
        };
    }
    // Switching the realm off (Basic only) also stops the tokens it issued.
    if scheme.eq_ignore_ascii_case("bearer") && security.token_realm_active() {
        let claims = security.access_token(rest.trim(), crate::clock::now())?;
        // Access tokens live `token_ttl_secs` and are checked against the live model on
        // every request (a removed privilege answers 403); the credential generation is
        // enforced where tokens are renewed, on the refresh grant.
        return match &claims.sub {
            Some(user) if !security.can_log_in(user) => Err(AuthError::BadCredentials),
            _ => Ok(Principal::Token(claims)),
        };
    }
    Err(AuthError::BadCredentials)
}

/// Basic credentials up to this many bytes (decoded) are decoded without allocating.
const BASIC_ON_STACK: usize = 512;

/// `user:password` from a Basic value; `None` for the empty `:` (Nexus: no credentials).
pub fn basic_credentials(encoded: &str) -> Result<Option<(String, String)>, AuthError> {
    let bytes = B64
        .decode(encoded.trim())
        .map_err(|_| AuthError::BadCredentials)?;
    Ok(split_basic(&bytes)?.map(|(user, secret)| (user.to_string(), secret.to_string())))
}

fn split_basic(decoded: &[u8]) -> Result<Option<(&str, &str)>, AuthError> {
    let text = std::str::from_utf8(decoded).map_err(|_| AuthError::BadCredentials)?;
    let (user, secret) = text.split_once(':').ok_or(AuthError::BadCredentials)?;
    if user.is_empty() && secret.is_empty() {
        return Ok(None);
    }
    Ok(Some((user, secret)))
}

/// Whether a parsed registry request may proceed. `Ok(false)` only for a catalog the
/// caller may not browse: it is answered as empty rather than refused.
pub fn authorize(
    req: &HttpRequest,
    repo: &RepositoryConfig,
    client_name: Option<&str>,
    endpoint: &Endpoint,
) -> Result<bool, ApiError> {
    let Some(security) = req.app_data::<web::Data<Security>>() else {
        return Ok(true);
    };
    if !security.enabled() {
        return Ok(true);
    }
    // Borrowed, not cloned: a token's claims would be copied on every request.
    let extensions = req.extensions();
    let who = extensions
        .get::<Principal>()
        .unwrap_or(&Principal::Anonymous);
    let actions = endpoint.actions(req.method());
    let refuse = |e| {
        Err(registry_refusal(
            req,
            security,
            e,
            client_name.map(|n| (n, actions)),
        ))
    };
    let may = |a: Action| security.permits(who, repo, a);
    match (who, endpoint) {
        (Principal::Anonymous, Endpoint::Base) => refuse(AuthError::Unauthenticated),
        (_, Endpoint::Base) => Ok(true),
        (Principal::Token(claims), Endpoint::Catalog) => {
            Ok(claims.grants_catalog(&repo.name) && may(Action::Browse))
        }
        (Principal::Anonymous, Endpoint::Catalog) if !may(Action::Browse) => {
            refuse(AuthError::Unauthenticated)
        }
        (_, Endpoint::Catalog) => Ok(may(Action::Browse)),
        (Principal::Token(claims), _) => {
            let name = client_name.unwrap_or_default();
            let scoped = actions
                .iter()
                .any(|a| claims.grants(&repo.name, name, docker_action(*a)));
            match (scoped, actions.iter().any(|a| may(*a))) {
                (true, true) => Ok(true),
                (false, _) if claims.sub.is_none() => refuse(AuthError::Unauthenticated),
                (false, _) => refuse(AuthError::InsufficientScope),
                (true, false) => refuse(AuthError::Denied),
            }
        }
        _ if actions.iter().any(|a| may(*a)) => Ok(true),
        (Principal::Anonymous, _) => refuse(AuthError::Unauthenticated),
        _ => refuse(AuthError::Denied),
    }
}

/// Whether the caller of a request that passed [`authorize`] may also do `action` on image
/// `client_name` of `repo`, for the decisions a handler makes after the gate: moving a tag
/// needs `edit`, mounting from an image needs `read` on it. A token must carry the scope
/// too. Always true with security off.
pub fn may(req: &HttpRequest, repo: &RepositoryConfig, client_name: &str, action: Action) -> bool {
    let Some(security) = req.app_data::<web::Data<Security>>() else {
        return true;
    };
    if !security.enabled() {
        return true;
    }
    let who = req
        .extensions()
        .get::<Principal>()
        .cloned()
        .unwrap_or(Principal::Anonymous);
    let scoped = match &who {
        Principal::Token(claims) => claims.grants(&repo.name, client_name, docker_action(action)),
        _ => true,
    };
    scoped && security.permits(&who, repo, action)
}

/// `/v2/` when no repository resolves: any authenticated caller (as for [`Endpoint::Base`]).
pub fn require_authenticated(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(security) = req.app_data::<web::Data<Security>>() else {
        return Ok(());
    };
    let anonymous = matches!(
        req.extensions().get::<Principal>(),
        Some(Principal::Anonymous)
    );
    if security.enabled() && anonymous {
        return Err(registry_refusal(
            req,
            security,
            AuthError::Unauthenticated,
            None,
        ));
    }
    Ok(())
}

/// Docker's token action for a repository action.
pub fn docker_action(action: Action) -> &'static str {
    match action {
        Action::Browse | Action::Read => "pull",
        Action::Add | Action::Edit => "push",
        Action::Delete => "delete",
    }
}

/// Turns an authentication or authorization failure on a registry route into the OCI error,
/// with the challenge that tells clients how to authenticate (and, for tokens, the scope).
pub fn registry_refusal(
    req: &HttpRequest,
    security: &Security,
    e: AuthError,
    scope: Option<(&str, &[Action])>,
) -> ApiError {
    match e {
        AuthError::Denied => ApiError::code(OciErrorCode::Denied),
        AuthError::Throttled => ApiError::new(OciErrorCode::TooManyRequests, e.to_string())
            .with_header(
                "retry-after",
                security.settings.login_window_secs.to_string(),
            ),
        AuthError::Busy => ApiError::new(OciErrorCode::TooManyRequests, e.to_string())
            .with_header("retry-after", "1".into()),
        AuthError::Unauthenticated | AuthError::BadCredentials | AuthError::InsufficientScope => {
            let message = match e {
                AuthError::BadCredentials => "authentication failed",
                AuthError::InsufficientScope => "the token does not grant this action",
                _ => "authentication required",
            };
            ApiError::new(OciErrorCode::Unauthorized, message)
                .with_header("www-authenticate", challenge(req, security, scope, &e))
        }
        other => {
            tracing::error!(error = %other, "security check failed");
            ApiError::code(OciErrorCode::Unavailable)
        }
    }
}

/// With security on, an anonymous caller learns nothing from a bad path (which repositories
/// exist, which names are valid): they are asked to authenticate instead.
pub fn hide(req: &HttpRequest, e: ApiError) -> ApiError {
    let Some(security) = req.app_data::<web::Data<Security>>() else {
        return e;
    };
    let anonymous = matches!(
        req.extensions().get::<Principal>(),
        Some(Principal::Anonymous)
    );
    if security.enabled() && anonymous && !matches!(req.path(), "/v2" | "/v2/") {
        return registry_refusal(req, security, AuthError::Unauthenticated, None);
    }
    e
}

fn challenge(
    req: &HttpRequest,
    security: &Security,
    scope: Option<(&str, &[Action])>,
    e: &AuthError,
) -> String {
    if !security.token_realm_active() {
        return "Basic realm=\"Berth\"".into();
    }
    let realm = realm_url(req);
    let mut out = format!("Bearer realm=\"{realm}\",service=\"{realm}\"");
    if let Some((name, actions)) = scope {
        let mut wanted: Vec<&str> = actions.iter().map(|a| docker_action(*a)).collect();
        if wanted.contains(&"push") {
            wanted.insert(0, "pull");
        }
        wanted.dedup();
        out.push_str(&format!(
            ",scope=\"repository:{name}:{}\"",
            wanted.join(",")
        ));
    }
    if matches!(e, AuthError::InsufficientScope) {
        out.push_str(",error=\"insufficient_scope\"");
    }
    out
}

/// `<scheme>://<host>[/repository/<repo>]/v2/token` as this client reaches the server
/// (forwarded scheme and host only from a trusted proxy: `origin`).
pub fn realm_url(req: &HttpRequest) -> String {
    let base = Address::of(req).realm_base();
    format!("{}{base}/v2/token", Origin::of(req).url())
}

/// The admin API (a user with the admin privilege) and metrics (the metrics privilege),
/// over Basic (as Nexus clients and Prometheus send).
async fn admin_refusal(
    req: &HttpRequest,
    security: &Security,
    guard: Guard,
) -> Option<HttpResponse> {
    let allowed = |user: &str| match guard {
        Guard::Metrics => security.may_read_metrics(user),
        _ => security.is_admin(user),
    };
    let refusal = match principal(req, security).await {
        Ok(Principal::User(user)) if allowed(&user) => return None,
        Ok(Principal::User(_)) | Ok(Principal::Token(_)) => {
            AdminError::Forbidden("Forbidden".into())
        }
        Ok(Principal::Anonymous) => AdminError::Unauthenticated("authentication required".into()),
        Err(e @ (AuthError::Throttled | AuthError::Busy)) => AdminError::Throttled(e.to_string()),
        Err(_) => AdminError::Unauthenticated("authentication failed".into()),
    };
    Some(refusal.error_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_family_has_a_guard_and_others_none() {
        assert_eq!(guard_of("/healthz"), Some(Guard::Public));
        assert_eq!(guard_of("/v2/"), Some(Guard::Registry));
        assert_eq!(guard_of("/v2"), Some(Guard::Registry));
        assert_eq!(guard_of("/v2/token"), Some(Guard::Token));
        assert_eq!(guard_of("/repository/r/v2/token"), Some(Guard::Token));
        assert_eq!(
            guard_of("/repository/r/v2/a/tags/list"),
            Some(Guard::Registry)
        );
        assert_eq!(
            guard_of("/service/rest/v1/security/users"),
            Some(Guard::Admin)
        );
        assert_eq!(guard_of("/service/rest/v1/status"), Some(Guard::Public));
        assert_eq!(
            guard_of("/service/metrics/prometheus"),
            Some(Guard::Metrics)
        );
        assert_eq!(guard_of("/metrics"), Some(Guard::Metrics));
        assert_eq!(
            guard_of("/service/rest/v1/status/check"),
            Some(Guard::Metrics)
        );
        assert_eq!(guard_of("/"), Some(Guard::Ui));
        assert_eq!(guard_of("/ui/browse/r"), Some(Guard::Ui));
        for denied in [
            "/uix",
            "/v2x",
            "/repository/r/service/rest/v1/x",
            "/favicon.ico",
            "/v1/",
        ] {
            assert_eq!(guard_of(denied), None, "{denied}");
        }
    }

    #[test]
    fn empty_basic_credentials_mean_anonymous() {
        assert!(basic_credentials("Og==").unwrap().is_none());
        let (u, p) = basic_credentials("dTpwOnE=").unwrap().unwrap();
        assert_eq!((u.as_str(), p.as_str()), ("u", "p:q"));
        assert!(basic_credentials("!!").is_err());
        assert!(split_basic(b"no-colon").is_err());
        assert!(split_basic(&[0xff, b':']).is_err(), "not UTF-8");
    }
}
