//! SQLite side of [`crate::meta::Activity`].

use async_trait::async_trait;
use sqlx::Row;

use super::{write_tx, SqliteMeta};
use crate::meta::{Activity, MetaError, PullCount, TagRow, UsageDay, DAY};

#[async_trait]
impl Activity for SqliteMeta {
    /// Tags of `image` in `repository` sorting after `after`, at most `limit`. Walks the
    /// `tags` primary key `(image_id, name)` from the image's row, so a page of a
    /// 10,000-tag image reads one page of rows (the asset-path listing sorts every tag of
    /// the repository by a computed path first).
    async fn tag_page(
        &self,
        repository: &str,
        image: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<TagRow>, MetaError> {
        let rows = sqlx::query(
            "SELECT t.name, t.digest, m.media_type, m.size, t.updated_at, t.last_downloaded, \
             t.pushed_by FROM images i JOIN tags t ON t.image_id = i.id \
             JOIN manifests m ON m.image_id = t.image_id AND m.digest = t.digest \
             WHERE i.repository = ? AND i.name = ? AND t.name > ? ORDER BY t.name LIMIT ?",
        )
        .bind(repository)
        .bind(image)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| TagRow {
                tag: r.get(0),
                digest: r.get(1),
                media_type: r.get(2),
                size: r.get::<i64, _>(3) as u64,
                updated_at: r.get(4),
                last_downloaded: r.get(5),
                pushed_by: r.get(6),
            })
            .collect())
    }

    /// Records who pushed `tags` of `image` (pointing at `digest`: a tag moved since by
    /// someone else is left to that push).
    async fn set_pushed_by(
        &self,
        repository: &str,
        image: &str,
        tags: &[String],
        digest: &str,
        user: &str,
    ) -> Result<(), MetaError> {
        let mut tx = write_tx(&self.pool).await?;
        for tag in tags {
            sqlx::query(
                "UPDATE tags SET pushed_by = ?5 WHERE name = ?3 AND digest = ?4 AND image_id = \
                 (SELECT id FROM images WHERE repository = ?1 AND name = ?2)",
            )
            .bind(repository)
            .bind(image)
            .bind(tag)
            .bind(digest)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records pulls by digest, `(repository, image, digest, unix seconds)`, on the tags
    /// pointing at that digest (a time never moves backwards), in one transaction. Answers,
    /// for each, whether any tag points at it.
    async fn record_digest_downloads(
        &self,
        downloads: &[(String, String, String, i64)],
    ) -> Result<Vec<bool>, MetaError> {
        if downloads.is_empty() {
            return Ok(Vec::new());
        }
        let mut tagged = Vec::with_capacity(downloads.len());
        let mut tx = write_tx(&self.pool).await?;
        for (repository, image, digest, at) in downloads {
            let done = sqlx::query(
                "UPDATE tags SET last_downloaded = CASE WHEN COALESCE(last_downloaded, 0) < ?4 THEN ?4 \
                 ELSE last_downloaded END \
                 WHERE digest = ?3 AND image_id = \
                 (SELECT id FROM images WHERE repository = ?1 AND name = ?2)",
            )
            .bind(repository)
            .bind(image)
            .bind(digest)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            tagged.push(done.rows_affected() > 0);
        }
        tx.commit().await?;
        Ok(tagged)
    }

    /// Adds pulls: `(day, repository, image, count)`, and drops days before `keep_since`,
    /// in one transaction.
    async fn add_pulls(
        &self,
        pulls: &[(i64, String, String, u64)],
        keep_since: i64,
    ) -> Result<(), MetaError> {
        let mut tx = write_tx(&self.pool).await?;
        for (day, repository, image, count) in pulls {
            sqlx::query(
                "INSERT INTO pulls_daily (day, repository, image, pulls) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (day, repository, image) DO UPDATE SET pulls = pulls_daily.pulls + excluded.pulls",
            )
            .bind(day)
            .bind(repository)
            .bind(image)
            .bind(*count as i64)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM pulls_daily WHERE day < ?")
            .bind(keep_since)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The `limit` most pulled repositories (`by_image` false) or images since `since`,
    /// most pulls first.
    async fn top_pulls(
        &self,
        since: i64,
        by_image: bool,
        limit: i64,
    ) -> Result<Vec<PullCount>, MetaError> {
        let sql = match by_image {
            true => {
                "SELECT repository, image, CAST(SUM(pulls) AS BIGINT) AS n FROM pulls_daily WHERE day >= ? \
                 GROUP BY repository, image ORDER BY n DESC, repository, image LIMIT ?"
            }
            false => {
                "SELECT repository, CAST(NULL AS TEXT), CAST(SUM(pulls) AS BIGINT) AS n FROM pulls_daily WHERE day >= ? \
                 GROUP BY repository ORDER BY n DESC, repository LIMIT ?"
            }
        };
        let rows = sqlx::query(sql)
            .bind(since)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| PullCount {
                repository: r.get(0),
                image: r.get(1),
                pulls: r.get::<i64, _>(2) as u64,
            })
            .collect())
    }

    /// Days starting at or after `since` that saw requests or pulls, oldest first: the
    /// hourly request counters (kept for longer than the history) summed per UTC day, and
    /// the day's pulls.
    async fn usage_days(&self, since: i64) -> Result<Vec<UsageDay>, MetaError> {
        let rows = sqlx::query(
            "SELECT day, CAST(SUM(requests) AS BIGINT), CAST(SUM(unauthorized) AS BIGINT), \
             CAST(SUM(pulls) AS BIGINT) FROM ( \
               SELECT (hour / ?1) * ?1 AS day, requests, unauthorized, 0 AS pulls \
               FROM usage_hours WHERE hour >= ?2 \
               UNION ALL SELECT day, 0, 0, pulls FROM pulls_daily WHERE day >= ?2) \
             GROUP BY day ORDER BY day",
        )
        .bind(DAY)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| UsageDay {
                day: r.get(0),
                requests: r.get::<i64, _>(1) as u64,
                unauthorized: r.get::<i64, _>(2) as u64,
                pulls: r.get::<i64, _>(3) as u64,
            })
            .collect())
    }
}
