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
        PgLocks { pool }
    }

    async fn take(&self, sql: &'static str, name: &str) -> Result<Held, MetaError> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query(sql)
            .bind(lock_key(name))
            .execute(&mut *conn)
            .await?;
        Ok(Held::kept(Box::new(Session::new(conn))))
    }
}

/// The connection holding a lock. In a mutex only to be `Sync` (a held lock sits in
/// structures shared across tasks); `still_held` has `&mut` access and never locks it.
struct Session(tokio::sync::Mutex<PoolConnection<Postgres>>);

impl Session {
    fn new(conn: PoolConnection<Postgres>) -> Self {
        Session(tokio::sync::Mutex::new(conn))
    }
}

#[async_trait]
impl HeldLock for Session {
    async fn still_held(&mut self) -> bool {
        let conn = self.0.get_mut();
        sqlx::query("SELECT 1").execute(&mut **conn).await.is_ok()
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

    async fn try_lease(&self, name: &str) -> Result<Option<Held>, MetaError> {
        let mut conn = self.pool.acquire().await?;
        let granted: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(lock_key(name))
            .fetch_one(&mut *conn)
            .await?;
        Ok(granted.then(|| Held::kept(Box::new(Session::new(conn)))))
    }
}
