//! Upload sessions step by step (`POST`, `PATCH`, `PUT ?digest=`), as chunking clients
//! (Docker, containerd) push blobs.

use reqwest::{Method, Response};

use super::{header, sha256, TestApp};

/// `location` with `?digest=` (or `&digest=`, if it has a query already) appended.
pub fn with_digest(location: &str, digest: &str) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={digest}")
}

/// The path of a `Location` header (absolute URL or path), without its query.
pub fn location_path(location: &str) -> String {
    let rest = match location.split_once("://") {
        Some((_, after)) => after.find('/').map_or("/", |i| &after[i..]),
        None => location,
    };
    rest.split('?').next().unwrap().to_string()
}

impl TestApp {
    /// `POST /v2/<name>/blobs/uploads/`; asserts 202 and returns the session's Location.
    pub async fn start_upload(&self, name: &str) -> String {
        self.start_upload_at(&format!("/v2/{name}/blobs/uploads/"))
            .await
    }

    /// `POST path` (an upload start, with whatever query); asserts 202 and returns the
    /// session's Location.
    pub async fn start_upload_at(&self, path: &str) -> String {
        let r = self.req(Method::POST, path).send().await.unwrap();
        assert_eq!(r.status(), 202, "start upload: {}", r.text().await.unwrap());
        let location = header(&r, "location");
        assert!(!location.is_empty(), "POST must return a Location");
        location
    }

    /// `PATCH`es `chunk` to the session at `location`; asserts 202 and returns the next
    /// Location.
    pub async fn patch_upload(&self, location: &str, chunk: &[u8]) -> String {
        let r = self
            .req(Method::PATCH, location)
            .header("Content-Type", "application/octet-stream")
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "patch: {}", r.text().await.unwrap());
        header(&r, "location")
    }

    /// Closes the session at `location` with `PUT ?digest=`; the caller asserts.
    pub async fn finish_upload(&self, location: &str, digest: &str) -> Response {
        self.req(Method::PUT, &with_digest(location, digest))
            .send()
            .await
            .unwrap()
    }

    /// Pushes `bytes` into `name` in `PATCH`es of `chunk` bytes; returns the digest.
    pub async fn push_blob_chunked(&self, name: &str, bytes: &[u8], chunk: usize) -> String {
        let location = self.start_upload(name).await;
        self.push_chunks(location, bytes, chunk).await
    }

    /// Sends `bytes` in `PATCH`es of `chunk` bytes to the session at `location` and closes
    /// it; returns the digest.
    pub async fn push_chunks(&self, mut location: String, bytes: &[u8], chunk: usize) -> String {
        let digest = sha256(bytes);
        for part in bytes.chunks(chunk.max(1)) {
            location = self.patch_upload(&location, part).await;
        }
        let r = self.finish_upload(&location, &digest).await;
        assert_eq!(
            r.status(),
            201,
            "finish upload: {}",
            r.text().await.unwrap()
        );
        digest
    }
}
