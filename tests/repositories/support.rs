//! Helpers for the repository tests: configuration files, images pushed in steps (so a
//! refused manifest PUT can be observed), and small readers of tags and manifests.

use std::path::PathBuf;

use reqwest::Method;
use serde_json::Value;

use crate::common::*;

/// The usual pair of hosted repositories and a group over them, with the first writable.
pub const GROUP_CONFIG: &str = r#"
[[repositories]]
name = "docker-hosted"
type = "hosted"

[[repositories]]
name = "other-hosted"
type = "hosted"

[[repositories]]
name = "docker-group"
type = "group"
members = ["docker-hosted", "other-hosted"]
writable_member = "docker-hosted"
"#;

/// GET of a manifest; returns (status, Docker-Content-Digest, body).
pub async fn get_manifest(app: &TestApp, name: &str, reference: &str) -> (u16, String, Vec<u8>) {
    let r = app
        .req(Method::GET, &format!("/v2/{name}/manifests/{reference}"))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let digest = header(&r, "docker-content-digest");
    (status, digest, r.bytes().await.unwrap().to_vec())
}

/// The digest `name:reference` resolves to; panics unless the GET answers 200.
pub async fn digest_of(app: &TestApp, name: &str, reference: &str) -> String {
    let (status, digest, body) = get_manifest(app, name, reference).await;
    assert_eq!(
        status,
        200,
        "GET {name}:{reference}: {}",
        String::from_utf8_lossy(&body)
    );
    digest
}

/// Status of `GET path`.
pub async fn status_of(app: &TestApp, path: &str) -> u16 {
    app.req(Method::GET, path)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// GETs `path`, asserting 200; returns (Link header, JSON body).
pub async fn get_json(app: &TestApp, path: &str) -> (String, Value) {
    let r = app.req(Method::GET, path).send().await.unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    let link = header(&r, "link");
    (link, r.json().await.unwrap())
}

/// The strings of a JSON array field.
pub fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// The `message` of the first error in an OCI error body.
pub fn message(body: &Value) -> String {
    body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A descriptor's JSON.
pub fn descriptor(media_type: &str, digest: &str, size: usize) -> String {
    format!(r#"{{"mediaType":"{media_type}","digest":"{digest}","size":{size}}}"#)
}

/// Pushes an artifact (empty config, one layer) whose subject is `subject`; returns its
/// digest.
pub async fn push_referrer(
    app: &TestApp,
    name: &str,
    artifact_type: &str,
    subject: (&str, usize),
) -> String {
    let empty = app.push_blob(name, b"{}").await;
    let payload = format!("{artifact_type} about {} in {name}", subject.0);
    let layer = app.push_blob(name, payload.as_bytes()).await;
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"{artifact_type}","config":{},"layers":[{}],"subject":{}}}"#,
        descriptor("application/vnd.oci.empty.v1+json", &empty, 2),
        descriptor(artifact_type, &layer, payload.len()),
        descriptor(OCI_MANIFEST, subject.0, subject.1),
    );
    let digest = sha256(manifest.as_bytes());
    let r = app
        .put_manifest(name, &digest, OCI_MANIFEST, manifest.as_bytes())
        .await;
    assert_eq!(r.status(), 201, "referrer: {}", r.text().await.unwrap());
    digest
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}
