//! The error-code table: each code's wire string, default message and HTTP status, in one
//! place (the shape of Distribution's `errcode` registry). The HTTP layer looks codes up here
//! and nowhere else.

/// Error codes of the OCI Distribution Spec, plus `RANGE_INVALID` (a Distribution extension
/// used for unsatisfiable `Range` reads) and `UNAVAILABLE` for server-side failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OciErrorCode {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    RangeInvalid,
    Unavailable,
}

impl OciErrorCode {
    /// The `code` string sent on the wire.
    pub fn code(self) -> &'static str {
        self.row().0
    }

    /// A human-readable default message.
    pub fn message(self) -> &'static str {
        self.row().1
    }

    /// The HTTP status this code is sent with unless an endpoint says otherwise.
    pub fn status(self) -> u16 {
        self.row().2
    }

    fn row(self) -> (&'static str, &'static str, u16) {
        use OciErrorCode::*;
        match self {
            BlobUnknown => ("BLOB_UNKNOWN", "blob unknown to registry", 404),
            BlobUploadInvalid => ("BLOB_UPLOAD_INVALID", "blob upload invalid", 400),
            BlobUploadUnknown => (
                "BLOB_UPLOAD_UNKNOWN",
                "blob upload unknown to registry",
                404,
            ),
            DigestInvalid => (
                "DIGEST_INVALID",
                "provided digest did not match uploaded content",
                400,
            ),
            ManifestBlobUnknown => (
                "MANIFEST_BLOB_UNKNOWN",
                "manifest references a manifest or blob unknown to registry",
                400,
            ),
            ManifestInvalid => ("MANIFEST_INVALID", "manifest invalid", 400),
            ManifestUnknown => ("MANIFEST_UNKNOWN", "manifest unknown to registry", 404),
            NameInvalid => ("NAME_INVALID", "invalid repository name", 400),
            NameUnknown => ("NAME_UNKNOWN", "repository name not known to registry", 404),
            SizeInvalid => (
                "SIZE_INVALID",
                "provided length did not match content length",
                400,
            ),
            Unauthorized => ("UNAUTHORIZED", "authentication required", 401),
            Denied => ("DENIED", "requested access to the resource is denied", 403),
            Unsupported => ("UNSUPPORTED", "the operation is unsupported", 405),
            TooManyRequests => ("TOOMANYREQUESTS", "too many requests", 429),
            RangeInvalid => ("RANGE_INVALID", "requested range is not satisfiable", 416),
            Unavailable => ("UNAVAILABLE", "service unavailable", 503),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_upper_case_with_underscores_as_the_spec_requires() {
        use OciErrorCode::*;
        for c in [
            BlobUnknown,
            BlobUploadInvalid,
            BlobUploadUnknown,
            DigestInvalid,
            ManifestBlobUnknown,
            ManifestInvalid,
            ManifestUnknown,
            NameInvalid,
            NameUnknown,
            SizeInvalid,
            Unauthorized,
            Denied,
            Unsupported,
            TooManyRequests,
            RangeInvalid,
            Unavailable,
        ] {
            assert!(c
                .code()
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'_'));
            assert!((400..600).contains(&c.status()));
        }
    }
}
