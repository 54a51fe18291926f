//! Read-only listings for the admin API's component and asset views (see
//! [`crate::meta::BrowseKind`] for the ordering by asset path).

use sqlx::{Row, SqlitePool};

use crate::meta::{BrowseKind, BrowseRow, MetaError};

// Each part yields (path, image, tag, digest, media_type, size, modified); a UNION takes
// its column names from the first part.
const TAGS: &str = "SELECT '/v2/' || i.name || '/manifests/' || t.name AS path, \
     i.name AS image, t.name AS tag, m.digest AS digest, m.media_type AS media_type, \
     m.size AS size, t.updated_at AS modified \
     FROM tags t JOIN images i ON i.id = t.image_id \
     JOIN manifests m ON m.image_id = t.image_id AND m.digest = t.digest \
     WHERE i.repository = ?";

const MANIFESTS: &str = "SELECT '/v2/' || i.name || '/manifests/' || m.digest, i.name, \
     CAST(NULL AS TEXT), m.digest, m.media_type, m.size, m.created_at \
     FROM manifests m JOIN images i ON i.id = m.image_id WHERE i.repository = ?";

const BLOBS: &str = "SELECT '/v2/' || i.name || '/blobs/' || b.digest, i.name, \
     CAST(NULL AS TEXT), b.digest, CAST(NULL AS TEXT), b.size, b.created_at \
     FROM image_blobs b JOIN images i ON i.id = b.image_id WHERE i.repository = ?";

/// Rows of `repository` whose path sorts after `after` (byte order), at most `limit`.
pub(super) async fn browse(
    pool: &SqlitePool,
    repository: &str,
    kind: BrowseKind,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<BrowseRow>, MetaError> {
    let parts: &[&str] = match kind {
        BrowseKind::Tags => &[TAGS],
        BrowseKind::Assets => &[TAGS, MANIFESTS, BLOBS],
    };
    // Byte order of paths: SQLite's default (BINARY) collation; PostgreSQL needs
    // `COLLATE "C"` here.
    let sql = format!(
        "SELECT * FROM ({}) AS assets WHERE path > ? ORDER BY path LIMIT ?",
        parts.join(" UNION ALL ")
    );
    let mut query = sqlx::query(&sql);
    for _ in parts {
        query = query.bind(repository);
    }
    let rows = query
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(pool)
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
