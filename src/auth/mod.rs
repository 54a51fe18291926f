//! Authentication and authorization (issue 5): local users, roles and privileges in the
//! Nexus model, the Docker Bearer Token realm, anonymous access and login throttling.
//!
//! - [`model`]: users, roles, privileges, actions; pure permission evaluation.
//! - [`service`]: [`Security`], the in-memory model (loaded at start, written through to the
//!   database) that the HTTP gate asks "who is this?" and "may they?".
//! - [`manage`]: the changes the admin REST API makes (validated like Nexus does).
//! - [`token`]: HS256 JWTs signed with a key Berth generates and keeps in `<data>/token.key`.
//! - [`password`], [`verifier`], [`throttle`]: hashing, the bounded pool that checks
//!   passwords, failed-login limits. Persistence is the metadata layer's
//!   [`crate::meta::SecurityRecords`].
//!
//! Nothing here knows HTTP; `crate::http::gate` maps [`AuthError`] to responses.

pub mod manage;
pub mod model;
pub mod password;
pub mod reset;
pub mod service;
pub mod session;
pub mod throttle;
pub mod token;
pub mod verifier;

pub use model::{Action, Grant, Privilege, Role, User, UserStatus};
pub use service::{AnonymousSettings, Principal, Security, State};

/// Why a request was not authenticated or authorized, or a security change refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No usable credentials: 401 with a challenge.
    #[error("authentication required")]
    Unauthenticated,
    /// Wrong user name or password, or a token that does not verify: 401.
    #[error("invalid credentials")]
    BadCredentials,
    /// A valid token that lacks the scope for this request: 401 so the client asks again.
    #[error("insufficient scope")]
    InsufficientScope,
    /// Too many failed logins from this client or for this user: 429.
    #[error("too many failed login attempts; try again later")]
    Throttled,
    /// Too many logins are being checked right now (the verifier queue is full): 429 with a
    /// short `Retry-After`.
    #[error("too many logins in progress; try again in a moment")]
    Busy,
    /// Authenticated, but the privilege is missing: 403 DENIED.
    #[error("access to the requested resource is denied")]
    Denied,
    /// A refused change: `(field id, message)` for the admin API's 400.
    #[error("{1}")]
    Invalid(String, String),
    #[error("{0}")]
    NotFound(String),
    /// Path and body disagree (Nexus answers 409 for roles and privileges).
    #[error("{0}")]
    Conflict(String),
    #[error("security store: {0}")]
    Store(String),
}

impl From<crate::meta::MetaError> for AuthError {
    fn from(e: crate::meta::MetaError) -> Self {
        AuthError::Store(e.to_string())
    }
}

impl AuthError {
    pub fn invalid(id: &str, message: impl Into<String>) -> Self {
        AuthError::Invalid(id.into(), message.into())
    }
}
