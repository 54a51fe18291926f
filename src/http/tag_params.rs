//! `PUT /v2/<name>/manifests/<digest>?tag=a&tag=b` (distribution-spec, next release): the
//! tags a push by digest asks for, and the `OCI-Tag` headers naming those it set.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponseBuilder};

use super::error::ApiError;
use super::headers::query;
use crate::oci::{OciErrorCode, Reference, Tag};

/// Most tags one push may set. The spec asks for at least 10; a longer list is answered
/// `414 Request-URI Too Long`, as it allows.
pub const MAX_TAGS: usize = 100;

pub const OCI_TAG: &str = "OCI-Tag";

/// The tags a manifest `PUT` points at the manifest: the path's tag, or the `tag` query
/// parameters of a push by digest (each valid, duplicates once, in request order).
pub fn requested_tags(req: &HttpRequest, reference: &Reference) -> Result<Vec<Tag>, ApiError> {
    let values: Vec<String> = query(req)
        .into_iter()
        .filter(|(k, _)| k == "tag")
        .map(|(_, v)| v)
        .collect();
    let digest = match reference {
        Reference::Tag(tag) if values.is_empty() => return Ok(vec![tag.clone()]),
        Reference::Tag(_) => {
            return Err(ApiError::new(
                OciErrorCode::Unsupported,
                "tag query parameters are only accepted on a push by digest",
            )
            .with_status(StatusCode::BAD_REQUEST))
        }
        Reference::Digest(d) => d,
    };
    if values.len() > MAX_TAGS {
        return Err(ApiError::new(
            OciErrorCode::Unsupported,
            format!("at most {MAX_TAGS} tag parameters per push"),
        )
        .with_status(StatusCode::URI_TOO_LONG));
    }
    let mut tags: Vec<Tag> = Vec::with_capacity(values.len());
    for value in values {
        let tag = Tag::parse(&value).map_err(|e| {
            ApiError::new(
                OciErrorCode::ManifestInvalid,
                format!("tag parameter {value:?} for {digest}: {e}"),
            )
        })?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Ok(tags)
}

/// One `OCI-Tag` header per tag set, so a client reading any of the RFC 9110 forms (one
/// header, or a comma-joined list) finds each.
pub fn add_oci_tags(response: &mut HttpResponseBuilder, reference: &Reference, tags: &[Tag]) {
    if let Reference::Digest(_) = reference {
        for tag in tags {
            response.append_header((OCI_TAG, tag.as_str()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn tags_of(uri: &str, reference: &str) -> Result<Vec<String>, ApiError> {
        let req = TestRequest::put().uri(uri).to_http_request();
        let reference = Reference::parse(reference).unwrap();
        requested_tags(&req, &reference).map(|t| t.iter().map(|t| t.to_string()).collect())
    }

    #[test]
    fn a_push_by_tag_sets_its_tag_and_a_push_by_digest_its_parameters_once_each() {
        assert_eq!(tags_of("/x", "v1").unwrap(), ["v1"]);
        assert!(tags_of("/x", D).unwrap().is_empty());
        let got = tags_of("/x?tag=b&tag=a&tag=b&other=1", D).unwrap();
        assert_eq!(got, ["b", "a"]);
    }

    #[test]
    fn bad_tag_parameters_are_refused_with_the_right_status() {
        let status = |uri: &str, r: &str| tags_of(uri, r).unwrap_err().status().as_u16();
        assert_eq!(status("/x?tag=-a", D), 400);
        assert_eq!(status("/x?tag=", D), 400);
        assert_eq!(status("/x?tag=v2", "v1"), 400);
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("tag=t{i}")).collect();
        assert_eq!(status(&format!("/x?{}", many.join("&")), D), 414);
    }
}
