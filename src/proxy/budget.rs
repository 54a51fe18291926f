//! A proxy's upstream budget: how many requests may be in flight and how fast they may
//! start (the operator's caps), and what the upstream says is left of its own budget
//! (Docker Hub's `ratelimit-remaining`). Cold misses wait for their turn; tag revalidations
//! never wait: when they would, or when the upstream's budget runs low, they are skipped and
//! the cached tag is served, so the budget goes to content nobody has yet.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::upstream::RateLimit;

/// Below this share of the upstream's announced limit, revalidations are skipped.
const RESERVE_PERCENT: u64 = 10;

/// What an upstream request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Content a client is waiting for and the cache does not have.
    Fetch,
    /// A `HEAD` confirming a cached tag past its metadata age: dropped first.
    Revalidate,
}

/// A slot among the in-flight upstream requests, held until dropped (a blob download
/// holds it to its end).
pub struct Permit(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

pub struct Budget {
    connections: Option<Arc<Semaphore>>,
    /// Requests are started `interval` apart; `next` is the earliest free start time.
    pacer: Option<Mutex<Instant>>,
    interval: Duration,
}

impl Budget {
    /// `0` means no cap, for either.
    pub fn new(max_connections: u32, max_requests_per_sec: u32) -> Self {
        Budget {
            connections: (max_connections > 0)
                .then(|| Arc::new(Semaphore::new(max_connections as usize))),
            pacer: (max_requests_per_sec > 0).then(|| Mutex::new(Instant::now())),
            interval: Duration::from_secs(1) / max_requests_per_sec.max(1),
        }
    }

    /// A slot for a request of `priority`; `None` if a revalidation should be skipped
    /// (`upstream` is the budget the upstream announced last).
    pub async fn acquire(&self, priority: Priority, upstream: Option<RateLimit>) -> Option<Permit> {
        if priority == Priority::Revalidate {
            if upstream.is_some_and(|b| b.remaining * 100 < b.limit * RESERVE_PERCENT) {
                return None;
            }
            let permit = match &self.connections {
                Some(s) => Some(s.clone().try_acquire_owned().ok()?),
                None => None,
            };
            return self.start_now().then_some(Permit(permit));
        }
        let permit = match &self.connections {
            Some(s) => Some(s.clone().acquire_owned().await.ok()?),
            None => None,
        };
        self.start_in_turn().await;
        Some(Permit(permit))
    }

    /// Takes the next start time if it is now.
    fn start_now(&self) -> bool {
        let Some(pacer) = &self.pacer else {
            return true;
        };
        let mut next = pacer.lock().unwrap();
        let now = Instant::now();
        if *next > now {
            return false;
        }
        *next = now + self.interval;
        true
    }

    /// Takes the next start time and waits for it.
    async fn start_in_turn(&self) {
        let Some(pacer) = &self.pacer else {
            return;
        };
        let slot = {
            let mut next = pacer.lock().unwrap();
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn revalidations_are_skipped_when_they_would_wait_or_the_upstream_runs_low() {
        let b = Budget::new(1, 0);
        let held = b.acquire(Priority::Fetch, None).await.unwrap();
        assert!(b.acquire(Priority::Revalidate, None).await.is_none());
        drop(held);
        assert!(b.acquire(Priority::Revalidate, None).await.is_some());
        let low = RateLimit {
            limit: 100,
            remaining: 5,
        };
        assert!(b.acquire(Priority::Revalidate, Some(low)).await.is_none());
        assert!(b.acquire(Priority::Fetch, Some(low)).await.is_some());

        let paced = Budget::new(0, 1);
        assert!(paced.acquire(Priority::Revalidate, None).await.is_some());
        assert!(paced.acquire(Priority::Revalidate, None).await.is_none());
    }
}
