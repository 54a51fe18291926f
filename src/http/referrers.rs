//! `GET /v2/<name>/referrers/<digest>?artifactType=`: manifests whose subject is `digest`,
//! as an OCI image index. An unknown subject simply has no referrers (200, empty list).
//!
//! The list is paginated, as the spec allows: a page holds descriptors until its body
//! reaches `limits.manifest_max_bytes` (at least one descriptor, at most `limits.page_max`),
//! and a `Link: <…?last=<digest>>; rel="next"` header names the next page. Each page's
//! annotations are read from the manifests' own bytes while the page is written, so a
//! request never holds more than one page: four concurrent GETs of a list of large
//! referrers once took 1.78 GiB when the whole list was built in memory, copied twice.

use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::value::RawValue;

use super::error::ApiError;
use super::headers::{param, query, OCI_FILTERS_APPLIED};
use super::Ctx;
use crate::oci::{annotations_json, Digest, ImageName};
use crate::registry::read::{self, Referrer};
use crate::registry::REFERRERS_MEDIA_TYPE;

/// One entry of the `manifests` array, written straight from the record and the raw
/// annotation text of the stored manifest.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReferrerDescriptor<'a> {
    media_type: &'a str,
    digest: &'a str,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    artifact_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<&'a RawValue>,
}

pub async fn list(
    ctx: &Ctx,
    req: &HttpRequest,
    name: ImageName,
    subject: Digest,
) -> Result<HttpResponse, ApiError> {
    let q = query(req);
    let filter = param(&q, "artifactType");
    let after = param(&q, "last").map(Digest::parse).transpose()?;
    // One more than a page can hold tells whether a next page follows.
    let limit = ctx.limits.page_max.saturating_add(1);
    let readers = ctx.readers()?;
    let found = read::referrers(&readers, &name, &subject, filter, after.as_ref(), limit).await?;
    let (body, last) = page(&found, ctx.limits.manifest_max_bytes, ctx.limits.page_max).await?;
    let mut response = HttpResponse::Ok();
    response.content_type(REFERRERS_MEDIA_TYPE);
    if filter.is_some() {
        response.insert_header((OCI_FILTERS_APPLIED, "artifactType"));
    }
    if let Some(last) = last {
        let mut next = format!("referrers/{subject}?last={last}");
        if let Some(t) = filter {
            next.push_str("&artifactType=");
            next.push_str(&encode_query_value(t));
        }
        let url = ctx.url(&name, &next);
        response.insert_header(("Link", format!("<{url}>; rel=\"next\"")));
    }
    Ok(response.body(body))
}

/// Writes the image index of the first referrers that fit in `max_bytes` (at least one, at
/// most `max_count`); returns it and, when more follow, the last digest written.
async fn page(
    found: &[Referrer],
    max_bytes: usize,
    max_count: usize,
) -> Result<(Vec<u8>, Option<String>), ApiError> {
    let mut body =
        format!(r#"{{"schemaVersion":2,"mediaType":"{REFERRERS_MEDIA_TYPE}","manifests":["#)
            .into_bytes();
    let mut written = 0;
    for referrer in found {
        if written > 0 && (body.len() >= max_bytes || written >= max_count) {
            break;
        }
        let record = &referrer.record;
        let bytes = referrer
            .repo
            .manifest_bytes_uncached(&record.digest)
            .await?;
        if written > 0 {
            body.push(b',');
        }
        let entry = ReferrerDescriptor {
            media_type: &record.media_type,
            digest: record.digest.as_str(),
            size: record.size,
            artifact_type: record.artifact_type.as_deref(),
            annotations: annotations_json(&bytes),
        };
        serde_json::to_writer(&mut body, &entry).map_err(|e| {
            ApiError::new(crate::oci::OciErrorCode::Unavailable, e.to_string())
                .with_status(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
        })?;
        written += 1;
    }
    body.extend_from_slice(b"]}");
    let more = written < found.len();
    let last = more.then(|| found[written - 1].record.digest.to_string());
    Ok((body, last))
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters stay), so an
/// artifact type such as `application/vnd.example+json` survives the round trip (`+` would
/// otherwise come back as a space).
fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode_query_value;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            encode_query_value("application/vnd.x+json"),
            "application%2Fvnd.x%2Bjson"
        );
    }
}
