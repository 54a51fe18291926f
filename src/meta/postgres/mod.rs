//! The shared metadata backend: PostgreSQL through `sqlx`, for several Berth nodes over one
//! database (`[meta] url = "postgres://…"`).
//!
//! The statements mirror the SQLite backend's; what differs is named where it does:
//! `$n` placeholders, `= ANY($n)` with an array instead of an expanded `IN (?, ?, …)`,
//! identity columns and `COLLATE "C"` text in the migrations (byte order, like SQLite),
//! and `REPEATABLE READ` for reads that must see one snapshot.
//!
//! Races between nodes are decided by the database, never by one node's memory: a tag
//! that may not move is written with a conditional upsert (`ON CONFLICT … DO UPDATE …
//! WHERE`), which locks the row and re-checks the condition against the committed value,
//! so of two nodes racing on one tag exactly one wins.
//!
//! Every write that changes what nodes cache (image records, repository and blob store
//! definitions, security records) announces itself in its transaction (`changes.rs`).

mod activity;
mod changes;
mod cleanup;
mod documents;
mod gc;
mod locks;
mod records;
mod reports;

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Row, Transaction};

use super::{
    redact_url, ClusterLocks, Held, ImageRecord, ImageRecords, ManifestRecord, MetaError,
    NewManifest, PgSettings, ReferrersPage, TagWrite,
};
use crate::clock::now;
use crate::oci::{Digest, ImageName, Tag};

/// The PostgreSQL backend; cheap to clone.
#[derive(Clone)]
pub struct PgMeta {
    pool: PgPool,
    /// Cluster locks, on connections of their own (see `locks`).
    locks: locks::PgLocks,
    /// A pool of its own for the change listener, which holds its connection for good: it
    /// must not take one from the pool requests share.
    listen_pool: PgPool,
    /// This process's id in its change announcements.
    node: std::sync::Arc<str>,
    /// For `Debug` and logs: the URL with its password redacted.
    shown: String,
}

// The pool's own `Debug` prints its connect options, password included.
impl std::fmt::Debug for PgMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgMeta").field("url", &self.shown).finish()
    }
}

impl PgMeta {
    /// Connects, then applies this backend's migrations (under a database lock, so nodes
    /// starting together migrate once).
    pub async fn open(settings: &PgSettings) -> Result<Self, MetaError> {
        let shown = redact_url(&settings.url);
        let mut options = PgConnectOptions::from_str(&settings.url)
            .map_err(|_| MetaError::Url(shown.clone()))?
            .application_name("berth");
        if let Some(password) = &settings.password {
            if !url_has_password(&settings.url) {
                options = options.password(password);
            }
        }
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            // A connection broken by a database restart is found and replaced before use.
            .test_before_acquire(true)
            .connect_with(options.clone())
            .await?;
        let locks = locks::PgLocks::new(settings, options.clone());
        let listen_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(options);
        sqlx::migrate!("./src/meta/postgres/migrations")
            .run(&pool)
            .await?;
        tracing::info!(url = %shown, "metadata in PostgreSQL");
        Ok(PgMeta {
            pool,
            locks,
            listen_pool,
            node: crate::meta::changes::new_node_id().into(),
            shown,
        })
    }
}

#[async_trait]
impl ClusterLocks for PgMeta {
    async fn lock_shared(&self, name: &str) -> Result<Held, MetaError> {
        self.locks.lock_shared(name).await
    }

    async fn lock_exclusive(&self, name: &str) -> Result<Held, MetaError> {
        self.locks.lock_exclusive(name).await
    }

    async fn try_lease(&self, name: &str) -> Result<Option<Held>, MetaError> {
        self.locks.try_lease(name).await
    }

    fn spans_nodes(&self) -> bool {
        true
    }
}

fn url_has_password(url: &str) -> bool {
    redact_url(url) != url
}

/// A write transaction. PostgreSQL's default isolation (READ COMMITTED) is what the
/// conditional upserts rely on: a conflicting row is locked and re-read at its latest
/// committed version before the `WHERE` of `DO UPDATE` is checked.
async fn write_tx(pool: &PgPool) -> Result<Transaction<'static, Postgres>, MetaError> {
    Ok(pool.begin().await?)
}

#[async_trait]
impl ImageRecords for PgMeta {
    async fn find_image(
        &self,
        repository: &str,
        name: &ImageName,
    ) -> Result<Option<i64>, MetaError> {
        let row = sqlx::query("SELECT id FROM images WHERE repository = $1 AND name = $2")
            .bind(repository)
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn image_has_content(
        &self,
        repository: &str,
        name: &ImageName,
    ) -> Result<bool, MetaError> {
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM manifests m WHERE m.image_id = i.id) \
             OR EXISTS (SELECT 1 FROM image_blobs b WHERE b.image_id = i.id) \
             FROM images i WHERE i.repository = $1 AND i.name = $2",
        )
        .bind(repository)
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some_and(|r| r.get::<bool, _>(0)))
    }

    async fn ensure_image(&self, repository: &str, name: &ImageName) -> Result<i64, MetaError> {
        sqlx::query(
            "INSERT INTO images (repository, name, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (repository, name) DO NOTHING",
        )
        .bind(repository)
        .bind(name.as_str())
        .bind(now())
        .execute(&self.pool)
        .await?;
        self.find_image(repository, name)
            .await?
            .ok_or(MetaError::Inconsistent("image vanished after insert"))
    }

    async fn load_image(&self, image_id: i64) -> Result<ImageRecord, MetaError> {
        records::load_image(&self.pool, image_id).await
    }

    async fn link_blob(
        &self,
        store: &str,
        image_id: i64,
        digest: &Digest,
        size: u64,
    ) -> Result<(), MetaError> {
        let mut tx = write_tx(&self.pool).await?;
        let now = now();
        records::insert_blob(&mut tx, store, digest.as_str(), size, now).await?;
        sqlx::query(
            "INSERT INTO image_blobs (image_id, digest, size, created_at, touched_at) \
             VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (image_id, digest) DO UPDATE SET touched_at = excluded.touched_at",
        )
        .bind(image_id)
        .bind(digest.as_str())
        .bind(size as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        changes::image_changed(&mut tx, &self.node, image_id).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn unlink_blob(&self, image_id: i64, digest: &Digest) -> Result<bool, MetaError> {
        let mut tx = write_tx(&self.pool).await?;
        let done = sqlx::query("DELETE FROM image_blobs WHERE image_id = $1 AND digest = $2")
            .bind(image_id)
            .bind(digest.as_str())
            .execute(&mut *tx)
            .await?;
        changes::image_changed(&mut tx, &self.node, image_id).await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn manifests_using_blob(
        &self,
        image_id: i64,
        digest: &Digest,
    ) -> Result<Vec<String>, MetaError> {
        let rows = sqlx::query(
            "SELECT DISTINCT manifest_digest FROM manifest_refs \
             WHERE image_id = $1 AND ref_digest = $2 AND kind = 'blob' ORDER BY manifest_digest",
        )
        .bind(image_id)
        .bind(digest.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    async fn blob_link(&self, image_id: i64, digest: &Digest) -> Result<Option<u64>, MetaError> {
        let row = sqlx::query("SELECT size FROM image_blobs WHERE image_id = $1 AND digest = $2")
            .bind(image_id)
            .bind(digest.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get::<i64, _>(0) as u64))
    }

    async fn referrers(
        &self,
        repository: &str,
        image: &ImageName,
        page: &ReferrersPage<'_>,
    ) -> Result<Vec<ManifestRecord>, MetaError> {
        records::referrers(&self.pool, repository, image.as_str(), page).await
    }

    async fn images_linking(
        &self,
        repository: &str,
        digest: &Digest,
        limit: i64,
    ) -> Result<Vec<String>, MetaError> {
        let rows = sqlx::query(
            "SELECT i.name FROM image_blobs b JOIN images i ON i.id = b.image_id \
             WHERE b.digest = $1 AND i.repository = $2 ORDER BY i.name LIMIT $3",
        )
        .bind(digest.as_str())
        .bind(repository)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    async fn put_manifest(
        &self,
        store: &str,
        image_id: i64,
        manifest: &NewManifest<'_>,
        tags: &[TagWrite<'_>],
    ) -> Result<(), MetaError> {
        records::put_manifest(&self.pool, &self.node, store, image_id, manifest, tags).await
    }

    async fn delete_manifest(
        &self,
        image_id: i64,
        digest: &Digest,
    ) -> Result<Option<Vec<String>>, MetaError> {
        records::delete_manifest(&self.pool, &self.node, image_id, digest).await
    }

    async fn delete_tag(&self, image_id: i64, tag: &Tag) -> Result<bool, MetaError> {
        let mut tx = write_tx(&self.pool).await?;
        let done = sqlx::query("DELETE FROM tags WHERE image_id = $1 AND name = $2")
            .bind(image_id)
            .bind(tag.as_str())
            .execute(&mut *tx)
            .await?;
        changes::image_changed(&mut tx, &self.node, image_id).await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_images(
        &self,
        repository: &str,
        last: Option<&str>,
        limit: i64,
    ) -> Result<Vec<String>, MetaError> {
        let rows = sqlx::query(
            "SELECT name FROM images i WHERE repository = $1 AND name > $2 \
             AND EXISTS (SELECT 1 FROM manifests m WHERE m.image_id = i.id) \
             ORDER BY name LIMIT $3",
        )
        .bind(repository)
        .bind(last.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    async fn repository_has_images(&self, repository: &str) -> Result<bool, MetaError> {
        let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM images WHERE repository = $1)")
            .bind(repository)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get::<bool, _>(0))
    }

    async fn is_listed_by_index(&self, image_id: i64, digest: &str) -> Result<bool, MetaError> {
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM manifest_refs WHERE image_id = $1 \
             AND ref_digest = $2 AND kind = 'manifest')",
        )
        .bind(image_id)
        .bind(digest)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get::<bool, _>(0))
    }
}
