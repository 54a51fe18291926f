//! Cleanup policies, the facts their evaluation reads, and the batched last-downloaded
//! times of tags.

use std::collections::BTreeSet;

use sqlx::Row;

use super::definitions::Table;
use super::{MetaError, MetaStore};
use crate::cleanup::{Policy, TagFacts, UntaggedFacts};

impl MetaStore {
    pub async fn load_cleanup_policies(&self) -> Result<Vec<Policy>, MetaError> {
        self.load_all(Table::CleanupPolicies).await
    }

    pub async fn save_cleanup_policy(&self, policy: &Policy) -> Result<(), MetaError> {
        self.save(Table::CleanupPolicies, &policy.name, policy)
            .await
    }

    /// True if the policy existed.
    pub async fn delete_cleanup_policy(&self, name: &str) -> Result<bool, MetaError> {
        let done = sqlx::query("DELETE FROM cleanup_policies WHERE name = ?")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every tag of `repository` with its times.
    pub async fn cleanup_tags(&self, repository: &str) -> Result<Vec<TagFacts>, MetaError> {
        let rows = sqlx::query(
            "SELECT i.name, t.name, t.digest, t.updated_at, t.last_downloaded \
             FROM tags t JOIN images i ON i.id = t.image_id WHERE i.repository = ?",
        )
        .bind(repository)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| TagFacts {
                image: r.get(0),
                tag: r.get(1),
                digest: r.get(2),
                updated_at: r.get(3),
                last_downloaded: r.get(4),
            })
            .collect())
    }

    /// Manifests of `repository` that no tag points at, no index of their image lists, and
    /// that are no referrer (those belong to their subject).
    pub async fn cleanup_untagged(
        &self,
        repository: &str,
    ) -> Result<Vec<UntaggedFacts>, MetaError> {
        let rows = sqlx::query(
            "SELECT i.name, m.digest, m.created_at FROM manifests m \
             JOIN images i ON i.id = m.image_id \
             WHERE i.repository = ? AND m.subject IS NULL \
             AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.image_id = m.image_id AND t.digest = m.digest) \
             AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.image_id = m.image_id \
                             AND r.ref_digest = m.digest AND r.kind = 'manifest')",
        )
        .bind(repository)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| UntaggedFacts {
                image: r.get(0),
                digest: r.get(1),
                created_at: r.get(2),
            })
            .collect())
    }

    /// `(image, digest)` of every manifest of `repository` another manifest holds: those an
    /// index lists, and referrers whose subject is in their image. Removing the last tag of
    /// such a manifest must not delete it (the index would lose a platform, the subject its
    /// signature or SBOM).
    pub async fn cleanup_children(
        &self,
        repository: &str,
    ) -> Result<BTreeSet<(String, String)>, MetaError> {
        let rows = sqlx::query(
            "SELECT DISTINCT i.name, r.ref_digest FROM manifest_refs r \
             JOIN images i ON i.id = r.image_id WHERE i.repository = ?1 AND r.kind = 'manifest' \
             UNION SELECT i.name, m.digest FROM manifests m JOIN images i ON i.id = m.image_id \
             WHERE i.repository = ?1 AND m.subject IS NOT NULL AND EXISTS \
             (SELECT 1 FROM manifests s WHERE s.image_id = m.image_id AND s.digest = m.subject)",
        )
        .bind(repository)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// True if an index of the image lists manifest `digest`.
    pub async fn is_listed_by_index(&self, image_id: i64, digest: &str) -> Result<bool, MetaError> {
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM manifest_refs WHERE image_id = ? AND ref_digest = ? \
             AND kind = 'manifest')",
        )
        .bind(image_id)
        .bind(digest)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get::<i64, _>(0) != 0)
    }

    /// Records pulls: `(repository, image, tag, unix seconds)`, in one transaction. A time
    /// never moves backwards.
    pub async fn record_downloads(
        &self,
        downloads: &[(String, String, String, i64)],
    ) -> Result<(), MetaError> {
        let mut tx = super::write_tx(&self.pool).await?;
        for (repository, image, tag, at) in downloads {
            sqlx::query(
                "UPDATE tags SET last_downloaded = MAX(COALESCE(last_downloaded, 0), ?4) \
                 WHERE name = ?3 AND image_id = \
                 (SELECT id FROM images WHERE repository = ?1 AND name = ?2)",
            )
            .bind(repository)
            .bind(image)
            .bind(tag)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
