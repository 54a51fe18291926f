//! Reports (admin browse, `/metrics` totals, store usage) and the usage window's hourly
//! counters. SQL as in the SQLite backend, with `$n` placeholders; sums are cast back to
//! BIGINT (PostgreSQL's SUM of BIGINT is NUMERIC).

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::Row;

use super::PgMeta;
use crate::meta::{BrowseKind, BrowseRow, MetaError, Reports, UsageHour, UsageRecords};

// Each part yields (path, image, tag, digest, media_type, size, modified); the repository
// is `$1` in every part.
const TAGS: &str = "SELECT '/v2/' || i.name || '/manifests/' || t.name AS path, \
     i.name AS image, t.name AS tag, m.digest AS digest, m.media_type AS media_type, \
     m.size AS size, t.updated_at AS modified \
     FROM tags t JOIN images i ON i.id = t.image_id \
     JOIN manifests m ON m.image_id = t.image_id AND m.digest = t.digest \
     WHERE i.repository = $1";

const MANIFESTS: &str = "SELECT '/v2/' || i.name || '/manifests/' || m.digest, i.name, \
     CAST(NULL AS TEXT), m.digest, m.media_type, m.size, m.created_at \
     FROM manifests m JOIN images i ON i.id = m.image_id WHERE i.repository = $1";

const BLOBS: &str = "SELECT '/v2/' || i.name || '/blobs/' || b.digest, i.name, \
     CAST(NULL AS TEXT), b.digest, CAST(NULL AS TEXT), b.size, b.created_at \
     FROM image_blobs b JOIN images i ON i.id = b.image_id WHERE i.repository = $1";

#[async_trait]
impl Reports for PgMeta {
    async fn browse(
        &self,
        repository: &str,
        kind: BrowseKind,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<BrowseRow>, MetaError> {
        let parts: &[&str] = match kind {
            BrowseKind::Tags => &[TAGS],
            BrowseKind::Assets => &[TAGS, MANIFESTS, BLOBS],
        };
        // Byte order of paths, whatever the database's locale.
        let sql = format!(
            "SELECT * FROM ({}) AS assets WHERE path COLLATE \"C\" > $2 \
             ORDER BY path COLLATE \"C\" LIMIT $3",
            parts.join(" UNION ALL ")
        );
        let rows = sqlx::query(&sql)
            .bind(repository)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| BrowseRow {
                path: r.get(0),
                image: r.get(1),
                tag: r.get(2),
                digest: r.get(3),
                media_type: r.get(4),
                size: r.get::<i64, _>(5) as u64,
                modified: r.get(6),
            })
            .collect())
    }

    async fn component_counts(&self) -> Result<HashMap<String, u64>, MetaError> {
        let rows = sqlx::query(
            "SELECT i.repository, COUNT(*) FROM tags t \
             JOIN images i ON i.id = t.image_id GROUP BY i.repository",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1) as u64))
            .collect())
    }

    async fn repository_blob_totals(&self) -> Result<HashMap<String, (u64, u64)>, MetaError> {
        let rows = sqlx::query(
            "SELECT repository, COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) \
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

    async fn repository_usage(&self, name: &str) -> Result<(u64, u64), MetaError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT), COUNT(*) FROM ( \
               SELECT b.digest, b.size FROM image_blobs b JOIN images i ON i.id = b.image_id \
               WHERE i.repository = $1 \
               UNION \
               SELECT m.digest, m.size FROM manifests m JOIN images i ON i.id = m.image_id \
               WHERE i.repository = $1) AS held",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.get::<i64, _>(0) as u64, row.get::<i64, _>(1) as u64))
    }

    async fn store_usage(&self, store: &str) -> Result<(u64, u64), MetaError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT), COUNT(*) FROM blobs WHERE store = $1",
        )
        .bind(store)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.get::<i64, _>(0) as u64, row.get::<i64, _>(1) as u64))
    }
}

#[async_trait]
impl UsageRecords for PgMeta {
    async fn usage_hours(&self, since: i64) -> Result<Vec<UsageHour>, MetaError> {
        let rows = sqlx::query(
            "SELECT hour, requests, unauthorized FROM usage_hours WHERE hour >= $1 ORDER BY hour",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| UsageHour {
                hour: r.get(0),
                requests: r.get::<i64, _>(1) as u64,
                unauthorized: r.get::<i64, _>(2) as u64,
            })
            .collect())
    }

    /// Deltas: every node adds what it counted, so the row holds the cluster's sum (the
    /// row lock of the upsert serialises nodes flushing the same hour).
    async fn save_usage_hours(
        &self,
        hours: &[UsageHour],
        keep_since: i64,
    ) -> Result<(), MetaError> {
        let mut tx = super::write_tx(&self.pool).await?;
        for h in hours {
            sqlx::query(
                "INSERT INTO usage_hours (hour, requests, unauthorized) VALUES ($1, $2, $3) \
                 ON CONFLICT (hour) DO UPDATE SET \
                 requests = usage_hours.requests + excluded.requests, \
                 unauthorized = usage_hours.unauthorized + excluded.unauthorized",
            )
            .bind(h.hour)
            .bind(h.requests as i64)
            .bind(h.unauthorized as i64)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM usage_hours WHERE hour < $1")
            .bind(keep_since)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn total_components(&self) -> Result<u64, MetaError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tags")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }
}
