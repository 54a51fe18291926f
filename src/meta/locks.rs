//! Cluster locks: what several Berth nodes sharing one metadata database coordinate with,
//! decided by the database engine itself (PostgreSQL advisory locks), never by a home-made
//! consensus.
//!
//! - A *shared* / *exclusive* lock on a name: waited for (the GC reference gate of a blob
//!   store, `storage::gate`: writers shared, the sweep exclusive).
//! - A *lease* on a name: taken only if free, never waited for (one garbage collection per
//!   store, the scheduler's leader, one upstream download per proxied blob).
//!
//! A lock is held by a [`Held`] value and released when it is dropped. A node that dies
//! releases everything it held: its database sessions end with it. With the embedded SQLite
//! there is one process, so every lock is granted at once and the in-process locks are the
//! whole truth.

use async_trait::async_trait;
use sha2::{Digest as _, Sha256};

use super::MetaError;

/// Locks shared by every node of a cluster.
#[async_trait]
pub trait ClusterLocks: Send + Sync + std::fmt::Debug {
    /// Waits for the shared lock on `name` (held together with other shared holders).
    async fn lock_shared(&self, name: &str) -> Result<Held, MetaError>;
    /// Waits for the exclusive lock on `name` (no other holder, shared or not).
    async fn lock_exclusive(&self, name: &str) -> Result<Held, MetaError>;
    /// Takes the lease `name` if no one holds it; `None` if another holder (this node or
    /// another) has it. Never waits for a holder.
    async fn try_lease(&self, name: &str) -> Result<Option<Held>, MetaError>;
    /// True when other processes may hold these locks (a database shared by nodes): what
    /// this node remembers may then be out of date, and callers re-check the store.
    fn spans_nodes(&self) -> bool {
        false
    }
}

/// What a backend keeps while a lock is held (a database connection).
#[async_trait]
pub trait HeldLock: Send + Sync {
    /// Whether the lock is still held: false once the session holding it is gone (the
    /// database restarted or the connection broke).
    async fn still_held(&mut self) -> bool;
    /// Releases the lock now, before the value is dropped (dropping releases it too, but
    /// a moment later: the connection is cleared on its way back to the pool).
    async fn release(&mut self);
}

/// A held lock or lease; released when dropped.
pub struct Held(Option<Box<dyn HeldLock>>);

impl Held {
    /// A lock that needs no keeping (single process).
    pub fn granted() -> Self {
        Held(None)
    }

    pub fn kept(lock: Box<dyn HeldLock>) -> Self {
        Held(Some(lock))
    }

    /// See [`HeldLock::still_held`]; always true for a lock that needs no keeping.
    pub async fn still_held(&mut self) -> bool {
        match &mut self.0 {
            Some(lock) => lock.still_held().await,
            None => true,
        }
    }

    /// Releases the lock before returning, so whoever asks next finds it free.
    pub async fn release(mut self) {
        if let Some(lock) = &mut self.0 {
            lock.release().await;
        }
    }
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Held(cluster)"
        } else {
            "Held(local)"
        })
    }
}

/// The 64-bit advisory lock key of a namespaced name (`gc-gate:<store>`): the first eight
/// bytes of its SHA-256, the same on every node and every build (std's hasher is neither).
pub fn lock_key(name: &str) -> i64 {
    let hash = Sha256::digest(name.as_bytes());
    i64::from_be_bytes(hash[..8].try_into().expect("eight bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_differ_per_name() {
        assert_eq!(lock_key("gc-gate:s3"), lock_key("gc-gate:s3"));
        assert_ne!(lock_key("gc-gate:s3"), lock_key("gc-run:s3"));
        // Pinned: a key that changed between versions would let two versions of Berth in
        // one cluster (a rolling upgrade) take "the same" lock on different keys.
        assert_eq!(lock_key("tasks-leader"), 3_835_296_963_481_348_423);
    }
}
