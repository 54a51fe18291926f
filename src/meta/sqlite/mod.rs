//! Metadata store over `sqlx` (SQLite embedded by default; the queries are plain SQL so a
//! PostgreSQL backend can follow).
//!
//! Only repository actors write here, and they write before they acknowledge a request, so
//! what the database says is what clients were told. SQLite runs in WAL mode with
//! `synchronous=FULL`: a committed transaction survives a power cut.

mod browse;
mod cleanup;
mod definitions;
mod gc;
mod records;
mod tasks;
mod usage;
mod usage_hours;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

pub use browse::{BrowseKind, BrowseRow};
pub use super::MetaError;
pub use gc::LiveSet;
pub use records::{ImageRecord, ManifestRecord, NewManifest};
pub use usage_hours::UsageHour;

use crate::oci::{Digest, ImageName, Tag};

/// Begins a write transaction that takes SQLite's write lock at once (`BEGIN IMMEDIATE`).
///
/// Every multi-statement write goes through here. A plain (deferred) transaction that starts
/// with a read holds a read snapshot; when it then writes while another connection is
/// writing, SQLite cannot wait for it (waiting could deadlock) and fails at once with
/// `database is locked`, whatever the busy timeout — garbage collection's sweep failed so
/// under concurrent pushes. An immediate transaction waits for the lock up to the busy
/// timeout instead, before it has read anything.
pub(crate) async fn write_tx(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, MetaError> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

/// Handle to the metadata database; cheap to clone.
#[derive(Clone, Debug)]
pub struct MetaStore {
    pool: SqlitePool,
    /// Seals secrets inside stored definitions (proxy upstream passwords); without it they
    /// are stored as given (unit tests of other tables).
    secrets: Option<std::sync::Arc<crate::sealed::SealKey>>,
}

/// Seconds since the Unix epoch, the unit of every timestamp column, plus the test clock
/// offset (zero unless a test moved the clock, see [`set_clock_offset`]).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
        + CLOCK_OFFSET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Seconds added to the real time by [`now`]. Only the admin clock endpoint, enabled by the
/// `gc.test_clock` setting for tests, changes it: it lets a test make content "old" for
/// grace windows and cleanup criteria without waiting.
static CLOCK_OFFSET: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// The current test clock offset in seconds (0 in production).
pub fn clock_offset() -> i64 {
    CLOCK_OFFSET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Moves [`now`] by `secs` from the real time.
pub fn set_clock_offset(secs: i64) {
    CLOCK_OFFSET.store(secs, std::sync::atomic::Ordering::Relaxed);
}

impl MetaStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub async fn open(path: &Path) -> Result<Self, MetaError> {
        let url = format!("sqlite://{}", path.display());
        let options = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Deleted rows (a user's password hash, a proxy password sealed at start) are
            // overwritten, not left readable in free pages.
            .pragma("secure_delete", "ON")
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./src/meta/sqlite/migrations").run(&pool).await?;
        Ok(MetaStore {
            pool,
            secrets: None,
        })
    }

    /// Seals secrets in definitions with `key` from now on (and opens sealed ones on load).
    pub fn with_secrets(self, key: crate::sealed::SealKey) -> Self {
        MetaStore {
            secrets: Some(std::sync::Arc::new(key)),
            ..self
        }
    }

    /// A trivial query, for readiness checks.
    pub async fn ping(&self) -> Result<(), MetaError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The image's id, if it exists.
    pub async fn find_image(
        &self,
        repository: &str,
        name: &ImageName,
    ) -> Result<Option<i64>, MetaError> {
        let row = sqlx::query("SELECT id FROM images WHERE repository = ? AND name = ?")
            .bind(repository)
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// The image's id, creating the image if needed.
    pub async fn ensure_image(&self, repository: &str, name: &ImageName) -> Result<i64, MetaError> {
        sqlx::query("INSERT OR IGNORE INTO images (repository, name, created_at) VALUES (?, ?, ?)")
            .bind(repository)
            .bind(name.as_str())
            .bind(now())
            .execute(&self.pool)
            .await?;
        self.find_image(repository, name)
            .await?
            .ok_or(MetaError::Inconsistent("image vanished after insert"))
    }

    /// Everything the read path needs about one image.
    pub async fn load_image(&self, image_id: i64) -> Result<ImageRecord, MetaError> {
        records::load_image(&self.pool, image_id).await
    }

    /// Records that `store` holds `digest` and that the image may serve it.
    pub async fn link_blob(
        &self,
        store: &str,
        image_id: i64,
        digest: &Digest,
        size: u64,
    ) -> Result<(), MetaError> {
        let mut tx = write_tx(&self.pool).await?;
        let now = now();
        sqlx::query(
            "INSERT OR IGNORE INTO blobs (store, digest, size, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(store)
        .bind(digest.as_str())
        .bind(size as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO image_blobs (image_id, digest, size, created_at, touched_at) \
             VALUES (?1, ?2, ?3, ?4, ?4) \
             ON CONFLICT (image_id, digest) DO UPDATE SET touched_at = excluded.touched_at",
        )
        .bind(image_id)
        .bind(digest.as_str())
        .bind(size as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Manifests of the image that name blob `digest` (as config or layer), in order.
    pub async fn manifests_using_blob(
        &self,
        image_id: i64,
        digest: &Digest,
    ) -> Result<Vec<String>, MetaError> {
        let rows = sqlx::query(
            "SELECT DISTINCT manifest_digest FROM manifest_refs \
             WHERE image_id = ? AND ref_digest = ? AND kind = 'blob' ORDER BY manifest_digest",
        )
        .bind(image_id)
        .bind(digest.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    /// Removes the image's link to a blob; true if there was one.
    pub async fn unlink_blob(&self, image_id: i64, digest: &Digest) -> Result<bool, MetaError> {
        let done = sqlx::query("DELETE FROM image_blobs WHERE image_id = ? AND digest = ?")
            .bind(image_id)
            .bind(digest.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Images of `repository` that link blob `digest`, by name, at most `limit`: where an
    /// automatic cross-mount (a mount without `from`) may take the blob from.
    pub async fn images_linking(
        &self,
        repository: &str,
        digest: &Digest,
        limit: i64,
    ) -> Result<Vec<String>, MetaError> {
        let rows = sqlx::query(
            "SELECT i.name FROM image_blobs b JOIN images i ON i.id = b.image_id \
             WHERE b.digest = ? AND i.repository = ? ORDER BY i.name LIMIT ?",
        )
        .bind(digest.as_str())
        .bind(repository)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    /// Stores a manifest and points every tag of `tags` at it, in one transaction (all or
    /// none: a push with several tags never leaves some of them set).
    pub async fn put_manifest(
        &self,
        store: &str,
        image_id: i64,
        manifest: &NewManifest<'_>,
        tags: &[Tag],
    ) -> Result<(), MetaError> {
        records::put_manifest(&self.pool, store, image_id, manifest, tags).await
    }

    /// Deletes a manifest and every tag pointing at it; returns the removed tags, or `None`
    /// if the manifest did not exist.
    pub async fn delete_manifest(
        &self,
        image_id: i64,
        digest: &Digest,
    ) -> Result<Option<Vec<String>>, MetaError> {
        records::delete_manifest(&self.pool, image_id, digest).await
    }

    /// Deletes one tag; true if it existed.
    pub async fn delete_tag(&self, image_id: i64, tag: &Tag) -> Result<bool, MetaError> {
        let done = sqlx::query("DELETE FROM tags WHERE image_id = ? AND name = ?")
            .bind(image_id)
            .bind(tag.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Names of images in `repository` that hold at least one manifest, in order, after
    /// `last`, at most `limit`.
    pub async fn list_images(
        &self,
        repository: &str,
        last: Option<&str>,
        limit: i64,
    ) -> Result<Vec<String>, MetaError> {
        let rows = sqlx::query(
            "SELECT name FROM images i WHERE repository = ? AND name > ? \
             AND EXISTS (SELECT 1 FROM manifests m WHERE m.image_id = i.id) \
             ORDER BY name LIMIT ?",
        )
        .bind(repository)
        .bind(last.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }
}
