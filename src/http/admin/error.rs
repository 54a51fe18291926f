//! The admin API's errors and the only place they become HTTP responses, in Nexus's shapes
//! (NP `ValidationErrorXO`): a refused input is `400` with a list of
//! `{"id":"<field or *>","message":"…"}`, which Nexus clients print as is; every other
//! failure is one such object with its status.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::model::ModelError;
use crate::registry::RegistryError;

/// Why an admin request failed.
#[derive(Debug)]
pub enum AdminError {
    /// 400: the input is refused; `(id, message)` where `id` names the field or is `*`.
    Invalid(Vec<(String, String)>),
    /// 401: who is calling? (with security on; answered with a Basic challenge, as Nexus).
    Unauthenticated(String),
    /// 403: the caller may not use the admin API.
    Forbidden(String),
    /// 429: too many failed logins from this client or for this user.
    Throttled(String),
    /// 404: the named repository, blob store or route does not exist.
    NotFound(String),
    /// 422: a required query parameter is missing (Nexus answers 422 here, not 400).
    Unprocessable(String),
    /// 405: the operation is not allowed in the target's state (a disabled task).
    NotAllowed(String),
    /// 409: the target is busy (a task already running).
    Conflict(String),
    /// 410: a Nexus API Berth does not provide (the Groovy script API), with what to use.
    Gone(String),
    /// 500: something broke on the server; the details are logged, not sent.
    Internal(String),
}

impl AdminError {
    /// A 400 about one field (`*` when it is about the request as a whole).
    pub fn invalid(id: &str, message: impl Into<String>) -> Self {
        AdminError::Invalid(vec![(id.to_string(), message.into())])
    }

    pub fn repository_not_found() -> Self {
        AdminError::NotFound("Repository not found".into())
    }

    pub fn blob_store_not_found(name: &str) -> Self {
        AdminError::NotFound(format!("Unable to find blobstore '{name}'"))
    }
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::Invalid(errors) => {
                let parts: Vec<String> = errors.iter().map(|(i, m)| format!("{i}: {m}")).collect();
                write!(f, "invalid request: {}", parts.join("; "))
            }
            AdminError::Unauthenticated(m)
            | AdminError::Forbidden(m)
            | AdminError::Throttled(m)
            | AdminError::NotFound(m)
            | AdminError::Unprocessable(m)
            | AdminError::NotAllowed(m)
            | AdminError::Conflict(m)
            | AdminError::Gone(m)
            | AdminError::Internal(m) => f.write_str(m),
        }
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::Invalid(_) => StatusCode::BAD_REQUEST,
            AdminError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AdminError::Forbidden(_) => StatusCode::FORBIDDEN,
            AdminError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AdminError::NotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AdminError::Conflict(_) => StatusCode::CONFLICT,
            AdminError::Gone(_) => StatusCode::GONE,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let AdminError::Unauthenticated(_) = self {
            response.insert_header(("WWW-Authenticate", "BASIC realm=\"Berth\""));
        }
        match self {
            AdminError::Invalid(errors) => {
                let list: Vec<_> = errors
                    .iter()
                    .map(|(id, message)| json!({"id": id, "message": message}))
                    .collect();
                response.json(list)
            }
            AdminError::Internal(detail) => {
                tracing::error!(error = %detail, "admin request failed");
                response.json(
                    json!({"id": "*", "message": "Internal server error; see the server log"}),
                )
            }
            AdminError::Unauthenticated(m)
            | AdminError::Forbidden(m)
            | AdminError::Throttled(m)
            | AdminError::NotFound(m)
            | AdminError::Unprocessable(m)
            | AdminError::NotAllowed(m)
            | AdminError::Conflict(m) => response.json(json!({"id": "*", "message": m})),
            // A list, as for 400: Nexus clients (nexus3-cli) print list items and choke on
            // a lone object.
            AdminError::Gone(m) => response.json(json!([{"id": "*", "message": m}])),
        }
    }
}

impl From<RegistryError> for AdminError {
    fn from(e: RegistryError) -> Self {
        match e {
            // Cross-definition checks (references, cycles, ports, type changes) refuse
            // the change as a whole.
            RegistryError::Definition(m) => AdminError::invalid("*", m),
            RegistryError::RepositoryUnknown(_) => AdminError::repository_not_found(),
            RegistryError::BlobStoreUnknown(name) => AdminError::blob_store_not_found(&name),
            other => AdminError::Internal(other.to_string()),
        }
    }
}

impl From<ModelError> for AdminError {
    fn from(e: ModelError) -> Self {
        // The model names fields as the config file does; answer with the Nexus JSON path.
        let id = match e.field {
            "httpPort" => "docker.httpPort",
            "group" => "group.memberNames",
            other => other,
        };
        AdminError::invalid(id, e.message)
    }
}
