//! Nexus `/v1/cleanup-policies…` (`nexus-rest-api.md` §11): list, read, create, update,
//! delete; and Berth's `POST /v1/cleanup-policies/{name}/preview?repository=<repo>`, which
//! answers what applying this policy to the repository would delete now, in the shape of
//! the `repository.cleanup` task's report. Policy semantics are in `crate::cleanup`.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::error::AdminError;
use crate::cleanup::Policy;
use crate::registry::Registry;

fn parse(body: &[u8], path_name: Option<&str>) -> Result<Policy, AdminError> {
    Policy::from_body(body, path_name)
        .map_err(|(field, message)| AdminError::invalid(&field, message))
}

fn not_found(name: &str) -> AdminError {
    AdminError::NotFound(format!("Cleanup policy {name} not found"))
}

/// `GET /v1/cleanup-policies`
pub async fn list(registry: web::Data<Registry>) -> Result<HttpResponse, AdminError> {
    Ok(HttpResponse::Ok().json(registry.cleanup_policies().await?))
}

/// `GET /v1/cleanup-policies/{name}`
pub async fn get(
    registry: web::Data<Registry>,
    name: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let policy = registry
        .cleanup_policy(&name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    Ok(HttpResponse::Ok().json(policy))
}

/// `POST /v1/cleanup-policies` → 201; 409 if the name is taken.
pub async fn create(
    registry: web::Data<Registry>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let policy = parse(&body, None)?;
    if registry.cleanup_policy(&policy.name).await?.is_some() {
        return Err(AdminError::Conflict(format!(
            "Cleanup policy {} already exists",
            policy.name
        )));
    }
    registry.save_cleanup_policy(&policy).await?;
    Ok(HttpResponse::Created().json(policy))
}

/// `PUT /v1/cleanup-policies/{name}` → 204.
pub async fn update(
    registry: web::Data<Registry>,
    name: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    if registry.cleanup_policy(&name).await?.is_none() {
        return Err(not_found(&name));
    }
    let policy = parse(&body, Some(&name))?;
    registry.save_cleanup_policy(&policy).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /v1/cleanup-policies/{name}` → 204; 400 while a repository uses it.
pub async fn delete(
    registry: web::Data<Registry>,
    name: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    if registry.delete_cleanup_policy(&name).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(not_found(&name))
    }
}

#[derive(Deserialize)]
pub struct PreviewQuery {
    repository: Option<String>,
}

/// `POST /v1/cleanup-policies/{name}/preview?repository=<repo>` → 200
/// `{"repository","policies","tags":[{image,tag,digest,policies}],"manifests":[{image,digest}]}`.
pub async fn preview(
    registry: web::Data<Registry>,
    name: web::Path<String>,
    query: web::Query<PreviewQuery>,
) -> Result<HttpResponse, AdminError> {
    let repository = query
        .repository
        .as_deref()
        .ok_or_else(|| AdminError::Unprocessable("repository is required".into()))?;
    let policy = registry
        .cleanup_policy(&name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    let plan = registry
        .cleanup_plan(repository, std::slice::from_ref(&policy))
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "repository": repository,
        "policies": [policy.name],
        "tags": plan.tags,
        "manifests": plan.manifests,
    })))
}

/// Refuses a repository definition naming a policy that does not exist.
pub async fn check_attached(
    registry: &Registry,
    config: &crate::model::RepositoryConfig,
) -> Result<(), AdminError> {
    if config.cleanup_policies.is_empty() {
        return Ok(());
    }
    if !config.kind.stores_content() {
        return Err(AdminError::invalid(
            "cleanup.policyNames",
            "group repositories store nothing to clean up",
        ));
    }
    let all = registry.cleanup_policies().await?;
    for name in &config.cleanup_policies {
        if !all.iter().any(|p| &p.name == name) {
            return Err(AdminError::invalid(
                "cleanup.policyNames",
                format!("cleanup policy {name} does not exist"),
            ));
        }
    }
    Ok(())
}
