//! Wall-clock time in the unit of every stored timestamp (seconds since the Unix epoch),
//! with an offset tests can move. It sits below every layer (metadata, registry, HTTP, tasks
//! all read it) and depends on nothing.

use std::sync::atomic::{AtomicI64, Ordering};

/// Seconds added to the real time by [`now`]. Only the admin clock endpoint, enabled by the
/// `gc.test_clock` setting for tests, changes it: it lets a test make content "old" for
/// grace windows and cleanup criteria without waiting.
static CLOCK_OFFSET: AtomicI64 = AtomicI64::new(0);

/// Seconds since the Unix epoch plus the test clock offset (zero unless a test moved the
/// clock, see [`set_clock_offset`]).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
        + clock_offset()
}

/// The current test clock offset in seconds (0 in production).
pub fn clock_offset() -> i64 {
    CLOCK_OFFSET.load(Ordering::Relaxed)
}

/// Moves [`now`] by `secs` from the real time.
pub fn set_clock_offset(secs: i64) {
    CLOCK_OFFSET.store(secs, Ordering::Relaxed);
}
