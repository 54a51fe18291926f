//! A small JSON client of a Nexus-shaped admin REST API (`/service/rest/v1/…`), used for
//! both sides: reading the source Nexus and writing the target Berth. Basic credentials
//! are sent pre-emptively, as Nexus's own Terraform client does.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::error::{describe, ImportError};
use super::options::Endpoint;

/// One side's admin API.
pub struct RestClient {
    client: reqwest::Client,
    base: String,
    endpoint: Endpoint,
}

/// What a write answered: status and body text.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first `message` of a Nexus error body, else the body itself.
    pub fn message(&self) -> String {
        let parsed: Option<Value> = serde_json::from_str(&self.body).ok();
        let message = parsed.as_ref().and_then(|v| {
            v.get(0)
                .and_then(|e| e.get("message"))
                .or_else(|| v.get("message"))
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        message.unwrap_or_else(|| self.body.chars().take(300).collect())
    }

    /// The `id` of the first error in a Nexus 400 list (`docker.httpPort`, `name`, …).
    pub fn error_id(&self) -> Option<String> {
        let parsed: Value = serde_json::from_str(&self.body).ok()?;
        parsed.get(0)?.get("id")?.as_str().map(str::to_string)
    }
}

impl RestClient {
    pub fn new(client: reqwest::Client, endpoint: &Endpoint) -> Self {
        RestClient {
            client,
            base: format!("{}/service/rest", endpoint.url),
            endpoint: endpoint.clone(),
        }
    }

    /// `GET path` (relative to `/service/rest`); `None` on 404.
    pub async fn get(&self, path: &str) -> Result<Option<Value>, ImportError> {
        let answer = self.send(Method::GET, path, None).await?;
        match answer.status {
            404 => Ok(None),
            s if (200..300).contains(&s) => {
                serde_json::from_str(&answer.body).map(Some).map_err(|e| {
                    ImportError::Malformed(format!(
                        "{} GET {path}: not the JSON Nexus documents: {e}",
                        self.endpoint.label
                    ))
                })
            }
            401 | 403 => Err(self.refused(path, answer.status)),
            s => Err(ImportError::status(
                format!("{} GET {path}", self.endpoint.label),
                s,
                answer.body,
            )),
        }
    }

    /// `GET path`, which must exist.
    pub async fn get_required(&self, path: &str) -> Result<Value, ImportError> {
        self.get(path).await?.ok_or_else(|| {
            ImportError::status(format!("{} GET {path}", self.endpoint.label), 404, "")
        })
    }

    /// Sends `body` (JSON) and returns the answer, whatever its status, except that refused
    /// credentials are an error.
    pub async fn write(
        &self,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<Answer, ImportError> {
        let answer = self.send(method, path, Some(body)).await?;
        if answer.status == 401 {
            return Err(self.refused(path, answer.status));
        }
        Ok(answer)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, ImportError> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .client
            .request(method.clone(), &url)
            .header("Accept", "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some((user, password)) = &self.endpoint.credentials {
            request = request.basic_auth(user, Some(password.expose()));
        }
        let response = request.send().await.map_err(|e| {
            ImportError::Unreachable(format!(
                "{} {method} {url}: {}",
                self.endpoint.label,
                describe(&e)
            ))
        })?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        Ok(Answer { status, body })
    }

    fn refused(&self, path: &str, status: u16) -> ImportError {
        let who = match &self.endpoint.credentials {
            Some((user, _)) => format!("user {user}"),
            None => "an anonymous caller".into(),
        };
        let what = if status == StatusCode::FORBIDDEN.as_u16() {
            "is not allowed"
        } else {
            "was refused"
        };
        ImportError::Refused(format!(
            "{} {path}: {who} {what} ({status}); the import needs an administrator",
            self.endpoint.label
        ))
    }
}
