//! Helpers of the durability tests: large generated content streamed without holding it in
//! memory, upload-session plumbing, and looks at the server's store directory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::Stream;
use reqwest::{Method, Response};
use sha2::Digest as _;
use tokio::sync::oneshot;

use crate::common::*;

pub const MIB: usize = 1 << 20;

/// Deterministic, incompressible-looking content of `chunks` × 1 MiB: chunk `i` is one
/// pseudo-random block with `i` stamped into its first 8 bytes, so no two chunks are equal
/// and any byte range can be produced again without storing the whole thing.
#[derive(Clone)]
pub struct Pattern {
    block: Bytes,
    chunks: usize,
}

impl Pattern {
    pub fn new(seed: u64, chunks: usize) -> Arc<Self> {
        let mut state = seed | 1;
        let mut block = Vec::with_capacity(MIB);
        while block.len() < MIB {
            // xorshift64*
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            block.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        Arc::new(Pattern {
            block: Bytes::from(block),
            chunks,
        })
    }

    pub fn len(&self) -> u64 {
        (self.chunks * MIB) as u64
    }

    pub fn chunk(&self, i: usize) -> Bytes {
        let mut chunk = self.block.to_vec();
        chunk[..8].copy_from_slice(&(i as u64).to_le_bytes());
        Bytes::from(chunk)
    }

    /// The bytes `start..end` (small ranges only: they are collected in memory).
    pub fn range(&self, start: usize, end: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(end - start);
        let mut pos = start;
        while pos < end {
            let (i, within) = (pos / MIB, pos % MIB);
            let take = (MIB - within).min(end - pos);
            out.extend_from_slice(&self.chunk(i)[within..within + take]);
            pos += take;
        }
        out
    }

    /// `sha256:<hex>` of the whole content, hashed chunk by chunk.
    pub fn digest(&self) -> String {
        let mut hasher = sha2::Sha256::new();
        for i in 0..self.chunks {
            hasher.update(self.chunk(i));
        }
        format!("sha256:{}", hex::encode(hasher.finalize()))
    }

    /// The whole content as a request body stream.
    pub fn body(self: &Arc<Self>) -> reqwest::Body {
        reqwest::Body::wrap_stream(self.stream(None))
    }

    /// A body that sends the first `at` chunks, then waits until `gate` fires (or its sender
    /// is dropped) and fails, so the request never completes.
    pub fn gated_body(self: &Arc<Self>, at: usize, gate: oneshot::Receiver<()>) -> reqwest::Body {
        reqwest::Body::wrap_stream(self.stream(Some((at, gate))))
    }

    fn stream(
        self: &Arc<Self>,
        gate: Option<(usize, oneshot::Receiver<()>)>,
    ) -> impl Stream<Item = std::io::Result<Bytes>> + Send + Sync + 'static {
        let pattern = self.clone();
        futures_util::stream::unfold((pattern, 0usize, gate), |(pattern, i, gate)| async move {
            if let Some((at, rx)) = gate {
                if i == at {
                    let _ = rx.await;
                    let stop = std::io::Error::other("body stopped on purpose");
                    return Some((Err(stop), (pattern, usize::MAX, None)));
                }
                return Some((Ok(pattern.chunk(i)), (pattern, i + 1, Some((at, rx)))));
            }
            if i >= pattern.chunks {
                return None;
            }
            Some((Ok(pattern.chunk(i)), (pattern, i + 1, None)))
        })
    }
}

/// `POST /v2/<name>/blobs/uploads/`: returns (session path, session id).
pub async fn start_session(app: &TestApp, name: &str) -> (String, String) {
    let r = app
        .req(Method::POST, &format!("/v2/{name}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "start upload: {}", r.text().await.unwrap());
    let location = header(&r, "location");
    let path = location_path(&location);
    let id = path
        .rsplit('/')
        .next()
        .expect("session id in Location")
        .to_string();
    assert!(!id.is_empty(), "Location {location:?} names no session");
    (path, id)
}

/// The byte count of an upload's `Range: 0-<last>` header. `0-0` is read as an empty
/// upload: that is what Berth (and Distribution) report for one, and a one-byte upload
/// never happens in these tests.
pub fn range_len(range: &str) -> u64 {
    let (start, end) = range
        .split_once('-')
        .unwrap_or_else(|| panic!("bad Range {range:?}"));
    assert_eq!(start, "0", "Range {range:?} does not start at 0");
    match end.parse::<u64>().expect("numeric Range end") {
        0 => 0,
        last => last + 1,
    }
}

/// `GET` the session: its `Range` as a byte count (the response must be 204).
pub async fn session_offset(app: &TestApp, session: &str) -> u64 {
    let r = app.req(Method::GET, session).send().await.unwrap();
    assert_eq!(
        r.status(),
        204,
        "upload status: {}",
        r.text().await.unwrap()
    );
    range_len(&header(&r, "range"))
}

/// Streams a GET body through sha256; returns (digest, length).
pub async fn hash_body(mut r: Response) -> (String, u64) {
    let mut hasher = sha2::Sha256::new();
    let mut len = 0u64;
    while let Some(chunk) = r.chunk().await.expect("body chunk") {
        len += chunk.len() as u64;
        hasher.update(&chunk);
    }
    (format!("sha256:{}", hex::encode(hasher.finalize())), len)
}

/// GETs a blob and asserts it hashes to `digest` and has `size` bytes.
pub async fn assert_blob_reads_back(app: &TestApp, name: &str, digest: &str, size: u64) {
    let r = app
        .req(Method::GET, &format!("/v2/{name}/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "GET blob {digest}");
    let (actual, len) = hash_body(r).await;
    assert_eq!(len, size, "length of blob {digest}");
    assert_eq!(actual, digest, "content of blob {digest}");
}

/// HEAD a blob: its status.
pub async fn blob_status(app: &TestApp, name: &str, digest: &str) -> u16 {
    app.req(Method::HEAD, &format!("/v2/{name}/blobs/{digest}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Names of the files in a store subdirectory (`uploads`, `tmp`); empty if it is missing.
pub fn files_in(app: &TestApp, dir: &str) -> Vec<String> {
    match std::fs::read_dir(app.store_root().join(dir)) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Polls `check` every 20 ms until it returns true; panics with `what` after `limit`.
/// Used for "the server got that far", never to assert how fast it got there.
pub async fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Size of a file, 0 if it does not exist.
pub fn file_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// GETs manifest `reference` of `name` and asserts it is byte-identical to `bytes`, then
/// reads back its config and layers by digest.
pub async fn assert_image_intact(app: &TestApp, name: &str, reference: &str, bytes: &[u8]) {
    let r = app
        .req(Method::GET, &format!("/v2/{name}/manifests/{reference}"))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "GET manifest {name}:{reference}");
    assert_eq!(header(&r, "docker-content-digest"), sha256(bytes));
    let body = r.bytes().await.unwrap();
    assert_eq!(&body[..], bytes, "manifest {name}:{reference} changed");
    let manifest: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    let mut descriptors = vec![manifest["config"].clone()];
    descriptors.extend(manifest["layers"].as_array().unwrap().iter().cloned());
    for d in descriptors {
        let digest = d["digest"].as_str().unwrap();
        let size = d["size"].as_u64().unwrap();
        assert_blob_reads_back(app, name, digest, size).await;
    }
}
