//! A client of one repository's Docker registry API (Distribution v2), for reading the
//! source and writing the target. The proxy's upstream client (`proxy::upstream`) only
//! pulls and is built from a proxy repository's settings; this one also pushes, mounts and
//! lists the catalog, with the scope of each call (`registry:catalog:*`,
//! `repository:<image>:pull,push`).
//!
//! Authentication: Basic credentials are sent pre-emptively (Nexus and Berth accept Basic on
//! `/v2/` in every realm set-up); a `Bearer` challenge is answered at its realm with the same
//! credentials, and the token is reused for its scope.

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::header::{ACCEPT, CONTENT_TYPE, LINK, LOCATION, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, Response, StatusCode, Url};
use serde::Deserialize;

use super::error::{describe, ImportError};
use super::options::Endpoint;
use crate::oci::digest::{Algorithm, Digest};

/// Every manifest kind Berth stores, so no registry down-converts what it sends.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// Names asked for per page of `_catalog` and `tags/list`.
const PAGE: usize = 1000;

/// A manifest as fetched: its exact bytes, media type and digest.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: String,
}

/// What `POST …/blobs/uploads/?mount=` answered.
pub enum Mount {
    /// The blob is linked; nothing to send.
    Mounted,
    /// An upload session to `PUT` the blob to.
    Upload(Url),
}

/// One repository's `/v2/` API.
pub struct RegistryClient {
    client: reqwest::Client,
    /// `<url>/repository/<repo>`: Nexus and Berth both serve a repository's `/v2/` there.
    base: String,
    endpoint: Endpoint,
    tokens: Mutex<HashMap<String, String>>,
}

#[derive(Deserialize)]
struct TokenBody {
    token: Option<String>,
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct CatalogPage {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TagsPage {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

impl RegistryClient {
    pub fn new(client: reqwest::Client, endpoint: &Endpoint, repository: &str) -> Self {
        RegistryClient {
            client,
            base: format!("{}/repository/{repository}", endpoint.url),
            endpoint: endpoint.clone(),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// Every image name in the repository.
    pub async fn catalog(&self) -> Result<Vec<String>, ImportError> {
        self.paged("/v2/_catalog", "registry:catalog:*", |bytes| {
            let page: CatalogPage = serde_json::from_slice(bytes)?;
            Ok(page.repositories.unwrap_or_default())
        })
        .await
    }

    /// Every tag of `image`.
    pub async fn tags(&self, image: &str) -> Result<Vec<String>, ImportError> {
        let path = format!("/v2/{image}/tags/list");
        self.paged(&path, &pull(image), |bytes| {
            let page: TagsPage = serde_json::from_slice(bytes)?;
            Ok(page.tags.unwrap_or_default())
        })
        .await
    }

    /// Follows pagination: while the server sends a `Link` header, asks for the names after
    /// the last one received (computing `last` ourselves: `Link` targets are relative to
    /// whatever prefix the server thinks it is under).
    async fn paged(
        &self,
        path: &str,
        scope: &str,
        parse: impl Fn(&[u8]) -> Result<Vec<String>, serde_json::Error>,
    ) -> Result<Vec<String>, ImportError> {
        let mut all: Vec<String> = Vec::new();
        loop {
            let mut url = self.url(path)?;
            url.query_pairs_mut().append_pair("n", &PAGE.to_string());
            if let Some(last) = all.last() {
                url.query_pairs_mut().append_pair("last", last);
            }
            let response = self.send(scope, || self.client.get(url.clone())).await?;
            let response = self
                .expect(response, &format!("GET {path}"), &[200])
                .await?;
            let more = response.headers().contains_key(LINK);
            let bytes = response.bytes().await.map_err(|e| self.broken(path, &e))?;
            let names = parse(&bytes).map_err(|e| {
                ImportError::Malformed(format!("{} GET {path}: {e}", self.endpoint.label))
            })?;
            let empty = names.is_empty();
            all.extend(names);
            if !more || empty {
                return Ok(all);
            }
        }
    }

    /// The manifest `reference` (tag or digest) of `image`, byte for byte. The digest is
    /// computed from the bytes and checked against the one asked for or announced.
    pub async fn get_manifest(
        &self,
        image: &str,
        reference: &str,
    ) -> Result<Manifest, ImportError> {
        let path = format!("/v2/{image}/manifests/{reference}");
        let url = self.url(&path)?;
        let response = self
            .send(&pull(image), || {
                self.client.get(url.clone()).header(ACCEPT, MANIFEST_ACCEPT)
            })
            .await?;
        let response = self
            .expect(response, &format!("GET {path}"), &[200])
            .await?;
        let media_type = header(&response, CONTENT_TYPE.as_str());
        let announced = header(&response, "docker-content-digest");
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.broken(&path, &e))?
            .to_vec();
        let expected = if reference.contains(':') {
            reference.to_string()
        } else {
            announced
        };
        let algorithm = Digest::parse(&expected)
            .map(|d| d.algorithm())
            .unwrap_or(Algorithm::Sha256);
        let digest = Digest::of_bytes(algorithm, &bytes).as_str().to_string();
        if !expected.is_empty() && expected != digest {
            return Err(ImportError::DigestMismatch(format!(
                "{} GET {path}: the bytes hash to {digest}, not {expected}",
                self.endpoint.label
            )));
        }
        Ok(Manifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// The digest `reference` points to, or `None` if the manifest is not there.
    pub async fn head_manifest(
        &self,
        image: &str,
        reference: &str,
    ) -> Result<Option<String>, ImportError> {
        let path = format!("/v2/{image}/manifests/{reference}");
        let url = self.url(&path)?;
        let response = self
            .send(&pull(image), || {
                self.client
                    .head(url.clone())
                    .header(ACCEPT, MANIFEST_ACCEPT)
            })
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = self
            .expect(response, &format!("HEAD {path}"), &[200])
            .await?;
        Ok(Some(header(&response, "docker-content-digest")))
    }

    /// True if `image` has the blob `digest`.
    pub async fn has_blob(&self, image: &str, digest: &str) -> Result<bool, ImportError> {
        let path = format!("/v2/{image}/blobs/{digest}");
        let url = self.url(&path)?;
        let response = self
            .send(&pull(image), || self.client.head(url.clone()))
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        self.expect(response, &format!("HEAD {path}"), &[200])
            .await?;
        Ok(true)
    }

    /// The blob's body, to be streamed on (never read whole).
    pub async fn get_blob(&self, image: &str, digest: &str) -> Result<Response, ImportError> {
        let path = format!("/v2/{image}/blobs/{digest}");
        let url = self.url(&path)?;
        let response = self
            .send(&pull(image), || self.client.get(url.clone()))
            .await?;
        self.expect(response, &format!("GET {path}"), &[200]).await
    }

    /// Mounts `digest` into `image` from `from` (another image of this repository), or
    /// starts an upload session when there is no `from` or the mount is declined.
    pub async fn mount_or_start(
        &self,
        image: &str,
        digest: &str,
        from: Option<&str>,
    ) -> Result<Mount, ImportError> {
        let path = format!("/v2/{image}/blobs/uploads/");
        let mut url = self.url(&path)?;
        if let Some(from) = from {
            url.query_pairs_mut()
                .append_pair("mount", digest)
                .append_pair("from", from);
        }
        let response = self
            .send(&push(image), || {
                self.client.post(url.clone()).header("Content-Length", "0")
            })
            .await?;
        let response = self
            .expect(response, &format!("POST {path}"), &[201, 202])
            .await?;
        if response.status() == StatusCode::CREATED {
            return Ok(Mount::Mounted);
        }
        let location = header(&response, LOCATION.as_str());
        let session = url.join(&location).map_err(|e| {
            ImportError::Malformed(format!(
                "{} POST {path}: bad Location {location:?}: {e}",
                self.endpoint.label
            ))
        })?;
        Ok(Mount::Upload(session))
    }

    /// Completes an upload session with the whole blob in one streamed `PUT`.
    pub async fn finish_upload(
        &self,
        image: &str,
        session: Url,
        digest: &str,
        size: Option<u64>,
        body: reqwest::Body,
    ) -> Result<(), ImportError> {
        let mut url = session;
        url.query_pairs_mut().append_pair("digest", digest);
        // The body streams, so it cannot be re-sent after a challenge: the session's POST
        // already authenticated for this scope, and the same credentials are sent again.
        let mut request = self
            .with_auth(&push(image), self.client.put(url))
            .header(CONTENT_TYPE, "application/octet-stream");
        // Without a length the body goes chunked, which registries accept too.
        if let Some(size) = size {
            request = request.header("Content-Length", size.to_string());
        }
        let request = request.body(body);
        let response = request
            .send()
            .await
            .map_err(|e| self.unreachable("PUT blob", &e))?;
        self.expect(response, &format!("PUT blob {digest} of {image}"), &[201])
            .await?;
        Ok(())
    }

    /// Stores `manifest` as `reference` (a tag or its digest).
    pub async fn put_manifest(
        &self,
        image: &str,
        reference: &str,
        manifest: &Manifest,
    ) -> Result<(), ImportError> {
        let path = format!("/v2/{image}/manifests/{reference}");
        let url = self.url(&path)?;
        let response = self
            .send(&push(image), || {
                self.client
                    .put(url.clone())
                    .header(CONTENT_TYPE, manifest.media_type.clone())
                    .body(manifest.bytes.clone())
            })
            .await?;
        self.expect(response, &format!("PUT {path}"), &[201])
            .await?;
        Ok(())
    }

    /// Sends the request `build` makes, answering one authentication challenge.
    async fn send(
        &self,
        scope: &str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, ImportError> {
        let response = self
            .with_auth(scope, build())
            .send()
            .await
            .map_err(|e| self.unreachable("request", &e))?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenge = header(&response, WWW_AUTHENTICATE.as_str());
        let (scheme, params) = crate::oci::challenge::parse(&challenge);
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Ok(response);
        }
        let Some(realm) = params.get("realm") else {
            return Ok(response);
        };
        let token = self
            .fetch_token(realm, params.get("service"), scope)
            .await?;
        self.tokens.lock().unwrap().insert(scope.to_string(), token);
        self.with_auth(scope, build())
            .send()
            .await
            .map_err(|e| self.unreachable("request", &e))
    }

    fn with_auth(&self, scope: &str, request: RequestBuilder) -> RequestBuilder {
        if let Some(token) = self.tokens.lock().unwrap().get(scope) {
            return request.bearer_auth(token);
        }
        match &self.endpoint.credentials {
            Some((user, password)) => request.basic_auth(user, Some(password.expose())),
            None => request,
        }
    }

    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&String>,
        scope: &str,
    ) -> Result<String, ImportError> {
        let mut query = vec![("scope", scope)];
        if let Some(service) = service {
            query.push(("service", service.as_str()));
        }
        let mut request = self.client.get(realm).query(&query);
        if let Some((user, password)) = &self.endpoint.credentials {
            request = request.basic_auth(user, Some(password.expose()));
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.unreachable("token", &e))?;
        let response = self
            .expect(response, &format!("token from {realm}"), &[200])
            .await?;
        let body: TokenBody = response.json().await.map_err(|e| {
            ImportError::Malformed(format!("{} token server {realm}: {e}", self.endpoint.label))
        })?;
        body.token.or(body.access_token).ok_or_else(|| {
            ImportError::Malformed(format!(
                "{} token server {realm} sent no token",
                self.endpoint.label
            ))
        })
    }

    /// Passes a response with one of the `wanted` statuses; anything else is an error
    /// naming the call.
    async fn expect(
        &self,
        response: Response,
        what: &str,
        wanted: &[u16],
    ) -> Result<Response, ImportError> {
        let status = response.status().as_u16();
        if wanted.contains(&status) {
            return Ok(response);
        }
        let what = format!("{} {} {what}", self.endpoint.label, self.base);
        let body = response.text().await.unwrap_or_default();
        if status == 401 || status == 403 {
            return Err(ImportError::Refused(format!("{what}: {status} {body}")));
        }
        Err(ImportError::status(what, status, body))
    }

    fn url(&self, path: &str) -> Result<Url, ImportError> {
        Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| ImportError::Malformed(format!("bad URL {}{path}: {e}", self.base)))
    }

    fn unreachable(&self, what: &str, e: &reqwest::Error) -> ImportError {
        ImportError::Unreachable(format!(
            "{} {} ({what}): {}",
            self.endpoint.label,
            self.base,
            describe(e)
        ))
    }

    fn broken(&self, path: &str, e: &reqwest::Error) -> ImportError {
        ImportError::Unreachable(format!(
            "{} {}{path}: body: {}",
            self.endpoint.label,
            self.base,
            describe(e)
        ))
    }
}

fn pull(image: &str) -> String {
    format!("repository:{image}:pull")
}

fn push(image: &str) -> String {
    format!("repository:{image}:pull,push")
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}
