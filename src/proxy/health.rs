//! Whether one upstream URL may be called now: auto-block after consecutive failures with a
//! growing back-off, and a pause the upstream asked for itself (`429` + `Retry-After`).
//! Each URL of a proxy (its mirrors and its remote) has its own.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::UpstreamError;

/// Consecutive failures after which an auto-blocking proxy stops calling an upstream.
const AUTO_BLOCK_AFTER: u32 = 3;
/// First back-off period; doubled on each failed probe, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The pause after a `429` without `Retry-After`.
const DEFAULT_PAUSE: Duration = Duration::from_secs(60);

#[derive(Default)]
struct State {
    consecutive_failures: u32,
    blocked_until: Option<Instant>,
    backoff: Option<Duration>,
    last_error: Option<String>,
    /// Until when the upstream asked not to be called (a `429`).
    paused_until: Option<Instant>,
}

#[derive(Default)]
pub struct Health(Mutex<State>);

/// A snapshot for the admin API.
pub struct HealthView {
    pub auto_blocked: bool,
    pub rate_limited: bool,
    /// Seconds until the upstream is tried again.
    pub retry_in_secs: Option<u64>,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
}

fn remaining(until: Option<Instant>) -> Option<Duration> {
    until
        .map(|u| u.saturating_duration_since(Instant::now()))
        .filter(|d| !d.is_zero())
}

impl Health {
    /// `Err` while the upstream `url` is auto-blocked or paused by a `429`.
    pub fn check(&self, url: &str) -> Result<(), UpstreamError> {
        let state = self.0.lock().unwrap();
        if let Some(left) = remaining(state.paused_until) {
            return Err(UpstreamError::RateLimited {
                message: format!(
                    "upstream {url} is rate-limiting requests (429); Berth asks again in {} s",
                    left.as_secs() + 1
                ),
                retry_after_secs: Some(left.as_secs() + 1),
            });
        }
        match remaining(state.blocked_until) {
            Some(left) => Err(UpstreamError::Blocked(format!(
                "upstream {url} is auto-blocked for {} s after {} consecutive failures (last: {})",
                left.as_secs() + 1,
                state.consecutive_failures,
                state.last_error.as_deref().unwrap_or("unknown")
            ))),
            None => Ok(()),
        }
    }

    /// Clears the failure count; true if the upstream was auto-blocked.
    pub fn success(&self) -> bool {
        let mut state = self.0.lock().unwrap();
        let was_blocked = state.blocked_until.is_some();
        if state.consecutive_failures > 0 || was_blocked {
            *state = State {
                paused_until: state.paused_until,
                ..State::default()
            };
        }
        was_blocked
    }

    /// Counts a failure; with `auto_block`, blocks for a back-off period once failures keep
    /// coming and returns that period. A `429` pauses instead, for its `Retry-After`.
    pub fn failure(&self, error: &UpstreamError, auto_block: bool) -> Option<Duration> {
        let mut state = self.0.lock().unwrap();
        if let UpstreamError::RateLimited {
            retry_after_secs, ..
        } = error
        {
            let pause = retry_after_secs.map_or(DEFAULT_PAUSE, Duration::from_secs);
            state.paused_until = Some(Instant::now() + pause);
            state.last_error = Some(error.to_string());
            return None;
        }
        if !error.counts_as_failure() {
            return None;
        }
        state.consecutive_failures += 1;
        state.last_error = Some(error.to_string());
        if !auto_block || state.consecutive_failures < AUTO_BLOCK_AFTER {
            return None;
        }
        let backoff = state
            .backoff
            .map_or(FIRST_BACKOFF, |b| (b * 2).min(MAX_BACKOFF));
        state.backoff = Some(backoff);
        state.blocked_until = Some(Instant::now() + backoff);
        Some(backoff)
    }

    pub fn view(&self) -> HealthView {
        let state = self.0.lock().unwrap();
        let blocked = remaining(state.blocked_until);
        let paused = remaining(state.paused_until);
        HealthView {
            auto_blocked: blocked.is_some(),
            rate_limited: paused.is_some(),
            retry_in_secs: blocked.max(paused).map(|d| d.as_secs() + 1),
            consecutive_failures: state.consecutive_failures,
            last_error: state.last_error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_failures_block_and_a_success_clears_it_unless_auto_block_is_off() {
        let down = UpstreamError::Unavailable("down".into());
        let h = Health::default();
        assert_eq!(h.failure(&down, true), None);
        assert_eq!(h.failure(&down, true), None);
        assert!(h.check("u").is_ok());
        assert_eq!(h.failure(&down, true), Some(FIRST_BACKOFF));
        assert!(matches!(h.check("u"), Err(UpstreamError::Blocked(_))));
        assert!(h.success());
        assert!(h.check("u").is_ok());
        let h = Health::default();
        for _ in 0..5 {
            h.failure(&down, false);
            h.failure(&UpstreamError::NotFound, true);
        }
        assert!(h.check("u").is_ok());
    }

    #[test]
    fn a_429_pauses_for_its_retry_after_and_does_not_count_as_a_failure() {
        let h = Health::default();
        let e = UpstreamError::RateLimited {
            message: "429".into(),
            retry_after_secs: Some(30),
        };
        for _ in 0..5 {
            assert_eq!(h.failure(&e, true), None);
        }
        assert!(matches!(
            h.check("u"),
            Err(UpstreamError::RateLimited {
                retry_after_secs: Some(30),
                ..
            })
        ));
        let view = h.view();
        assert!(view.rate_limited && !view.auto_blocked);
        assert_eq!(view.consecutive_failures, 0);
    }
}
