//! One upstream blob download: asked from the upstream (bounded by its `Content-Length` or,
//! without one, by the size the manifest's descriptor gave it), streamed into a digest
//! staged upload and to its first client, and committed only once verified.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::Method;
use tokio::sync::{mpsc, watch};

use super::super::{Hosted, RegistryError};
use crate::oci::{Digest, ImageName};
use crate::proxy::budget::Permit;
use crate::proxy::mirrors::Upstreamed;
use crate::proxy::upstream::Upstream;
use crate::proxy::{Priority, Progress, ProxyState, UpstreamError};
use crate::storage::StorageError;

pub(super) async fn start_download(
    repo: &Hosted,
    proxy: &ProxyState,
    name: &ImageName,
    digest: &Digest,
) -> Result<(Upstreamed, Option<u64>), UpstreamError> {
    proxy.check_callable()?;
    repo.check_capacity()
        .map_err(|e| UpstreamError::Unavailable(format!("cannot cache: {e}")))?;
    let upstreamed = proxy
        .upstreams()
        .request(
            Priority::Fetch,
            Method::GET,
            name.as_str(),
            &format!("blobs/{digest}"),
            None,
        )
        .await?;
    // Without a length (a chunked body) the manifest's descriptor bounds the download.
    let expected = proxy.expected_sizes.get(digest);
    let size = match (upstreamed.response.content_length(), expected) {
        (Some(sent), Some(expected)) if sent != expected => {
            let error = UpstreamError::Invalid(format!(
                "upstream {} announced {sent} bytes for {digest}, whose descriptor says {expected}",
                upstreamed.upstream.base()
            ));
            proxy.upstreams().body_failed(&upstreamed.upstream, &error);
            return Err(error);
        }
        (sent, expected) => sent.or(expected),
    };
    Ok((upstreamed, size))
}

pub(super) struct DownloadJob {
    pub(super) repo: Hosted,
    pub(super) proxy: Arc<ProxyState>,
    pub(super) name: ImageName,
    pub(super) digest: Digest,
    pub(super) size: Option<u64>,
    /// The URL sending the blob (a mirror or the remote).
    pub(super) upstream: Arc<Upstream>,
    /// The upstream budget's slot, held until the body has been received.
    pub(super) permit: Option<Permit>,
    /// The cluster lease `proxy:<repository>:<digest>` (see `claim`), held until the blob
    /// is committed and linked (or the download failed): dropped with the job.
    pub(super) _lease: Option<crate::meta::Held>,
}

impl DownloadJob {
    pub(super) async fn run(
        mut self,
        response: reqwest::Response,
        mut client: Option<mpsc::Sender<Result<Bytes, io::Error>>>,
        leader: watch::Sender<Progress>,
    ) {
        let mut held = None;
        let outcome = self
            .download(response, &mut client, &mut held, &leader)
            .await;
        // Freed before the client gets its last byte, so its next request finds it free.
        drop(self.permit.take());
        match &outcome {
            Ok(_) => {
                self.proxy.upstreams().body_received(&self.upstream);
                self.proxy.expected_sizes.forget(&self.digest);
                if let Some(last) = held {
                    send(&mut client, Ok(last)).await;
                }
            }
            Err(e) => {
                tracing::warn!(repository = %self.proxy.repository, upstream = %self.upstream.base(), digest = %self.digest, error = %e, "blob download from upstream failed; nothing cached");
                send(&mut client, Err(io::Error::other(e.to_string()))).await;
                self.proxy.upstreams().body_failed(&self.upstream, e);
            }
        }
        self.proxy.end_download(&self.digest, leader, outcome);
    }

    /// Streams the body into a digest writer and to the client; commits only a verified,
    /// complete blob.
    async fn download(
        &self,
        response: reqwest::Response,
        client: &mut Option<mpsc::Sender<Result<Bytes, io::Error>>>,
        held: &mut Option<Bytes>,
        progress: &watch::Sender<Progress>,
    ) -> Result<u64, UpstreamError> {
        let base = self.upstream.base();
        let cache_error =
            |e: RegistryError| UpstreamError::Unavailable(format!("cannot cache: {e}"));
        let id = format!("proxy-{}", uuid::Uuid::new_v4().simple());
        let mut writer = self
            .repo
            .stage_blob(&id, self.digest.algorithm())
            .await
            .map_err(cache_error)?;
        let tail: Option<Arc<dyn crate::storage::StagedTail>> = writer.tail().map(Arc::from);
        progress.send_modify(|p| {
            p.tail = tail;
            p.size = self.size;
        });
        let mut body = response.bytes_stream();
        let mut received = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                UpstreamError::Unavailable(format!(
                    "upstream {base} broke off the download of {} after {received} bytes: {e}",
                    self.digest
                ))
            })?;
            received += chunk.len() as u64;
            if self.size.is_some_and(|s| received > s) {
                return Err(UpstreamError::Invalid(format!(
                    "upstream {base} sent more than the {} bytes announced for {}; \
                     Berth stopped reading it",
                    self.size.unwrap_or_default(),
                    self.digest
                )));
            }
            writer
                .push(chunk.clone())
                .await
                .map_err(|e| cache_error(e.into()))?;
            let written = writer.offset();
            progress.send_if_modified(|p| std::mem::replace(&mut p.written, written) != written);
            if let Some(previous) = held.replace(chunk) {
                send(client, Ok(previous)).await;
            }
        }
        if let Some(size) = self.size.filter(|s| *s != received) {
            return Err(UpstreamError::Invalid(format!(
                "upstream {base} sent {received} of {size} bytes of {}",
                self.digest
            )));
        }
        // Published and linked under the GC protocol, like a push (see `registry::gc`).
        match self.repo.cache_blob(writer, &self.name, &self.digest).await {
            Ok(size) => Ok(size),
            Err(RegistryError::Storage(StorageError::DigestMismatch { expected, actual })) => {
                Err(UpstreamError::Invalid(format!(
                    "upstream {base} sent content whose digest is {actual}, not {expected}"
                )))
            }
            Err(e) => Err(cache_error(e)),
        }
    }
}

/// Sends to the first client while it listens; a client that went away is forgotten and the
/// download goes on for the cache.
async fn send(
    client: &mut Option<mpsc::Sender<Result<Bytes, io::Error>>>,
    item: Result<Bytes, io::Error>,
) {
    if let Some(tx) = client {
        if tx.send(item).await.is_err() {
            *client = None;
        }
    }
}
