//! Nexus `/v1/repositories…`: list, read, create, update and delete docker hosted and group
//! repositories.
//!
//! A change that opens a connector port binds the port *before* the definition is
//! committed, so "port in use" refuses it with nothing half-created; if the registry then
//! refuses the change, the bound listener is simply dropped. Only after the commit does
//! the port start serving.

use std::net::TcpListener;

use actix_web::{web, HttpRequest, HttpResponse};

use super::base_url;
use super::error::AdminError;
use super::proxy_wire;
use super::wire::{self, RepositoryRequest};
use crate::http::ports::Ports;
use crate::model::{RepositoryConfig, RepositoryKind};
use crate::registry::{Registry, Repository};

/// `GET /v1/repositories`
pub async fn list(
    req: HttpRequest,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, AdminError> {
    let base = base_url(&req);
    let mut all = Vec::new();
    for config in registry.repository_configs() {
        let usage = usage(&registry, &config).await?;
        all.push(wire::repository_summary(&config, &base, usage));
    }
    Ok(HttpResponse::Ok().json(all))
}

/// A hosted repository's stored bytes and blobs; `None` for groups.
async fn usage(
    registry: &Registry,
    config: &RepositoryConfig,
) -> Result<Option<(u64, u64)>, AdminError> {
    if !config.kind.stores_content() {
        return Ok(None);
    }
    Ok(Some(registry.repository_usage(&config.name).await?))
}

/// `GET /v1/repositories/{name}`
pub async fn get(
    req: HttpRequest,
    name: web::Path<String>,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, AdminError> {
    let config = find(&registry, &name)?;
    let usage = usage(&registry, &config).await?;
    Ok(HttpResponse::Ok().json(wire::repository_summary(&config, &base_url(&req), usage)))
}

/// `DELETE /v1/repositories/{name}`: the definition and its images' metadata go at once;
/// blob files stay until garbage collection. Its connector port closes.
pub async fn delete(
    name: web::Path<String>,
    registry: web::Data<Registry>,
    connectors: web::Data<dyn Ports>,
) -> Result<HttpResponse, AdminError> {
    registry.delete_repository(&name).await?;
    connectors.stop(&name).await;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/repositories/docker/{type}/{name}`: 404 for a repository of another type.
pub async fn get_docker(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, AdminError> {
    let (kind, name) = path.into_inner();
    let kind = wire::parse_kind(&kind)?;
    let config = find(&registry, &name)?;
    if config.kind != kind {
        return Err(AdminError::repository_not_found());
    }
    let mut detail = wire::repository_detail(&config, &base_url(&req));
    if let Some(Repository::Hosted(h)) = registry.repository(&name) {
        if let Some(proxy) = h.proxy() {
            detail["berthProxyStatus"] = proxy_wire::status(&proxy.status());
        }
    }
    Ok(HttpResponse::Ok().json(detail))
}

/// `POST /v1/repositories/docker/{type}` → 201.
pub async fn create(
    kind: web::Path<String>,
    body: web::Bytes,
    registry: web::Data<Registry>,
    connectors: web::Data<dyn Ports>,
) -> Result<HttpResponse, AdminError> {
    let kind = wire::parse_kind(&kind)?;
    let config = wire::parse_body::<RepositoryRequest>(&body)?.into_config(kind, None)?;
    if registry.repository(&config.name).is_some() {
        return Err(AdminError::invalid(
            "name",
            "Name is already used, must be unique (ignoring case)",
        ));
    }
    check_references(&registry, &config)?;
    super::cleanup::check_attached(&registry, &config).await?;
    let listener = bind(&**connectors, &config)?;
    registry.create_repository(config.clone()).await?;
    serve(connectors, &config, listener).await?;
    Ok(HttpResponse::Created().finish())
}

/// `PUT /v1/repositories/docker/{type}/{name}` → 204. The body replaces the definition;
/// its name must be the path's, its type the current one.
pub async fn update(
    path: web::Path<(String, String)>,
    body: web::Bytes,
    registry: web::Data<Registry>,
    connectors: web::Data<dyn Ports>,
) -> Result<HttpResponse, AdminError> {
    let (kind, name) = path.into_inner();
    let kind = wire::parse_kind(&kind)?;
    let current = find(&registry, &name)?;
    if current.kind != kind {
        return Err(AdminError::invalid(
            "*",
            format!(
                "repository {name} is a {} repository; its type cannot change",
                wire::kind_name(current.kind)
            ),
        ));
    }
    let mut config =
        wire::parse_body::<RepositoryRequest>(&body)?.into_config(kind, Some(&name))?;
    keep_password(&current, &mut config);
    check_references(&registry, &config)?;
    super::cleanup::check_attached(&registry, &config).await?;
    let listener = bind(&**connectors, &config)?;
    registry.update_repository(config.clone()).await?;
    serve(connectors, &config, listener).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn find(registry: &Registry, name: &str) -> Result<RepositoryConfig, AdminError> {
    registry
        .repository(name)
        .map(|r| (*r.config()).clone())
        .ok_or_else(AdminError::repository_not_found)
}

/// Field-level 400s for references the registry would also refuse, so clients learn which
/// field is wrong. The registry's own whole-set validation (cycles, ports) still decides.
fn check_references(registry: &Registry, config: &RepositoryConfig) -> Result<(), AdminError> {
    // A group stores nothing, but Nexus still requires it to name an existing store.
    if registry.blob_store(&config.blob_store).is_none() {
        return Err(AdminError::invalid(
            "storage.blobStoreName",
            format!("blob store {} does not exist", config.blob_store),
        ));
    }
    if let Some(missing) = config
        .members
        .iter()
        .find(|m| registry.repository(m).is_none())
    {
        return Err(AdminError::invalid(
            "group.memberNames",
            format!("repository {missing} does not exist"),
        ));
    }
    if let Some(w) = &config.writable_member {
        let hosted = registry
            .repository(w)
            .is_some_and(|r| r.config().kind == RepositoryKind::Hosted);
        if !hosted {
            return Err(AdminError::invalid(
                "group.writableMember",
                format!("{w} is not a hosted repository"),
            ));
        }
    }
    Ok(())
}

/// Binds the repository's new port, if it has one the server does not already serve for it.
fn bind(
    connectors: &dyn Ports,
    config: &RepositoryConfig,
) -> Result<Option<TcpListener>, AdminError> {
    match config.http_port {
        Some(port) => connectors
            .bind(&config.name, port)
            .map_err(|e| AdminError::invalid("docker.httpPort", e)),
        None => Ok(None),
    }
}

/// After a committed change: serve a newly bound port, or close one the definition dropped.
async fn serve(
    connectors: web::Data<dyn Ports>,
    config: &RepositoryConfig,
    listener: Option<TcpListener>,
) -> Result<(), AdminError> {
    match (listener, config.http_port) {
        (Some(listener), _) => connectors.start(&config.name, listener).await.map_err(|e| {
            AdminError::Internal(format!(
                "repository {} saved but its port did not start: {e}",
                config.name
            ))
        }),
        (None, None) => {
            connectors.stop(&config.name).await;
            Ok(())
        }
        // The port it already serves.
        (None, Some(_)) => Ok(()),
    }
}

/// The upstream password is write-only, so a GET result PUT back has none: an update that
/// names the same upstream user without a password keeps the stored one.
fn keep_password(current: &RepositoryConfig, new: &mut RepositoryConfig) {
    if let (Some(old), Some(new)) = (&current.proxy, &mut new.proxy) {
        if new.password.is_none() && new.username.is_some() && new.username == old.username {
            new.password = old.password.clone();
        }
    }
}
