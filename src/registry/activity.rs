//! Who pushed and who pulls, for the web UI: the pusher of a tag (recorded after the push
//! is committed), pulls per day (counted in memory with the last-pulled times, flushed with
//! them in `cleanup.rs`; a pull is a manifest GET by tag, or by the digest of a tagged
//! manifest — what docker sends after a HEAD by tag), one image's tags a page at a time,
//! and the usage history.

use std::collections::BTreeMap;

use super::{Registry, RegistryError};
use crate::clock::now;
use crate::meta::{day_of, PullCount, TagRow, UsageDay, DAY, HISTORY_DAYS};

/// One page of an image's tags: rows and whether more follow.
pub struct TagPage {
    /// (hosted repository holding the tag, row), by tag name.
    pub rows: Vec<(String, TagRow)>,
    pub more: bool,
}

impl Registry {
    /// Records `user` as the pusher of `tags` (now pointing at `digest`) in hosted
    /// repository `repository`. A failure is logged, never the push's: the push is done.
    pub async fn record_pusher(
        &self,
        repository: &str,
        image: &str,
        tags: &[String],
        digest: &str,
        user: &str,
    ) {
        if tags.is_empty() {
            return;
        }
        let result = self
            .meta
            .activity()
            .set_pushed_by(repository, image, tags, digest, user)
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, repository, image, "could not record who pushed");
        }
    }

    /// Adds pulls counted in memory, `(repository, image, tag or digest, last pull,
    /// count)`: a pull by digest updates the last-pulled time of the tags pointing at it,
    /// and counts only if some tag does (an index's platform manifest, fetched by digest
    /// after its index, is the same pull).
    pub(super) async fn record_pulls(
        &self,
        pulls: Vec<(String, String, String, i64, u64)>,
    ) -> Result<(), RegistryError> {
        let by_digest: Vec<(String, String, String, i64)> = pulls
            .iter()
            .filter(|p| p.2.contains(':'))
            .map(|(repo, image, digest, at, _)| (repo.clone(), image.clone(), digest.clone(), *at))
            .collect();
        let tagged = self
            .meta
            .activity()
            .record_digest_downloads(&by_digest)
            .await?;
        let mut merged: BTreeMap<(i64, String, String), u64> = BTreeMap::new();
        let mut digest_index = 0;
        for (repository, image, reference, at, count) in pulls {
            if reference.contains(':') {
                digest_index += 1;
                if !tagged[digest_index - 1] {
                    continue;
                }
            }
            *merged.entry((day_of(at), repository, image)).or_default() += count;
        }
        let rows: Vec<_> = merged
            .into_iter()
            .map(|((day, repository, image), n)| (day, repository, image, n))
            .collect();
        self.meta
            .activity()
            .add_pulls(&rows, history_start())
            .await?;
        Ok(())
    }

    /// Tags of `image` after `after` in `repository` (a group: its hosted members, the
    /// first holding a tag wins, as for a pull), at most `limit`; `None` if the repository
    /// does not exist. Pulls recorded in memory are flushed first so "last pulled" is now.
    pub async fn tag_page(
        &self,
        repository: &str,
        image: &str,
        after: &str,
        limit: usize,
    ) -> Result<Option<TagPage>, RegistryError> {
        let Some(repo) = self.repository(repository) else {
            return Ok(None);
        };
        self.flush_downloads().await?;
        let mut merged: BTreeMap<String, (String, TagRow)> = BTreeMap::new();
        for hosted in self.readers(&repo)? {
            // limit + 1 per member fills the page and tells whether more follow.
            let rows = self
                .meta
                .activity()
                .tag_page(hosted.name(), image, after, limit as i64 + 1)
                .await?;
            for row in rows {
                merged
                    .entry(row.tag.clone())
                    .or_insert_with(|| (hosted.name().to_string(), row));
            }
        }
        let more = merged.len() > limit;
        let rows = merged.into_values().take(limit).collect();
        Ok(Some(TagPage { rows, more }))
    }

    /// The most pulled repositories and images over the history window.
    pub async fn top_pulls(
        &self,
        limit: usize,
    ) -> Result<(Vec<PullCount>, Vec<PullCount>), RegistryError> {
        self.flush_downloads().await?;
        let since = history_start();
        let repos = self
            .meta
            .activity()
            .top_pulls(since, false, limit as i64)
            .await?;
        let images = self
            .meta
            .activity()
            .top_pulls(since, true, limit as i64)
            .await?;
        Ok((repos, images))
    }

    /// One row per day of the history window, oldest first (days without requests or
    /// pulls included, as zeros).
    pub async fn usage_history(&self) -> Result<Vec<UsageDay>, RegistryError> {
        let since = history_start();
        let stored = self.meta.activity().usage_days(since).await?;
        Ok((0..HISTORY_DAYS)
            .map(|i| since + i * DAY)
            .map(|day| {
                stored
                    .iter()
                    .find(|d| d.day == day)
                    .copied()
                    .unwrap_or(UsageDay {
                        day,
                        ..UsageDay::default()
                    })
            })
            .collect())
    }
}

/// The first day of the history window: today and the 29 days before.
fn history_start() -> i64 {
    day_of(now()) - (HISTORY_DAYS - 1) * DAY
}
