//! Helpers used only by the protocol tests: upload sessions step by step, raw HTTP over a
//! TCP socket (for requests `reqwest` refuses to send), manifest builders and the
//! "stored data is still intact" check used after every bad input.

use std::time::Duration;

use reqwest::{Method, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

pub const EMPTY_JSON: &str = "application/vnd.oci.empty.v1+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const OCTET: &str = "application/octet-stream";

/// A request to a Location the server handed out (a path, possibly with a query).
pub fn at(app: &TestApp, method: Method, location: &str) -> reqwest::RequestBuilder {
    assert!(
        location.starts_with('/'),
        "relative Location expected: {location}"
    );
    app.req(method, location)
}

/// PATCHes `chunk` to `location`, optionally with `Content-Range: start-end`.
pub async fn patch_chunk(
    app: &TestApp,
    location: &str,
    chunk: &[u8],
    range: Option<(usize, usize)>,
) -> Response {
    let mut rb = at(app, Method::PATCH, location)
        .header("Content-Type", OCTET)
        .body(chunk.to_vec());
    if let Some((start, end)) = range {
        rb = rb.header("Content-Range", format!("{start}-{end}"));
    }
    rb.send().await.unwrap()
}

/// `GET` of an upload session; returns the response.
pub async fn upload_status(app: &TestApp, location: &str) -> Response {
    at(app, Method::GET, location).send().await.unwrap()
}

/// GETs `path` and returns (status, body).
pub async fn get_bytes(app: &TestApp, path: &str) -> (u16, Vec<u8>) {
    let r = app.req(Method::GET, path).send().await.unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

/// Status of `HEAD path`.
pub async fn head_status(app: &TestApp, path: &str) -> u16 {
    let r = app.req(Method::HEAD, path).send().await.unwrap();
    r.status().as_u16()
}

/// A pushed image: what `push_image` stored, kept to check it is still intact later.
pub struct Pushed {
    pub name: String,
    pub tag: String,
    pub digest: String,
    pub manifest: Vec<u8>,
    pub blobs: Vec<(String, Vec<u8>)>,
}

/// Pushes config + layer + manifest under `name:tag` and remembers every byte.
pub async fn push_known_image(app: &TestApp, name: &str, tag: &str, seed: &str) -> Pushed {
    let image = Image::seeded(seed);
    app.push(name, tag, &image).await;
    Pushed {
        name: name.to_string(),
        tag: tag.to_string(),
        blobs: image.blobs().cloned().collect(),
        digest: image.digest,
        manifest: image.manifest,
    }
}

/// Asserts the image still pulls byte-identical: manifest by tag and by digest, every blob.
pub async fn assert_intact(app: &TestApp, image: &Pushed) {
    let name = &image.name;
    for reference in [&image.tag, &image.digest] {
        let r = app
            .req(Method::GET, &format!("/v2/{name}/manifests/{reference}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "manifest {reference} of {name} is gone");
        assert_eq!(header(&r, "docker-content-digest"), image.digest);
        assert_eq!(
            r.bytes().await.unwrap(),
            image.manifest,
            "manifest bytes changed"
        );
    }
    for (digest, bytes) in &image.blobs {
        let (status, body) = get_bytes(app, &format!("/v2/{name}/blobs/{digest}")).await;
        assert_eq!(status, 200, "blob {digest} of {name} is gone");
        assert_eq!(&body, bytes, "blob {digest} changed");
    }
}

/// Tags of `name` (asserts 200).
pub async fn tags_of(app: &TestApp, name: &str) -> Vec<String> {
    let r = app
        .req(Method::GET, &format!("/v2/{name}/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    strings(&body["tags"])
}

/// A JSON array of strings as a `Vec` (null → empty).
pub fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// The URL inside `<…>; rel="next"` of a `Link` header.
pub fn next_link(link: &str) -> String {
    assert!(
        link.contains("rel=\"next\""),
        "Link without rel=next: {link}"
    );
    let start = link.find('<').expect("Link has <") + 1;
    let end = link.find('>').expect("Link has >");
    link[start..end].to_string()
}

/// An OCI image manifest with extra top-level JSON members (`extra` starts with `,`).
pub fn oci_manifest_with(config: (&str, usize), layers: &[(&str, usize)], extra: &str) -> String {
    let base = oci_manifest(config, layers);
    format!("{}{extra}}}", &base[..base.len() - 1])
}

/// A descriptor JSON object.
pub fn descriptor(media_type: &str, digest: &str, size: usize) -> String {
    format!(r#"{{"mediaType":"{media_type}","digest":"{digest}","size":{size}}}"#)
}

/// An OCI index over `(media type, digest, size)` children, with extra members.
pub fn oci_index(children: &[(&str, &str, usize)], extra: &str) -> String {
    let list: Vec<String> = children
        .iter()
        .map(|(m, d, s)| descriptor(m, d, *s))
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]{extra}}}"#,
        list.join(",")
    )
}

/// Pushes the 2-byte empty JSON config blob `{}`; returns its digest.
pub async fn push_empty_config(app: &TestApp, name: &str) -> String {
    app.push_blob(name, b"{}").await
}

/// An artifact manifest (`artifactType`, empty config) with `subject` and annotations.
pub fn artifact_manifest(
    artifact_type: &str,
    layer: (&str, usize),
    subject: Option<(&str, usize)>,
    annotation: Option<&str>,
) -> String {
    let empty = sha256(b"{}");
    let mut extra = format!(r#","artifactType":"{artifact_type}""#);
    if let Some((digest, size)) = subject {
        extra += &format!(r#","subject":{}"#, descriptor(OCI_MANIFEST, digest, size));
    }
    if let Some(value) = annotation {
        extra += &format!(r#","annotations":{{"org.example.note":"{value}"}}"#);
    }
    let layer = descriptor(artifact_type, layer.0, layer.1);
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{},"layers":[{layer}]{extra}}}"#,
        descriptor(EMPTY_JSON, &empty, 2)
    )
}

/// A raw HTTP response read off a socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// A header value (case-insensitive name), "" if absent.
    pub fn header(&self, name: &str) -> String {
        self.head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    }
}

/// Sends `request` (headers and body, verbatim) on a new connection, then, if
/// `half_close`, shuts down the write side; reads the response until the server closes.
/// `None` if the server closed without answering.
pub async fn raw_http(app: &TestApp, request: &[u8], half_close: bool) -> Option<RawResponse> {
    let mut stream = TcpStream::connect(&app.addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    if half_close {
        stream.shutdown().await.unwrap();
    }
    let mut buf = Vec::new();
    // A guard against a hung test, not a synchronisation: the server closes first.
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut buf))
        .await
        .expect("server kept the connection open")
        .ok()?;
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some(RawResponse {
        status,
        head,
        body: buf[split + 4..].to_vec(),
    })
}

/// A request line plus headers (`Host`, `Connection: close` added), ending the head.
pub fn raw_head(app: &TestApp, method: &str, path: &str, headers: &[(&str, String)]) -> Vec<u8> {
    let mut text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        app.addr
    );
    for (k, v) in headers {
        text += &format!("{k}: {v}\r\n");
    }
    text += "\r\n";
    text.into_bytes()
}

/// The JSON error codes of a raw response body.
pub fn raw_error_codes(r: &RawResponse) -> Vec<String> {
    let body: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON error body");
    body["errors"]
        .as_array()
        .expect("errors array")
        .iter()
        .map(|e| e["code"].as_str().unwrap().to_string())
        .collect()
}
