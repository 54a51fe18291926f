//! Hourly request counters of the usage window (`usage_hours`), and the registry-wide
//! component count the component limit is checked against.

use async_trait::async_trait;
use sqlx::Row;

use super::SqliteMeta;
use crate::meta::{MetaError, UsageHour, UsageRecords};

#[async_trait]
impl UsageRecords for SqliteMeta {
    async fn usage_hours(&self, since: i64) -> Result<Vec<UsageHour>, MetaError> {
        let rows = sqlx::query(
            "SELECT hour, requests, unauthorized FROM usage_hours WHERE hour >= ? ORDER BY hour",
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

    async fn save_usage_hours(
        &self,
        hours: &[UsageHour],
        keep_since: i64,
    ) -> Result<(), MetaError> {
        let mut tx = super::write_tx(&self.pool).await?;
        for h in hours {
            sqlx::query(
                "INSERT INTO usage_hours (hour, requests, unauthorized) VALUES (?, ?, ?) \
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
        sqlx::query("DELETE FROM usage_hours WHERE hour < ?")
            .bind(keep_since)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn total_components(&self) -> Result<u64, MetaError> {
        let n: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM tags")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }
}
