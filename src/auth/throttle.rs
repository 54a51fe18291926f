//! Failed-login throttling: at most `max` failures per key (client address, user name)
//! within a window; further attempts are refused without checking the password until the
//! window ends. In memory only: a restart forgets, which is acceptable for throttling.

use std::time::{Duration, Instant};

use dashmap::DashMap;

pub struct Throttle {
    max: u32,
    window: Duration,
    failures: DashMap<String, (u32, Instant)>,
}

/// Entries kept before old windows are swept, so random user names cannot grow memory.
const SWEEP_AT: usize = 10_000;

impl Throttle {
    pub fn new(max: u32, window: Duration) -> Self {
        Throttle {
            max,
            window,
            failures: DashMap::new(),
        }
    }

    /// Whether `key` has used up its failures in the current window.
    pub fn blocked(&self, key: &str) -> bool {
        self.failures
            .get(key)
            .is_some_and(|e| e.0 >= self.max && e.1.elapsed() < self.window)
    }

    pub fn fail(&self, key: &str) {
        if self.failures.len() >= SWEEP_AT {
            let window = self.window;
            self.failures.retain(|_, e| e.1.elapsed() < window);
        }
        let mut entry = self
            .failures
            .entry(key.to_string())
            .or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub fn succeed(&self, key: &str) {
        self.failures.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_and_success_clears() {
        let t = Throttle::new(2, Duration::from_secs(60));
        t.fail("u");
        assert!(!t.blocked("u"));
        t.fail("u");
        assert!(t.blocked("u"));
        assert!(!t.blocked("other"));
        t.succeed("u");
        assert!(!t.blocked("u"));
    }
}
