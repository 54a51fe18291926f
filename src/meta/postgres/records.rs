//! Multi-statement reads and writes of image records.

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row, Transaction};

use super::MetaError;
use crate::clock::now;
use crate::meta::{ImageRecord, ManifestRecord, NewManifest, ReferrersPage, TagWrite};
use crate::oci::Digest;

fn digest(s: String) -> Result<Digest, MetaError> {
    Digest::parse(&s).map_err(|e| MetaError::Corrupt(format!("{s}: {e}")))
}

/// One image's tags, manifests and blob links, read in one snapshot: under READ COMMITTED
/// each statement would see its own, and a push committing between them could show tags
/// whose manifest is missing.
pub(super) async fn load_image(pool: &PgPool, image_id: i64) -> Result<ImageRecord, MetaError> {
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    let mut record = ImageRecord::default();
    let tags = sqlx::query("SELECT name, digest FROM tags WHERE image_id = $1")
        .bind(image_id)
        .fetch_all(&mut *tx)
        .await?;
    for row in tags {
        record.tags.push((row.get(0), digest(row.get(1))?));
    }
    let blobs = sqlx::query("SELECT digest, size FROM image_blobs WHERE image_id = $1")
        .bind(image_id)
        .fetch_all(&mut *tx)
        .await?;
    for row in blobs {
        record
            .blobs
            .push((digest(row.get(0))?, row.get::<i64, _>(1) as u64));
    }
    let manifests = sqlx::query(
        "SELECT digest, media_type, size, artifact_type, subject \
         FROM manifests WHERE image_id = $1",
    )
    .bind(image_id)
    .fetch_all(&mut *tx)
    .await?;
    for row in manifests {
        record.manifests.push(manifest_record(&row)?);
    }
    tx.commit().await?;
    Ok(record)
}

/// A `manifests` row read as `digest, media_type, size, artifact_type, subject`.
fn manifest_record(row: &PgRow) -> Result<ManifestRecord, MetaError> {
    Ok(ManifestRecord {
        digest: digest(row.get(0))?,
        media_type: row.get(1),
        size: row.get::<i64, _>(2) as u64,
        artifact_type: row.get(3),
        subject: row.get::<Option<String>, _>(4).map(digest).transpose()?,
    })
}

/// Without a filter, the page walks `manifests_referrers (image_id, subject, digest)`. The
/// image id comes from a scalar subquery, not a join: PostgreSQL then knows it is one value
/// and reads the index in digest order, stopping at the page (joined, it read all 18,000
/// referrers of a subject and sorted them for a page of 3: 5.2 ms, against 0.1 ms).
const REFERRERS: &str = "SELECT m.digest, m.media_type, m.size, m.artifact_type, m.subject \
         FROM manifests m WHERE m.image_id = (SELECT id FROM images WHERE repository = $1 \
         AND name = $2) AND m.subject = $3 AND m.digest > $4 \
         ORDER BY m.digest LIMIT $5";
/// With one, `manifests_referrers_by_type (image_id, subject, artifact_type, digest)`: a
/// single statement with `(type IS NULL OR artifact_type = type)` would have to serve both
/// from one plan, and could no longer stop at the page in digest order.
const REFERRERS_OF_TYPE: &str =
    "SELECT m.digest, m.media_type, m.size, m.artifact_type, m.subject \
         FROM manifests m WHERE m.image_id = (SELECT id FROM images WHERE repository = $1 \
         AND name = $2) AND m.subject = $3 AND m.digest > $4 \
         AND m.artifact_type = $5 ORDER BY m.digest LIMIT $6";

/// One page of an image's referrers, in digest order (see `ImageRecords::referrers`).
pub(super) async fn referrers(
    pool: &PgPool,
    repository: &str,
    image: &str,
    page: &ReferrersPage<'_>,
) -> Result<Vec<ManifestRecord>, MetaError> {
    let sql = match page.artifact_type {
        None => REFERRERS,
        Some(_) => REFERRERS_OF_TYPE,
    };
    let mut query = sqlx::query(sql)
        .bind(repository)
        .bind(image)
        .bind(page.subject.as_str())
        .bind(page.after.map_or("", |d| d.as_str()));
    if let Some(artifact_type) = page.artifact_type {
        query = query.bind(artifact_type);
    }
    let rows = query.bind(page.limit).fetch_all(pool).await?;
    rows.iter().map(manifest_record).collect()
}

/// Records that `store` holds a blob (once per store; the first size and time stay).
pub(super) async fn insert_blob(
    tx: &mut Transaction<'static, Postgres>,
    store: &str,
    digest: &str,
    size: u64,
    now: i64,
) -> Result<(), MetaError> {
    sqlx::query(
        "INSERT INTO blobs (store, digest, size, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (store, digest) DO NOTHING",
    )
    .bind(store)
    .bind(digest)
    .bind(size as i64)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn put_manifest(
    pool: &PgPool,
    node: &str,
    store: &str,
    image_id: i64,
    m: &NewManifest<'_>,
    tags: &[TagWrite<'_>],
) -> Result<(), MetaError> {
    let r = m.record;
    let now = now();
    let mut tx = super::write_tx(pool).await?;
    insert_blob(&mut tx, store, r.digest.as_str(), r.size, now).await?;
    sqlx::query(
        "INSERT INTO manifests \
         (image_id, digest, media_type, size, artifact_type, subject, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (image_id, digest) DO UPDATE SET media_type = excluded.media_type, \
         size = excluded.size, artifact_type = excluded.artifact_type, \
         subject = excluded.subject, annotations = NULL, created_at = excluded.created_at",
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
            "INSERT INTO manifest_refs (image_id, manifest_digest, ref_digest, kind) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (image_id, manifest_digest, ref_digest) DO NOTHING",
        )
        .bind(image_id)
        .bind(r.digest.as_str())
        .bind(target.as_str())
        .bind(kind)
        .execute(&mut *tx)
        .await?;
    }
    // Tags in name order: two transactions writing the same tags lock their rows in the
    // same order, so they queue instead of deadlocking.
    let mut ordered: Vec<&TagWrite<'_>> = tags.iter().collect();
    ordered.sort_by(|a, b| a.tag.as_str().cmp(b.tag.as_str()));
    for write in ordered {
        set_tag(&mut tx, image_id, write, r.digest.as_str(), now).await?;
    }
    super::changes::image_changed(&mut tx, node, image_id).await?;
    tx.commit().await?;
    Ok(())
}

/// Points a tag at `digest`; its pull time starts over. A tag that may not move is
/// updated only where it already points at `digest`. PostgreSQL locks the conflicting row
/// and checks the `WHERE` against its latest committed version, so a node that lost a race
/// sees the winner's digest here; finding it elsewhere fails the transaction (dropped,
/// so rolled back).
async fn set_tag(
    tx: &mut Transaction<'static, Postgres>,
    image_id: i64,
    write: &TagWrite<'_>,
    digest: &str,
    now: i64,
) -> Result<(), MetaError> {
    let condition = if write.may_move {
        ""
    } else {
        " WHERE tags.digest = excluded.digest"
    };
    let done = sqlx::query(&format!(
        "INSERT INTO tags (image_id, name, digest, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (image_id, name) DO UPDATE SET digest = excluded.digest, \
         updated_at = excluded.updated_at, last_downloaded = NULL, pushed_by = NULL{condition}"
    ))
    .bind(image_id)
    .bind(write.tag.as_str())
    .bind(digest)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() > 0 {
        return Ok(());
    }
    let current: String =
        sqlx::query_scalar("SELECT digest FROM tags WHERE image_id = $1 AND name = $2")
            .bind(image_id)
            .bind(write.tag.as_str())
            .fetch_one(&mut **tx)
            .await?;
    Err(MetaError::TagExists {
        tag: write.tag.to_string(),
        current,
    })
}

pub(super) async fn delete_manifest(
    pool: &PgPool,
    node: &str,
    image_id: i64,
    digest: &Digest,
) -> Result<Option<Vec<String>>, MetaError> {
    let mut tx = super::write_tx(pool).await?;
    let gone = sqlx::query("DELETE FROM manifests WHERE image_id = $1 AND digest = $2")
        .bind(image_id)
        .bind(digest.as_str())
        .execute(&mut *tx)
        .await?;
    if gone.rows_affected() == 0 {
        return Ok(None);
    }
    let tags = sqlx::query("DELETE FROM tags WHERE image_id = $1 AND digest = $2 RETURNING name")
        .bind(image_id)
        .bind(digest.as_str())
        .fetch_all(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM manifest_refs WHERE image_id = $1 AND manifest_digest = $2")
        .bind(image_id)
        .bind(digest.as_str())
        .execute(&mut *tx)
        .await?;
    super::changes::image_changed(&mut tx, node, image_id).await?;
    tx.commit().await?;
    Ok(Some(tags.into_iter().map(|r| r.get(0)).collect()))
}
