//! `/v2/` (API version check) and `/v2/_catalog`.

use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::error::ApiError;
use super::headers::{page_size, param, query};
use super::Ctx;

/// `GET /v2/`: the registry speaks the Distribution API.
pub fn check() -> HttpResponse {
    HttpResponse::Ok().json(json!({}))
}

/// `GET /v2/_catalog?n=&last=`: image names in lexical order, paginated with `Link`.
pub async fn catalog(ctx: &Ctx, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let q = query(req);
    let limit = page_size(&q, ctx.limits.page_max)?;
    let last = param(&q, "last");
    let mut names = ctx.repo.list_images(last, limit as i64 + 1).await?;
    let more = names.len() > limit;
    names.truncate(limit);
    let mut response = HttpResponse::Ok();
    if more {
        if let Some(last) = names.last() {
            let link = format!("<{}_catalog?n={limit}&last={last}>; rel=\"next\"", ctx.base);
            response.insert_header(("Link", link));
        }
    }
    Ok(response.json(json!({ "repositories": names })))
}
