//! Usage thresholds: requests in a rolling 24-hour window and total components, each with a
//! limit, a warning ratio and an action (`observe`, `warn`, `enforce`).
//!
//! Requests are counted by the HTTP middleware into hour buckets ([`window`]) kept in
//! memory and written to the `usage_hours` table every `flush_secs` and at shutdown, so a
//! restart does not reset the window. The rows hold deltas added up (every node adds what
//! it counted) and each upkeep tick reads them back, so with several nodes on one database
//! the request limit applies to the cluster's total. Components are counted by the database (one
//! aggregate), at each upkeep tick, scrape and usage read, and afresh before an enforced
//! write, so deletes are reflected without bookkeeping on the write path.
//!
//! A limit's state is `under`, `near` (from `warn_ratio × limit`) or `over` (at or above the
//! limit: no room for one more). With `enforce`, `over` refuses what would grow usage (new
//! tags, new blob uploads) and nothing else, so an operator can always pull, delete and
//! re-tag existing content to get back under the limit.

mod report;

pub mod window;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use crate::model::usage::{Action, Counted, LimitSettings, UsageSettings};
pub use report::export_metrics;
use window::{HourWindow, WindowTotals, KEEP_HOURS};

use crate::clock::now;
use crate::meta::{MetaError, UsageHour, UsageRecords};

/// The two limited figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Requests,
    Components,
}

impl Metric {
    pub const ALL: [Metric; 2] = [Metric::Requests, Metric::Components];

    /// The name used in config keys, JSON and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Requests => "requests",
            Metric::Components => "components",
        }
    }

    fn describe(self, value: u64) -> String {
        match self {
            Metric::Requests => format!("{value} requests in the last 24 hours"),
            Metric::Components => format!("{value} components"),
        }
    }
}

/// Where a figure stands against its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Under,
    Near,
    Over,
}

impl Level {
    pub fn of(value: u64, limit: &LimitSettings) -> Level {
        if value >= limit.limit {
            Level::Over
        } else if value as f64 >= limit.warn_ratio * limit.limit as f64 {
            Level::Near
        } else {
            Level::Under
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Under => "under",
            Level::Near => "near",
            Level::Over => "over",
        }
    }

    /// 0, 1, 2: the value of the state gauge, so alerts can compare.
    pub fn as_number(self) -> u8 {
        self as u8
    }
}

/// One figure against its limit.
#[derive(Clone, Debug)]
pub struct Reading {
    pub metric: Metric,
    pub value: u64,
    pub settings: LimitSettings,
    pub level: Level,
}

impl Reading {
    /// `warn` and `enforce` make a threshold fail the status check.
    pub fn healthy(&self) -> bool {
        self.settings.action == Action::Observe || self.level == Level::Under
    }

    pub fn message(&self) -> String {
        let l = &self.settings;
        format!(
            "{} of a limit of {} ({:.0}%, {}; warning from {:.0}%, action {})",
            self.metric.describe(self.value),
            l.limit,
            100.0 * self.value as f64 / l.limit as f64,
            self.level.as_str(),
            100.0 * l.warn_ratio,
            l.action.as_str()
        )
    }
}

/// Why a write was refused.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(
        "usage limit reached: {} of a limit of {limit} (usage.{}.action = enforce); \
         new components and blob uploads are refused, pulls, deletes and re-tags still work",
        .metric.describe(*.value), .metric.as_str()
    )]
    LimitReached {
        metric: Metric,
        value: u64,
        limit: u64,
    },
    #[error(transparent)]
    Meta(#[from] MetaError),
}

/// The usage tracker of one server; shared by every worker.
#[derive(Debug)]
pub struct Usage {
    settings: UsageSettings,
    meta: Arc<dyn UsageRecords>,
    /// A plain mutex: held for a map update per request, never across an `.await`.
    window: Mutex<HourWindow>,
    components: AtomicU64,
    /// The level last seen per metric, to log each change once.
    levels: Mutex<[Level; 2]>,
}

impl Usage {
    /// Loads the window's hours and the component count.
    pub async fn open(
        settings: UsageSettings,
        meta: Arc<dyn UsageRecords>,
    ) -> Result<Self, MetaError> {
        let hours = meta.usage_hours(window::window_start(now())).await?;
        let components = meta.total_components().await?;
        Ok(Usage {
            settings,
            meta,
            window: Mutex::new(HourWindow::from_hours(hours)),
            components: AtomicU64::new(components),
            levels: Mutex::new([Level::Under; 2]),
        })
    }

    pub fn settings(&self) -> &UsageSettings {
        &self.settings
    }

    /// Counts one finished request; `unauthorized` (a 401) is tallied apart.
    pub fn record(&self, unauthorized: bool) {
        self.window.lock().unwrap().record(now(), unauthorized);
    }

    pub fn totals(&self) -> WindowTotals {
        self.window.lock().unwrap().totals(now())
    }

    pub fn hours(&self) -> Vec<UsageHour> {
        self.window.lock().unwrap().hours(now())
    }

    fn limit(&self, metric: Metric) -> &LimitSettings {
        match metric {
            Metric::Requests => &self.settings.requests,
            Metric::Components => &self.settings.components,
        }
    }

    fn reading(&self, metric: Metric, value: u64) -> Reading {
        let settings = self.limit(metric).clone();
        let level = Level::of(value, &settings);
        Reading {
            metric,
            value,
            settings,
            level,
        }
    }

    /// Both figures as last counted.
    pub fn readings(&self) -> [Reading; 2] {
        [
            self.reading(Metric::Requests, self.totals().requests),
            self.reading(Metric::Components, self.components.load(Ordering::Relaxed)),
        ]
    }

    /// Recounts components, then logs any state change of a limit whose action is not
    /// `observe`.
    pub async fn refresh(&self) -> Result<[Reading; 2], MetaError> {
        let components = self.meta.total_components().await?;
        self.components.store(components, Ordering::Relaxed);
        let readings = self.readings();
        let mut levels = self.levels.lock().unwrap();
        for (i, r) in readings.iter().enumerate() {
            if levels[i] != r.level && r.settings.action != Action::Observe {
                tracing::warn!(
                    limit = r.metric.as_str(),
                    from = levels[i].as_str(),
                    to = r.level.as_str(),
                    "usage threshold state changed: {}",
                    r.message()
                );
            }
            levels[i] = r.level;
        }
        Ok(readings)
    }

    /// Refuses a write that would grow usage (a new tag, a new blob upload) while an
    /// enforced limit is reached. The component count is taken afresh: the refusal must
    /// name the current value, and a delete just before must let the write through.
    pub async fn check_growth(&self) -> Result<(), UsageError> {
        for metric in Metric::ALL {
            let limit = self.limit(metric);
            if limit.action != Action::Enforce {
                continue;
            }
            let value = self.current(metric).await?;
            if Level::of(value, limit) == Level::Over {
                report::refused(metric);
                return Err(UsageError::LimitReached {
                    metric,
                    value,
                    limit: limit.limit,
                });
            }
        }
        Ok(())
    }

    /// The figure now: requests from memory, components from the database.
    async fn current(&self, metric: Metric) -> Result<u64, MetaError> {
        match metric {
            Metric::Requests => Ok(self.totals().requests),
            Metric::Components => {
                let n = self.meta.total_components().await?;
                self.components.store(n, Ordering::Relaxed);
                Ok(n)
            }
        }
    }

    /// Adds what was counted since the last flush to the database.
    pub async fn flush(&self) -> Result<(), MetaError> {
        let now = now();
        let dirty = self.window.lock().unwrap().take_dirty(now);
        if dirty.is_empty() {
            return Ok(());
        }
        let keep_since = window::hour_of(now) - KEEP_HOURS * 3600;
        if let Err(e) = self.meta.save_usage_hours(&dirty, keep_since).await {
            self.window.lock().unwrap().mark_dirty(&dirty);
            return Err(e);
        }
        Ok(())
    }

    /// Reads the window's hours back from the database: the sums of every node sharing it.
    async fn reload(&self, now: i64) -> Result<(), MetaError> {
        let stored = self.meta.usage_hours(window::window_start(now)).await?;
        self.window.lock().unwrap().reload(stored);
        Ok(())
    }

    async fn flush_and_reload(&self) -> Result<(), MetaError> {
        self.flush().await?;
        self.reload(now()).await
    }

    /// Flushes and re-evaluates every `flush_secs`. Must run inside an actix system.
    pub fn spawn_upkeep(self: Arc<Self>) {
        let every = Duration::from_secs(self.settings.flush_secs);
        actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(every);
            loop {
                tick.tick().await;
                // Also reads back the other nodes' counts, even when this one has nothing
                // to write.
                if let Err(e) = self.flush_and_reload().await {
                    tracing::warn!(error = %e, "cannot write usage counters");
                }
                if let Err(e) = self.refresh().await {
                    tracing::warn!(error = %e, "cannot count components");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(limit: u64) -> LimitSettings {
        LimitSettings {
            limit,
            warn_ratio: 0.75,
            action: Action::Enforce,
        }
    }

    #[test]
    fn levels_turn_near_at_the_warning_ratio_and_over_at_the_limit() {
        let l = limit(4);
        assert_eq!(Level::of(2, &l), Level::Under);
        assert_eq!(Level::of(3, &l), Level::Near);
        assert_eq!(Level::of(4, &l), Level::Over);
        assert_eq!(Level::of(9, &l), Level::Over);
    }

    #[test]
    fn the_refusal_names_the_limit_and_the_current_value() {
        let e = UsageError::LimitReached {
            metric: Metric::Components,
            value: 3,
            limit: 3,
        };
        let text = e.to_string();
        assert!(text.contains("3 components of a limit of 3"), "{text}");
        assert!(text.contains("usage.components.action = enforce"), "{text}");
    }
}
