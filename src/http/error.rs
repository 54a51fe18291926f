//! The one place where errors become HTTP responses: every error of every layer is turned
//! into an [`ApiError`], which renders as `{"errors":[{"code","message","detail"}]}` with the
//! status from the code table (or an endpoint-specific override, such as 416 on uploads).

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Value};

use crate::oci::{DigestError, ManifestError, NameError, OciErrorCode};
use crate::proxy::UpstreamError;
use crate::registry::RegistryError;
use crate::storage::StorageError;
use crate::usage::UsageError;

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    code: OciErrorCode,
    status: StatusCode,
    message: String,
    detail: Value,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(code: OciErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            status: StatusCode::from_u16(code.status()).unwrap_or(StatusCode::BAD_REQUEST),
            message: message.into(),
            detail: Value::Null,
            headers: Vec::new(),
        }
    }

    pub fn code(code: OciErrorCode) -> Self {
        ApiError::new(code, code.message())
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn with_detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        if let Ok(v) = HeaderValue::from_str(&value) {
            self.headers.push((HeaderName::from_static(name), v));
        }
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn oci_code(&self) -> OciErrorCode {
        self.code
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.code(), self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut error = json!({"code": self.code.code(), "message": self.message});
        if !self.detail.is_null() {
            error["detail"] = self.detail.clone();
        }
        let mut response = HttpResponse::build(self.status);
        for (name, value) in &self.headers {
            response.insert_header((name.clone(), value.clone()));
        }
        response.json(json!({ "errors": [error] }))
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        use OciErrorCode as C;
        let message = e.to_string();
        match e {
            RegistryError::NameUnknown(name) => {
                ApiError::new(C::NameUnknown, message).with_detail(json!({ "name": name.as_str() }))
            }
            RegistryError::BlobUnknown(d) => {
                ApiError::new(C::BlobUnknown, message).with_detail(json!({ "digest": d.as_str() }))
            }
            RegistryError::ManifestUnknown(r) => {
                ApiError::new(C::ManifestUnknown, message).with_detail(json!({ "reference": r }))
            }
            RegistryError::UploadUnknown => ApiError::new(C::BlobUploadUnknown, message),
            RegistryError::UploadBusy { offset } | RegistryError::RangeInvalid { offset } => {
                ApiError::new(C::BlobUploadInvalid, message)
                    .with_status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .with_header("range", upload_range(offset))
            }
            RegistryError::ManifestBlobUnknown(d) => ApiError::new(C::ManifestBlobUnknown, message)
                .with_detail(json!({ "digest": d.as_str() })),
            RegistryError::SizeMismatch {
                digest,
                declared,
                stored,
            } => ApiError::new(C::SizeInvalid, message).with_detail(
                json!({ "digest": digest.as_str(), "declared": declared, "stored": stored }),
            ),
            RegistryError::BlobInUse { digest, manifests } => {
                ApiError::new(C::Unsupported, message)
                    .with_detail(json!({ "digest": digest.as_str(), "manifests": manifests }))
            }
            RegistryError::BodyInvalid(_) => ApiError::new(C::BlobUploadInvalid, message),
            RegistryError::Denied(_) => ApiError::new(C::Denied, message),
            RegistryError::TooManyUploads(_) => {
                ApiError::new(C::TooManyRequests, message).with_header("retry-after", "60".into())
            }
            RegistryError::Offline(_) => ApiError::new(C::Unavailable, message),
            RegistryError::Busy(_) => ApiError::new(C::TooManyRequests, message)
                .with_header("retry-after", "1".to_string()),
            RegistryError::Definition(_) => {
                ApiError::new(C::Unsupported, message).with_status(StatusCode::BAD_REQUEST)
            }
            RegistryError::RepositoryUnknown(_) | RegistryError::BlobStoreUnknown(_) => {
                ApiError::new(C::NameUnknown, message)
            }
            RegistryError::Upstream { error, .. } => match error {
                UpstreamError::NotFound => {
                    ApiError::new(C::NameUnknown, message).with_status(StatusCode::NOT_FOUND)
                }
                UpstreamError::RateLimited {
                    retry_after_secs, ..
                } => {
                    let error = ApiError::new(C::TooManyRequests, message);
                    match retry_after_secs {
                        Some(secs) => error.with_header("retry-after", secs.to_string()),
                        None => error,
                    }
                }
                // Unreachable, refused, blocked or sent bad content: the upstream is the
                // problem, not the request, and a later retry may succeed.
                _ => ApiError::new(C::Unavailable, message),
            },
            RegistryError::Storage(s) => s.into(),
            RegistryError::Meta(m) => meta_error(&m),
            RegistryError::Unavailable(m) => {
                tracing::error!(error = %m, "repository actor unavailable");
                ApiError::code(C::Unavailable)
            }
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        use OciErrorCode as C;
        let message = e.to_string();
        match e {
            StorageError::DigestMismatch { .. } => ApiError::new(C::DigestInvalid, message),
            StorageError::NotFound(d) => {
                ApiError::new(C::BlobUnknown, message).with_detail(json!({ "digest": d.as_str() }))
            }
            StorageError::Poisoned => ApiError::new(C::BlobUploadUnknown, message),
            StorageError::RangeInvalid { size } => ApiError::new(C::RangeInvalid, message)
                .with_status(StatusCode::RANGE_NOT_SATISFIABLE)
                .with_header("content-range", format!("bytes */{size}")),
            StorageError::QuotaExceeded { .. } => ApiError::new(C::Denied, message),
            StorageError::Unavailable { ref store, .. } => {
                tracing::warn!(store = %store, error = %message, "blob store unavailable");
                let detail = json!({ "blobStore": store });
                ApiError::new(C::Unavailable, message)
                    .with_status(StatusCode::SERVICE_UNAVAILABLE)
                    .with_detail(detail)
                    .with_header("retry-after", "5".into())
            }
            StorageError::NearlyFull { .. } => {
                ApiError::new(C::Unavailable, message).with_status(StatusCode::INSUFFICIENT_STORAGE)
            }
            e if e.is_out_of_descriptors() => {
                tracing::warn!(error = %e, "out of file descriptors; refusing a write");
                metrics::counter!(crate::metrics::UPLOADS_REFUSED, "reason" => "descriptors")
                    .increment(1);
                ApiError::new(
                    C::TooManyRequests,
                    "the server is at its open-file limit; retry",
                )
                .with_header("retry-after", "5".into())
            }
            e if e.is_out_of_space() => {
                tracing::error!(error = %e, "blob store is out of space");
                ApiError::new(C::Unavailable, "the blob store is out of space")
                    .with_status(StatusCode::INSUFFICIENT_STORAGE)
            }
            StorageError::Io(io) => internal(&io),
        }
    }
}

impl From<UsageError> for ApiError {
    fn from(e: UsageError) -> Self {
        let message = e.to_string();
        match e {
            UsageError::LimitReached {
                metric,
                value,
                limit,
            } => ApiError::new(OciErrorCode::Denied, message).with_detail(
                json!({ "usageLimit": metric.as_str(), "value": value, "limit": limit }),
            ),
            UsageError::Meta(m) => meta_error(&m),
        }
    }
}

impl From<NameError> for ApiError {
    fn from(e: NameError) -> Self {
        match e {
            NameError::Name(_) => ApiError::new(OciErrorCode::NameInvalid, e.to_string()),
            NameError::Tag(_) => ApiError::new(OciErrorCode::ManifestInvalid, e.to_string()),
            NameError::Digest(d) => d.into(),
        }
    }
}

impl From<DigestError> for ApiError {
    fn from(e: DigestError) -> Self {
        ApiError::new(OciErrorCode::DigestInvalid, format!("invalid digest: {e}"))
    }
}

impl From<ManifestError> for ApiError {
    fn from(e: ManifestError) -> Self {
        ApiError::new(OciErrorCode::ManifestInvalid, e.to_string())
    }
}

/// A metadata failure: 503 with `Retry-After` while the database is unreachable (a
/// PostgreSQL restart, a network cut), else an internal error.
fn meta_error(e: &crate::meta::MetaError) -> ApiError {
    if !e.is_unavailable() {
        return internal(e);
    }
    tracing::error!(error = %e, "metadata database unavailable");
    ApiError::new(
        OciErrorCode::Unavailable,
        "the metadata database is unavailable, retry later",
    )
    .with_header("retry-after", "5".to_string())
}

/// Logs an unexpected failure in full and tells the client only that it happened.
fn internal(e: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "internal error");
    ApiError::new(
        OciErrorCode::Unavailable,
        "internal error, see the server log",
    )
    .with_status(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The `Range` header value of an upload at `offset` bytes (inclusive end, `0-0` if empty).
pub fn upload_range(offset: u64) -> String {
    format!("0-{}", offset.saturating_sub(1))
}
