//! Helpers of the hardening tests: upload sessions, stalled bodies, process figures.

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::Method;
use tokio::sync::oneshot;

use crate::common::*;

/// `POST /v2/<name>/blobs/uploads/`; returns the status and, on 202, the session path.
pub async fn open_session(app: &TestApp, name: &str) -> (u16, Option<String>) {
    let r = app
        .req(Method::POST, &format!("/v2/{name}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let path = (status == 202).then(|| path_of(&header(&r, "location")));
    (status, path)
}

/// The path of a `Location` header, absolute or relative.
pub fn path_of(location: &str) -> String {
    match location.split_once("://") {
        Some((_, after)) => after
            .find('/')
            .map_or("/".into(), |i| after[i..].to_string()),
        None => location.to_string(),
    }
}

/// A request body that sends `first`, then nothing until the returned sender is used or
/// dropped (then it fails, so the request never completes normally).
pub fn stalled_body(first: &'static [u8]) -> (reqwest::Body, oneshot::Sender<()>) {
    let (tx, rx) = oneshot::channel::<()>();
    let head =
        futures_util::stream::once(
            async move { Ok::<_, std::io::Error>(Bytes::from_static(first)) },
        );
    let tail = futures_util::stream::once(async move {
        let _ = rx.await;
        Err::<Bytes, _>(std::io::Error::other("stalled body released"))
    });
    (reqwest::Body::wrap_stream(head.chain(tail)), tx)
}

/// Open file descriptors of process `pid` (Linux `/proc`).
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// Open descriptors of `pid` that point into the directory `dir`.
pub fn fds_under(pid: u32, dir: &std::path::Path) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.starts_with(dir))
        .count()
}

/// The value of a counter or gauge in `/metrics` (summed over its series), 0 if absent.
pub async fn metric(app: &TestApp, name: &str) -> f64 {
    value(&scrape(app).await, name, &[]).unwrap_or(0.0)
}
