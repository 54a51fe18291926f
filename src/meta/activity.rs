//! Activity records: what the web UI shows beyond the API's listings: one image's tags a page at a time with
//! who pushed them and when they were last pulled, pulls per day (`pulls_daily`) for the
//! usage center's top lists, and daily totals of the hourly request counters.

use async_trait::async_trait;

use super::MetaError;

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// Days of pulls kept, and of history shown.
pub const HISTORY_DAYS: i64 = 30;

/// Start of the UTC day holding `secs`.
pub fn day_of(secs: i64) -> i64 {
    secs.div_euclid(DAY) * DAY
}

/// One tag of an image, as the tags page lists it.
#[derive(Clone, Debug)]
pub struct TagRow {
    pub tag: String,
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    /// When the tag was last set, Unix seconds.
    pub updated_at: i64,
    /// When the tag was last pulled (as of the last flush), if ever since it was set.
    pub last_downloaded: Option<i64>,
    /// The user whose push set the tag, when known.
    pub pushed_by: Option<String>,
}

/// Pulls counted for a repository or an image over the history window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullCount {
    pub repository: String,
    /// `None` when counting a whole repository.
    pub image: Option<String>,
    pub pulls: u64,
}

/// One day of the history: requests (from the hourly counters) and pulls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsageDay {
    pub day: i64,
    pub requests: u64,
    pub unauthorized: u64,
    pub pulls: u64,
}

/// Who pushed, pulls per day and one image's tags a page at a time (the web UI's activity
/// views; see `registry/activity.rs`).
#[async_trait]
pub trait Activity: Send + Sync + std::fmt::Debug {
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
    ) -> Result<Vec<TagRow>, MetaError>;

    /// Records who pushed `tags` of `image` (pointing at `digest`: a tag moved since by
    /// someone else is left to that push).
    async fn set_pushed_by(
        &self,
        repository: &str,
        image: &str,
        tags: &[String],
        digest: &str,
        user: &str,
    ) -> Result<(), MetaError>;

    /// Records pulls by digest, `(repository, image, digest, unix seconds)`, on the tags
    /// pointing at that digest (a time never moves backwards), in one transaction. Answers,
    /// for each, whether any tag points at it.
    async fn record_digest_downloads(
        &self,
        downloads: &[(String, String, String, i64)],
    ) -> Result<Vec<bool>, MetaError>;

    /// Adds pulls: `(day, repository, image, count)`, and drops days before `keep_since`,
    /// in one transaction.
    async fn add_pulls(
        &self,
        pulls: &[(i64, String, String, u64)],
        keep_since: i64,
    ) -> Result<(), MetaError>;

    /// The `limit` most pulled repositories (`by_image` false) or images since `since`,
    /// most pulls first.
    async fn top_pulls(
        &self,
        since: i64,
        by_image: bool,
        limit: i64,
    ) -> Result<Vec<PullCount>, MetaError>;

    /// Days starting at or after `since` that saw requests or pulls, oldest first: the
    /// hourly request counters (kept for longer than the history) summed per UTC day, and
    /// the day's pulls.
    async fn usage_days(&self, since: i64) -> Result<Vec<UsageDay>, MetaError>;
}
