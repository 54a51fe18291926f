//! The registry operations a client performs, each recorded in `Stats`: blob uploads
//! (monolithic POST + PUT, or chunked POST + PATCH… + PUT), manifest PUT, and a full pull
//! as `docker pull` does it, verifying every byte against its digest.

use std::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::{Body, Method, StatusCode};
use sha2::{Digest as _, Sha256};

use crate::client::{header_str, LoadError, Result, Session};
use crate::image::{referenced_blobs, sha256, Blob, Image, MANIFEST_TYPE, PULL_ACCEPT};
use crate::stats::Stats;

/// How a blob is uploaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// `POST` for a session, then one `PUT ?digest=` with the whole body.
    Monolithic,
    /// `POST`, `PATCH` per chunk with `Content-Range`, then `PUT ?digest=`.
    Chunked,
}

pub fn push_scope(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

pub fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

fn fail<T>(what: &str, status: StatusCode) -> Result<T> {
    Err(LoadError(format!("{what} answered {status}")))
}

/// Appends `?digest=` (or `&digest=`) to an upload location.
fn with_digest(location: &str, digest: &str) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={digest}")
}

async fn start_upload(s: &mut Session, repo: &str) -> Result<String> {
    let resp = s
        .send(
            Method::POST,
            &format!("/v2/{repo}/blobs/uploads/"),
            &push_scope(repo),
            |rb| rb,
        )
        .await?;
    if resp.status() != StatusCode::ACCEPTED {
        return fail("POST upload", resp.status());
    }
    let location = header_str(&resp, "location");
    if location.is_empty() {
        return Err(LoadError("POST upload without Location".into()));
    }
    Ok(location)
}

/// Uploads one blob and records it as `op` (latency of the whole upload, its bytes).
pub async fn push_blob(
    s: &mut Session,
    stats: &Stats,
    op: &'static str,
    repo: &str,
    blob: &Blob,
    mode: Mode,
    chunk: usize,
) -> Result<()> {
    let t = Instant::now();
    let location = start_upload(s, repo).await?;
    let size = blob.content.size();
    let scope = push_scope(repo);
    let done = match mode {
        Mode::Monolithic => {
            let url = with_digest(&location, &blob.digest);
            s.send(Method::PUT, &url, &scope, |rb| {
                rb.header("content-type", "application/octet-stream")
                    .header("content-length", size)
                    .body(body_of(blob, chunk.max(1 << 20)))
            })
            .await?
        }
        Mode::Chunked => {
            let mut location = location;
            let mut offset = 0u64;
            while offset < size {
                let bytes = blob.content.slice(offset, chunk);
                let end = offset + bytes.len() as u64 - 1;
                let resp = s
                    .send(Method::PATCH, &location, &scope, |rb| {
                        rb.header("content-type", "application/octet-stream")
                            .header("content-range", format!("{offset}-{end}"))
                            .body(bytes.clone())
                    })
                    .await?;
                if resp.status() != StatusCode::ACCEPTED {
                    return fail("PATCH upload", resp.status());
                }
                let next = header_str(&resp, "location");
                if !next.is_empty() {
                    location = next;
                }
                offset = end + 1;
            }
            s.send(
                Method::PUT,
                &with_digest(&location, &blob.digest),
                &scope,
                |rb| rb.header("content-length", 0),
            )
            .await?
        }
    };
    if done.status() != StatusCode::CREATED {
        return fail("PUT upload", done.status());
    }
    stats.ok(op, t.elapsed(), size);
    Ok(())
}

/// The body of a monolithic upload: small blobs as one buffer, big ones streamed (generated
/// as they are sent, so a 1 GiB push holds a few MiB).
fn body_of(blob: &Blob, chunk: usize) -> Body {
    if blob.content.size() <= chunk as u64 {
        return Body::from(blob.content.to_bytes());
    }
    let chunks = blob.content.chunks(chunk).map(Ok::<Bytes, std::io::Error>);
    Body::wrap_stream(futures_util::stream::iter(chunks))
}

/// Pushes `image` as `repo:tag`: config, layers, then the manifest.
pub async fn push_image(
    s: &mut Session,
    stats: &Stats,
    repo: &str,
    tag: &str,
    image: &Image,
    mode: Mode,
    chunk: usize,
) -> Result<()> {
    // The config is JSON, not generated content: upload it as bytes.
    push_bytes(s, stats, repo, &image.config, &image.config_digest).await?;
    for layer in &image.layers {
        push_blob(s, stats, "blob-push", repo, layer, mode, chunk).await?;
    }
    put_manifest(s, stats, repo, tag, image).await
}

/// Uploads a small in-memory blob monolithically.
pub async fn push_bytes(
    s: &mut Session,
    stats: &Stats,
    repo: &str,
    bytes: &Bytes,
    digest: &str,
) -> Result<()> {
    let t = Instant::now();
    let location = start_upload(s, repo).await?;
    let resp = s
        .send(
            Method::PUT,
            &with_digest(&location, digest),
            &push_scope(repo),
            |rb| {
                rb.header("content-type", "application/octet-stream")
                    .body(bytes.clone())
            },
        )
        .await?;
    if resp.status() != StatusCode::CREATED {
        return fail("PUT config", resp.status());
    }
    stats.ok("blob-push", t.elapsed(), bytes.len() as u64);
    Ok(())
}

pub async fn put_manifest(
    s: &mut Session,
    stats: &Stats,
    repo: &str,
    tag: &str,
    image: &Image,
) -> Result<()> {
    let t = Instant::now();
    let resp = s
        .send(
            Method::PUT,
            &format!("/v2/{repo}/manifests/{tag}"),
            &push_scope(repo),
            |rb| {
                rb.header("content-type", MANIFEST_TYPE)
                    .body(image.manifest.clone())
            },
        )
        .await?;
    if resp.status() != StatusCode::CREATED {
        return fail("PUT manifest", resp.status());
    }
    stats.ok("manifest-put", t.elapsed(), image.manifest.len() as u64);
    Ok(())
}

/// What a pull checks the manifest against.
#[derive(Clone)]
pub struct PullTarget {
    pub repo: String,
    pub tag: String,
    /// The digest the tag must resolve to (a seeded image), if known.
    pub expect: Option<String>,
    /// Hash every pulled byte (on by default; off only to measure the registry alone).
    pub verify: bool,
}

/// One `docker pull`: `/v2/` (and a token if challenged), manifest by tag, config, layers.
pub async fn pull(s: &mut Session, stats: &Stats, t: &PullTarget) -> Result<()> {
    let start = Instant::now();
    let scope = pull_scope(&t.repo);
    let tokens = s.tokens_fetched;
    let t0 = Instant::now();
    s.login(&scope).await?;
    stats.ok(
        if s.tokens_fetched > tokens {
            "v2+token"
        } else {
            "v2"
        },
        t0.elapsed(),
        0,
    );
    let manifest = get_manifest(s, stats, t).await?;
    let mut bytes = manifest.len() as u64;
    let blobs = referenced_blobs(&manifest).map_err(LoadError)?;
    for (i, (digest, size)) in blobs.iter().enumerate() {
        let op = if i == 0 { "config" } else { "layer" };
        get_blob(s, stats, op, &t.repo, digest, *size, t.verify).await?;
        bytes += size;
    }
    // The pull's bytes are already counted per request; this row is about whole-pull latency.
    let _ = bytes;
    stats.ok("pull", start.elapsed(), 0);
    Ok(())
}

/// `GET` of the manifest by tag, checked against `Docker-Content-Digest` and the expected digest.
pub async fn get_manifest(s: &mut Session, stats: &Stats, t: &PullTarget) -> Result<Bytes> {
    let t0 = Instant::now();
    let resp = s
        .send(
            Method::GET,
            &format!("/v2/{}/manifests/{}", t.repo, t.tag),
            &pull_scope(&t.repo),
            |rb| rb.header("accept", PULL_ACCEPT),
        )
        .await?;
    if resp.status() != StatusCode::OK {
        return fail("GET manifest", resp.status());
    }
    let header = header_str(&resp, "docker-content-digest");
    let body = resp.bytes().await?;
    let got = sha256(&body);
    if !header.is_empty() && header != got {
        return Err(LoadError(format!(
            "manifest bytes hash to {got}, Docker-Content-Digest says {header}"
        )));
    }
    if let Some(want) = &t.expect {
        if *want != got {
            return Err(LoadError(format!(
                "tag {} resolves to {got}, seeded {want}",
                t.tag
            )));
        }
    }
    stats.ok("manifest", t0.elapsed(), body.len() as u64);
    stats.verified();
    Ok(body)
}

/// `HEAD` of the manifest by tag: what a warm CI cache asks.
pub async fn head_manifest(s: &mut Session, stats: &Stats, t: &PullTarget) -> Result<()> {
    let t0 = Instant::now();
    let resp = s
        .send(
            Method::HEAD,
            &format!("/v2/{}/manifests/{}", t.repo, t.tag),
            &pull_scope(&t.repo),
            |rb| rb.header("accept", PULL_ACCEPT),
        )
        .await?;
    if resp.status() != StatusCode::OK {
        return fail("HEAD manifest", resp.status());
    }
    let header = header_str(&resp, "docker-content-digest");
    if let Some(want) = &t.expect {
        if *want != header {
            return Err(LoadError(format!("HEAD says {header}, seeded {want}")));
        }
    }
    stats.ok("manifest-head", t0.elapsed(), 0);
    Ok(())
}

/// `GET` of a blob, streamed and hashed; its size and digest must match the descriptor.
pub async fn get_blob(
    s: &mut Session,
    stats: &Stats,
    op: &'static str,
    repo: &str,
    digest: &str,
    size: u64,
    verify: bool,
) -> Result<()> {
    let t0 = Instant::now();
    let resp = s
        .send(
            Method::GET,
            &format!("/v2/{repo}/blobs/{digest}"),
            &pull_scope(repo),
            |rb| rb,
        )
        .await?;
    if resp.status() != StatusCode::OK {
        return fail("GET blob", resp.status());
    }
    let mut hasher = Sha256::new();
    let mut got = 0u64;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        got += chunk.len() as u64;
        if verify {
            hasher.update(&chunk);
        }
    }
    if got != size {
        return Err(LoadError(format!(
            "blob {digest}: {got} bytes, descriptor says {size}"
        )));
    }
    if verify {
        let hex = hex::encode(hasher.finalize());
        if digest.strip_prefix("sha256:") != Some(hex.as_str()) {
            return Err(LoadError(format!("blob {digest} hashes to sha256:{hex}")));
        }
        stats.verified();
    }
    stats.ok(op, t0.elapsed(), size);
    Ok(())
}
