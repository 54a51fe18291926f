//! Failed-login throttling, per client (user name + address) and per address.
//!
//! Two rules shape it:
//! - **Nobody can lock another client out.** Failures count against the client that made
//!   them: the pair (user, address), and the address as a whole (so one address cannot try
//!   many user names). There is no per-user counter that failures from elsewhere could fill,
//!   so the right password from a client that has not failed is never refused, `admin`
//!   included; an operator on the host is not affected by failures from other addresses.
//!   A client that logged in from its address before (known, see `Security`) is held to its
//!   own counter only, so guesses by a neighbour behind the same NAT do not shut it out.
//! - **An attempt is counted before it is checked.** [`Throttle::reserve`] takes a slot on
//!   both counters atomically (one mutex around check-and-increment); a check in flight
//!   holds its slot until it ends. When the slots are all held by checks in flight, a new
//!   attempt waits for them instead of being refused, so a client sending its right password
//!   on many parallel requests is served once the first check fills the verified cache,
//!   while 100 parallel wrong passwords from one address get exactly `max` real checks.
//!
//! In memory only: a restart forgets, which is acceptable for throttling.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

pub struct Throttle {
    /// Failures allowed per (user, address) within the window.
    per_client: u32,
    /// Failures allowed per address (all user names together) within the window.
    per_address: u32,
    window: Duration,
    counters: Mutex<HashMap<Key, Counter>>,
    /// Kept beside `counters` (under its lock) and readable without it, for
    /// [`Throttle::is_idle`]: attempts admitted and not yet released, and the time (ms after
    /// `started`) when the latest failure leaves its window.
    in_flight: AtomicU64,
    quiet_from_ms: AtomicU64,
    started: Instant,
    /// Woken whenever a check in flight ends, for attempts waiting on a slot.
    released: Notify,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Client(String, Option<IpAddr>),
    Address(Option<IpAddr>),
}

#[derive(Clone, Copy, Debug)]
struct Counter {
    failures: u32,
    /// Attempts admitted and still being checked.
    pending: u32,
    /// When the first failure of the current window happened.
    since: Instant,
}

/// Counters kept before old windows are swept, so random user names cannot grow memory.
const SWEEP_AT: usize = 10_000;

/// A slot taken by [`Throttle::reserve`]. Report the outcome with [`Reservation::failed`] or
/// [`Reservation::succeeded`]; dropped without either (a cancelled request, a full
/// verification queue), the slot is simply given back.
pub struct Reservation<'a> {
    throttle: &'a Throttle,
    keys: Vec<Key>,
    reported: bool,
}

/// The client has used up its failures for this window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled;

enum Admission {
    Admitted,
    /// Slots are held by checks in flight: try again when one ends.
    Wait,
    Refused,
}

impl Throttle {
    pub fn new(per_client: u32, per_address: u32, window: Duration) -> Self {
        Throttle {
            per_client,
            per_address,
            window,
            counters: Mutex::new(HashMap::new()),
            in_flight: AtomicU64::new(0),
            quiet_from_ms: AtomicU64::new(0),
            started: Instant::now(),
            released: Notify::new(),
        }
    }

    /// Takes a slot for one login attempt by `user` from `address`, waiting (at most one
    /// window) while the remaining slots are held by checks in flight. A `known` client (it
    /// logged in from this address before) counts against its own limit only, so a
    /// neighbour behind the same NAT or proxy guessing at other accounts cannot shut it out.
    pub async fn reserve(
        &self,
        user: &str,
        address: Option<IpAddr>,
        known: bool,
    ) -> Result<Reservation<'_>, Throttled> {
        let mut keys = vec![Key::Client(user.to_string(), address)];
        if !known {
            keys.push(Key::Address(address));
        }
        let deadline = tokio::time::Instant::now() + self.window;
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            // Registered before the decision, so a release in between is not missed.
            released.as_mut().enable();
            match self.admit(&keys) {
                Admission::Admitted => {
                    return Ok(Reservation {
                        throttle: self,
                        keys,
                        reported: false,
                    })
                }
                Admission::Refused => return Err(Throttled),
                Admission::Wait => {
                    if tokio::time::timeout_at(deadline, released).await.is_err() {
                        return Err(Throttled);
                    }
                }
            }
        }
    }

    /// Whether no check is in flight and every failure counted has left its window, for any
    /// client. Then any attempt would be admitted at once, and a successful one would leave
    /// nothing behind that matters (only counters that are reset when next used), so a caller
    /// that already knows the attempt succeeds need not take a slot.
    pub fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
            && self.started.elapsed().as_millis() as u64
                >= self.quiet_from_ms.load(Ordering::Acquire)
    }

    /// The atomic check-and-increment of both counters.
    fn admit(&self, keys: &[Key]) -> Admission {
        let mut counters = self.counters.lock().expect("throttle lock");
        if counters.len() >= SWEEP_AT {
            let window = self.window;
            counters.retain(|_, c| c.pending > 0 || c.since.elapsed() < window);
        }
        let mut wait = false;
        for key in keys {
            let max = self.max(key);
            let Some(c) = counters.get_mut(key) else {
                continue;
            };
            if c.since.elapsed() >= self.window {
                c.failures = 0;
            }
            if c.failures >= max {
                return Admission::Refused;
            }
            wait |= c.failures + c.pending >= max;
        }
        if wait {
            return Admission::Wait;
        }
        for key in keys {
            let c = counters.entry(key.clone()).or_insert(Counter {
                failures: 0,
                pending: 0,
                since: Instant::now(),
            });
            c.pending += 1;
        }
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Admission::Admitted
    }

    fn max(&self, key: &Key) -> u32 {
        match key {
            Key::Client(..) => self.per_client,
            Key::Address(_) => self.per_address,
        }
    }

    /// Gives a slot back; `failed` turns it into a failure, `succeeded` also forgets the
    /// client's earlier failures (not the address's: one good account must not reset the
    /// count of guesses at others).
    fn release(&self, keys: &[Key], failed: bool, succeeded: bool) {
        let mut counters = self.counters.lock().expect("throttle lock");
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        if failed {
            // Rounded up: idle a millisecond late rather than early.
            let quiet = (self.started.elapsed() + self.window).as_millis() as u64 + 1;
            self.quiet_from_ms.fetch_max(quiet, Ordering::AcqRel);
        }
        for key in keys {
            let Some(c) = counters.get_mut(key) else {
                continue;
            };
            c.pending = c.pending.saturating_sub(1);
            if failed {
                if c.failures == 0 || c.since.elapsed() >= self.window {
                    c.failures = 0;
                    c.since = Instant::now();
                }
                c.failures += 1;
            }
            let forget = succeeded && matches!(key, Key::Client(..));
            if (forget || c.failures == 0) && c.pending == 0 {
                counters.remove(key);
            }
        }
        drop(counters);
        self.released.notify_waiters();
    }
}

impl Reservation<'_> {
    pub fn failed(mut self) {
        self.reported = true;
        self.throttle.release(&self.keys, true, false);
    }

    pub fn succeeded(mut self) {
        self.reported = true;
        self.throttle.release(&self.keys, false, true);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.reported {
            self.throttle.release(&self.keys, false, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Throttle {
        async fn reserve_new(
            &self,
            user: &str,
            address: Option<IpAddr>,
        ) -> Result<Reservation<'_>, Throttled> {
            self.reserve(user, address, false).await
        }
    }

    #[tokio::test]
    async fn a_known_client_is_not_shut_out_by_failures_for_others_at_its_address() {
        let t = Throttle::new(5, 2, Duration::from_secs(60));
        t.reserve_new("x", A).await.unwrap().failed();
        t.reserve_new("y", A).await.unwrap().failed();
        assert!(
            t.reserve_new("u", A).await.is_err(),
            "a stranger at A waits"
        );
        assert!(
            t.reserve("u", A, true).await.is_ok(),
            "u, known at A, does not"
        );
    }

    const A: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2)));
    const B: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 3)));

    #[tokio::test]
    async fn failures_block_the_client_and_address_but_no_one_else() {
        let t = Throttle::new(2, 3, Duration::from_secs(60));
        t.reserve_new("u", A).await.unwrap().failed();
        t.reserve_new("u", A).await.unwrap().failed();
        assert!(
            t.reserve_new("u", A).await.is_err(),
            "client (u, A) is blocked"
        );
        assert!(t.reserve_new("u", B).await.is_ok(), "u from B is not");
        t.reserve_new("v", A).await.unwrap().failed();
        assert!(t.reserve_new("w", A).await.is_err(), "address A used its 3");
    }

    #[tokio::test]
    async fn it_is_idle_only_without_checks_in_flight_or_failures_in_the_window() {
        let t = Throttle::new(2, 10, Duration::from_millis(300));
        assert!(t.is_idle());
        let checking = t.reserve_new("u", A).await.unwrap();
        assert!(!t.is_idle(), "a check in flight");
        checking.succeeded();
        assert!(t.is_idle());
        let checking = t.reserve_new("u", A).await.unwrap();
        drop(checking);
        assert!(t.is_idle(), "a cancelled check leaves nothing");
        t.reserve_new("u", B).await.unwrap().failed();
        assert!(!t.is_idle(), "a failure in the window");
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(t.is_idle(), "the failure left its window");
    }

    #[tokio::test]
    async fn a_success_forgets_the_clients_failures() {
        let t = Throttle::new(2, 10, Duration::from_secs(60));
        t.reserve_new("u", A).await.unwrap().failed();
        t.reserve_new("u", A).await.unwrap().succeeded();
        t.reserve_new("u", A).await.unwrap().failed();
        assert!(t.reserve_new("u", A).await.is_ok());
    }

    #[tokio::test]
    async fn checks_in_flight_hold_slots_and_later_attempts_wait_for_them() {
        let t = Throttle::new(2, 10, Duration::from_secs(60));
        let first = t.reserve_new("u", A).await.unwrap();
        let second = t.reserve_new("u", A).await.unwrap();
        let third = t.reserve_new("u", A);
        tokio::pin!(third);
        assert!(futures_util::poll!(third.as_mut()).is_pending(), "waits");
        first.failed();
        second.failed();
        assert!(third.await.is_err(), "both failed: refused without a check");
    }
}
