//! Request header and query helpers shared by the handlers.

use actix_web::http::header;
use actix_web::HttpRequest;

use super::error::ApiError;
use crate::oci::{Digest, OciErrorCode};

pub const DOCKER_CONTENT_DIGEST: &str = "Docker-Content-Digest";
/// The same name in the lower case `HeaderName::from_static` requires.
pub const DOCKER_CONTENT_DIGEST_LC: &str = "docker-content-digest";
pub const DOCKER_UPLOAD_UUID: &str = "Docker-Upload-UUID";
pub const UPLOAD_SESSION_ID: &str = "Blob-Upload-Session-ID";
pub const OCI_SUBJECT: &str = "OCI-Subject";
pub const OCI_FILTERS_APPLIED: &str = "OCI-Filters-Applied";

/// Decoded query parameters, in order (a key may repeat).
pub fn query(req: &HttpRequest) -> Vec<(String, String)> {
    actix_web::web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default()
}

/// The first value of query parameter `key`.
pub fn param<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The `digest` query parameter, required and valid.
pub fn digest_param(query: &[(String, String)]) -> Result<Digest, ApiError> {
    let raw = param(query, "digest").ok_or_else(|| {
        ApiError::new(
            OciErrorCode::DigestInvalid,
            "the digest query parameter is required",
        )
    })?;
    Ok(Digest::parse(raw)?)
}

/// `Content-Length`, if the request carries a valid one.
pub fn content_length(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// A chunk's inclusive byte range from `Content-Range: <start>-<end>` (an optional
/// `bytes ` prefix and `/total` suffix are tolerated). `Err` for a malformed header.
pub fn content_range(req: &HttpRequest) -> Result<Option<(u64, u64)>, ()> {
    let Some(value) = req.headers().get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| ())?.trim();
    let text = text
        .strip_prefix("bytes")
        .unwrap_or(text)
        .trim_start_matches([' ', '=']);
    let text = text.split('/').next().unwrap_or("");
    let (start, end) = text.split_once('-').ok_or(())?;
    let start: u64 = start.trim().parse().map_err(|_| ())?;
    let end: u64 = end.trim().parse().map_err(|_| ())?;
    if end < start {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// Page size from `n`: absent means the server maximum; larger values are capped.
pub fn page_size(query: &[(String, String)], max: usize) -> Result<usize, ApiError> {
    match param(query, "n") {
        None => Ok(max),
        Some(n) => n.parse::<usize>().map(|n| n.min(max)).map_err(|_| {
            ApiError::new(
                OciErrorCode::SizeInvalid,
                "n must be a non-negative integer",
            )
        }),
    }
}
