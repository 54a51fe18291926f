//! Cluster locks as PostgreSQL session-level advisory locks, each held on a connection of
//! its own from a small pool kept apart from the request pool: a writer waiting behind a
//! sweep, or the scheduler's leader holding its lease for hours, never takes a connection a
//! request query needs.
//!
//! A lock lives as long as the session holding it: when a [`Held`] is dropped its connection
//! goes back to the pool, which first runs `pg_advisory_unlock_all()` on it (the pool's
//! release hook, so no path — error, cancelled future, panic — returns a connection still
//! holding a lock). A node killed with `kill -9` loses its sockets; the server ends those
//! sessions and their locks are free for the other nodes.
//!
//! A database that is down, or a pool whose connections are all holding locks, fails the
//! acquire after the pool's acquire timeout with an error that
//! [`MetaError::is_unavailable`] recognises: a push answers 503 rather than hang.
//!
//! Leases are held long (a proxied download, a whole collection, the scheduler's lead for
//! the node's life), gate locks briefly. So leases may take at most half of the pool: many
//! proxied downloads in flight can never leave a push without a connection for its gate lock.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use crate::meta::locks::{lock_key, ClusterLocks, Held, HeldLock};
use crate::meta::{MetaError, PgSettings};

/// The lock pool of one node.
#[derive(Clone, Debug)]
pub struct PgLocks {
    pool: PgPool,
    /// Connections leases may hold at once (half the pool, at least one).
    leases: Arc<tokio::sync::Semaphore>,
    acquire_timeout: Duration,
}

impl PgLocks {
    /// A pool of at most `settings.lock_connections` connections (opened lazily).
    pub fn new(settings: &PgSettings, options: PgConnectOptions) -> Self {
        let pool = PgPoolOptions::new()
            .max_connections(settings.lock_connections)
            .min_connections(0)
            .acquire_timeout(settings.acquire_timeout)
            .test_before_acquire(true)
            .after_release(|conn, _| {
                Box::pin(async move {
                    // Keep the connection only if it could be cleared; else it closes, and
                    // closing ends the session, which releases its locks too.
                    Ok(sqlx::query("SELECT pg_advisory_unlock_all()")
                        .execute(&mut *conn)
                        .await
                        .is_ok())
                })
            })
            .connect_lazy_with(options.application_name("berth-locks"));
        let leases = (settings.lock_connections / 2).max(1) as usize;
        PgLocks {
            pool,
            leases: Arc::new(tokio::sync::Semaphore::new(leases)),
            acquire_timeout: settings.acquire_timeout,
        }
    }

    async fn take(&self, sql: &'static str, name: &str) -> Result<Held, MetaError> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query(sql)
            .bind(lock_key(name))
            .execute(&mut *conn)
            .await?;
        Ok(Held::kept(Box::new(Session::new(conn, None))))
    }
}

/// The connection holding a lock. In a mutex only to be `Sync` (a held lock sits in
/// structures shared across tasks); `still_held` has `&mut` access and never locks it.
struct Session {
    conn: tokio::sync::Mutex<PoolConnection<Postgres>>,
    /// A lease's share of the pool, given back with the connection.
    _lease: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Session {
    fn new(
        conn: PoolConnection<Postgres>,
        lease: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Self {
        Session {
            conn: tokio::sync::Mutex::new(conn),
            _lease: lease,
        }
    }
}

#[async_trait]
impl HeldLock for Session {
    async fn still_held(&mut self) -> bool {
        let conn = self.conn.get_mut();
        sqlx::query("SELECT 1").execute(&mut **conn).await.is_ok()
    }

    async fn release(&mut self) {
        let conn = self.conn.get_mut();
        // On failure the pool's release hook tries again, or the connection closes.
        let _ = sqlx::query("SELECT pg_advisory_unlock_all()")
            .execute(&mut **conn)
            .await;
    }
}

#[async_trait]
impl ClusterLocks for PgLocks {
    async fn lock_shared(&self, name: &str) -> Result<Held, MetaError> {
        self.take("SELECT pg_advisory_lock_shared($1)", name).await
    }

    async fn lock_exclusive(&self, name: &str) -> Result<Held, MetaError> {
        self.take("SELECT pg_advisory_lock($1)", name).await
    }

    fn spans_nodes(&self) -> bool {
        true
    }

    async fn try_lease(&self, name: &str) -> Result<Option<Held>, MetaError> {
        // Waiting for the lease share is waiting for a connection: the same timeout, the
        // same error.
        let share = tokio::time::timeout(self.acquire_timeout, self.leases.clone().acquire_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let mut conn = self.pool.acquire().await?;
        let granted: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(lock_key(name))
            .fetch_one(&mut *conn)
            .await?;
        Ok(granted.then(|| Held::kept(Box::new(Session::new(conn, Some(share))))))
    }
}
