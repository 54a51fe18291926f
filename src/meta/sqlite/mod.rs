//! The embedded metadata backend: SQLite through `sqlx`, one file in the data directory.
//!
//! SQLite runs in WAL mode with `synchronous=FULL`: a committed transaction survives a power
//! cut. The SQL is written so a PostgreSQL backend can follow (`ON CONFLICT` upserts, no
//! `json_each`, no scalar `MAX`, explicit casts of aggregates); what stays SQLite-specific
//! is named where it is (`BEGIN IMMEDIATE`, `?N` placeholders, the migrations).

mod activity;
mod browse;
mod changes;
mod cleanup;
mod definitions;
mod gc;
mod locks;
mod records;
mod security;
mod usage;
mod usage_hours;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::{
    ImageRecord, ImageRecords, ManifestRecord, MetaError, NewManifest, ReferrersPage, TagWrite,
};
use crate::clock::now;
use crate::oci::{Digest, ImageName, Tag};

/// Begins a write transaction that takes SQLite's write lock at once (`BEGIN IMMEDIATE`).
///
/// Every multi-statement write goes through here. A plain (deferred) transaction that starts
/// with a read holds a read snapshot; when it then writes while another connection is
/// writing, SQLite cannot wait for it (waiting could deadlock) and fails at once with
/// `database is locked`, whatever the busy timeout — garbage collection's sweep failed so
/// under concurrent pushes. An immediate transaction waits for the lock up to the busy
/// timeout instead, before it has read anything.
async fn write_tx(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, MetaError> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

/// The SQLite backend; cheap to clone.
#[derive(Clone, Debug)]
pub struct SqliteMeta {
    pool: SqlitePool,
}

impl SqliteMeta {
    /// Opens `sqlite://<path>` (see [`SqliteMeta::open`]).
    pub async fn open_url(url: &str) -> Result<Self, MetaError> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| MetaError::Url(url.to_string()))?;
        Self::open(Path::new(path)).await
    }

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
        // One pool for the whole file: image records, definitions and the security model
        // (which had two connections of its own before it joined this pool).
        let pool = SqlitePoolOptions::new()
            .max_connections(6)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./src/meta/sqlite/migrations")
            .run(&pool)
            .await?;
        Ok(SqliteMeta { pool })
    }
}

#[async_trait]
impl ImageRecords for SqliteMeta {
    async fn find_image(
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

    async fn image_has_content(
        &self,
        repository: &str,
        name: &ImageName,
    ) -> Result<bool, MetaError> {
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM manifests m WHERE m.image_id = i.id) \
             OR EXISTS (SELECT 1 FROM image_blobs b WHERE b.image_id = i.id) \
             FROM images i WHERE i.repository = ? AND i.name = ?",
        )
        .bind(repository)
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some_and(|r| r.get::<bool, _>(0)))
    }

    async fn ensure_image(&self, repository: &str, name: &ImageName) -> Result<i64, MetaError> {
        sqlx::query(
            "INSERT INTO images (repository, name, created_at) VALUES (?, ?, ?) \
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

    async fn unlink_blob(&self, image_id: i64, digest: &Digest) -> Result<bool, MetaError> {
        let done = sqlx::query("DELETE FROM image_blobs WHERE image_id = ? AND digest = ?")
            .bind(image_id)
            .bind(digest.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn manifests_using_blob(
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

    async fn blob_link(&self, image_id: i64, digest: &Digest) -> Result<Option<u64>, MetaError> {
        let row = sqlx::query("SELECT size FROM image_blobs WHERE image_id = ? AND digest = ?")
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
             WHERE b.digest = ? AND i.repository = ? ORDER BY i.name LIMIT ?",
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
        records::put_manifest(&self.pool, store, image_id, manifest, tags).await
    }

    async fn delete_manifest(
        &self,
        image_id: i64,
        digest: &Digest,
    ) -> Result<Option<Vec<String>>, MetaError> {
        records::delete_manifest(&self.pool, image_id, digest).await
    }

    async fn delete_tag(&self, image_id: i64, tag: &Tag) -> Result<bool, MetaError> {
        let done = sqlx::query("DELETE FROM tags WHERE image_id = ? AND name = ?")
            .bind(image_id)
            .bind(tag.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_images(
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

    async fn repository_has_images(&self, repository: &str) -> Result<bool, MetaError> {
        let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM images WHERE repository = ?)")
            .bind(repository)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get::<bool, _>(0))
    }

    async fn is_listed_by_index(&self, image_id: i64, digest: &str) -> Result<bool, MetaError> {
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM manifest_refs WHERE image_id = ? AND ref_digest = ? \
             AND kind = 'manifest')",
        )
        .bind(image_id)
        .bind(digest)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get::<bool, _>(0))
    }
}
