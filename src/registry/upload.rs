//! Upload sessions: a staged upload (the store's handle) with its running hash, resumable
//! across requests.
//!
//! The repository actor creates and removes sessions; a request that sends bytes locks the
//! session (one request at a time) and streams into its [`StagedBlob`] directly, so bytes
//! never pass through the actor. A status request waits for that request at most a second,
//! then answers from the offset the writer last published (a stalled body must not hang it).

use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{Mutex, MutexGuard};

use super::RegistryError;
use crate::clock::now;
use crate::oci::ImageName;
use crate::storage::StagedBlob;

#[derive(Debug)]
pub struct UploadSession {
    pub id: String,
    pub name: ImageName,
    /// Who opened it (counted against `limits.upload_sessions_per_client`).
    pub client: Option<IpAddr>,
    writer: Mutex<Option<Box<dyn StagedBlob>>>,
    /// The writer's offset as of its last completed write.
    progress: Arc<AtomicU64>,
    last_activity: AtomicI64,
}

/// A new session id: a uuid, after `<node_id>.` when the node has one
/// (`cluster.node_id`), so a load balancer can route the session's later requests, which
/// only this process can serve, back here by their URL.
pub fn new_id(node_id: Option<&str>) -> String {
    let uuid = uuid::Uuid::new_v4();
    match node_id {
        Some(node) => format!("{node}.{uuid}"),
        None => uuid.to_string(),
    }
}

/// How long an upload status request waits for a request writing to the same session.
const STATUS_SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Exclusive access to a session's writer for the length of one request.
pub type WriterGuard<'a> = MutexGuard<'a, Option<Box<dyn StagedBlob>>>;

impl UploadSession {
    pub fn new(
        id: String,
        name: ImageName,
        client: Option<IpAddr>,
        writer: Box<dyn StagedBlob>,
    ) -> Self {
        metrics::gauge!(crate::metrics::UPLOADS_IN_PROGRESS).increment(1.0);
        UploadSession {
            id,
            name,
            client,
            progress: writer.progress(),
            writer: Mutex::new(Some(writer)),
            last_activity: AtomicI64::new(now()),
        }
    }

    /// Locks the writer for one request; a concurrent request gets `UploadBusy`.
    pub fn lock(&self) -> Result<WriterGuard<'_>, RegistryError> {
        self.touch();
        self.writer
            .try_lock()
            .map_err(|_| RegistryError::UploadBusy {
                offset: self.progress.load(Ordering::Relaxed),
            })
    }

    /// Current offset, for status requests. Exact when the session is free (after writing
    /// out what a cancelled request left queued). A request still holding it gets
    /// [`STATUS_SETTLE`] to finish (a client that reset its connection asks for the offset
    /// at once, before the server has noticed the reset); if it does not (a stalled body),
    /// the answer is the last offset the writer published, without waiting any longer.
    pub async fn offset(&self) -> Result<u64, RegistryError> {
        let Ok(mut guard) = tokio::time::timeout(STATUS_SETTLE, self.writer.lock()).await else {
            return Ok(self.progress.load(Ordering::Relaxed));
        };
        let writer = guard.as_mut().ok_or(RegistryError::UploadUnknown)?;
        let offset = writer.flush().await?;
        writer.release();
        Ok(offset)
    }

    pub fn touch(&self) {
        self.last_activity.store(now(), Ordering::Relaxed);
    }

    /// Seconds since the last request touched this session.
    pub fn idle_secs(&self) -> i64 {
        now() - self.last_activity.load(Ordering::Relaxed)
    }
}

/// A session ends when its last holder lets go (completed, cancelled or expired), which is
/// what the in-progress gauge counts.
impl Drop for UploadSession {
    fn drop(&mut self) {
        metrics::gauge!(crate::metrics::UPLOADS_IN_PROGRESS).decrement(1.0);
    }
}
