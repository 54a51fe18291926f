//! Multi-statement reads and writes of image records.

use sqlx::{Row, SqlitePool};

use super::{now, MetaError};
use crate::oci::{Digest, Tag};

/// A manifest row as loaded: what the read path needs about a manifest, kept in memory for
/// every manifest of a loaded image. Annotations are deliberately not here: they may be
/// megabytes per manifest and only the referrers API needs them, so it reads them from the
/// manifest's own bytes on demand (150 manifests with 1 MiB of annotations each once cost
/// 171 MiB of resident memory, outside the manifest cache's budget).
#[derive(Clone, Debug)]
pub struct ManifestRecord {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub artifact_type: Option<String>,
    pub subject: Option<Digest>,
}

/// A manifest to store, with what it references.
pub struct NewManifest<'a> {
    pub record: &'a ManifestRecord,
    pub blobs: &'a [Digest],
    pub children: &'a [Digest],
}

/// One image's full state.
#[derive(Debug, Default)]
pub struct ImageRecord {
    pub tags: Vec<(String, Digest)>,
    pub manifests: Vec<ManifestRecord>,
    pub blobs: Vec<(Digest, u64)>,
}

fn digest(s: String) -> Result<Digest, MetaError> {
    Digest::parse(&s).map_err(|e| MetaError::Corrupt(format!("{s}: {e}")))
}

pub(super) async fn load_image(pool: &SqlitePool, image_id: i64) -> Result<ImageRecord, MetaError> {
    let mut record = ImageRecord::default();
    let tags = sqlx::query("SELECT name, digest FROM tags WHERE image_id = ?")
        .bind(image_id)
        .fetch_all(pool)
        .await?;
    for row in tags {
        record.tags.push((row.get(0), digest(row.get(1))?));
    }
    let blobs = sqlx::query("SELECT digest, size FROM image_blobs WHERE image_id = ?")
        .bind(image_id)
        .fetch_all(pool)
        .await?;
    for row in blobs {
        record
            .blobs
            .push((digest(row.get(0))?, row.get::<i64, _>(1) as u64));
    }
    let manifests = sqlx::query(
        "SELECT digest, media_type, size, artifact_type, subject \
         FROM manifests WHERE image_id = ?",
    )
    .bind(image_id)
    .fetch_all(pool)
    .await?;
    for row in manifests {
        record.manifests.push(ManifestRecord {
            digest: digest(row.get(0))?,
            media_type: row.get(1),
            size: row.get::<i64, _>(2) as u64,
            artifact_type: row.get(3),
            subject: row.get::<Option<String>, _>(4).map(digest).transpose()?,
        });
    }
    Ok(record)
}

pub(super) async fn put_manifest(
    pool: &SqlitePool,
    store: &str,
    image_id: i64,
    m: &NewManifest<'_>,
    tags: &[Tag],
) -> Result<(), MetaError> {
    let r = m.record;
    let now = now();
    let mut tx = super::write_tx(pool).await?;
    sqlx::query(
        "INSERT OR IGNORE INTO blobs (store, digest, size, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(store)
    .bind(r.digest.as_str())
    .bind(r.size as i64)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT OR REPLACE INTO manifests \
         (image_id, digest, media_type, size, artifact_type, subject, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(image_id)
    .bind(r.digest.as_str())
    .bind(&r.media_type)
    .bind(r.size as i64)
    .bind(&r.artifact_type)
    .bind(r.subject.as_ref().map(|s| s.as_str()))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let refs = m.blobs.iter().map(|d| (d, "blob"));
    for (target, kind) in refs.chain(m.children.iter().map(|d| (d, "manifest"))) {
        sqlx::query(
            "INSERT OR IGNORE INTO manifest_refs (image_id, manifest_digest, ref_digest, kind) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(image_id)
        .bind(r.digest.as_str())
        .bind(target.as_str())
        .bind(kind)
        .execute(&mut *tx)
        .await?;
    }
    for tag in tags {
        sqlx::query(
            "INSERT OR REPLACE INTO tags (image_id, name, digest, updated_at) VALUES (?, ?, ?, ?)",
        )
        .bind(image_id)
        .bind(tag.as_str())
        .bind(r.digest.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn delete_manifest(
    pool: &SqlitePool,
    image_id: i64,
    digest: &Digest,
) -> Result<Option<Vec<String>>, MetaError> {
    let mut tx = super::write_tx(pool).await?;
    let gone = sqlx::query("DELETE FROM manifests WHERE image_id = ? AND digest = ?")
        .bind(image_id)
        .bind(digest.as_str())
        .execute(&mut *tx)
        .await?;
    if gone.rows_affected() == 0 {
        return Ok(None);
    }
    let tags = sqlx::query("DELETE FROM tags WHERE image_id = ? AND digest = ? RETURNING name")
        .bind(image_id)
        .bind(digest.as_str())
        .fetch_all(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM manifest_refs WHERE image_id = ? AND manifest_digest = ?")
        .bind(image_id)
        .bind(digest.as_str())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(tags.into_iter().map(|r| r.get(0)).collect()))
}
