//! Security administration on one page: active realms, anonymous access, roles (built from
//! privileges, filtered — "docker" by default — without JavaScript) and users. Each form
//! goes to the `/service/rest/v1/security/…` handler in-process.

use actix_web::{web, HttpRequest, HttpResponse};
use minijinja::context;
use serde::Deserialize;
use serde_json::{json, Value};

use super::admin::{admin_form, call, change};
use super::form::FormData;
use super::render::page;
use super::signin::see_other;
use super::viewer::{registry, security, Viewer};
use super::UiError;
use crate::http::admin::security::{principals, settings};

#[derive(Deserialize)]
pub struct Query {
    done: Option<String>,
    filter: Option<String>,
}

/// `GET /ui/admin/security[?filter=]`
pub async fn overview(req: HttpRequest, q: web::Query<Query>) -> Result<HttpResponse, UiError> {
    let filter = q.filter.clone().unwrap_or_else(|| "docker".into());
    render(&req, q.done.clone(), Vec::new(), &filter).await
}

async fn render(
    req: &HttpRequest,
    done: Option<String>,
    errors: Vec<String>,
    filter: &str,
) -> Result<HttpResponse, UiError> {
    let viewer = Viewer::for_page(req)?;
    viewer.require_admin()?;
    let security = security(req);
    let ok = |r: HttpResponse| async { Ok::<_, crate::http::admin::AdminError>(r) };
    let available = call(ok(settings::available_realms().await)).await?;
    let active = call(ok(settings::active_realms(security.clone()).await)).await?;
    let anonymous = call(ok(settings::get_anonymous(security.clone()).await)).await?;
    let privileges = call(ok(settings::list_privileges(
        security.clone(),
        registry(req),
    )
    .await))
    .await?;
    let privileges: Vec<Value> = privileges
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p["name"].as_str().is_some_and(|n| n.contains(filter)))
        .collect();
    let roles = call(ok(principals::list_roles(security.clone()).await)).await?;
    let users_query = web::Query::from_query("").map_err(|e| UiError::Internal(e.to_string()))?;
    let users = call(ok(
        principals::list_users(security.clone(), users_query).await
    ))
    .await?;
    let failed = !errors.is_empty();
    let mut response = page(
        req,
        &viewer,
        "admin_security.html",
        context! {
            available => available, active => active, anonymous => anonymous,
            privileges => privileges, roles => roles, users => users, filter => filter,
            done => done, errors => errors,
        },
    )?;
    if failed {
        *response.status_mut() = actix_web::http::StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

async fn finish(
    req: &HttpRequest,
    result: Result<(), Vec<String>>,
    done: &str,
) -> Result<HttpResponse, UiError> {
    match result {
        Ok(()) => Ok(see_other(&format!("/ui/admin/security?done={done}"))),
        Err(errors) => render(req, None, errors, "docker").await,
    }
}

fn bytes(v: Value) -> web::Bytes {
    web::Bytes::from(v.to_string())
}

/// `POST /ui/admin/realms`: the ticked realms, in the listed order.
pub async fn realms_save(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    admin_form(&req, &form)?;
    let body = bytes(json!(form.all("realm")));
    let result = change(settings::set_active_realms(security(&req), body)).await?;
    finish(&req, result, "Realms+saved").await
}

/// `POST /ui/admin/anonymous`
pub async fn anonymous_save(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    admin_form(&req, &form)?;
    let current = security(&req).snapshot().anonymous.clone();
    let body = bytes(json!({
        "enabled": form.checked("enabled"),
        "userId": current.user_id, "realmName": current.realm_name,
    }));
    let result = change(settings::set_anonymous(security(&req), body)).await?;
    finish(&req, result, "Anonymous+access+saved").await
}

/// `POST /ui/admin/roles`: a new role from the ticked privileges (and roles).
pub async fn role_create(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    admin_form(&req, &form)?;
    let id = form.get("id");
    let body = bytes(json!({
        "id": id, "name": form.get("name").or(id), "description": form.get("description").unwrap_or_default(),
        "privileges": form.all("privilege"), "roles": form.all("role"),
    }));
    let result = change(principals::create_role(
        security(&req),
        registry(&req),
        body,
    ))
    .await?;
    finish(&req, result, "Role+created").await
}

/// `POST /ui/admin/users`
pub async fn user_create(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    admin_form(&req, &form)?;
    let body = bytes(json!({
        "userId": form.get("id"), "firstName": form.get("first_name").unwrap_or_default(),
        "lastName": form.get("last_name").unwrap_or_default(),
        "emailAddress": form.get("email").unwrap_or_default(),
        "password": form.raw("password"), "status": "active", "roles": form.all("role"),
    }));
    let result = change(principals::create_user(security(&req), body)).await?;
    finish(&req, result, "User+created").await
}
