//! The HTTP side: one pooled `reqwest` client per run, credentials, and the Docker token
//! flow (a `401` with `WWW-Authenticate: Bearer realm=…,service=…,scope=…` sends the client
//! to the realm for a token, as `docker pull` does; `Basic` challenges get the credentials).

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};

/// Where and as whom to connect.
#[derive(Clone)]
pub struct Target {
    pub base: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub http: Client,
    /// Sessions start with Basic credentials instead of waiting for a challenge.
    pub preemptive_basic: bool,
}

impl Target {
    pub fn new(
        base: &str,
        user: Option<String>,
        password: Option<String>,
        insecure: bool,
        conns: usize,
    ) -> std::result::Result<Self, String> {
        let http = Client::builder()
            .danger_accept_invalid_certs(insecure)
            .pool_max_idle_per_host(conns.max(1))
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Target {
            base: base.trim_end_matches('/').to_string(),
            user,
            password,
            http,
            preemptive_basic: false,
        })
    }

    pub fn with_preemptive_basic(mut self, on: bool) -> Self {
        self.preemptive_basic = on && self.user.is_some();
        self
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }
}

/// What a client presents: nothing yet, Basic credentials, or a Bearer token.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    Basic,
    Bearer(String),
}

/// One client's conversation with the registry (one `docker pull`, one pusher).
pub struct Session {
    pub target: Target,
    auth: Auth,
    /// Token requests made, so the caller can record them.
    pub tokens_fetched: u32,
}

/// A failed request, with enough context to find it.
#[derive(Debug)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<reqwest::Error> for LoadError {
    fn from(e: reqwest::Error) -> Self {
        // The source chain says why (connection reset, timeout…); Display alone does not.
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        LoadError(msg)
    }
}

pub type Result<T> = std::result::Result<T, LoadError>;

impl Session {
    pub fn new(target: &Target) -> Self {
        Session {
            target: target.clone(),
            auth: if target.preemptive_basic {
                Auth::Basic
            } else {
                Auth::None
            },
            tokens_fetched: 0,
        }
    }

    /// Sends a request built by `build` (called again for the retry after a challenge, so
    /// bodies must be cheap to rebuild: `Bytes` or nothing). `scope` is what a token must cover.
    pub async fn send<F>(
        &mut self,
        method: Method,
        path: &str,
        scope: &str,
        build: F,
    ) -> Result<Response>
    where
        F: Fn(RequestBuilder) -> RequestBuilder,
    {
        let url = self.target.url(path);
        let resp = self
            .authorized(build(self.target.http.request(method.clone(), &url)))
            .send()
            .await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        self.answer_challenge(resp.headers(), scope).await?;
        Ok(self
            .authorized(build(self.target.http.request(method, &url)))
            .send()
            .await?)
    }

    fn authorized(&self, rb: RequestBuilder) -> RequestBuilder {
        match &self.auth {
            Auth::None => rb,
            Auth::Basic => rb.basic_auth(
                self.target.user.clone().unwrap_or_default(),
                self.target.password.clone(),
            ),
            Auth::Bearer(t) => rb.bearer_auth(t),
        }
    }

    /// `GET /v2/` as a client's first request, answering the challenge if there is one.
    pub async fn login(&mut self, scope: &str) -> Result<()> {
        let resp = self.send(Method::GET, "/v2/", scope, |rb| rb).await?;
        if !resp.status().is_success() {
            return Err(LoadError(format!("GET /v2/ answered {}", resp.status())));
        }
        Ok(())
    }

    async fn answer_challenge(&mut self, headers: &HeaderMap, scope: &str) -> Result<()> {
        let challenge = headers
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| LoadError("401 without WWW-Authenticate".into()))?;
        let (scheme, params) = berth::oci::challenge::parse(challenge);
        if scheme.eq_ignore_ascii_case("basic") {
            if self.target.user.is_none() {
                return Err(LoadError(
                    "registry wants credentials: pass --user/--password".into(),
                ));
            }
            self.auth = Auth::Basic;
            return Ok(());
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(LoadError(format!("unsupported challenge {challenge:?}")));
        }
        let realm = params
            .get("realm")
            .cloned()
            .ok_or_else(|| LoadError("Bearer challenge without realm".into()))?;
        let mut query: Vec<(String, String)> =
            params.into_iter().filter(|(k, _)| k == "service").collect();
        if !scope.is_empty() {
            query.push(("scope".into(), scope.into()));
        }
        let mut rb = self.target.http.get(&realm).query(&query);
        if let Some(user) = &self.target.user {
            rb = rb.basic_auth(user, self.target.password.clone());
        }
        let resp = rb.send().await?;
        self.tokens_fetched += 1;
        if !resp.status().is_success() {
            return Err(LoadError(format!("token realm answered {}", resp.status())));
        }
        let body: serde_json::Value = resp.json().await?;
        let token = body
            .get("token")
            .or_else(|| body.get("access_token"))
            .and_then(|t| t.as_str())
            .ok_or_else(|| LoadError("token response without token".into()))?;
        self.auth = Auth::Bearer(token.to_string());
        Ok(())
    }
}

/// A header value as a string, or empty.
pub fn header_str(resp: &Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}
