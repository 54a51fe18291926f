//! Privileges, realms and anonymous access.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::error::AdminError;
use super::super::wire::parse_body;
use super::wire::privilege_json;
use crate::auth::model::{builtin_privilege, builtin_privileges};
use crate::auth::service::REALMS;
use crate::auth::{Action, AnonymousSettings, Grant, Privilege, Security};
use crate::registry::Registry;

fn exists(registry: &Registry) -> impl Fn(&str) -> bool + '_ {
    |r| registry.repository(r).is_some()
}

/// `GET /v1/security/privileges`: built-in (derived from the repositories) and custom.
pub async fn list_privileges(
    security: web::Data<Security>,
    registry: web::Data<Registry>,
) -> HttpResponse {
    let names: Vec<String> = registry
        .repository_configs()
        .into_iter()
        .map(|c| c.name)
        .collect();
    let mut all = builtin_privileges(&names);
    let state = security.snapshot();
    let mut custom: Vec<&Privilege> = state.privileges.values().collect();
    custom.sort_by(|a, b| a.name.cmp(&b.name));
    all.extend(custom.into_iter().cloned());
    HttpResponse::Ok().json(all.iter().map(privilege_json).collect::<Vec<Value>>())
}

pub async fn get_privilege(
    security: web::Data<Security>,
    registry: web::Data<Registry>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let found = security.snapshot().privilege(&path, exists(&registry));
    let p = found.ok_or_else(|| AdminError::NotFound(format!("Privilege '{path}' not found")))?;
    Ok(HttpResponse::Ok().json(privilege_json(&p)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PrivilegeIn {
    name: Option<String>,
    description: Option<String>,
    format: Option<String>,
    repository: Option<String>,
    actions: Option<Vec<String>>,
}

fn privilege_in(body: &[u8], registry: &Registry) -> Result<Privilege, AdminError> {
    let p: PrivilegeIn = parse_body(body)?;
    let missing = |id: &str| AdminError::invalid(id, "may not be null");
    let name = p.name.ok_or_else(|| missing("name"))?;
    let format = p.format.ok_or_else(|| missing("format"))?;
    let repository = p.repository.ok_or_else(|| missing("repository"))?;
    if format != "docker" && format != "*" {
        return Err(AdminError::invalid(
            "format",
            format!("Invalid format '{format}' supplied."),
        ));
    }
    if !repository.contains('*') && registry.repository(&repository).is_none() {
        return Err(AdminError::invalid(
            "repository",
            format!("Invalid repository '{repository}' supplied."),
        ));
    }
    let mut actions = Vec::new();
    for a in p.actions.ok_or_else(|| missing("actions"))? {
        match a.to_ascii_uppercase().as_str() {
            "ALL" | "*" => actions = Action::ALL.to_vec(),
            other => match Action::parse(other) {
                Some(action) if !actions.contains(&action) => actions.push(action),
                Some(_) => {}
                None => {
                    return Err(AdminError::invalid(
                        "actions",
                        format!("Invalid action '{a}'"),
                    ))
                }
            },
        }
    }
    Ok(Privilege {
        name,
        description: p.description.unwrap_or_default(),
        grant: Grant::RepositoryView {
            format,
            repository,
            actions,
        },
        read_only: false,
    })
}

/// `POST /v1/security/privileges/repository-view` → 201.
pub async fn create_privilege(
    security: web::Data<Security>,
    registry: web::Data<Registry>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let p = privilege_in(&body, &registry)?;
    let builtin = builtin_privilege(&p.name, |_| true).is_some();
    security.save_privilege(p, true, builtin).await?;
    Ok(HttpResponse::Created().finish())
}

/// `PUT /v1/security/privileges/repository-view/{name}` → 204.
pub async fn update_privilege(
    security: web::Data<Security>,
    registry: web::Data<Registry>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let p = privilege_in(&body, &registry)?;
    if p.name != *path {
        return Err(AdminError::Conflict(
            "The privilege name cannot change".into(),
        ));
    }
    let builtin = builtin_privilege(&p.name, |_| true).is_some();
    security.save_privilege(p, false, builtin).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn delete_privilege(
    security: web::Data<Security>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let builtin = builtin_privilege(&path, |_| true).is_some();
    security.delete_privilege(&path, builtin).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn available_realms() -> HttpResponse {
    let list: Vec<Value> = REALMS
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name}))
        .collect();
    HttpResponse::Ok().json(list)
}

pub async fn active_realms(security: web::Data<Security>) -> HttpResponse {
    HttpResponse::Ok().json(&security.snapshot().realms)
}

/// `PUT /v1/security/realms/active` → 204.
pub async fn set_active_realms(
    security: web::Data<Security>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let realms: Vec<String> = parse_body(&body)?;
    security.set_realms(realms).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn get_anonymous(security: web::Data<Security>) -> HttpResponse {
    HttpResponse::Ok().json(&security.snapshot().anonymous)
}

/// `PUT /v1/security/anonymous` → 200 + the resulting settings.
pub async fn set_anonymous(
    security: web::Data<Security>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let settings: AnonymousSettings = parse_body(&body)?;
    security.set_anonymous(settings).await?;
    Ok(HttpResponse::Ok().json(&security.snapshot().anonymous))
}
