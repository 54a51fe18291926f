//! Helpers for the import tests: a source Berth set up like the seeds' Nexus (hosted on a
//! connector port, proxy, group, cleanup policy, privileges, roles, users, realms,
//! anonymous), authenticated admin and registry calls, and running `berth import nexus`.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

use crate::common::*;

pub const ADMIN_PASSWORD: &str = "Import-Test-Admin-7";

/// A Berth with security on and a known admin password.
pub async fn spawn_secured() -> TestApp {
    spawn_app_with(&[
        "BERTH_SECURITY__ENABLED=true",
        &format!("BERTH_SECURITY__INITIAL_ADMIN_PASSWORD={ADMIN_PASSWORD}"),
    ])
    .await
}

/// A request on a fresh connection: these tests block their runtime in `docker` and
/// `berth import` runs, so a pooled keep-alive connection may have been closed by the server
/// unnoticed, and reusing it fails the request.
pub fn fresh(app: &TestApp, method: Method, path: &str) -> RequestBuilder {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    client.request(method, app.url(path))
}

/// A request with the admin's Basic credentials.
pub fn as_admin(app: &TestApp, method: Method, path: &str) -> RequestBuilder {
    fresh(app, method, path).basic_auth("admin", Some(ADMIN_PASSWORD))
}

/// An admin REST call (`/service/rest` + `path`); returns status and JSON body.
pub async fn rest(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = as_admin(app, method, &format!("/service/rest{path}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// An admin REST write that must succeed.
pub async fn ok(app: &TestApp, method: Method, path: &str, body: Value) {
    let (status, answer) = rest(app, method.clone(), path, Some(body.clone())).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path} {body}: {status} {answer}"
    );
}

/// Connector ports of the seed-like set-up.
pub struct Seed {
    pub hosted_port: u16,
}

/// Seed 001/004's Nexus set-up, done over the Nexus REST shapes: a `docker` blob store with
/// a soft quota, a cleanup policy, `docker-hosted` on `docker` with its own port, a proxy of
/// an (unreachable) upstream, a group over both, a custom privilege, two roles, two users,
/// the DockerToken realm and anonymous pull.
pub async fn configure_like_seed(app: &TestApp) -> Seed {
    let (hosted_port, proxy_port, group_port) = (free_port(), free_port(), free_port());
    ok(
        app,
        Method::POST,
        "/v1/blobstores/file",
        json!({"name": "docker", "path": "docker",
        "softQuota": {"type": "spaceUsedQuota", "limit": 500_000_000_000u64}}),
    )
    .await;
    ok(
        app,
        Method::POST,
        "/v1/cleanup-policies",
        json!({"name": "docker-weekly", "format": "docker",
        "notes": "drop stale tags", "criteriaLastBlobUpdated": 30}),
    )
    .await;
    ok(app, Method::PUT, "/v1/repositories/docker/hosted/docker-hosted", json!({
        "name": "docker-hosted", "online": true,
        "storage": {"blobStoreName": "docker", "strictContentTypeValidation": true, "writePolicy": "ALLOW"},
        "cleanup": {"policyNames": ["docker-weekly"]},
        "docker": {"v1Enabled": false, "forceBasicAuth": false, "httpPort": hosted_port}})).await;
    ok(
        app,
        Method::POST,
        "/v1/repositories/docker/proxy",
        json!({
        "name": "docker-proxy", "online": true,
        "storage": {"blobStoreName": "default", "strictContentTypeValidation": true},
        "proxy": {"remoteUrl": "http://127.0.0.1:9", "contentMaxAge": 1440, "metadataMaxAge": 60},
        "negativeCache": {"enabled": true, "timeToLive": 30},
        "httpClient": {"blocked": false, "autoBlock": true, "connection": {"timeout": 20}},
        "docker": {"v1Enabled": false, "forceBasicAuth": false, "httpPort": proxy_port},
        "dockerProxy": {"indexType": "REGISTRY"}}),
    )
    .await;
    ok(app, Method::POST, "/v1/repositories/docker/group", json!({
        "name": "docker-group", "online": true,
        "storage": {"blobStoreName": "docker", "strictContentTypeValidation": true},
        "group": {"memberNames": ["docker-hosted", "docker-proxy"], "writableMember": "docker-hosted"},
        "docker": {"v1Enabled": false, "forceBasicAuth": false, "httpPort": group_port}})).await;
    ok(
        app,
        Method::POST,
        "/v1/security/privileges/repository-view",
        json!({
        "name": "group-pull", "description": "pull through the group", "format": "docker",
        "repository": "docker-group", "actions": ["READ", "BROWSE"]}),
    )
    .await;
    let push: Vec<String> = ["add", "edit", "read", "browse"]
        .iter()
        .map(|a| format!("nx-repository-view-docker-docker-hosted-{a}"))
        .collect();
    ok(
        app,
        Method::POST,
        "/v1/security/roles",
        json!({"id": "docker-push", "name": "docker-push",
        "description": "push to docker-hosted", "privileges": push, "roles": []}),
    )
    .await;
    ok(
        app,
        Method::POST,
        "/v1/security/roles",
        json!({"id": "docker-pull", "name": "docker-pull",
        "description": "", "privileges": ["group-pull"], "roles": []}),
    )
    .await;
    ok(
        app,
        Method::POST,
        "/v1/security/users",
        json!({"userId": "ci", "firstName": "CI",
        "lastName": "Bot", "emailAddress": "ci@example.org", "password": "ci-secret-1",
        "status": "active", "roles": ["docker-push"]}),
    )
    .await;
    ok(
        app,
        Method::POST,
        "/v1/security/users",
        json!({"userId": "reader", "firstName": "Re",
        "lastName": "Ader", "emailAddress": "reader@example.org", "password": "reader-secret-1",
        "status": "active", "roles": ["docker-pull"]}),
    )
    .await;
    ok(
        app,
        Method::PUT,
        "/v1/security/realms/active",
        json!([
            "NexusAuthenticatingRealm",
            "NexusAuthorizingRealm",
            "DockerToken"
        ]),
    )
    .await;
    ok(
        app,
        Method::PUT,
        "/v1/security/anonymous",
        json!({"enabled": true,
        "userId": "anonymous", "realmName": "NexusAuthorizingRealm"}),
    )
    .await;
    Seed { hosted_port }
}

/// Pushes a config and `layers` (the same for several images if shared) and a Docker
/// schema 2 manifest as `image:tag` into `repo` over path routing, with admin Basic
/// credentials when `secured`; returns the manifest digest.
pub async fn push_raw_image(
    app: &TestApp,
    secured: bool,
    repo: &str,
    image: &str,
    tag: &str,
    layers: &[Vec<u8>],
) -> String {
    let config = json!({"architecture": "amd64", "os": "linux", "image": image, "tag": tag});
    let built = Image::docker(config.to_string().into_bytes(), layers.to_vec());
    let r = push_with(
        |method, path| registry(app, secured, method, path),
        &format!("/repository/{repo}/v2/{image}"),
        tag,
        &built,
    )
    .await;
    expect_status(r, 201, &format!("push {repo}/{image}:{tag}")).await;
    built.digest
}

/// A registry request, with admin Basic credentials when `secured`.
pub fn registry(app: &TestApp, secured: bool, method: Method, path: &str) -> RequestBuilder {
    if secured {
        as_admin(app, method, path)
    } else {
        fresh(app, method, path)
    }
}

/// The digest `repo` serves for `image:tag` (`HEAD`), or "" if none.
pub async fn digest_of(app: &TestApp, secured: bool, repo: &str, image: &str, tag: &str) -> String {
    let path = format!("/repository/{repo}/v2/{image}/manifests/{tag}");
    let r = registry(app, secured, Method::HEAD, &path)
        .header("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json")
        .send()
        .await
        .unwrap_or_else(|e| panic!("HEAD {path}: {e}\n--- server log ---\n{}", app.log()));
    if r.status() != 200 {
        return String::new();
    }
    header(&r, "docker-content-digest")
}

/// `berth import nexus --url <source> --target <target> …` (not yet started), with the
/// admin credentials of each side (from `dir/source-password`, written unless a test put
/// another one there, and `dir/target-password`).
pub fn import_command(source: &TestApp, target: &TestApp, dir: &Path, extra: &[&str]) -> Command {
    let source_password = dir.join("source-password");
    if !source_password.exists() {
        std::fs::write(&source_password, ADMIN_PASSWORD).unwrap();
    }
    let target_password = dir.join("target-password");
    std::fs::write(&target_password, ADMIN_PASSWORD).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.args([
        "--data-dir",
        dir.join("cli-data").to_str().unwrap(),
        "import",
        "nexus",
    ])
    .args([
        "--url",
        &source.base,
        "--target",
        &target.base,
        "--progress-secs",
        "1",
    ])
    .args([
        "--user",
        "admin",
        "--password-file",
        source_password.to_str().unwrap(),
    ])
    .args(["--target-password-file", target_password.to_str().unwrap()])
    .args([
        "--passwords-file",
        dir.join("passwords.txt").to_str().unwrap(),
    ])
    .args(extra)
    .env_remove("RUST_LOG")
    .stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("BERTH_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Runs the import to the end with `--json`; returns its exit success, JSON report and stderr.
pub fn run_import(
    source: &TestApp,
    target: &TestApp,
    dir: &Path,
    extra: &[&str],
) -> (bool, Value, String) {
    let out: Output = import_command(source, target, dir, extra)
        .arg("--json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{stdout}\n--- stderr ---\n{stderr}"));
    (out.status.success(), report, stderr)
}

/// The configuration item of `kind` and `name` in a report.
pub fn item<'a>(report: &'a Value, kind: &str, name: &str) -> &'a Value {
    report["configuration"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == kind && i["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {report:#}"))
}

/// The content entry of repository `name` in a report.
pub fn content<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no content for {name} in {report:#}"))
}

/// Blobs committed by uploads on `app` so far (`berth_blobs_pushed_total`, all series).
pub async fn blobs_pushed(app: &TestApp, secured: bool) -> u64 {
    let text = registry(app, secured, Method::GET, "/metrics")
        .text_body()
        .await;
    text.lines()
        .filter(|l| l.starts_with("berth_blobs_pushed_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}
