//! Administration pages (admin only): blob stores, repositories, tasks here; realms,
//! anonymous access, roles and users in [`super::admin_security`].
//!
//! Each form becomes the admin REST API's JSON body and goes to the API's own handler,
//! called in-process ([`call`], [`change`]); its `AdminError` messages (`field: message`)
//! are what the form shows, so the browser and `curl` are refused with the same words.

use std::future::Future;

use actix_web::{web, HttpRequest, HttpResponse};
use minijinja::context;
use serde::Deserialize;
use serde_json::{json, Value};

use super::form::FormData;
use super::render::page;
use super::signin::see_other;
use super::viewer::{registry, Viewer};
use super::UiError;
use crate::http::admin::{blobstores, repositories, tasks, AdminError};
use crate::http::ports::Ports;
use crate::tasks::TaskService;

pub fn configure(cfg: &mut web::ServiceConfig) {
    use super::admin_security as sec;
    cfg.route("/admin", web::get().to(index))
        .route("/admin/blobstores", web::get().to(blob_stores))
        .route("/admin/blobstores", web::post().to(blob_store_create))
        .route(
            "/admin/blobstores/delete",
            web::post().to(blob_store_delete),
        )
        .route("/admin/repositories", web::get().to(repository_list))
        .route(
            "/admin/repositories/delete",
            web::post().to(repository_delete),
        )
        .route("/admin/repositories/form", web::get().to(repository_form))
        .route("/admin/repositories/form", web::post().to(repository_save))
        .route("/admin/tasks", web::get().to(task_list))
        .route("/admin/tasks/run", web::post().to(task_run))
        .route("/admin/realms", web::post().to(sec::realms_save))
        .route("/admin/anonymous", web::post().to(sec::anonymous_save))
        .route("/admin/security", web::get().to(sec::overview))
        .route("/admin/roles", web::post().to(sec::role_create))
        .route("/admin/users", web::post().to(sec::user_create))
        .route("/admin/users/update", web::post().to(sec::user_update))
        .route("/admin/users/delete", web::post().to(sec::user_delete))
        .route("/admin/roles/update", web::post().to(sec::role_update))
        .route("/admin/roles/delete", web::post().to(sec::role_delete))
        .route(
            "/admin/blobstores/update",
            web::post().to(blob_store_update),
        );
}

/// Calls an admin handler in-process and returns its JSON body (`null` when empty).
pub async fn call(
    handler: impl Future<Output = Result<HttpResponse, AdminError>>,
) -> Result<Value, UiError> {
    match handler.await {
        Ok(response) => Ok(body_json(response).await),
        Err(AdminError::NotFound(message)) => Err(UiError::NotFound(message)),
        Err(e) => Err(UiError::Internal(e.to_string())),
    }
}

/// Calls a state-changing admin handler: `Ok(Err(messages))` when it refused the input.
pub async fn change(
    handler: impl Future<Output = Result<HttpResponse, AdminError>>,
) -> Result<Result<(), Vec<String>>, UiError> {
    match handler.await {
        Ok(_) => Ok(Ok(())),
        Err(e) => refusal(e).map(Err),
    }
}

/// An admin handler's refusal as a form shows it: one message per field (`field: message`);
/// an internal failure stays an error.
pub fn refusal(e: AdminError) -> Result<Vec<String>, UiError> {
    match e {
        AdminError::Invalid(list) => Ok(list
            .into_iter()
            .map(|(id, m)| match id.as_str() {
                "*" => m,
                _ => format!("{id}: {m}"),
            })
            .collect()),
        AdminError::Internal(detail) => Err(UiError::Internal(detail)),
        other => Ok(vec![other.to_string()]),
    }
}

async fn body_json(response: HttpResponse) -> Value {
    let bytes = actix_web::body::to_bytes(response.into_body())
        .await
        .unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// The administrator behind a posted form, CSRF token and origin checked (403 otherwise).
pub fn admin_form(req: &HttpRequest, form: &FormData) -> Result<Viewer, UiError> {
    let viewer = Viewer::for_page(req)?;
    viewer.require_admin()?;
    viewer.check_form(req, form.csrf())?;
    Ok(viewer)
}

pub fn admin_page(req: &HttpRequest) -> Result<Viewer, UiError> {
    let viewer = Viewer::for_page(req)?;
    viewer.require_admin()?;
    Ok(viewer)
}

/// `?done=` after a successful change, shown once on the page it redirects to.
#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    name: Option<String>,
}

async fn index(req: HttpRequest) -> Result<HttpResponse, UiError> {
    let viewer = admin_page(&req)?;
    page(&req, &viewer, "admin_index.html", context! {})
}

/// `GET /ui/admin/blobstores[?name=]`: the list, the create form, and with `name` the
/// quota form of that store.
async fn blob_stores(req: HttpRequest, q: web::Query<Done>) -> Result<HttpResponse, UiError> {
    let editing = match &q.name {
        Some(name) => {
            let mut current = call(blobstores::get(
                web::Path::from(name.clone()),
                registry(&req),
            ))
            .await?;
            current["name"] = name.as_str().into();
            Some(current)
        }
        None => None,
    };
    blob_store_page(&req, q.done.clone(), Vec::new(), json!({}), editing).await
}

async fn blob_store_page(
    req: &HttpRequest,
    done: Option<String>,
    errors: Vec<String>,
    values: Value,
    editing: Option<Value>,
) -> Result<HttpResponse, UiError> {
    let viewer = admin_page(req)?;
    let stores = call(blobstores::list(registry(req))).await?;
    let status = errors.is_empty();
    let mut response = page(
        req,
        &viewer,
        "admin_blobstores.html",
        context! {
            stores => stores, done => done, errors => errors, values => values,
            editing => editing,
        },
    )?;
    if !status {
        *response.status_mut() = actix_web::http::StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

/// A quota field: bytes as a JSON number, or the text as typed so the API's parser names
/// the problem.
pub fn number_or_text(s: &str) -> Value {
    s.parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::from(s))
}

async fn blob_store_create(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    admin_form(&req, &form)?;
    let mut body = quota_body(&form);
    body["name"] = form.get("name").into();
    if let Some(path) = form.get("path") {
        body["path"] = path.into();
    }
    let bytes = web::Bytes::from(body.to_string());
    match change(blobstores::create(bytes, registry(&req))).await? {
        Ok(()) => Ok(see_other("/ui/admin/blobstores?done=Blob+store+created")),
        Err(errors) => blob_store_page(&req, None, errors, body, None).await,
    }
}

async fn blob_store_delete(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    admin_form(&req, &form)?;
    let name = web::Path::from(form.get("name").unwrap_or_default().to_string());
    match change(blobstores::delete(name, registry(&req))).await? {
        Ok(()) => Ok(see_other("/ui/admin/blobstores?done=Blob+store+deleted")),
        Err(errors) => blob_store_page(&req, None, errors, json!({}), None).await,
    }
}

/// The API's quota objects from the form: blank removes a quota.
fn quota_body(form: &FormData) -> Value {
    let mut body = json!({});
    if let Some(soft) = form.get("soft_quota") {
        body["softQuota"] = json!({"type": "spaceUsedQuota", "limit": number_or_text(soft)});
    }
    if let Some(hard) = form.get("hard_quota") {
        body["hardQuota"] = json!({ "limit": number_or_text(hard) });
    }
    body
}

/// `POST /ui/admin/blobstores/update` (name, soft_quota, hard_quota): the API's update.
async fn blob_store_update(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    admin_form(&req, &form)?;
    let name = form.get("name").unwrap_or_default().to_string();
    let body = quota_body(&form);
    let bytes = web::Bytes::from(body.to_string());
    let path = web::Path::from(name.clone());
    match change(blobstores::update(path, bytes, registry(&req))).await? {
        Ok(()) => Ok(see_other("/ui/admin/blobstores?done=Quotas+saved")),
        Err(errors) => {
            let mut editing = body;
            editing["name"] = name.into();
            blob_store_page(&req, None, errors, json!({}), Some(editing)).await
        }
    }
}

async fn repository_list(
    req: HttpRequest,
    done: web::Query<Done>,
) -> Result<HttpResponse, UiError> {
    repository_list_page(&req, done.done.clone(), Vec::new()).await
}

async fn repository_list_page(
    req: &HttpRequest,
    done: Option<String>,
    errors: Vec<String>,
) -> Result<HttpResponse, UiError> {
    let viewer = admin_page(req)?;
    let list = call(repositories::list(req.clone(), registry(req))).await?;
    let mut statuses = Vec::new();
    for repo in registry(req).repository_configs() {
        if let Some(crate::registry::Repository::Hosted(h)) = registry(req).repository(&repo.name) {
            if let Some(proxy) = h.proxy() {
                statuses.push(context! {
                    name => repo.name,
                    status => crate::http::admin::proxy_status(&proxy.status()),
                });
            }
        }
    }
    page(
        req,
        &viewer,
        "admin_repositories.html",
        context! { repositories => list, done => done, errors => errors, proxies => statuses },
    )
}

async fn repository_delete(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    admin_form(&req, &form)?;
    if !form.checked("confirm") {
        let errors = vec!["Tick the confirmation box to delete.".to_string()];
        return repository_list_page(&req, None, errors).await;
    }
    let name = web::Path::from(form.get("name").unwrap_or_default().to_string());
    match change(repositories::delete(name, registry(&req), connectors(&req))).await? {
        Ok(()) => Ok(see_other("/ui/admin/repositories?done=Repository+deleted")),
        Err(errors) => repository_list_page(&req, None, errors).await,
    }
}

fn connectors(req: &HttpRequest) -> web::Data<dyn Ports> {
    req.app_data::<web::Data<dyn Ports>>()
        .cloned()
        .expect("the connector ports are registered on the main port")
}

fn task_service(req: &HttpRequest) -> web::Data<TaskService> {
    req.app_data::<web::Data<TaskService>>()
        .cloned()
        .expect("the task service is registered on the main port")
}

/// `GET /ui/admin/repositories/form?type=hosted|proxy|group[&name=]`: new, or edit `name`.
async fn repository_form(req: HttpRequest, q: web::Query<Done>) -> Result<HttpResponse, UiError> {
    let kind = q.kind.clone().unwrap_or_else(|| "hosted".into());
    let values = match &q.name {
        Some(name) => {
            let path = web::Path::from((kind.clone(), name.clone()));
            call(repositories::get_docker(req.clone(), path, registry(&req))).await?
        }
        None => {
            json!({"online": true, "storage": {"blobStoreName": "default", "writePolicy": "ALLOW"},
                       "docker": {"forceBasicAuth": true}})
        }
    };
    repository_form_page(&req, &kind, q.name.is_some(), values, Vec::new()).await
}

async fn repository_form_page(
    req: &HttpRequest,
    kind: &str,
    editing: bool,
    values: Value,
    errors: Vec<String>,
) -> Result<HttpResponse, UiError> {
    let viewer = admin_page(req)?;
    if !["hosted", "proxy", "group"].contains(&kind) {
        return Err(UiError::BadRequest(format!(
            "{kind} is not hosted, proxy or group"
        )));
    }
    let registry = registry(req);
    let stores: Vec<String> = registry
        .blob_stores()
        .iter()
        .map(|s| s.name().to_string())
        .collect();
    let repos: Vec<minijinja::Value> = registry
        .repository_configs()
        .into_iter()
        .map(|c| context! { name => c.name, kind => super::browse::kind_name(c.kind) })
        .collect();
    let failed = !errors.is_empty();
    let mut response = page(
        req,
        &viewer,
        "admin_repository_form.html",
        context! {
            kind => kind, editing => editing, values => values, errors => errors,
            stores => stores, repositories => repos,
        },
    )?;
    if failed {
        *response.status_mut() = actix_web::http::StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

/// The Nexus repository JSON a form describes. The upstream password is sent only when
/// typed (write-only: the API keeps the stored one for the same user).
fn repository_body(kind: &str, form: &FormData) -> Value {
    let port = form.get("http_port").map(number_or_text);
    let mut body = json!({
        "name": form.get("name"),
        "online": form.checked("online"),
        "storage": {
            "blobStoreName": form.get("blob_store"),
            "strictContentTypeValidation": true,
            "writePolicy": form.get("write_policy"),
        },
        "docker": {"v1Enabled": false, "forceBasicAuth": !form.checked("anonymous_pull"), "httpPort": port},
        "cleanup": {"policyNames": form.all("cleanup_policy")},
    });
    match kind {
        "group" => {
            let members: Vec<String> = form
                .get("members")
                .unwrap_or_default()
                .split([',', '\n', ' '])
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(String::from)
                .collect();
            body["group"] =
                json!({"memberNames": members, "writableMember": form.get("writable_member")});
        }
        "proxy" => {
            let age = |n: &str| form.get(n).map(number_or_text).unwrap_or(json!(1440));
            body["proxy"] = json!({"remoteUrl": form.get("remote_url"),
                "contentMaxAge": age("content_max_age"), "metadataMaxAge": age("metadata_max_age")});
            body["negativeCache"] = json!({"enabled": true, "timeToLive": 1440});
            let mut client = json!({"blocked": form.checked("blocked"), "autoBlock": true});
            if let Some(user) = form.get("username") {
                let mut auth = json!({"type": "username", "username": user});
                if !form.raw("password").is_empty() {
                    auth["password"] = form.raw("password").into();
                }
                client["authentication"] = auth;
            }
            body["httpClient"] = client;
            body["dockerProxy"] =
                json!({"indexType": form.get("index_type").unwrap_or("REGISTRY")});
        }
        _ => {}
    }
    body
}

/// `POST /ui/admin/repositories/form?type=…[&name=]`: the API's create or update.
async fn repository_save(
    req: HttpRequest,
    q: web::Query<Done>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    admin_form(&req, &form)?;
    let kind = q.kind.clone().unwrap_or_else(|| "hosted".into());
    let mut body = repository_body(&kind, &form);
    let bytes = web::Bytes::from(body.to_string());
    let (registry, connectors) = (registry(&req), connectors(&req));
    let result = match &q.name {
        Some(name) => {
            let path = web::Path::from((kind.clone(), name.clone()));
            change(repositories::update(path, bytes, registry, connectors)).await?
        }
        None => {
            change(repositories::create(
                web::Path::from(kind.clone()),
                bytes,
                registry,
                connectors,
            ))
            .await?
        }
    };
    match result {
        Ok(()) => Ok(see_other("/ui/admin/repositories?done=Repository+saved")),
        Err(errors) => {
            // Never echo a password back into the page.
            if let Some(auth) = body.pointer_mut("/httpClient/authentication") {
                auth["password"] = Value::Null;
            }
            repository_form_page(&req, &kind, q.name.is_some(), body, errors).await
        }
    }
}

async fn task_list(req: HttpRequest, done: web::Query<Done>) -> Result<HttpResponse, UiError> {
    task_page(&req, done.done.clone(), Vec::new()).await
}

async fn task_page(
    req: &HttpRequest,
    done: Option<String>,
    errors: Vec<String>,
) -> Result<HttpResponse, UiError> {
    let viewer = admin_page(req)?;
    let query = web::Query::from_query("").map_err(|e| UiError::Internal(e.to_string()))?;
    let list = call(tasks::list(task_service(req), query)).await?;
    page(
        req,
        &viewer,
        "admin_tasks.html",
        context! { tasks => list["items"].clone(), done => done, errors => errors },
    )
}

async fn task_run(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    admin_form(&req, &form)?;
    let id = web::Path::from(form.get("id").unwrap_or_default().to_string());
    match change(tasks::run(task_service(&req), id)).await? {
        Ok(()) => Ok(see_other("/ui/admin/tasks?done=Task+started")),
        Err(errors) => task_page(&req, None, errors).await,
    }
}
