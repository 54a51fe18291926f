//! The rolling window: request counters per hour, in memory, with what this node counted
//! since the last flush kept apart (`pending`) so only that is added to the database.
//!
//! Several nodes sharing one database each add their own counts; after each flush the
//! window is reloaded from the database ([`HourWindow::reload`]), so every node's totals
//! (and thresholds) are the cluster's, at most one flush interval behind.

use std::collections::BTreeMap;

use crate::meta::UsageHour;

/// Hours in the window: the current hour and the 23 before it, so the window covers
/// between 23 and 24 hours of traffic (hour buckets, as Nexus counts per day).
pub const WINDOW_HOURS: i64 = 24;
/// How long hour rows stay in the database (for a later usage-history endpoint).
pub const KEEP_HOURS: i64 = 90 * 24;

/// Start of the hour containing `secs`.
pub fn hour_of(secs: i64) -> i64 {
    secs - secs.rem_euclid(3600)
}

#[derive(Debug, Default)]
pub struct HourWindow {
    /// The window's totals: as last read from the database, plus `pending`.
    hours: BTreeMap<i64, UsageHour>,
    /// What this node counted and has not written yet, per hour.
    pending: BTreeMap<i64, UsageHour>,
}

/// Sums over the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowTotals {
    pub requests: u64,
    pub unauthorized: u64,
}

impl HourWindow {
    /// A window holding `hours` as loaded from the database.
    pub fn from_hours(hours: Vec<UsageHour>) -> Self {
        HourWindow {
            hours: hours.into_iter().map(|h| (h.hour, h)).collect(),
            pending: BTreeMap::new(),
        }
    }

    /// Replaces the totals by `stored` (read from the database after a flush) plus what
    /// was counted since that flush began and is not written yet.
    pub fn reload(&mut self, stored: Vec<UsageHour>) {
        self.hours = stored.into_iter().map(|h| (h.hour, h)).collect();
        for p in self.pending.values() {
            add(&mut self.hours, p);
        }
    }

    /// Counts one request at `now`: a 401 goes to `unauthorized`, anything else to `requests`.
    pub fn record(&mut self, now: i64, unauthorized: bool) {
        let one = UsageHour {
            hour: hour_of(now),
            requests: u64::from(!unauthorized),
            unauthorized: u64::from(unauthorized),
        };
        add(&mut self.hours, &one);
        add(&mut self.pending, &one);
    }

    /// Totals over the window ending at `now`.
    pub fn totals(&self, now: i64) -> WindowTotals {
        let mut t = WindowTotals::default();
        for h in self.hours.range(window_start(now)..).map(|(_, h)| h) {
            t.requests += h.requests;
            t.unauthorized += h.unauthorized;
        }
        t
    }

    /// The hours of the window ending at `now`, oldest first.
    pub fn hours(&self, now: i64) -> Vec<UsageHour> {
        self.hours
            .range(window_start(now)..)
            .map(|(_, h)| *h)
            .collect()
    }

    /// What was counted since the last call (to be added to the database), and forgets
    /// hours that left the window.
    pub fn take_dirty(&mut self, now: i64) -> Vec<UsageHour> {
        let dirty: Vec<UsageHour> = std::mem::take(&mut self.pending).into_values().collect();
        let start = window_start(now);
        self.hours.retain(|&h, _| h >= start);
        dirty
    }

    /// Gives back counts a failed flush could not write, to be written next time.
    pub fn mark_dirty(&mut self, hours: &[UsageHour]) {
        for h in hours {
            add(&mut self.pending, h);
        }
    }
}

fn add(hours: &mut BTreeMap<i64, UsageHour>, h: &UsageHour) {
    let bucket = hours.entry(h.hour).or_insert(UsageHour {
        hour: h.hour,
        ..UsageHour::default()
    });
    bucket.requests += h.requests;
    bucket.unauthorized += h.unauthorized;
}

/// The first hour inside the window ending at `now`.
pub fn window_start(now: i64) -> i64 {
    hour_of(now) - (WINDOW_HOURS - 1) * 3600
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_700_000_000;

    #[test]
    fn requests_older_than_the_window_stop_counting() {
        let mut w = HourWindow::default();
        w.record(T, false);
        w.record(T + 3600, false);
        w.record(T + 3600, true);
        assert_eq!(w.totals(T + 3600).requests, 2);
        assert_eq!(w.totals(T + 3600).unauthorized, 1);
        // 24 hours after the first request's hour, that hour has left the window.
        assert_eq!(w.totals(hour_of(T) + 24 * 3600).requests, 1);
        assert_eq!(w.totals(T + 48 * 3600), WindowTotals::default());
    }

    #[test]
    fn dirty_hours_are_handed_out_once_and_old_hours_are_forgotten() {
        let mut w = HourWindow::from_hours(vec![UsageHour {
            hour: hour_of(T) - 30 * 3600,
            requests: 5,
            unauthorized: 0,
        }]);
        w.record(T, false);
        w.record(T, false);
        let dirty = w.take_dirty(T);
        assert_eq!(dirty.len(), 1);
        assert_eq!(dirty[0].requests, 2);
        assert!(w.take_dirty(T).is_empty());
        assert_eq!(w.hours(T).len(), 1);
    }

    #[test]
    fn a_reload_shows_the_stored_sum_plus_what_is_not_written_yet() {
        let mut w = HourWindow::default();
        w.record(T, false);
        let written = w.take_dirty(T);
        w.record(T, false);
        // Another node added 5 to the same hour; ours (1) was written with it.
        let mut stored = written.clone();
        stored[0].requests += 5;
        w.reload(stored);
        assert_eq!(w.totals(T).requests, 7);
        assert_eq!(w.take_dirty(T)[0].requests, 1);
    }
}
