//! Security administration on one page: active realms, anonymous access, roles (built from
//! privileges, filtered — "docker" by default — without JavaScript) and users, each
//! created, edited (`?user=` / `?role=` opens the edit form) and deleted. Each form goes to
//! the `/service/rest/v1/security/…` handler in-process.

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
    /// The user whose edit form is open.
    user: Option<String>,
    /// The role whose edit form is open.
    role: Option<String>,
}

/// What the page shows besides the lists: the privilege filter and the open edit forms.
#[derive(Default)]
struct View<'a> {
    filter: &'a str,
    user: Option<&'a str>,
    role: Option<&'a str>,
}

/// `GET /ui/admin/security[?filter=]`
pub async fn overview(req: HttpRequest, q: web::Query<Query>) -> Result<HttpResponse, UiError> {
    let filter = q.filter.clone().unwrap_or_else(|| "docker".into());
    let view = View {
        filter: &filter,
        user: q.user.as_deref(),
        role: q.role.as_deref(),
    };
    render(&req, q.done.clone(), Vec::new(), view).await
}

async fn render(
    req: &HttpRequest,
    done: Option<String>,
    errors: Vec<String>,
    view: View<'_>,
) -> Result<HttpResponse, UiError> {
    let filter = view.filter;
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
    let edit_role = view.role.and_then(|id| {
        roles
            .as_array()
            .and_then(|all| all.iter().find(|r| r["id"] == id).cloned())
    });
    // Editing keeps the role's privileges the filter hides: they are listed too, ticked.
    let mut role_privileges: Vec<Value> = privileges.clone();
    if let Some(role) = &edit_role {
        for name in role["privileges"].as_array().cloned().unwrap_or_default() {
            if !role_privileges.iter().any(|p| p["name"] == name) {
                role_privileges.push(json!({ "name": name }));
            }
        }
    }
    let users_query = web::Query::from_query("").map_err(|e| UiError::Internal(e.to_string()))?;
    let users = call(ok(
        principals::list_users(security.clone(), users_query).await
    ))
    .await?;
    let edit_user = view.user.and_then(|id| {
        users
            .as_array()
            .and_then(|all| all.iter().find(|u| u["userId"] == id).cloned())
    });
    let failed = !errors.is_empty();
    let mut response = page(
        req,
        &viewer,
        "admin_security.html",
        context! {
            available => available, active => active, anonymous => anonymous,
            privileges => privileges, roles => roles, users => users, filter => filter,
            done => done, errors => errors, edit_user => edit_user, edit_role => edit_role,
            role_privileges => role_privileges,
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
    finish_editing(req, result, done, View::default()).await
}

/// As [`finish`], reopening the edit form that failed.
async fn finish_editing(
    req: &HttpRequest,
    result: Result<(), Vec<String>>,
    done: &str,
    view: View<'_>,
) -> Result<HttpResponse, UiError> {
    match result {
        Ok(()) => Ok(see_other(&format!("/ui/admin/security?done={done}"))),
        Err(errors) => {
            let view = View {
                filter: "docker",
                ..view
            };
            render(req, None, errors, view).await
        }
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

/// `POST /ui/admin/users/update`: names, email, status and roles (the password is changed
/// by the user, or with `berth admin reset-password`).
pub async fn user_update(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    admin_form(&req, &form)?;
    let id = form.get("id").unwrap_or_default().to_string();
    let body = bytes(json!({
        "userId": id, "firstName": form.get("first_name").unwrap_or_default(),
        "lastName": form.get("last_name").unwrap_or_default(),
        "emailAddress": form.get("email").unwrap_or_default(),
        "status": form.get("status"), "roles": form.all("role"),
    }));
    let path = web::Path::from(id.clone());
    let result = change(principals::update_user(security(&req), path, body)).await?;
    let view = View {
        user: Some(&id),
        ..View::default()
    };
    finish_editing(&req, result, "User+saved", view).await
}

/// `POST /ui/admin/users/delete` (id, confirm)
pub async fn user_delete(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    let viewer = admin_form(&req, &form)?;
    let id = form.get("id").unwrap_or_default().to_string();
    let result = match (
        form.checked("confirm"),
        viewer.user.as_deref() == Some(id.as_str()),
    ) {
        (false, _) => Err(vec!["Tick the confirmation box to delete.".to_string()]),
        // The API would allow it; the browser session would end mid-page.
        (true, true) => Err(vec![
            "You cannot delete the user you are signed in as.".into()
        ]),
        (true, false) => {
            let path = web::Path::from(id);
            change(principals::delete_user(security(&req), path)).await?
        }
    };
    finish(&req, result, "User+deleted").await
}

/// `POST /ui/admin/roles/update`: the ticked privileges and roles replace the role's.
pub async fn role_update(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    admin_form(&req, &form)?;
    let id = form.get("id").unwrap_or_default().to_string();
    let body = bytes(json!({
        "id": id, "name": form.get("name").unwrap_or(&id),
        "description": form.get("description").unwrap_or_default(),
        "privileges": form.all("privilege"), "roles": form.all("role"),
    }));
    let path = web::Path::from(id.clone());
    let result = change(principals::update_role(
        security(&req),
        registry(&req),
        path,
        body,
    ))
    .await?;
    let view = View {
        role: Some(&id),
        ..View::default()
    };
    finish_editing(&req, result, "Role+saved", view).await
}

/// `POST /ui/admin/roles/delete` (id, confirm)
pub async fn role_delete(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    admin_form(&req, &form)?;
    let result = match form.checked("confirm") {
        false => Err(vec!["Tick the confirmation box to delete.".to_string()]),
        true => {
            let path = web::Path::from(form.get("id").unwrap_or_default().to_string());
            change(principals::delete_role(security(&req), path)).await?
        }
    };
    finish(&req, result, "Role+deleted").await
}
