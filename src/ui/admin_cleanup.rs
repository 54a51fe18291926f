//! Cleanup policies (admin only): list, create, edit, delete, and a preview of what a
//! policy would delete from a repository now — the API's
//! `POST /v1/cleanup-policies/{name}/preview`, which changes nothing, so the preview is a
//! plain GET form here.

use actix_web::{web, HttpRequest, HttpResponse};
use minijinja::context;
use serde::Deserialize;
use serde_json::{json, Value};

use super::admin::{admin_form, admin_page, call, change, number_or_text, refusal};
use super::form::FormData;
use super::render::page;
use super::signin::see_other;
use super::viewer::registry;
use super::UiError;
use crate::http::admin::cleanup;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/cleanup", web::get().to(list))
        .route("/admin/cleanup", web::post().to(save))
        .route("/admin/cleanup/delete", web::post().to(delete));
}

/// `?done=`, `?name=` (edit that policy), `?preview=&repository=` (preview it there).
#[derive(Deserialize, Default)]
pub struct Query {
    done: Option<String>,
    name: Option<String>,
    preview: Option<String>,
    repository: Option<String>,
}

/// What the page shows besides the list.
#[derive(Default)]
struct Shown {
    done: Option<String>,
    errors: Vec<String>,
    /// The form's values: the policy being edited, or what was posted.
    values: Value,
    editing: bool,
    preview: Option<Value>,
}

/// `GET /ui/admin/cleanup`
async fn list(req: HttpRequest, q: web::Query<Query>) -> Result<HttpResponse, UiError> {
    admin_page(&req)?;
    let mut shown = Shown {
        done: q.done.clone(),
        values: json!({}),
        ..Shown::default()
    };
    if let Some(name) = &q.name {
        shown.values = call(cleanup::get(registry(&req), web::Path::from(name.clone()))).await?;
        shown.editing = true;
    }
    if let (Some(name), Some(repository)) = (&q.preview, &q.repository) {
        let query = web::Query::from_query(&format!(
            "repository={}",
            super::browse::urlencode(repository)
        ))
        .map_err(|e| UiError::BadRequest(e.to_string()))?;
        let path = web::Path::from(name.clone());
        match cleanup::preview(registry(&req), path, query).await {
            Ok(response) => {
                shown.preview = Some(call(async { Ok(response) }).await?);
            }
            Err(e) => shown.errors = refusal(e)?,
        }
    }
    render(&req, shown).await
}

async fn render(req: &HttpRequest, shown: Shown) -> Result<HttpResponse, UiError> {
    let viewer = admin_page(req)?;
    let registry = registry(req);
    let policies = call(cleanup::list(registry.clone())).await?;
    let configs = registry.repository_configs();
    let used_by = |name: &str| -> Vec<String> {
        configs
            .iter()
            .filter(|c| c.cleanup_policies.iter().any(|p| p == name))
            .map(|c| c.name.clone())
            .collect()
    };
    let policies: Vec<Value> = policies
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut p| {
            let name = p["name"].as_str().unwrap_or_default().to_string();
            p["usedBy"] = json!(used_by(&name));
            p
        })
        .collect();
    let repositories: Vec<String> = configs
        .iter()
        .filter(|c| c.kind.stores_content())
        .map(|c| c.name.clone())
        .collect();
    let failed = !shown.errors.is_empty();
    let mut response = page(
        req,
        &viewer,
        "admin_cleanup.html",
        context! {
            policies => policies, repositories => repositories, done => shown.done,
            errors => shown.errors, values => shown.values, editing => shown.editing,
            preview => shown.preview,
        },
    )?;
    if failed {
        *response.status_mut() = actix_web::http::StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

/// The policy JSON a form describes; blank criteria are left out (unset).
fn policy_body(form: &FormData) -> Value {
    let mut body = json!({ "name": form.get("name"), "format": "docker" });
    if let Some(notes) = form.get("notes") {
        body["notes"] = notes.into();
    }
    if let Some(regex) = form.get("asset_regex") {
        body["criteriaAssetRegex"] = regex.into();
    }
    for (field, key) in [
        ("last_blob_updated", "criteriaLastBlobUpdated"),
        ("last_downloaded", "criteriaLastDownloaded"),
        ("keep_latest", "keepLatest"),
        ("untagged_older_than_hours", "untaggedOlderThanHours"),
    ] {
        if let Some(v) = form.get(field) {
            body[key] = number_or_text(v);
        }
    }
    body
}

/// `POST /ui/admin/cleanup` (`editing` set: update that policy, else create).
async fn save(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    admin_form(&req, &form)?;
    let body = policy_body(&form);
    let bytes = web::Bytes::from(body.to_string());
    let editing = form.checked("editing");
    let result = match editing {
        true => {
            let path = web::Path::from(form.get("name").unwrap_or_default().to_string());
            change(cleanup::update(registry(&req), path, bytes)).await?
        }
        false => change(cleanup::create(registry(&req), bytes)).await?,
    };
    match result {
        Ok(()) => Ok(see_other("/ui/admin/cleanup?done=Cleanup+policy+saved")),
        Err(errors) => {
            let shown = Shown {
                errors,
                values: body,
                editing,
                ..Shown::default()
            };
            render(&req, shown).await
        }
    }
}

/// `POST /ui/admin/cleanup/delete` (name, confirm)
async fn delete(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    admin_form(&req, &form)?;
    let result = match form.checked("confirm") {
        false => Err(vec!["Tick the confirmation box to delete.".to_string()]),
        true => {
            let path = web::Path::from(form.get("name").unwrap_or_default().to_string());
            change(cleanup::delete(registry(&req), path)).await?
        }
    };
    match result {
        Ok(()) => Ok(see_other("/ui/admin/cleanup?done=Cleanup+policy+deleted")),
        Err(errors) => {
            let shown = Shown {
                errors,
                values: json!({}),
                ..Shown::default()
            };
            render(&req, shown).await
        }
    }
}
