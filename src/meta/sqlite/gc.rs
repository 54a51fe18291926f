//! Queries of garbage collection. A store's repositories are expanded into one placeholder
//! each (`repository IN (?, ?, …)`): plain SQL every backend understands, and a store has a
//! handful of repositories, so the statement text stays small.

use async_trait::async_trait;
use sqlx::Row;

use super::SqliteMeta;
use crate::meta::{GcQueries, LiveSet, MetaError};

/// `SELECT id FROM images WHERE repository IN (…)` for `n` repositories, whose parameters
/// are numbered from `first`. No repository: a list that matches nothing.
fn in_repos(first: usize, n: usize) -> String {
    let params: Vec<String> = (first..first + n).map(|i| format!("?{i}")).collect();
    let list = if params.is_empty() {
        "NULL".to_string()
    } else {
        params.join(", ")
    };
    format!("SELECT id FROM images WHERE repository IN ({list})")
}

/// A blob link protects its blob if made or renewed at or after the cutoff (`?1`).
const RECENT: &str = "(created_at >= ?1 OR touched_at >= ?1)";

#[async_trait]
impl GcQueries for SqliteMeta {
    async fn live_digests(
        &self,
        repositories: &[String],
        cutoff: i64,
    ) -> Result<LiveSet, MetaError> {
        let images = in_repos(2, repositories.len());
        let sql = format!(
            "SELECT digest FROM manifests WHERE image_id IN ({images}) \
             UNION SELECT ref_digest FROM manifest_refs WHERE image_id IN ({images}) \
             UNION SELECT digest FROM image_blobs WHERE image_id IN ({images}) AND {RECENT}"
        );
        let mut query = sqlx::query(&sql).bind(cutoff);
        for r in repositories {
            query = query.bind(r);
        }
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    async fn is_live(
        &self,
        repositories: &[String],
        digest: &str,
        cutoff: i64,
    ) -> Result<bool, MetaError> {
        let images = in_repos(3, repositories.len());
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM manifests WHERE digest = ?2 AND image_id IN ({images})) \
             OR EXISTS (SELECT 1 FROM manifest_refs WHERE ref_digest = ?2 AND image_id IN ({images})) \
             OR EXISTS (SELECT 1 FROM image_blobs WHERE digest = ?2 AND image_id IN ({images}) \
                        AND {RECENT})"
        );
        let mut query = sqlx::query(&sql).bind(cutoff).bind(digest);
        for r in repositories {
            query = query.bind(r);
        }
        let row = query.fetch_one(&self.pool).await?;
        Ok(row.get::<bool, _>(0))
    }

    async fn store_blobs(&self, store: &str) -> Result<Vec<(String, u64)>, MetaError> {
        let rows = sqlx::query("SELECT digest, size FROM blobs WHERE store = ?")
            .bind(store)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get(0), r.get::<i64, _>(1) as u64))
            .collect())
    }

    async fn forget_blobs(
        &self,
        store: &str,
        repositories: &[String],
        digests: &[&str],
    ) -> Result<Vec<(Vec<(String, String)>, Option<u64>)>, MetaError> {
        let images = in_repos(2, repositories.len());
        let linked_sql = format!(
            "SELECT i.repository, i.name FROM image_blobs b JOIN images i ON i.id = b.image_id \
             WHERE b.digest = ?1 AND b.image_id IN ({images})"
        );
        let unlink_sql =
            format!("DELETE FROM image_blobs WHERE digest = ?1 AND image_id IN ({images})");
        let mut tx = super::write_tx(&self.pool).await?;
        let mut out = Vec::with_capacity(digests.len());
        for digest in digests {
            let mut linked = sqlx::query(&linked_sql).bind(digest);
            let mut unlink = sqlx::query(&unlink_sql).bind(digest);
            for r in repositories {
                linked = linked.bind(r);
                unlink = unlink.bind(r);
            }
            let linked = linked.fetch_all(&mut *tx).await?;
            unlink.execute(&mut *tx).await?;
            let size =
                sqlx::query("DELETE FROM blobs WHERE store = ? AND digest = ? RETURNING size")
                    .bind(store)
                    .bind(digest)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|r| r.get::<i64, _>(0) as u64);
            let linked = linked.into_iter().map(|r| (r.get(0), r.get(1))).collect();
            out.push((linked, size));
        }
        tx.commit().await?;
        Ok(out)
    }
}
