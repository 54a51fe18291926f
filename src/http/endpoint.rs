//! The route table of the Distribution API. Image names contain slashes, so `/v2/…` paths are
//! parsed here from the right (the way the spec's grammar reads them) instead of by the
//! router; the raw, still percent-encoded path is used, so `%2F` can never smuggle a slash.

use actix_web::http::Method;

use super::error::ApiError;
use crate::auth::Action;
use crate::oci::{Digest, ImageName, NameError, OciErrorCode, Reference};

/// One endpoint of the API, with its parsed path parameters.
#[derive(Debug, PartialEq)]
pub enum Endpoint {
    Base,
    Catalog,
    Tags(ImageName),
    Manifest(ImageName, Reference),
    Blob(ImageName, Digest),
    StartUpload(ImageName),
    Upload(ImageName, String),
    Referrers(ImageName, Digest),
}

impl Endpoint {
    /// Parses the part of the path after `/v2/` of a request with `method`.
    pub fn parse(method: &Method, rest: &str) -> Result<Self, ApiError> {
        if rest.is_empty() {
            return Ok(Endpoint::Base);
        }
        if rest == "_catalog" {
            return Ok(Endpoint::Catalog);
        }
        let segments: Vec<&str> = rest.split('/').collect();
        let n = segments.len();
        let name = |k: usize| ImageName::parse(&segments[..n - k].join("/"));
        let tail = |k: usize| segments[n - k..].to_vec();
        if n >= 3 && tail(2) == ["tags", "list"] {
            return Ok(Endpoint::Tags(name(2)?));
        }
        if n >= 3 && segments[n - 2] == "manifests" {
            let reference = parse_reference(method, segments[n - 1])?;
            return Ok(Endpoint::Manifest(name(2)?, reference));
        }
        if n >= 3 && segments[n - 2] == "referrers" {
            return Ok(Endpoint::Referrers(
                name(2)?,
                Digest::parse(segments[n - 1])?,
            ));
        }
        if n >= 4 && tail(3)[..2] == ["blobs", "uploads"] {
            let id = segments[n - 1];
            if id.is_empty() {
                return Ok(Endpoint::StartUpload(name(3)?));
            }
            return Ok(Endpoint::Upload(name(3)?, id.to_string()));
        }
        if n >= 3 && tail(2) == ["blobs", "uploads"] {
            return Ok(Endpoint::StartUpload(name(2)?));
        }
        if n >= 3 && segments[n - 2] == "blobs" {
            return Ok(Endpoint::Blob(name(2)?, Digest::parse(segments[n - 1])?));
        }
        Err(ApiError::new(OciErrorCode::NameUnknown, "no such endpoint")
            .with_status(actix_web::http::StatusCode::NOT_FOUND))
    }

    /// The bounded `route` label of request metrics.
    pub fn route_label(&self) -> &'static str {
        use Endpoint::*;
        match self {
            Base => "base",
            Catalog => "catalog",
            Tags(_) => "tags",
            Manifest(..) => "manifest",
            Blob(..) => "blob",
            StartUpload(_) => "upload_start",
            Upload(..) => "upload",
            Referrers(..) => "referrers",
        }
    }

    /// THE authorization table of the registry API: the repository actions an endpoint and
    /// method accepts, any one of them sufficing (README "Security" shows it as a table).
    /// Empty for `/v2/`, which only needs an authenticated caller. Pushing a manifest takes
    /// `add` or `edit` here; which one each tag needs (a new tag is an add, moving one an
    /// edit) is decided by the repository's actor, the only place that knows for certain.
    pub fn actions(&self, method: &Method) -> &'static [Action] {
        use Endpoint::*;
        let read = matches!(method.as_str(), "GET" | "HEAD");
        let delete = method.as_str() == "DELETE";
        match self {
            Base => &[],
            Catalog | Tags(_) | Referrers(..) => &[Action::Browse],
            Manifest(..) | Blob(..) if read => &[Action::Read],
            Manifest(..) | Blob(..) if delete => &[Action::Delete],
            Manifest(..) => &[Action::Add, Action::Edit],
            Blob(..) => &[Action::Delete],
            StartUpload(_) | Upload(..) => &[Action::Add],
        }
    }

    /// The image name in the path, if the endpoint has one.
    pub fn image(&self) -> Option<&ImageName> {
        use Endpoint::*;
        match self {
            Base | Catalog => None,
            Tags(n)
            | Manifest(n, _)
            | Blob(n, _)
            | StartUpload(n)
            | Upload(n, _)
            | Referrers(n, _) => Some(n),
        }
    }

    /// Whether `method` is served by this endpoint (HEAD wherever GET is).
    pub fn allows(&self, method: &Method) -> bool {
        use Endpoint::*;
        let m = method.as_str();
        match self {
            Base | Catalog | Tags(_) | Referrers(..) => matches!(m, "GET" | "HEAD"),
            Manifest(..) => matches!(m, "GET" | "HEAD" | "PUT" | "DELETE"),
            Blob(..) => matches!(m, "GET" | "HEAD" | "DELETE"),
            StartUpload(_) => m == "POST",
            Upload(..) => matches!(m, "GET" | "PATCH" | "PUT" | "DELETE"),
        }
    }
}

/// A reference that cannot be a tag names nothing: reads and deletes get 404
/// `MANIFEST_UNKNOWN` (what the conformance suite expects); a PUT gets 400.
fn parse_reference(method: &Method, raw: &str) -> Result<Reference, ApiError> {
    match Reference::parse(raw) {
        Ok(r) => Ok(r),
        Err(NameError::Tag(why)) if method != Method::PUT => Err(ApiError::new(
            OciErrorCode::ManifestUnknown,
            format!("manifest unknown: invalid tag ({why})"),
        )),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn name(s: &str) -> ImageName {
        ImageName::parse(s).unwrap()
    }

    #[test]
    fn every_endpoint_shape_parses() {
        assert_eq!(Endpoint::parse(&Method::GET, "").unwrap(), Endpoint::Base);
        assert_eq!(
            Endpoint::parse(&Method::GET, "_catalog").unwrap(),
            Endpoint::Catalog
        );
        assert_eq!(
            Endpoint::parse(&Method::GET, "a/b/tags/list").unwrap(),
            Endpoint::Tags(name("a/b"))
        );
        assert!(matches!(
            Endpoint::parse(&Method::GET, "a/manifests/latest").unwrap(),
            Endpoint::Manifest(_, Reference::Tag(_))
        ));
        assert!(matches!(
            Endpoint::parse(&Method::GET, &format!("a/blobs/{D}")).unwrap(),
            Endpoint::Blob(..)
        ));
        assert_eq!(
            Endpoint::parse(&Method::GET, "a/blobs/uploads/").unwrap(),
            Endpoint::StartUpload(name("a"))
        );
        assert_eq!(
            Endpoint::parse(&Method::GET, "a/blobs/uploads").unwrap(),
            Endpoint::StartUpload(name("a"))
        );
        assert_eq!(
            Endpoint::parse(&Method::GET, "a/blobs/uploads/xyz").unwrap(),
            Endpoint::Upload(name("a"), "xyz".into())
        );
        assert!(matches!(
            Endpoint::parse(&Method::GET, &format!("a/referrers/{D}")).unwrap(),
            Endpoint::Referrers(..)
        ));
    }

    #[test]
    fn names_that_look_like_endpoint_words_still_work() {
        assert_eq!(
            Endpoint::parse(&Method::GET, "blobs/manifests/tags/list").unwrap(),
            Endpoint::Tags(name("blobs/manifests"))
        );
    }

    #[test]
    fn tricks_in_names_and_digests_are_refused() {
        for bad in [
            "../x/tags/list",
            "a%2Fb/tags/list",
            "A/tags/list",
            "a//b/tags/list",
            "a/blobs/sha256:../../x",
            "a/manifests/sha256:zz",
            "nothing-here",
        ] {
            assert!(Endpoint::parse(&Method::GET, bad).is_err(), "{bad}");
        }
    }
}
