//! `GET /v2/<name>/referrers/<digest>?artifactType=`: manifests whose subject is `digest`,
//! as an OCI image index. An unknown subject simply has no referrers (200, empty list).

use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::error::ApiError;
use super::headers::{param, query, OCI_FILTERS_APPLIED};
use super::Ctx;
use crate::oci::{Digest, ImageName};
use crate::registry::{read, REFERRERS_MEDIA_TYPE};

pub async fn list(
    ctx: &Ctx,
    req: &HttpRequest,
    name: ImageName,
    subject: Digest,
) -> Result<HttpResponse, ApiError> {
    let q = query(req);
    let filter = param(&q, "artifactType");
    let manifests = read::referrers(&ctx.readers()?, &name, &subject, filter).await?;
    let mut response = HttpResponse::Ok();
    response.content_type(REFERRERS_MEDIA_TYPE);
    if filter.is_some() {
        response.insert_header((OCI_FILTERS_APPLIED, "artifactType"));
    }
    let body = json!({
        "schemaVersion": 2,
        "mediaType": REFERRERS_MEDIA_TYPE,
        "manifests": manifests,
    });
    Ok(response.body(body.to_string()))
}
