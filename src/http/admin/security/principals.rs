//! Users and roles.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::Value;

use super::super::error::AdminError;
use super::super::wire::parse_body;
use super::wire::{role_json, user_json};
use crate::auth::{Role, Security, User, UserStatus};
use crate::registry::Registry;

#[derive(Deserialize)]
pub struct UserQuery {
    #[serde(rename = "userId")]
    user_id: Option<String>,
}

/// `GET /v1/security/users?userId=<term>`: `userId` is a search term, as in Nexus.
pub async fn list_users(security: web::Data<Security>, q: web::Query<UserQuery>) -> HttpResponse {
    let state = security.snapshot();
    let mut users: Vec<&User> = state
        .users
        .values()
        .filter(|u| {
            q.user_id
                .as_ref()
                .is_none_or(|t| u.user_id.contains(t.as_str()))
        })
        .collect();
    users.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    HttpResponse::Ok().json(users.into_iter().map(user_json).collect::<Vec<Value>>())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct UserIn {
    user_id: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    email_address: Option<String>,
    password: Option<String>,
    status: Option<String>,
    roles: Option<Vec<String>>,
}

fn required<T>(v: Option<T>, id: &str) -> Result<T, AdminError> {
    v.ok_or_else(|| AdminError::invalid(id, "may not be null"))
}

impl UserIn {
    fn into_user(self) -> Result<(User, Option<String>), AdminError> {
        let status = required(self.status, "status")?;
        let status = UserStatus::parse(&status).ok_or_else(|| {
            AdminError::invalid(
                "status",
                "must be one of active, locked, disabled, changepassword",
            )
        })?;
        let user = User {
            user_id: required(self.user_id, "userId")?,
            first_name: required(self.first_name, "firstName")?,
            last_name: required(self.last_name, "lastName")?,
            email_address: required(self.email_address, "emailAddress")?,
            status,
            roles: self.roles.unwrap_or_default(),
            password_hash: String::new(),
            credential_generation: String::new(),
        };
        Ok((user, self.password))
    }
}

/// `POST /v1/security/users` → 200 + the user.
pub async fn create_user(
    security: web::Data<Security>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let (user, secret) = parse_body::<UserIn>(&body)?.into_user()?;
    if user.roles.is_empty() {
        return Err(AdminError::invalid("roles", "may not be empty"));
    }
    let user = security
        .create_user(user, secret.as_deref().unwrap_or_default())
        .await?;
    Ok(HttpResponse::Ok().json(user_json(&user)))
}

/// `PUT /v1/security/users/{id}` → 204 (the password is not changed here).
pub async fn update_user(
    security: web::Data<Security>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let (user, _) = parse_body::<UserIn>(&body)?.into_user()?;
    if user.user_id != *path {
        return Err(AdminError::invalid(
            "userId",
            "The path's userId does not match the body",
        ));
    }
    security.update_user(user).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn delete_user(
    security: web::Data<Security>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    security.delete_user(&path).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `PUT /v1/security/users/{id}/change-password`, body = the password as text/plain.
pub async fn change_password(
    security: web::Data<Security>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let secret = std::str::from_utf8(&body)
        .map_err(|_| AdminError::invalid("password", "must be UTF-8 text"))?;
    security.change_password(&path, secret).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn list_roles(security: web::Data<Security>) -> HttpResponse {
    let state = security.snapshot();
    let mut roles: Vec<&Role> = state.roles.values().collect();
    roles.sort_by(|a, b| a.id.cmp(&b.id));
    HttpResponse::Ok().json(roles.into_iter().map(role_json).collect::<Vec<Value>>())
}

pub async fn get_role(
    security: web::Data<Security>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let state = security.snapshot();
    let role = state
        .roles
        .get(path.as_str())
        .ok_or_else(|| AdminError::NotFound(format!("Role '{path}' not found")))?;
    Ok(HttpResponse::Ok().json(role_json(role)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RoleIn {
    id: Option<String>,
    name: Option<String>,
    description: Option<String>,
    privileges: Option<Vec<String>>,
    roles: Option<Vec<String>>,
}

fn role_in(body: &[u8]) -> Result<Role, AdminError> {
    let r: RoleIn = parse_body(body)?;
    Ok(Role {
        id: required(r.id, "id")?,
        name: required(r.name, "name")?,
        description: r.description.unwrap_or_default(),
        privileges: r.privileges.unwrap_or_default(),
        roles: r.roles.unwrap_or_default(),
        read_only: false,
    })
}

pub async fn create_role(
    security: web::Data<Security>,
    registry: web::Data<Registry>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let role = role_in(&body)?;
    let role = security
        .save_role(role, true, |r| registry.repository(r).is_some())
        .await?;
    Ok(HttpResponse::Ok().json(role_json(&role)))
}

pub async fn update_role(
    security: web::Data<Security>,
    registry: web::Data<Registry>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let role = role_in(&body)?;
    if role.id != *path {
        return Err(AdminError::Conflict(format!(
            "The role id in the path ({path}) does not match the body ({})",
            role.id
        )));
    }
    security
        .save_role(role, false, |r| registry.repository(r).is_some())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn delete_role(
    security: web::Data<Security>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    security.delete_role(&path).await?;
    Ok(HttpResponse::NoContent().finish())
}
