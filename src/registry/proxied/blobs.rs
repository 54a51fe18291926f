//! Blobs of a proxy repository: an uncached blob is downloaded once however many requests
//! want it, streamed to them while it is hashed and written, and committed (made visible)
//! only once verified.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use reqwest::Method;
use tokio::sync::{mpsc, watch};

use super::super::{Hosted, RegistryError};
use super::claim::{claim, Claim};
use super::download::{start_download, DownloadJob};
use crate::oci::{Digest, ImageName};
use crate::proxy::metrics as pm;
use crate::proxy::{Download, Priority, Progress, ProxyState, UpstreamError};
use crate::storage::StagedTail;

/// Chunks buffered between the download and a slow client.
const CLIENT_BUFFER: usize = 64;

/// The size of an uncached blob, from an upstream `HEAD` (nothing is downloaded).
pub async fn blob_size(
    repo: &Hosted,
    name: &ImageName,
    digest: &Digest,
) -> Result<u64, RegistryError> {
    let proxy = repo.proxy().expect("a proxy repository");
    let fail = |error| RegistryError::Upstream {
        repository: proxy.repository.clone(),
        error,
    };
    if proxy.known_missing(name.as_str(), digest.as_str()) {
        return Err(RegistryError::BlobUnknown(digest.clone()));
    }
    let head = proxy
        .upstreams()
        .request(
            Priority::Fetch,
            Method::HEAD,
            name.as_str(),
            &format!("blobs/{digest}"),
            None,
        )
        .await;
    match head {
        // The header itself: for a HEAD the client reports the (empty) body's length.
        Ok(r) => r
            .response
            .headers()
            .get(reqwest::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .ok_or_else(|| {
                fail(UpstreamError::Invalid(format!(
                    "upstream {} sent no Content-Length for a blob",
                    r.upstream.base()
                )))
            }),
        Err(UpstreamError::NotFound) => {
            proxy.remember_missing(name.as_str(), digest.as_str());
            Err(RegistryError::BlobUnknown(digest.clone()))
        }
        Err(e) => Err(fail(e)),
    }
}

/// An uncached blob, on its way.
pub enum BlobFetch {
    /// Another request's download finished meanwhile: serve it from the store.
    Cached,
    /// This request leads the download and receives the bytes as they arrive. The last
    /// chunk is held back until the blob is verified and committed; if it is not, the
    /// stream ends with an error instead, so the client never sees a complete wrong body.
    Streaming {
        size: Option<u64>,
        body: mpsc::Receiver<Result<Bytes, io::Error>>,
        /// Following another request's download rather than leading one.
        coalesced: bool,
    },
}

/// Gets an uncached blob from the upstream. The first request for a digest starts the
/// download (in a task of its own, so it completes for the cache and the waiting requests
/// even if its client goes away); concurrent requests wait for it and then read the store.
pub async fn fetch_blob(
    repo: &Hosted,
    name: &ImageName,
    digest: &Digest,
) -> Result<BlobFetch, RegistryError> {
    let proxy = repo.proxy().expect("a proxy repository").clone();
    let fail = |error| RegistryError::Upstream {
        repository: proxy.repository.clone(),
        error,
    };
    if proxy.known_missing(name.as_str(), digest.as_str()) {
        return Err(RegistryError::BlobUnknown(digest.clone()));
    }
    let leader = match proxy.begin_download(digest) {
        Download::Follower(rx) => {
            pm::saved(&proxy.repository, "coalesced");
            return follow(rx, digest.clone()).await.map_err(fail);
        }
        Download::Leader(tx) => tx,
    };
    let (tx, rx) = mpsc::channel(CLIENT_BUFFER);
    match lead(repo, &proxy, name, digest, leader, Some(tx)).await? {
        Led::Started(size) => Ok(BlobFetch::Streaming {
            size,
            body: rx,
            coalesced: false,
        }),
        Led::Cached => Ok(BlobFetch::Cached),
    }
}

/// Part of an uncached blob: the download is started (or joined) for the whole blob, and
/// the part is read from its staged upload as the bytes arrive.
pub enum PartFetch {
    /// The download finished meanwhile (or its size is unknown until it has): serve the
    /// part from the store.
    Cached,
    InFlight(InFlight),
}

/// A download in flight whose size is known, ready to serve any part of it.
pub struct InFlight {
    /// The size of the whole blob.
    pub size: u64,
    /// Following another request's download rather than leading one.
    pub coalesced: bool,
    staged: Arc<dyn StagedTail>,
    progress: watch::Receiver<Progress>,
    digest: Digest,
}

impl InFlight {
    /// Streams bytes `start..end` as the download writes them. Bytes before the last one
    /// are sent once written and hashed; the blob's last byte only once the whole blob is
    /// verified, as for a whole-blob follower.
    pub fn read(self, start: u64, end: u64) -> mpsc::Receiver<Result<Bytes, io::Error>> {
        let (tx, body) = mpsc::channel(CLIENT_BUFFER);
        let span = Span {
            start,
            end: end.min(self.size),
            size: self.size,
        };
        tokio::spawn(tail(self.staged, span, self.progress, tx, self.digest));
        body
    }
}

/// Starts or joins the download of an uncached blob, for a request that wants only part of
/// it (a `Range` GET: Dragonfly's `bytes=0-0` probe, lazy-pulling snapshotters).
pub async fn fetch_blob_part(
    repo: &Hosted,
    name: &ImageName,
    digest: &Digest,
) -> Result<PartFetch, RegistryError> {
    let proxy = repo.proxy().expect("a proxy repository").clone();
    if proxy.known_missing(name.as_str(), digest.as_str()) {
        return Err(RegistryError::BlobUnknown(digest.clone()));
    }
    let (progress, coalesced) = match proxy.begin_download(digest) {
        Download::Follower(rx) => {
            pm::saved(&proxy.repository, "coalesced");
            (rx, true)
        }
        Download::Leader(tx) => {
            let rx = tx.subscribe();
            lead(repo, &proxy, name, digest, tx, None).await?;
            (rx, false)
        }
    };
    in_flight(progress, digest.clone(), coalesced)
        .await
        .map_err(|error| RegistryError::Upstream {
            repository: proxy.repository.clone(),
            error,
        })
}

/// What the request leading this node's download found.
enum Led {
    /// The download runs; the size the upstream announced.
    Started(Option<u64>),
    /// Another node of the cluster cached the blob: serve it from the store.
    Cached,
}

/// Starts the download this request leads, in a task of its own; `client` (if any) gets
/// the bytes as they arrive. Another node caching the same blob is waited for instead
/// (see `claim`).
async fn lead(
    repo: &Hosted,
    proxy: &Arc<ProxyState>,
    name: &ImageName,
    digest: &Digest,
    leader: watch::Sender<Progress>,
    client: Option<mpsc::Sender<Result<Bytes, io::Error>>>,
) -> Result<Led, RegistryError> {
    let fail = |error| RegistryError::Upstream {
        repository: proxy.repository.clone(),
        error,
    };
    let lease = match claim(repo, proxy, name, digest).await {
        Ok(Claim::Download(lease)) => lease,
        Ok(Claim::Cached(size)) => {
            proxy.end_download(digest, leader, Ok(size));
            return Ok(Led::Cached);
        }
        Err(e) => {
            proxy.end_download(
                digest,
                leader,
                Err(UpstreamError::Unavailable(e.to_string())),
            );
            return Err(e);
        }
    };
    match start_download(repo, proxy, name, digest).await {
        Ok((upstreamed, size)) => {
            pm::download_started(&proxy.repository);
            pm::request(&proxy.repository, "miss");
            let job = DownloadJob {
                repo: repo.clone(),
                proxy: proxy.clone(),
                name: name.clone(),
                digest: digest.clone(),
                size,
                upstream: upstreamed.upstream,
                permit: Some(upstreamed.permit),
                _lease: lease,
            };
            tokio::spawn(job.run(upstreamed.response, client, leader));
            Ok(Led::Started(size))
        }
        Err(UpstreamError::NotFound) => {
            proxy.remember_missing(name.as_str(), digest.as_str());
            proxy.end_download(digest, leader, Err(UpstreamError::NotFound));
            Err(RegistryError::BlobUnknown(digest.clone()))
        }
        Err(e) => {
            pm::request(&proxy.repository, "error");
            proxy.end_download(digest, leader, Err(e.clone()));
            Err(fail(e))
        }
    }
}

/// Follows another request's download: streams the staged upload as it grows (never past the
/// last byte until the blob is verified), or, if that cannot be done, waits for the end and
/// lets the caller serve the committed blob.
async fn follow(rx: watch::Receiver<Progress>, digest: Digest) -> Result<BlobFetch, UpstreamError> {
    match in_flight(rx, digest, true).await? {
        PartFetch::Cached => Ok(BlobFetch::Cached),
        PartFetch::InFlight(f) => {
            let size = f.size;
            Ok(BlobFetch::Streaming {
                size: Some(size),
                coalesced: true,
                body: f.read(0, size),
            })
        }
    }
}

/// Waits until a download has a readable staged upload of known size (or has ended).
async fn in_flight(
    mut rx: watch::Receiver<Progress>,
    digest: Digest,
    coalesced: bool,
) -> Result<PartFetch, UpstreamError> {
    let progress = rx
        .wait_for(|p| p.outcome.is_some() || p.tail.is_some())
        .await
        .map(|p| p.clone())
        .unwrap_or_default();
    let (Some(staged), Some(size), None) = (progress.tail, progress.size, &progress.outcome) else {
        return finished(rx, &digest).await;
    };
    Ok(PartFetch::InFlight(InFlight {
        size,
        coalesced,
        staged,
        progress: rx,
        digest,
    }))
}

async fn finished(
    mut rx: watch::Receiver<Progress>,
    digest: &Digest,
) -> Result<PartFetch, UpstreamError> {
    match rx.wait_for(|p| p.outcome.is_some()).await {
        Ok(p) => match p.outcome.clone().expect("waited for it") {
            Ok(_) => Ok(PartFetch::Cached),
            Err(e) => Err(e),
        },
        Err(_) => Err(abandoned(digest)),
    }
}

fn abandoned(digest: &Digest) -> UpstreamError {
    UpstreamError::Unavailable(format!("the download of {digest} was abandoned"))
}

/// Bytes `start..end` of a blob of `size` bytes.
struct Span {
    start: u64,
    end: u64,
    size: u64,
}

/// Sends part of a growing staged upload to a follower. The blob's last byte is released only
/// once the leader reports the blob verified and committed.
async fn tail(
    staged: Arc<dyn StagedTail>,
    span: Span,
    mut rx: watch::Receiver<Progress>,
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
    digest: Digest,
) {
    let mut offset = span.start;
    loop {
        let progress = rx.borrow_and_update().clone();
        let ready = match &progress.outcome {
            Some(Ok(_)) => span.size,
            Some(Err(e)) => {
                let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
                return;
            }
            None => progress.written.min(span.size.saturating_sub(1)),
        };
        let limit = ready.min(span.end);
        while offset < limit {
            let len = (limit - offset).min(1 << 20) as usize;
            let read = staged
                .read_at(offset, len)
                .await
                .map_err(|e| io::Error::other(e.to_string()));
            let failed = read.is_err();
            if tx.send(read).await.is_err() || failed {
                return;
            }
            offset += len as u64;
        }
        if offset >= span.end {
            return;
        }
        if rx.changed().await.is_err() && rx.borrow().outcome.is_none() {
            let _ = tx
                .send(Err(io::Error::other(abandoned(&digest).to_string())))
                .await;
            return;
        }
    }
}
