//! Queries of garbage collection. A store's repositories travel as one array parameter
//! (`repository = ANY($n)`), where SQLite expands one placeholder per repository.

use async_trait::async_trait;
use sqlx::Row;

use super::PgMeta;
use crate::meta::{Change, GcQueries, LiveSet, MetaError};

/// Images of the store's repositories (`$2`, an array).
const IMAGES: &str = "SELECT id FROM images WHERE repository = ANY($2)";

/// A blob link protects its blob if made or renewed at or after the cutoff (`$1`).
const RECENT: &str = "(created_at >= $1 OR touched_at >= $1)";

#[async_trait]
impl GcQueries for PgMeta {
    async fn live_digests(
        &self,
        repositories: &[String],
        cutoff: i64,
    ) -> Result<LiveSet, MetaError> {
        let sql = format!(
            "SELECT digest FROM manifests WHERE image_id IN ({IMAGES}) \
             UNION SELECT ref_digest FROM manifest_refs WHERE image_id IN ({IMAGES}) \
             UNION SELECT digest FROM image_blobs WHERE image_id IN ({IMAGES}) AND {RECENT}"
        );
        let rows = sqlx::query(&sql)
            .bind(cutoff)
            .bind(repositories)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    async fn is_live(
        &self,
        repositories: &[String],
        digest: &str,
        cutoff: i64,
    ) -> Result<bool, MetaError> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM manifests WHERE digest = $3 AND image_id IN ({IMAGES})) \
             OR EXISTS (SELECT 1 FROM manifest_refs WHERE ref_digest = $3 AND image_id IN ({IMAGES})) \
             OR EXISTS (SELECT 1 FROM image_blobs WHERE digest = $3 AND image_id IN ({IMAGES}) \
                        AND {RECENT})"
        );
        let row = sqlx::query(&sql)
            .bind(cutoff)
            .bind(repositories)
            .bind(digest)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get::<bool, _>(0))
    }

    async fn store_blobs(&self, store: &str) -> Result<Vec<(String, u64)>, MetaError> {
        let rows = sqlx::query("SELECT digest, size FROM blobs WHERE store = $1")
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
        let mut tx = super::write_tx(&self.pool).await?;
        let mut out = Vec::with_capacity(digests.len());
        for digest in digests {
            // One statement unlinks and reports who linked (SQLite needs two).
            let linked = sqlx::query(
                "WITH gone AS (DELETE FROM image_blobs WHERE digest = $1 AND image_id IN \
                 (SELECT id FROM images WHERE repository = ANY($2)) RETURNING image_id) \
                 SELECT i.repository, i.name FROM gone JOIN images i ON i.id = gone.image_id",
            )
            .bind(digest)
            .bind(repositories)
            .fetch_all(&mut *tx)
            .await?;
            let size =
                sqlx::query("DELETE FROM blobs WHERE store = $1 AND digest = $2 RETURNING size")
                    .bind(store)
                    .bind(digest)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|r| r.get::<i64, _>(0) as u64);
            let linked: Vec<(String, String)> =
                linked.into_iter().map(|r| (r.get(0), r.get(1))).collect();
            for (repository, image) in &linked {
                let change = Change::Image {
                    repository: repository.clone(),
                    image: Some(image.clone()),
                };
                super::changes::announce(&mut tx, &self.node, change).await?;
            }
            out.push((linked, size));
        }
        tx.commit().await?;
        Ok(out)
    }
}
