//! Queries of garbage collection. A store's repositories are passed as a JSON array bound to
//! one parameter (`json_each`), so the statements stay constant whatever their number.

use std::collections::HashSet;

use sqlx::Row;

use super::{MetaError, MetaStore};

/// Digests that must stay: every manifest, everything a manifest references (configs,
/// layers, index children), and blob links made or renewed at or after the cutoff.
pub type LiveSet = HashSet<String>;

const IN_REPOS: &str =
    "SELECT id FROM images WHERE repository IN (SELECT value FROM json_each(?1))";

impl MetaStore {
    /// The mark phase: every live digest of the images in `repositories`.
    pub async fn live_digests(
        &self,
        repositories: &[String],
        cutoff: i64,
    ) -> Result<LiveSet, MetaError> {
        let repos = repos_json(repositories);
        let sql = format!(
            "SELECT digest FROM manifests WHERE image_id IN ({IN_REPOS}) \
             UNION SELECT ref_digest FROM manifest_refs WHERE image_id IN ({IN_REPOS}) \
             UNION SELECT digest FROM image_blobs WHERE image_id IN ({IN_REPOS}) \
               AND MAX(created_at, touched_at) >= ?2"
        );
        let rows = sqlx::query(&sql)
            .bind(repos)
            .bind(cutoff)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    /// The sweep's re-check of one digest, made under the store's sweep lock.
    pub async fn is_live(
        &self,
        repositories: &[String],
        digest: &str,
        cutoff: i64,
    ) -> Result<bool, MetaError> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM manifests WHERE digest = ?3 AND image_id IN ({IN_REPOS})) \
             OR EXISTS (SELECT 1 FROM manifest_refs WHERE ref_digest = ?3 AND image_id IN ({IN_REPOS})) \
             OR EXISTS (SELECT 1 FROM image_blobs WHERE digest = ?3 AND image_id IN ({IN_REPOS}) \
                        AND MAX(created_at, touched_at) >= ?2)"
        );
        let row = sqlx::query(&sql)
            .bind(repos_json(repositories))
            .bind(cutoff)
            .bind(digest)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get::<i64, _>(0) != 0)
    }

    /// Digests and sizes the store's inventory lists.
    pub async fn store_blobs(&self, store: &str) -> Result<Vec<(String, u64)>, MetaError> {
        let rows = sqlx::query("SELECT digest, size FROM blobs WHERE store = ?")
            .bind(store)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get(0), r.get::<i64, _>(1) as u64))
            .collect())
    }

    /// Removes dead blobs from the metadata in one transaction: the store's inventory rows
    /// and the (stale) links of the store's images. Returns, per digest, the images that
    /// linked it as `(repository, image name)` and the inventory size (`None`: no row).
    pub async fn forget_blobs(
        &self,
        store: &str,
        repositories: &[String],
        digests: &[&str],
    ) -> Result<Vec<(Vec<(String, String)>, Option<u64>)>, MetaError> {
        let repos = repos_json(repositories);
        let mut tx = super::write_tx(&self.pool).await?;
        let mut out = Vec::with_capacity(digests.len());
        for digest in digests {
            let linked = sqlx::query(&format!(
                "SELECT i.repository, i.name FROM image_blobs b JOIN images i ON i.id = b.image_id \
                 WHERE b.digest = ?2 AND b.image_id IN ({IN_REPOS})"
            ))
            .bind(&repos)
            .bind(digest)
            .fetch_all(&mut *tx)
            .await?;
            sqlx::query(&format!(
                "DELETE FROM image_blobs WHERE digest = ?2 AND image_id IN ({IN_REPOS})"
            ))
            .bind(&repos)
            .bind(digest)
            .execute(&mut *tx)
            .await?;
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

fn repos_json(repositories: &[String]) -> String {
    serde_json::to_string(repositories).unwrap_or_else(|_| "[]".into())
}
