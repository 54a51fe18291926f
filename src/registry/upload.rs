//! Upload sessions: a temp file with its running hash, resumable across requests.
//!
//! The repository actor creates and removes sessions; a request that sends bytes locks the
//! session (one request at a time) and streams into its [`DigestWriter`] directly, so bytes
//! never pass through the actor.

use std::sync::atomic::{AtomicI64, Ordering};

use tokio::sync::{Mutex, MutexGuard};

use super::RegistryError;
use crate::meta::now;
use crate::oci::ImageName;
use crate::storage::DigestWriter;

#[derive(Debug)]
pub struct UploadSession {
    pub id: String,
    pub name: ImageName,
    writer: Mutex<Option<DigestWriter>>,
    last_activity: AtomicI64,
}

/// Exclusive access to a session's writer for the length of one request.
pub type WriterGuard<'a> = MutexGuard<'a, Option<DigestWriter>>;

impl UploadSession {
    pub fn new(id: String, name: ImageName, writer: DigestWriter) -> Self {
        metrics::gauge!(crate::metrics::UPLOADS_IN_PROGRESS).increment(1.0);
        UploadSession {
            id,
            name,
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

    /// Current offset, for status requests (waits for a running request to finish, and
    /// writes out what a cancelled one left queued).
    pub async fn offset(&self) -> Result<u64, RegistryError> {
        let mut guard = self.writer.lock().await;
        let writer = guard.as_mut().ok_or(RegistryError::UploadUnknown)?;
        Ok(writer.flush().await?)
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
