//! `GET /v2/<name>/tags/list?n=&last=`.

use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::error::ApiError;
use super::headers::{page_size, param, query};
use super::Ctx;
use crate::oci::ImageName;
use crate::registry::RegistryError;

pub async fn list(ctx: &Ctx, req: &HttpRequest, name: ImageName) -> Result<HttpResponse, ApiError> {
    let image = ctx
        .repo
        .image(&name)
        .await?
        .filter(|i| i.has_content())
        .ok_or_else(|| RegistryError::NameUnknown(name.clone()))?;
    let q = query(req);
    let limit = page_size(&q, ctx.limits.page_max)?;
    let page = image.tags_page(param(&q, "last"), limit);
    let mut response = HttpResponse::Ok();
    if page.more {
        if let Some(last) = page.tags.last() {
            let url = ctx.url(&name, &format!("tags/list?n={limit}&last={last}"));
            response.insert_header(("Link", format!("<{url}>; rel=\"next\"")));
        }
    }
    Ok(response.json(json!({ "name": name.as_str(), "tags": page.tags })))
}
