//! Web UI sessions: a random token (the cookie) mapped to a signed-in user and the CSRF
//! token of that session, with an idle and an absolute expiry.
//!
//! Kept in memory on purpose: a restart signs everyone out, which is what an operator
//! expects after changing the security model, and nothing secret ever reaches the disk. The
//! map is keyed by the SHA-256 of the cookie value, so the stored keys cannot be replayed.

use std::time::{Duration, Instant};

use dashmap::DashMap;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest as _, Sha256};

/// One signed-in browser.
#[derive(Clone, Debug)]
struct Session {
    user: String,
    csrf: String,
    created: Instant,
    last_seen: Instant,
}

/// What a request learns from a live session.
#[derive(Clone, Debug)]
pub struct SessionView {
    pub user: String,
    pub csrf: String,
}

/// Every live session of this server.
pub struct Sessions {
    live: DashMap<String, Session>,
    idle: Duration,
    absolute: Duration,
    rng: SystemRandom,
}

impl Sessions {
    pub fn new(idle: Duration, absolute: Duration) -> Self {
        Sessions {
            live: DashMap::new(),
            idle,
            absolute,
            rng: SystemRandom::new(),
        }
    }

    /// A fresh 256-bit random value, hex-encoded (session cookies and CSRF tokens).
    pub fn random_token(&self) -> String {
        let mut bytes = [0u8; 32];
        self.rng.fill(&mut bytes).expect("system randomness");
        hex::encode(bytes)
    }

    /// Starts a session for `user`; returns the cookie value.
    pub fn create(&self, user: &str) -> String {
        self.sweep();
        let token = self.random_token();
        let now = Instant::now();
        let session = Session {
            user: user.to_string(),
            csrf: self.random_token(),
            created: now,
            last_seen: now,
        };
        self.live.insert(key(&token), session);
        token
    }

    /// The session behind a cookie value, if live; refreshes its idle timer.
    pub fn get(&self, token: &str) -> Option<SessionView> {
        let k = key(token);
        let now = Instant::now();
        let mut entry = self.live.get_mut(&k)?;
        if self.expired(&entry, now) {
            drop(entry);
            self.live.remove(&k);
            return None;
        }
        entry.last_seen = now;
        Some(SessionView {
            user: entry.user.clone(),
            csrf: entry.csrf.clone(),
        })
    }

    /// Ends one session (sign-out).
    pub fn remove(&self, token: &str) {
        self.live.remove(&key(token));
    }

    /// Ends every session of `user` (password changed, user deleted).
    pub fn remove_user(&self, user: &str) {
        self.live.retain(|_, s| s.user != user);
    }

    fn expired(&self, s: &Session, now: Instant) -> bool {
        now.duration_since(s.last_seen) > self.idle || now.duration_since(s.created) > self.absolute
    }

    /// Drops expired sessions so abandoned browsers do not accumulate.
    fn sweep(&self) {
        let now = Instant::now();
        self.live.retain(|_, s| !self.expired(s, now));
    }
}

fn key(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_expires_when_idle_and_after_its_absolute_lifetime() {
        let idle = Sessions::new(Duration::from_millis(0), Duration::from_secs(60));
        let t = idle.create("u");
        std::thread::sleep(Duration::from_millis(5));
        assert!(idle.get(&t).is_none());
        let absolute = Sessions::new(Duration::from_secs(60), Duration::from_millis(0));
        let t = absolute.create("u");
        std::thread::sleep(Duration::from_millis(5));
        assert!(absolute.get(&t).is_none());
    }

    #[test]
    fn sign_out_and_user_removal_end_sessions() {
        let s = Sessions::new(Duration::from_secs(60), Duration::from_secs(60));
        let (a, b) = (s.create("u"), s.create("u"));
        assert_eq!(s.get(&a).unwrap().user, "u");
        s.remove(&a);
        assert!(s.get(&a).is_none());
        s.remove_user("u");
        assert!(s.get(&b).is_none());
    }
}
