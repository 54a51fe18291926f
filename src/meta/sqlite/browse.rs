//! Read-only listings for the admin API's component and asset views (Nexus
//! `GET /v1/components`, `GET /v1/assets`).
//!
//! Rows are keyed and ordered by their Nexus asset path (`/v2/<image>/manifests/<tag>`,
//! `/v2/<image>/manifests/<digest>`, `/v2/<image>/blobs/<digest>`): a path names exactly one
//! row (tags contain no `/`), so "rows after this path" is a stable continuation point even
//! while pushes continue, with no offsets to drift.

use sqlx::Row;

use super::{MetaError, MetaStore};

/// What to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowseKind {
    /// One row per tag (a Nexus docker *component*), carrying its manifest.
    Tags,
    /// Every asset: tagged manifests, manifests by digest, and linked blobs.
    Assets,
}

/// One listed asset.
#[derive(Clone, Debug)]
pub struct BrowseRow {
    pub path: String,
    pub image: String,
    /// Set for a manifest addressed by tag.
    pub tag: Option<String>,
    pub digest: String,
    /// Manifests only; blobs have no recorded media type.
    pub media_type: Option<String>,
    pub size: u64,
    /// Seconds since the epoch: tag update, manifest push or blob link time.
    pub modified: i64,
}

// Each part yields (path, image, tag, digest, media_type, size, modified); a UNION takes
// its column names from the first part.
const TAGS: &str = "SELECT '/v2/' || i.name || '/manifests/' || t.name AS path, \
     i.name AS image, t.name AS tag, m.digest AS digest, m.media_type AS media_type, \
     m.size AS size, t.updated_at AS modified \
     FROM tags t JOIN images i ON i.id = t.image_id \
     JOIN manifests m ON m.image_id = t.image_id AND m.digest = t.digest \
     WHERE i.repository = ?";

const MANIFESTS: &str = "SELECT '/v2/' || i.name || '/manifests/' || m.digest, i.name, NULL, \
     m.digest, m.media_type, m.size, m.created_at \
     FROM manifests m JOIN images i ON i.id = m.image_id WHERE i.repository = ?";

const BLOBS: &str = "SELECT '/v2/' || i.name || '/blobs/' || b.digest, i.name, NULL, \
     b.digest, NULL, b.size, b.created_at \
     FROM image_blobs b JOIN images i ON i.id = b.image_id WHERE i.repository = ?";

impl MetaStore {
    /// Rows of `repository` whose path sorts after `after` (byte order), at most `limit`.
    pub async fn browse(
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
        let sql = format!(
            "SELECT * FROM ({}) WHERE path > ? ORDER BY path LIMIT ?",
            parts.join(" UNION ALL ")
        );
        let mut query = sqlx::query(&sql);
        for _ in parts {
            query = query.bind(repository);
        }
        let rows = query
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
}
