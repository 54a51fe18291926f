//! Nexus `/v1/security/…`: users, roles, privileges, realms and anonymous access (shapes in
//! `nexus-rest-api.md` §3–§7). The rules live in `crate::auth::manage`; this module only
//! translates JSON and maps [`AuthError`] to the admin API's errors.

pub(crate) mod principals;
pub(crate) mod settings;
mod wire;

use actix_web::web;

use super::error::AdminError;
use crate::auth::AuthError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    use principals::*;
    use settings::*;
    cfg.route("/security/users", web::get().to(list_users))
        .route("/security/users", web::post().to(create_user))
        .route("/security/users/{id}", web::put().to(update_user))
        .route("/security/users/{id}", web::delete().to(delete_user))
        .route(
            "/security/users/{id}/change-password",
            web::put().to(change_password),
        )
        .route("/security/roles", web::get().to(list_roles))
        .route("/security/roles", web::post().to(create_role))
        .route("/security/roles/{id}", web::get().to(get_role))
        .route("/security/roles/{id}", web::put().to(update_role))
        .route("/security/roles/{id}", web::delete().to(delete_role))
        .route("/security/privileges", web::get().to(list_privileges))
        .route(
            "/security/privileges/repository-view",
            web::post().to(create_privilege),
        )
        .route(
            "/security/privileges/repository-view/{name}",
            web::put().to(update_privilege),
        )
        .route("/security/privileges/{name}", web::get().to(get_privilege))
        .route(
            "/security/privileges/{name}",
            web::delete().to(delete_privilege),
        )
        .route(
            "/security/realms/available",
            web::get().to(available_realms),
        )
        .route("/security/realms/active", web::get().to(active_realms))
        .route("/security/realms/active", web::put().to(set_active_realms))
        .route("/security/anonymous", web::get().to(get_anonymous))
        .route("/security/anonymous", web::put().to(set_anonymous));
}

impl From<AuthError> for AdminError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Invalid(id, m) => AdminError::invalid(&id, m),
            AuthError::NotFound(m) => AdminError::NotFound(m),
            AuthError::Conflict(m) => AdminError::invalid("*", m),
            other => AdminError::Internal(other.to_string()),
        }
    }
}
