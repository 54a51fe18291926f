//! Upload sessions: a temp file with its running hash, resumable across requests.
//!
//! The repository actor creates and removes sessions; a request that sends bytes locks the
//! session (one request at a time) and streams into its [`DigestWriter`] directly, so bytes
//! never pass through the actor. A status request never waits for that request: it answers
//! from the offset the writer last published.

use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{Mutex, MutexGuard};

use super::RegistryError;
use crate::meta::now;
use crate::oci::ImageName;
use crate::storage::DigestWriter;

#[derive(Debug)]
pub struct UploadSession {
    pub id: String,
    pub name: ImageName,
    /// Who opened it (counted against `limits.upload_sessions_per_client`).
    pub client: Option<IpAddr>,
    writer: Mutex<Option<DigestWriter>>,
    /// The writer's offset as of its last completed write.
    progress: Arc<AtomicU64>,
    last_activity: AtomicI64,
}

/// Exclusive access to a session's writer for the length of one request.
pub type WriterGuard<'a> = MutexGuard<'a, Option<DigestWriter>>;

impl UploadSession {
    pub fn new(id: String, name: ImageName, client: Option<IpAddr>, writer: DigestWriter) -> Self {
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
            .map_err(|_| RegistryError::UploadBusy { offset: 0 })
    }

    /// Current offset, for status requests. While another request writes (possibly a
    /// stalled body), the last published offset, without waiting for it; otherwise exact,
    /// after writing out what a cancelled request left queued.
    pub async fn offset(&self) -> Result<u64, RegistryError> {
        let Ok(mut guard) = self.writer.try_lock() else {
            return Ok(self.progress.load(Ordering::Relaxed));
        };
        let writer = guard.as_mut().ok_or(RegistryError::UploadUnknown)?;
        let offset = writer.flush().await?;
        writer.release_file();
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
