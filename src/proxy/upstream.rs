//! The client of one upstream registry (Distribution API v2).
//!
//! Authentication follows the registry's own challenge: a `401` with `WWW-Authenticate:
//! Bearer realm=…,service=…` sends Berth to the realm for a token (anonymously, or with
//! Basic credentials when the proxy has them); the token is reused for its scope until it
//! expires. A `Basic` challenge is answered with the credentials directly. Redirects (blob
//! storage hosts) are followed by the HTTP client, which drops `Authorization` when the
//! host changes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};
use serde::Deserialize;

use super::config::{IndexType, ProxyConfig, Secret};
use super::UpstreamError;

/// Every manifest type Berth can store, so the upstream never down-converts (checked
/// against the constants in a test).
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// Tokens are renewed this long before the upstream says they expire.
const TOKEN_MARGIN: Duration = Duration::from_secs(10);
/// What a token server that names no `expires_in` means (the token spec's default).
const DEFAULT_TOKEN_LIFETIME: u64 = 60;

#[derive(Clone)]
enum Auth {
    Bearer(String),
    Basic,
}

struct CachedAuth {
    auth: Auth,
    expires: Option<Instant>,
}

pub struct Upstream {
    client: reqwest::Client,
    base: String,
    /// The last `ratelimit-limit` / `ratelimit-remaining` the upstream sent (Docker Hub).
    budget: Mutex<Option<RateLimit>>,
    hub: bool,
    timeout: Duration,
    credentials: Option<(String, Secret)>,
    /// Per pull scope (`repository:<name>:pull`).
    auth: Mutex<HashMap<String, CachedAuth>>,
}

/// An upstream's own request budget, as Docker Hub announces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u64,
    pub remaining: u64,
}

/// Longest `Retry-After` taken from an upstream (a longer one is read as this).
const MAX_RETRY_AFTER: u64 = 3600;

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl Upstream {
    /// The client of `url`, one of `config`'s upstream URLs.
    pub fn new(config: &ProxyConfig, url: &str) -> Result<Self, UpstreamError> {
        let timeout = Duration::from_secs(config.timeout_secs);
        let mut agent = format!("berth/{}", env!("CARGO_PKG_VERSION"));
        if let Some(suffix) = config
            .user_agent_suffix
            .as_deref()
            .filter(|s| !s.is_empty())
        {
            agent.push(' ');
            agent.push_str(suffix);
        }
        let client = reqwest::Client::builder()
            .user_agent(agent)
            .connect_timeout(timeout)
            // Between two reads of a body: a stalled upstream fails, a long blob does not.
            .read_timeout(timeout)
            .build()
            .map_err(|e| UpstreamError::Unavailable(format!("cannot build HTTP client: {e}")))?;
        let credentials = match (&config.username, &config.password) {
            (Some(u), Some(p)) => Some((u.clone(), p.clone())),
            (Some(u), None) => Some((u.clone(), Secret::new(String::new()))),
            _ => None,
        };
        Ok(Upstream {
            client,
            base: url.trim_end_matches('/').to_string(),
            budget: Mutex::new(None),
            hub: config.index_type == IndexType::Hub,
            timeout,
            credentials,
            auth: Mutex::new(HashMap::new()),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The name the upstream knows an image by: Docker Hub keeps official images under
    /// `library/`, which clients leave out.
    pub fn upstream_name(&self, image: &str) -> String {
        if self.hub && !image.contains('/') {
            format!("library/{image}")
        } else {
            image.to_string()
        }
    }

    /// Sends `method` to `/v2/<upstream name>/<suffix>`, authenticating if challenged.
    /// Any status but 2xx becomes an [`UpstreamError`].
    pub async fn request(
        &self,
        method: Method,
        image: &str,
        suffix: &str,
        accept: Option<&str>,
    ) -> Result<Response, UpstreamError> {
        let name = self.upstream_name(image);
        let url = format!("{}/v2/{name}/{suffix}", self.base);
        let scope = format!("repository:{name}:pull");
        let cached = self.cached_auth(&scope);
        let mut response = self
            .send(method.clone(), &url, accept, cached.as_ref())
            .await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let challenge = response
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let auth = self.authenticate(&challenge, &scope).await?;
            response = self.send(method, &url, accept, Some(&auth)).await?;
        }
        if let Some(budget) = read_ratelimit(response.headers()) {
            *self.budget.lock().unwrap() = Some(budget);
        }
        check_status(response, &self.base)
    }

    /// The budget the upstream announced last, if it ever did.
    pub fn ratelimit(&self) -> Option<RateLimit> {
        *self.budget.lock().unwrap()
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        accept: Option<&str>,
        auth: Option<&Auth>,
    ) -> Result<Response, UpstreamError> {
        let mut request = self.client.request(method, url);
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        request = match auth {
            Some(Auth::Bearer(token)) => request.bearer_auth(token),
            Some(Auth::Basic) => self.with_basic(request),
            None => request,
        };
        // The client's own timeout would also cut long bodies; only the head is bounded here.
        match tokio::time::timeout(self.timeout, request.send()).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(UpstreamError::Unavailable(format!(
                "upstream {} is unreachable: {}",
                self.base,
                describe(&e)
            ))),
            Err(_) => Err(UpstreamError::Unavailable(format!(
                "upstream {} did not answer within {} s",
                self.base,
                self.timeout.as_secs()
            ))),
        }
    }

    fn with_basic(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.credentials {
            Some((user, password)) => request.basic_auth(user, Some(password.expose())),
            None => request,
        }
    }

    fn cached_auth(&self, scope: &str) -> Option<Auth> {
        let auth = self.auth.lock().unwrap();
        let entry = auth.get(scope)?;
        match entry.expires {
            Some(at) if at <= Instant::now() => None,
            _ => Some(entry.auth.clone()),
        }
    }

    /// Answers a `WWW-Authenticate` challenge and remembers the result for `scope`.
    async fn authenticate(&self, challenge: &str, scope: &str) -> Result<Auth, UpstreamError> {
        let (scheme, params) = crate::oci::challenge::parse(challenge);
        let (auth, expires) = if scheme.eq_ignore_ascii_case("basic") {
            if self.credentials.is_none() {
                return Err(UpstreamError::Refused(format!(
                    "upstream {} requires credentials (Basic); set the proxy's username and password",
                    self.base
                )));
            }
            (Auth::Basic, None)
        } else if scheme.eq_ignore_ascii_case("bearer") {
            let realm = params.get("realm").ok_or_else(|| {
                UpstreamError::Refused(format!(
                    "upstream {} sent a Bearer challenge without a realm",
                    self.base
                ))
            })?;
            let (token, lifetime) = self
                .fetch_token(realm, params.get("service"), scope)
                .await?;
            let expires = Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN);
            (Auth::Bearer(token), Some(expires))
        } else {
            return Err(UpstreamError::Refused(format!(
                "upstream {} answered 401 without a usable challenge",
                self.base
            )));
        };
        self.auth.lock().unwrap().insert(
            scope.to_string(),
            CachedAuth {
                auth: auth.clone(),
                expires,
            },
        );
        Ok(auth)
    }

    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&String>,
        scope: &str,
    ) -> Result<(String, Duration), UpstreamError> {
        let mut query = vec![("scope", scope)];
        if let Some(service) = service {
            query.push(("service", service.as_str()));
        }
        let request = self.with_basic(self.client.get(realm).query(&query));
        let response = match tokio::time::timeout(self.timeout, request.send()).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                return Err(UpstreamError::Unavailable(format!(
                    "token server {realm} of upstream {} is unreachable: {}",
                    self.base,
                    describe(&e)
                )))
            }
            Err(_) => {
                return Err(UpstreamError::Unavailable(format!(
                    "token server {realm} did not answer in time"
                )))
            }
        };
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(UpstreamError::Refused(format!(
                "token server {realm} of upstream {} refused the proxy's credentials ({status})",
                self.base
            )));
        }
        if !status.is_success() {
            return Err(UpstreamError::Unavailable(format!(
                "token server {realm} answered {status}"
            )));
        }
        let body: TokenResponse = response.json().await.map_err(|e| {
            UpstreamError::Unavailable(format!("token server {realm} sent no token: {e}"))
        })?;
        let token = body.token.or(body.access_token).ok_or_else(|| {
            UpstreamError::Unavailable(format!("token server {realm} sent no token"))
        })?;
        let lifetime = Duration::from_secs(body.expires_in.unwrap_or(DEFAULT_TOKEN_LIFETIME));
        Ok((token, lifetime))
    }
}

/// Turns a non-success status into the error that says what the upstream meant.
fn check_status(response: Response, base: &str) -> Result<Response, UpstreamError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    Err(match status {
        StatusCode::NOT_FOUND => UpstreamError::NotFound,
        StatusCode::TOO_MANY_REQUESTS => {
            let retry_after_secs = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| s.min(MAX_RETRY_AFTER));
            UpstreamError::RateLimited {
                message: format!("upstream {base} is rate-limiting requests (429)"),
                retry_after_secs,
            }
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => UpstreamError::Refused(format!(
            "upstream {base} refused access ({status}); check the proxy's credentials"
        )),
        _ => UpstreamError::Unavailable(format!("upstream {base} answered {status}")),
    })
}

/// Docker Hub's `ratelimit-limit: 100;w=21600` and `ratelimit-remaining: 76;w=21600`
/// (the count before the `;`).
fn read_ratelimit(headers: &reqwest::header::HeaderMap) -> Option<RateLimit> {
    let count = |name: &str| {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .split(';')
            .next()?
            .trim()
            .parse::<u64>()
            .ok()
    };
    Some(RateLimit {
        limit: count("ratelimit-limit")?,
        remaining: count("ratelimit-remaining")?,
    })
}

/// The innermost cause of a client error ("connection refused"), which says more than the
/// outer "error sending request".
fn describe(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::manifest::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};

    #[test]
    fn the_accept_header_names_every_manifest_type() {
        for t in [
            OCI_MANIFEST,
            OCI_INDEX,
            DOCKER_MANIFEST,
            DOCKER_MANIFEST_LIST,
        ] {
            assert!(MANIFEST_ACCEPT.contains(t));
        }
    }

    #[test]
    fn hub_names_get_the_library_prefix() {
        let mut c = ProxyConfig::new("http://x");
        c.index_type = IndexType::Hub;
        let u = Upstream::new(&c, "http://x").unwrap();
        assert_eq!(u.upstream_name("alpine"), "library/alpine");
        assert_eq!(u.upstream_name("bitnami/redis"), "bitnami/redis");
        c.index_type = IndexType::Registry;
        assert_eq!(
            Upstream::new(&c, "http://x")
                .unwrap()
                .upstream_name("alpine"),
            "alpine"
        );
    }

    #[test]
    fn docker_hub_ratelimit_headers_are_read() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("ratelimit-limit", "100;w=21600".parse().unwrap());
        h.insert("ratelimit-remaining", "76;w=21600".parse().unwrap());
        assert_eq!(
            read_ratelimit(&h),
            Some(RateLimit {
                limit: 100,
                remaining: 76
            })
        );
        h.remove("ratelimit-remaining");
        assert_eq!(read_ratelimit(&h), None);
    }
}
