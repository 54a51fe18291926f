//! Aggregate counts for monitoring (the `/metrics` scrape), read from the database so they
//! stay exact after deletes and restarts without bookkeeping on the write path.

use std::collections::HashMap;

use sqlx::Row;

use super::{MetaError, MetaStore};

impl MetaStore {
    /// Tagged manifests (components, the Nexus definition) per repository name; repositories
    /// without tags are absent. One aggregate over the `tags` primary key and `images` rows.
    pub async fn component_counts(&self) -> Result<HashMap<String, u64>, MetaError> {
        let rows = sqlx::query(
            "SELECT i.repository, COUNT(*) FROM tags t JOIN images i ON i.id = t.image_id \
             GROUP BY i.repository",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1) as u64))
            .collect())
    }

    /// Distinct blobs linked into each repository's images and their bytes (a layer shared by
    /// two images of one repository counts once). A scan of `image_blobs`: callers refresh it
    /// on a slow cadence, never per request.
    pub async fn repository_blob_totals(&self) -> Result<HashMap<String, (u64, u64)>, MetaError> {
        let rows = sqlx::query(
            "SELECT repository, COUNT(*), COALESCE(SUM(size), 0) FROM \
             (SELECT DISTINCT i.repository, ib.digest, ib.size \
              FROM image_blobs ib JOIN images i ON i.id = ib.image_id) \
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
}
