//! Who is looking at a page: the session behind the cookie (or an anonymous visitor), and
//! the checks every handler makes before it reads or changes anything.
//!
//! With security off the UI follows the API: anyone may browse, and administration is open
//! to the addresses in `admin_allowed_from`. With security on, browsing asks
//! `Security::permits` for the visitor (a signed-in user, else anonymous), administration
//! needs `nx-all` *and* an allowed address, exactly as `/service/rest/…` does.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{web, HttpRequest};

use super::UiError;
use crate::auth::{Action, Principal, Security};
use crate::model::RepositoryConfig;
use crate::registry::Registry;
use crate::usage::Usage;

/// The session cookie.
pub const SESSION_COOKIE: &str = "berth_session";

/// The visitor of one request.
#[derive(Clone, Debug, Default)]
pub struct Viewer {
    /// The signed-in user, if any.
    pub user: Option<String>,
    /// The session's CSRF token (signed-in visitors only).
    pub csrf: Option<String>,
    /// May use the administration pages.
    pub admin: bool,
    /// Whether `security.enabled` is on.
    pub secured: bool,
}

impl Viewer {
    /// Reads the session cookie; an unknown or expired session is an anonymous visitor.
    pub fn of(req: &HttpRequest) -> Viewer {
        let security = security(req);
        let session = req
            .cookie(SESSION_COOKIE)
            .and_then(|c| security.sessions.get(c.value()))
            .filter(|s| security.can_log_in(&s.user));
        let user = session.as_ref().map(|s| s.user.clone());
        let admin_address = admin_address(req);
        let admin = match (&user, security.enabled()) {
            (_, false) => admin_address,
            (Some(u), true) => admin_address && security.is_admin(u),
            (None, true) => false,
        };
        Viewer {
            csrf: session.map(|s| s.csrf),
            user,
            admin,
            secured: security.enabled(),
        }
    }

    /// The visitor of a page other than sign-in and password change: someone who still has
    /// to replace the initial password is sent there first.
    pub fn for_page(req: &HttpRequest) -> Result<Viewer, UiError> {
        let viewer = Viewer::of(req);
        match viewer.must_change_password(req) {
            true => Err(UiError::ChangePassword),
            false => Ok(viewer),
        }
    }

    /// A signed-in user who still has to replace the initial password goes nowhere else.
    pub fn must_change_password(&self, req: &HttpRequest) -> bool {
        self.user
            .as_deref()
            .is_some_and(|u| security(req).must_change_password(u))
    }

    /// May this visitor see `repo` (Browse, as `/v2/_catalog` decides)?
    pub fn may(&self, req: &HttpRequest, repo: &RepositoryConfig, action: Action) -> bool {
        let security = security(req);
        if !security.enabled() {
            return true;
        }
        let who = match &self.user {
            Some(u) => Principal::User(u.as_str().into()),
            None => Principal::Anonymous,
        };
        security.permits(&who, repo, action)
    }

    /// Administration pages: 403 for a signed-in non-admin, sign-in for anyone else.
    pub fn require_admin(&self) -> Result<(), UiError> {
        match (self.admin, &self.user) {
            (true, _) => Ok(()),
            (false, Some(_)) => Err(UiError::Forbidden),
            (false, None) if self.secured => Err(UiError::SignIn),
            (false, None) => Err(UiError::Forbidden),
        }
    }

    /// A state-changing form: the session's CSRF token must come back with it, and the
    /// request must come from this origin. Refused with 403 either way.
    pub fn check_form(&self, req: &HttpRequest, token: Option<&str>) -> Result<(), UiError> {
        if !same_origin(req) {
            return Err(UiError::Forbidden);
        }
        match (self.csrf.as_deref(), token) {
            (Some(expected), Some(sent)) if same_secret(expected, sent) => Ok(()),
            // Security off and nobody signed in: there is no session to ride on; the
            // origin check above is what stops a cross-site post.
            (None, _) if !self.secured && self.user.is_none() => Ok(()),
            _ => Err(UiError::Forbidden),
        }
    }
}

/// Compares two tokens in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub fn security(req: &HttpRequest) -> web::Data<Security> {
    req.app_data::<web::Data<Security>>()
        .cloned()
        .expect("Security is registered on the app")
}

pub fn registry(req: &HttpRequest) -> web::Data<Registry> {
    req.app_data::<web::Data<Registry>>()
        .cloned()
        .expect("Registry is registered on the app")
}

pub fn usage(req: &HttpRequest) -> web::Data<Usage> {
    req.app_data::<web::Data<Usage>>()
        .cloned()
        .expect("Usage is registered on the app")
}

/// The admin API's address rule (`admin_allowed_from`), applied to the UI too.
fn admin_address(req: &HttpRequest) -> bool {
    crate::http::state::AdminAllowList::admits(req)
}

/// Browsers send `Origin` on every POST; when present it must name this host. Some send
/// `Sec-Fetch-Site` too, which must not say `cross-site`.
pub fn same_origin(req: &HttpRequest) -> bool {
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site") == Some("cross-site") {
        return false;
    }
    let Some(origin) = header("origin") else {
        return true;
    };
    let host = header("host").unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority == host)
}

/// The session cookie: HttpOnly, SameSite=Strict, Secure when served over TLS.
pub fn session_cookie(req: &HttpRequest, value: String) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(req.app_config().secure())
        .finish()
}
