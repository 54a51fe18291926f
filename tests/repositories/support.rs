//! Helpers for the repository tests: configuration files, images pushed in steps (so a
//! refused manifest PUT can be observed), and small readers of tags and manifests.

use std::path::PathBuf;

use reqwest::{Method, Response};
use serde_json::Value;

use crate::common::*;

/// A TOML configuration file in its own temp directory (removed on drop).
pub struct ConfigFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl ConfigFile {
    pub fn new(toml: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("berth.toml");
        std::fs::write(&path, toml).expect("write config");
        ConfigFile { _dir: dir, path }
    }

    /// Replaces the file's content (the next restart reads it).
    pub fn rewrite(&self, toml: &str) {
        std::fs::write(&self.path, toml).expect("rewrite config");
    }

    pub fn path(&self) -> &str {
        self.path.to_str().expect("UTF-8 temp path")
    }

    /// `--config <path>`, for `spawn_app_with` and `start_failure`.
    pub fn args(&self) -> [&str; 2] {
        ["--config", self.path()]
    }
}

/// Starts Berth with `toml` as its configuration file.
pub async fn spawn_with_config(toml: &str) -> (TestApp, ConfigFile) {
    let config = ConfigFile::new(toml);
    let app = spawn_app_with(&config.args()).await;
    (app, config)
}

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

/// An image whose blobs are pushed but whose manifest is not (yet).
pub struct Prepared {
    pub digest: String,
    pub manifest: Vec<u8>,
    pub config: (String, Vec<u8>),
    pub layer: (String, Vec<u8>),
}

/// Pushes the config and layer `push_image` would push for `seed`; returns the manifest
/// that would reference them, unpushed. The manifest digest is the one `push_image` returns.
pub async fn prepare_image(app: &TestApp, name: &str, seed: &str) -> Prepared {
    let config = format!("{{\"seed\":\"{seed}\"}}").into_bytes();
    let layer = format!("layer of {seed}").into_bytes();
    let config_digest = app.push_blob(name, &config).await;
    let layer_digest = app.push_blob(name, &layer).await;
    let manifest = oci_manifest(
        (&config_digest, config.len()),
        &[(&layer_digest, layer.len())],
    )
    .into_bytes();
    Prepared {
        digest: sha256(&manifest),
        manifest,
        config: (config_digest, config),
        layer: (layer_digest, layer),
    }
}

/// PUTs a prepared image's manifest under `reference`.
pub async fn put_prepared(app: &TestApp, name: &str, reference: &str, p: &Prepared) -> Response {
    app.put_manifest(name, reference, OCI_MANIFEST, &p.manifest)
        .await
}

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

/// Where a store rooted at `store_root` keeps the blob `digest` (`sha256:<hex>`).
pub fn blob_file(store_root: &std::path::Path, digest: &str) -> PathBuf {
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    store_root
        .join("blobs")
        .join("sha256")
        .join(&hex[..2])
        .join(hex)
}
