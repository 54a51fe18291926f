//! Usage figures of the whole registry, for monitoring.

use super::{Registry, Repository};
use crate::meta::MetaError;

impl Registry {
    /// Components (tagged manifests) of every hosted repository, zero included, so each
    /// hosted repository has a series from its first scrape on.
    pub async fn component_counts(&self) -> Result<Vec<(String, u64)>, MetaError> {
        let counts = self.meta.reports().component_counts().await?;
        let mut out: Vec<(String, u64)> = self
            .repos
            .iter()
            .filter(|r| matches!(r.value(), Repository::Hosted(_)))
            .map(|r| {
                let name = r.key().clone();
                let n = counts.get(&name).copied().unwrap_or(0);
                (name, n)
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Blobs and bytes linked into every hosted repository (zero included), see
    /// [`crate::meta::Reports::repository_blob_totals`].
    pub async fn repository_blob_totals(&self) -> Result<Vec<(String, u64, u64)>, MetaError> {
        let totals = self.meta.reports().repository_blob_totals().await?;
        let mut out: Vec<(String, u64, u64)> = self
            .repos
            .iter()
            .filter(|r| matches!(r.value(), Repository::Hosted(_)))
            .map(|r| {
                let name = r.key().clone();
                let (blobs, bytes) = totals.get(&name).copied().unwrap_or((0, 0));
                (name, blobs, bytes)
            })
            .collect();
        out.sort();
        Ok(out)
    }
}
