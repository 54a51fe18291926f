//! One process-wide memory budget for request bodies that must be held whole in memory
//! (manifests: they are hashed, parsed and checked before anything is stored).
//!
//! Without it each connection could buffer up to `limits.manifest_max_bytes`, so memory grew
//! with the number of clients: 100 connections each sending 4 MiB − 10 bytes added 444 MiB.
//! Now a request reserves its bytes (its `Content-Length`, or the largest manifest when the
//! length is not declared) before it reads the body, and keeps them until it is answered. A
//! request that does not get them within [`MemoryBudget::WAIT`] is refused with
//! `429 TOOMANYREQUESTS`; while it waits, its body stays in the socket (the HTTP server stops
//! reading a body nobody consumes), not in Berth's memory. What remains per waiting
//! connection is the HTTP server's own read buffering, about 0.4 MiB: with the default
//! 16 MiB budget the 100 connections above added 53–56 MiB at peak.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::RegistryError;

/// A budget of bytes shared by concurrent requests.
#[derive(Debug)]
pub struct MemoryBudget {
    bytes: Arc<Semaphore>,
    total: usize,
    wait: Duration,
}

/// Bytes reserved from a [`MemoryBudget`]; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    _permit: OwnedSemaphorePermit,
}

impl MemoryBudget {
    /// How long a request may queue for room before it is refused.
    pub const WAIT: Duration = Duration::from_secs(5);

    /// A budget of `total` bytes. It is never smaller than `largest` (one request of the
    /// largest allowed size must always be able to proceed).
    pub fn new(total: usize, largest: usize) -> Self {
        let total = total.max(largest).min(u32::MAX as usize);
        MemoryBudget {
            bytes: Arc::new(Semaphore::new(total)),
            total,
            wait: Self::WAIT,
        }
    }

    /// Reserves `bytes`, waiting up to [`Self::WAIT`] for other requests to give room back.
    pub async fn reserve(&self, bytes: usize) -> Result<Reservation, RegistryError> {
        let wanted = bytes.min(self.total) as u32;
        let permits = self.bytes.clone().acquire_many_owned(wanted);
        match tokio::time::timeout(self.wait, permits).await {
            Ok(Ok(permit)) => Ok(Reservation { _permit: permit }),
            // Timed out (or the semaphore was closed, which never happens).
            _ => Err(RegistryError::Busy(format!(
                "too many manifests are being received at once (their {} bytes of buffer \
                 memory are in use); retry shortly",
                self.total
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_budget_refuses_after_the_wait_and_room_given_back_is_reused() {
        let mut budget = MemoryBudget::new(10, 4);
        budget.wait = Duration::from_millis(20);
        let first = budget.reserve(8).await.unwrap();
        assert!(matches!(
            budget.reserve(4).await,
            Err(RegistryError::Busy(_))
        ));
        drop(first);
        budget.reserve(10).await.unwrap();
    }

    #[test]
    fn the_budget_always_fits_the_largest_request() {
        assert_eq!(MemoryBudget::new(1, 4 << 20).total, 4 << 20);
    }
}
