//! The upstream side of the proxy tests: Debian's `docker-registry` (CNCF Distribution) on
//! a random loopback port with filesystem storage, and a small "front" written here that
//! sits between Berth and that registry to count requests, to fail on purpose (corrupt or
//! truncated blobs, outages) and to demand Bearer tokens from a token endpoint of its own.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::body::SizedStream;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use futures_util::StreamExt;
use reqwest::Method;

use crate::common::*;

/// A running `docker-registry`; killed on drop.
pub struct Upstream {
    pub addr: String,
    _dir: tempfile::TempDir,
    child: Option<Child>,
    config: PathBuf,
}

impl Upstream {
    pub async fn start() -> Upstream {
        assert!(
            have("docker-registry"),
            "docker-registry is not installed: run scripts/install-test-deps.sh"
        );
        let dir = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let mut upstream = Upstream {
            addr,
            _dir: dir,
            child: None,
            config,
        };
        upstream.run().await;
        upstream
    }

    async fn run(&mut self) {
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        self.child = Some(child);
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/v2/", self.url())).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("docker-registry did not start on {}", self.addr);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Uploads a blob (POST then PUT, which every registry supports); returns its digest.
    pub async fn push_blob(&self, name: &str, bytes: &[u8]) -> String {
        let client = reqwest::Client::new();
        let digest = sha256(bytes);
        let r = client
            .post(format!("{}/v2/{name}/blobs/uploads/", self.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "start upload");
        let location = header(&r, "location");
        let location = if location.starts_with("http") {
            location
        } else {
            format!("{}{location}", self.url())
        };
        let r = client
            .put(with_digest(&location, &digest))
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "finish upload");
        digest
    }

    /// Pushes config + layers and an OCI manifest tagged `tag`; returns the manifest digest.
    pub async fn push_image(&self, name: &str, tag: &str, layers: &[Vec<u8>]) -> String {
        let config = format!("{{\"tag\":\"{tag}\",\"layers\":{}}}", layers.len());
        let image = Image::oci(config.into_bytes(), layers.to_vec());
        for (_, bytes) in image.blobs() {
            self.push_blob(name, bytes).await;
        }
        let client = reqwest::Client::new();
        let r = put_manifest_with(
            |method, path| client.request(method, format!("{}{path}", self.url())),
            &format!("/v2/{name}"),
            tag,
            &image,
        )
        .await;
        expect_status(r, 201, "push manifest").await;
        image.digest
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How the front treats blob downloads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fault {
    None,
    /// Flip one byte in the middle of every blob.
    Corrupt,
    /// Announce the full length, send half, then close the connection.
    Truncate,
    /// Answer blob GETs with a 307 to the upstream itself (as registries that keep blobs
    /// on a storage host do).
    Redirect,
    /// Answer every `/v2/` request with 429, as a rate-limiting Docker Hub does (with
    /// `Retry-After` if the front has one set).
    RateLimit,
    /// Send the first half of a blob, pause for [`SLOW_PAUSE`], then the rest.
    Slow,
    /// Answer manifest GETs with a huge chunked body (no `Content-Length`) of whitespace,
    /// counting what was sent in `Front::streamed`.
    EndlessManifest,
    /// Answer blob GETs with the blob followed by a huge chunked tail of garbage (no
    /// `Content-Length`), counting what was sent in `Front::streamed`.
    EndlessBlob,
    /// Answer every `/v2/` request with 503.
    Down,
}

/// How long a [`Fault::Slow`] body pauses in the middle.
pub const SLOW_PAUSE: Duration = Duration::from_millis(1500);

struct FrontState {
    upstream: String,
    self_url: String,
    client: reqwest::Client,
    log: Mutex<Vec<(String, String)>>,
    fault: Mutex<Fault>,
    /// `Some((user, password))`: every `/v2/` request needs the Bearer token this front
    /// hands out at `/token` for those Basic credentials.
    token_auth: Option<(String, String)>,
    /// `Retry-After` seconds sent with a [`Fault::RateLimit`] 429.
    retry_after: Mutex<Option<u64>>,
    /// `(limit, remaining)` sent as Docker Hub's `ratelimit-limit`/`ratelimit-remaining`.
    ratelimit: Mutex<Option<(u64, u64)>>,
    /// Bytes of endless bodies sent so far.
    streamed: Arc<std::sync::atomic::AtomicU64>,
}

const TOKEN: &str = "front-test-token";

/// A counting, optionally faulty and optionally token-protected reverse proxy.
pub struct Front {
    pub url: String,
    state: Arc<FrontState>,
    handle: actix_web::dev::ServerHandle,
}

impl Front {
    pub fn start(upstream: &str, token_auth: Option<(&str, &str)>) -> Front {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(FrontState {
            upstream: upstream.to_string(),
            self_url: url.clone(),
            client: reqwest::Client::new(),
            log: Mutex::new(Vec::new()),
            fault: Mutex::new(Fault::None),
            token_auth: token_auth.map(|(u, p)| (u.to_string(), p.to_string())),
            retry_after: Mutex::new(None),
            ratelimit: Mutex::new(None),
            streamed: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let server_state = state.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let data = web::Data::from(server_state);
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .app_data(web::PayloadConfig::new(256 << 20))
                        .default_service(web::to(forward))
                })
                .workers(2)
                .listen(listener)
                .unwrap()
                .run();
                tx.send(server.handle()).unwrap();
                let _ = server.await;
            });
        });
        let handle = rx.recv().unwrap();
        Front { url, state, handle }
    }

    pub fn set_fault(&self, fault: Fault) {
        *self.state.fault.lock().unwrap() = fault;
    }

    /// `Retry-After` seconds for [`Fault::RateLimit`] answers.
    pub fn set_retry_after(&self, secs: Option<u64>) {
        *self.state.retry_after.lock().unwrap() = secs;
    }

    /// Docker Hub's `ratelimit-limit` / `ratelimit-remaining` on every answer.
    pub fn set_ratelimit(&self, limit_remaining: Option<(u64, u64)>) {
        *self.state.ratelimit.lock().unwrap() = limit_remaining;
    }

    /// Bytes sent so far by endless bodies.
    pub fn streamed(&self) -> u64 {
        self.state
            .streamed
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Requests seen whose method is `method` and whose path contains `part`.
    pub fn count(&self, method: &str, part: &str) -> usize {
        self.state
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, p)| m == method && p.contains(part))
            .count()
    }

    pub fn total(&self) -> usize {
        self.state.log.lock().unwrap().len()
    }

    pub fn requests(&self) -> Vec<(String, String)> {
        self.state.log.lock().unwrap().clone()
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(false)));
    }
}

async fn forward(req: HttpRequest, body: web::Bytes, state: web::Data<FrontState>) -> HttpResponse {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    state
        .log
        .lock()
        .unwrap()
        .push((req.method().to_string(), req.path().to_string()));
    if let Some((user, password)) = &state.token_auth {
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if req.path() == "/token" {
            let expected = format!(
                "Basic {}",
                base64_encode(format!("{user}:{password}").as_bytes())
            );
            if auth != expected {
                return HttpResponse::Unauthorized().finish();
            }
            return HttpResponse::Ok().json(serde_json::json!({"token": TOKEN, "expires_in": 300}));
        }
        if auth != format!("Bearer {TOKEN}") {
            return HttpResponse::Unauthorized()
                .insert_header((
                    "www-authenticate",
                    format!(
                        "Bearer realm=\"{}/token\",service=\"front\",scope=\"repository:x:pull\"",
                        state.self_url
                    ),
                ))
                .json(serde_json::json!({"errors":[{"code":"UNAUTHORIZED","message":"token needed"}]}));
        }
    }
    let fault = *state.fault.lock().unwrap();
    let mut response = faulty_forward(&req, body, &state, &path, fault).await;
    if let Some((limit, remaining)) = *state.ratelimit.lock().unwrap() {
        let headers = response.headers_mut();
        let value = |v: String| actix_web::http::header::HeaderValue::from_str(&v).unwrap();
        headers.insert(
            actix_web::http::header::HeaderName::from_static("ratelimit-limit"),
            value(format!("{limit};w=21600")),
        );
        headers.insert(
            actix_web::http::header::HeaderName::from_static("ratelimit-remaining"),
            value(format!("{remaining};w=21600")),
        );
    }
    response
}

async fn faulty_forward(
    req: &HttpRequest,
    body: web::Bytes,
    state: &FrontState,
    path: &str,
    fault: Fault,
) -> HttpResponse {
    if fault == Fault::RateLimit {
        let mut r = HttpResponse::TooManyRequests();
        if let Some(secs) = *state.retry_after.lock().unwrap() {
            r.insert_header(("retry-after", secs.to_string()));
        }
        return r.json(
            serde_json::json!({"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}),
        );
    }
    if fault == Fault::Down {
        return HttpResponse::ServiceUnavailable().finish();
    }
    if fault == Fault::EndlessManifest && req.method() == "GET" && path.contains("/manifests/") {
        return HttpResponse::Ok()
            .content_type("application/vnd.oci.image.manifest.v1+json")
            .streaming(endless(Vec::new(), state.streamed.clone()));
    }
    if fault == Fault::Redirect && req.method() == "GET" && path.contains("/blobs/sha256:") {
        return HttpResponse::TemporaryRedirect()
            .insert_header(("location", format!("{}{path}", state.upstream)))
            .finish();
    }
    let method = Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
    let mut outgoing = state
        .client
        .request(method.clone(), format!("{}{path}", state.upstream))
        .body(body.to_vec());
    for name in ["accept", "content-type"] {
        if let Some(v) = req.headers().get(name) {
            outgoing = outgoing.header(name, v.as_bytes());
        }
    }
    let response = match outgoing.send().await {
        Ok(r) => r,
        Err(e) => return HttpResponse::BadGateway().body(e.to_string()),
    };
    let status = actix_web::http::StatusCode::from_u16(response.status().as_u16()).unwrap();
    let mut out = HttpResponse::build(status);
    for name in [
        "content-type",
        "docker-content-digest",
        "location",
        "www-authenticate",
    ] {
        if let Some(v) = response.headers().get(name) {
            out.insert_header((name, v.as_bytes()));
        }
    }
    // The header itself: for a HEAD, reqwest reports the empty body's length.
    let announced: Option<u64> = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let mut bytes = response.bytes().await.unwrap_or_default().to_vec();
    let is_blob_get = method == Method::GET && path.contains("/blobs/sha256:");
    if method == Method::HEAD {
        // A sized empty stream: actix answers a HEAD with the body's announced length.
        let none = futures_util::stream::empty::<Result<web::Bytes, std::io::Error>>();
        return out.body(SizedStream::new(announced.unwrap_or(0), none));
    }
    if is_blob_get && status.is_success() && !bytes.is_empty() {
        match fault {
            Fault::None
            | Fault::Redirect
            | Fault::RateLimit
            | Fault::Down
            | Fault::EndlessManifest => {}
            Fault::EndlessBlob => {
                return out.streaming(endless(bytes, state.streamed.clone()));
            }
            Fault::Slow => {
                let second = web::Bytes::from(bytes.split_off(bytes.len() / 2));
                let first = web::Bytes::from(bytes);
                let len = (first.len() + second.len()) as u64;
                let chunks = futures_util::stream::iter([first, second]);
                let paused = chunks.enumerate().then(|(i, chunk)| async move {
                    if i == 1 {
                        tokio::time::sleep(SLOW_PAUSE).await;
                    }
                    Ok::<_, std::io::Error>(chunk)
                });
                return out.body(SizedStream::new(len, Box::pin(paused)));
            }
            Fault::Corrupt => {
                let middle = bytes.len() / 2;
                bytes[middle] ^= 0xff;
            }
            Fault::Truncate => {
                let len = bytes.len() as u64;
                let half = web::Bytes::from(bytes[..bytes.len() / 2].to_vec());
                let chunks: Vec<Result<web::Bytes, std::io::Error>> =
                    vec![Ok(half), Err(std::io::Error::other("cut off on purpose"))];
                return out.body(SizedStream::new(len, futures_util::stream::iter(chunks)));
            }
        }
    }
    out.body(bytes)
}

/// How much filler an "endless" body sends at most (the size of the issue's reproduction).
pub const ENDLESS_MIB: usize = 400;

/// `prefix`, then [`ENDLESS_MIB`] 1 MiB chunks of spaces (or until the reader stops),
/// counting the bytes sent.
fn endless(
    prefix: Vec<u8>,
    counter: Arc<std::sync::atomic::AtomicU64>,
) -> impl futures_util::Stream<Item = Result<web::Bytes, std::io::Error>> {
    let filler = web::Bytes::from(vec![b' '; 1 << 20]);
    let first = futures_util::stream::once(async move { web::Bytes::from(prefix) });
    first
        .chain(futures_util::stream::repeat(filler).take(ENDLESS_MIB))
        .map(move |chunk| {
            counter.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
            Ok(chunk)
        })
}

fn base64_encode(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Berth configuration with one proxy repository `hub` of `remote`, extra proxy settings
/// (TOML lines), a hosted repository and a group `docker-group` (hosted first, then the
/// proxy, as in seed 001) that is the default repository.
pub fn proxy_toml(remote: &str, extra: &str) -> String {
    format!(
        r#"default_repository = "docker-group"

[[repositories]]
name = "docker-hosted"
type = "hosted"

[[repositories]]
name = "hub"
type = "proxy"

[repositories.proxy]
remote_url = "{remote}"
{extra}

[[repositories]]
name = "docker-group"
type = "group"
members = ["docker-hosted", "hub"]
writable_member = "docker-hosted"
"#
    )
}

/// A `docker-registry` upstream, a [`Front`] before it (no token auth) and Berth proxying
/// the front ([`proxy_toml`] with `extra`).
pub async fn proxied(extra: &str) -> (Upstream, Front, TestApp, ConfigFile) {
    let upstream = Upstream::start().await;
    let front = Front::start(&upstream.url(), None);
    let (app, config) = spawn_proxy(&front.url, extra).await;
    (upstream, front, app, config)
}

/// Berth with a proxy of `remote` ([`proxy_toml`]).
pub async fn spawn_proxy(remote: &str, extra: &str) -> (TestApp, ConfigFile) {
    spawn_with_config(&proxy_toml(remote, extra)).await
}

/// GET through Berth's path routing to repository `repo`.
pub async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.req(Method::GET, path)
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap()
}

/// The Prometheus text of `/metrics`.
/// The value of the series whose line starts with `series` (name and labels), or 0.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}
