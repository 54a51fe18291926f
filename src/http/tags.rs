//! `GET /v2/<name>/tags/list?n=&last=`.

use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::error::ApiError;
use super::headers::{page_size, param, query};
use super::Ctx;
use crate::oci::ImageName;
use crate::registry::{read, RegistryError};

pub async fn list(ctx: &Ctx, req: &HttpRequest, name: ImageName) -> Result<HttpResponse, ApiError> {
    let q = query(req);
    let limit = page_size(&q, ctx.limits.page_max)?;
    let (tags, more) = read::tags(&ctx.readers()?, &name, param(&q, "last"), limit)
        .await?
        .ok_or_else(|| RegistryError::NameUnknown(name.clone()))?;
    let mut response = HttpResponse::Ok();
    if more {
        if let Some(last) = tags.last() {
            let url = ctx.url(&name, &format!("tags/list?n={limit}&last={last}"));
            response.insert_header(("Link", format!("<{url}>; rel=\"next\"")));
        }
    }
    Ok(response.json(json!({ "name": ctx.client_name(&name), "tags": tags })))
}
