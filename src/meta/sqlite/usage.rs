//! Reports: listings and aggregate counts for the admin API and monitoring (the `/metrics`
//! scrape), read from the database so they stay exact after deletes and restarts without
//! bookkeeping on the write path.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::Row;

use super::SqliteMeta;
use crate::meta::{BrowseKind, BrowseRow, MetaError, Reports};

#[async_trait]
impl Reports for SqliteMeta {
    async fn browse(
        &self,
        repository: &str,
        kind: BrowseKind,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<BrowseRow>, MetaError> {
        super::browse::browse(&self.pool, repository, kind, after, limit).await
    }

    /// One aggregate over the `tags` primary key and `images` rows.
    async fn component_counts(&self) -> Result<HashMap<String, u64>, MetaError> {
        let rows = sqlx::query(
            "SELECT i.repository, CAST(COUNT(*) AS BIGINT) FROM tags t \
             JOIN images i ON i.id = t.image_id GROUP BY i.repository",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1) as u64))
            .collect())
    }

    /// A layer shared by two images of one repository counts once. A scan of
    /// `image_blobs`: callers refresh it on a slow cadence, never per request.
    async fn repository_blob_totals(&self) -> Result<HashMap<String, (u64, u64)>, MetaError> {
        let rows = sqlx::query(
            "SELECT repository, CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(size), 0) AS BIGINT) \
             FROM (SELECT DISTINCT i.repository, ib.digest, ib.size \
                   FROM image_blobs ib JOIN images i ON i.id = ib.image_id) AS linked \
             GROUP BY repository",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let blobs = r.get::<i64, _>(1) as u64;
                let bytes = r.get::<i64, _>(2) as u64;
                (r.get::<String, _>(0), (blobs, bytes))
            })
            .collect())
    }

    /// A blob shared by several images counts once; blobs shared with other repositories
    /// count in each of them.
    async fn repository_usage(&self, name: &str) -> Result<(u64, u64), MetaError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT), CAST(COUNT(*) AS BIGINT) FROM ( \
               SELECT b.digest, b.size FROM image_blobs b JOIN images i ON i.id = b.image_id \
               WHERE i.repository = ?1 \
               UNION \
               SELECT m.digest, m.size FROM manifests m JOIN images i ON i.id = m.image_id \
               WHERE i.repository = ?1) AS held",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.get::<i64, _>(0) as u64, row.get::<i64, _>(1) as u64))
    }

    async fn store_usage(&self, store: &str) -> Result<(u64, u64), MetaError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT), CAST(COUNT(*) AS BIGINT) \
             FROM blobs WHERE store = ?",
        )
        .bind(store)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.get::<i64, _>(0) as u64, row.get::<i64, _>(1) as u64))
    }
}
