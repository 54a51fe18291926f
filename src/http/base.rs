//! `/v2/` (API version check) and `/v2/_catalog`.

use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::error::ApiError;
use super::headers::{page_size, param, query};
use super::Ctx;
use crate::registry::read;

/// `GET /v2/`: the registry speaks the Distribution API.
pub fn check() -> HttpResponse {
    HttpResponse::Ok().json(json!({}))
}

/// The catalog of a caller who may browse nothing here.
pub fn empty_catalog() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "repositories": [] }))
}

/// `GET /v2/_catalog?n=&last=`: image names in lexical order, paginated with `Link`.
pub async fn catalog(ctx: &Ctx, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let q = query(req);
    let limit = page_size(&q, ctx.limits.page_max)?;
    let last = param(&q, "last");
    let (names, more) = read::catalog(&ctx.readers()?, last, limit).await?;
    let names: Vec<String> = names
        .into_iter()
        .map(|n| format!("{}{n}", ctx.prefix))
        .collect();
    let mut response = HttpResponse::Ok();
    if more {
        if let Some(last) = names.last() {
            let last = last.strip_prefix(&*ctx.prefix).unwrap_or(last);
            let link = format!("<{}_catalog?n={limit}&last={last}>; rel=\"next\"", ctx.base);
            response.insert_header(("Link", link));
        }
    }
    Ok(response.json(json!({ "repositories": names })))
}
