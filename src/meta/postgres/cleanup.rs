//! The facts cleanup policies evaluate, and the batched last-downloaded times of tags.

use std::collections::BTreeSet;

use async_trait::async_trait;
use sqlx::Row;

use super::PgMeta;
use crate::meta::{CleanupQueries, MetaError};
use crate::model::cleanup::{TagFacts, UntaggedFacts};

#[async_trait]
impl CleanupQueries for PgMeta {
    async fn cleanup_tags(&self, repository: &str) -> Result<Vec<TagFacts>, MetaError> {
        let rows = sqlx::query(
            "SELECT i.name, t.name, t.digest, t.updated_at, t.last_downloaded \
             FROM tags t JOIN images i ON i.id = t.image_id WHERE i.repository = $1",
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

    async fn cleanup_untagged(&self, repository: &str) -> Result<Vec<UntaggedFacts>, MetaError> {
        let rows = sqlx::query(
            "SELECT i.name, m.digest, m.created_at FROM manifests m \
             JOIN images i ON i.id = m.image_id \
             WHERE i.repository = $1 AND m.subject IS NULL \
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

    async fn cleanup_children(
        &self,
        repository: &str,
    ) -> Result<BTreeSet<(String, String)>, MetaError> {
        let rows = sqlx::query(
            "SELECT DISTINCT i.name, r.ref_digest FROM manifest_refs r \
             JOIN images i ON i.id = r.image_id WHERE i.repository = $1 AND r.kind = 'manifest' \
             UNION SELECT i.name, m.digest FROM manifests m JOIN images i ON i.id = m.image_id \
             WHERE i.repository = $1 AND m.subject IS NOT NULL AND EXISTS \
             (SELECT 1 FROM manifests s WHERE s.image_id = m.image_id AND s.digest = m.subject)",
        )
        .bind(repository)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// A time never moves backwards: only older (or no) times are replaced, so nodes
    /// flushing their batches in any order agree.
    async fn record_downloads(
        &self,
        downloads: &[(String, String, String, i64)],
    ) -> Result<(), MetaError> {
        let mut tx = super::write_tx(&self.pool).await?;
        for (repository, image, tag, at) in downloads {
            sqlx::query(
                "UPDATE tags SET last_downloaded = $4 \
                 WHERE name = $3 AND image_id = \
                 (SELECT id FROM images WHERE repository = $1 AND name = $2) \
                 AND (last_downloaded IS NULL OR last_downloaded < $4)",
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
