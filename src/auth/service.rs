//! [`Security`]: the security model in memory, answering "who is this?" (Basic
//! credentials, checked against argon2 hashes, throttled) and "may they?" (privileges of the
//! user's roles, or of the anonymous user when anonymous access applies).
//!
//! Readers take an `Arc` snapshot of [`State`] (no lock held while deciding); a change
//! builds the next state, writes it to the database, then swaps it in, one change at a time.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use ring::hmac;

use super::model::{self, Action, Grant, Privilege, Role, User};
use super::resolved::Resolved;
pub use super::state::{AnonymousSettings, State, DOCKER_TOKEN_REALM, REALMS};
use super::throttle::Throttle;
use super::token::{Claims, TokenKeys, Use};
use super::token_cache::TokenCache;
use super::verifier::Verifier;
use super::{password, AuthError};
use crate::config::SecuritySettings;
use crate::meta::{SecurityRecords, SecurityTable as Table};
use crate::model::RepositoryConfig;

/// Who made a request. Cheap to clone: the user id and the claims are shared with the
/// verified-credential and verified-token caches, not copied per request.
#[derive(Clone, Debug)]
pub enum Principal {
    Anonymous,
    /// Authenticated with a password (Basic).
    User(Arc<str>),
    /// Presented a valid bearer token.
    Token(Arc<Claims>),
}

/// How long a verified password is remembered, so Basic-authenticated clients (which send
/// credentials on every request) do not pay an argon2 hash per request.
const VERIFIED_TTL: Duration = Duration::from_secs(60);
/// Verified credentials remembered at most (only correct ones are, so this is a bound on
/// memory, not on attackers).
const VERIFIED_MAX: usize = 10_000;
/// How long a (user, address) that logged in stays a "known client" whose password checks
/// go to the verifier's priority lane (a week: a CI machine that logs in weekly stays known).
const KNOWN_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

/// The published model and what requests need from it, swapped together.
#[derive(Default)]
struct Current {
    state: Arc<State>,
    resolved: Resolved,
    /// Counts the models published; a verified password remembers the one it was checked
    /// against and is worthless under any other.
    epoch: u64,
}

/// A password that verified: for whom, when, against which model.
struct Verified {
    user: Arc<str>,
    at: Instant,
    epoch: u64,
}

pub struct Security {
    pub settings: SecuritySettings,
    /// HTTPS configuration for every listener, when `security.tls` is set.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub tokens: TokenKeys,
    /// Access tokens that verified (see [`TokenCache`]).
    verified_tokens: TokenCache,
    pub(super) store: Arc<dyn SecurityRecords>,
    pub(super) data_dir: PathBuf,
    current: RwLock<Current>,
    pub(super) write: tokio::sync::Mutex<()>,
    throttle: Throttle,
    /// The bounded pool every password check goes through.
    verifier: Verifier,
    /// HMAC(user, password) → the user, when verified, under which model; cleared on every
    /// model change. A hit skips the throttle only while the throttle is idle (no check in
    /// flight and no failure in its window, from anyone), when taking and returning a slot
    /// would change nothing; otherwise it is consulted after the throttle admitted the attempt,
    /// and a miss goes to the verifier: it saves repeated checks of right passwords, never
    /// bypasses a limit.
    verified: DashMap<[u8; 32], Verified>,
    /// HMAC(user, address) of clients that logged in → when they last did (bounded like
    /// `verified`). Their checks skip the crowd in the verifier queue.
    known_clients: DashMap<Vec<u8>, Instant>,
    cache_key: hmac::Key,
    /// Signed-in web UI browsers.
    pub sessions: super::session::Sessions,
}

impl Security {
    /// Loads the model from `store` (bootstrapping `admin` on first start) and the token
    /// signing key.
    pub async fn open(
        settings: &SecuritySettings,
        data_dir: &Path,
        store: Arc<dyn SecurityRecords>,
    ) -> anyhow::Result<Self> {
        let tokens = match &settings.token_key_file {
            Some(shared) => TokenKeys::load(shared)?,
            None => TokenKeys::load_or_create(&data_dir.join("token.key"))?,
        };
        let rng = ring::rand::SystemRandom::new();
        let tls = settings
            .tls
            .as_ref()
            .map(crate::tls::server_config)
            .transpose()?;
        let security = Security {
            settings: settings.clone(),
            tls,
            tokens,
            verified_tokens: TokenCache::default(),
            store,
            data_dir: data_dir.to_path_buf(),
            current: RwLock::new(Current::default()),
            write: tokio::sync::Mutex::new(()),
            throttle: Throttle::new(
                settings.login_failures_max,
                settings.login_address_failures_max,
                Duration::from_secs(settings.login_window_secs),
            ),
            verifier: Verifier::start(settings.verifier_threads(), settings.login_queue)?,
            verified: DashMap::new(),
            known_clients: DashMap::new(),
            cache_key: hmac::Key::generate(hmac::HMAC_SHA256, &rng)
                .map_err(|_| anyhow::anyhow!("no system randomness"))?,
            sessions: super::session::Sessions::new(
                Duration::from_secs(settings.ui_session_idle_secs),
                Duration::from_secs(settings.ui_session_max_secs),
            ),
        };
        security.bootstrap().await?;
        security.reload().await?;
        Ok(security)
    }

    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    pub fn snapshot(&self) -> Arc<State> {
        self.current().state.clone()
    }

    fn current(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        self.current.read().expect("state lock")
    }

    pub(super) fn replace(&self, next: State) {
        let resolved = Resolved::of(&next);
        {
            let mut current = self.current.write().expect("state lock");
            current.epoch += 1;
            current.state = Arc::new(next);
            current.resolved = resolved;
        }
        self.verified.clear();
    }

    /// Reads the whole model from the database.
    pub(super) async fn reload(&self) -> Result<(), AuthError> {
        let mut state = State::default();
        for u in self.store.load::<User>(Table::Users).await? {
            state.users.insert(u.user_id.clone(), u);
        }
        for r in model::builtin_roles() {
            state.roles.insert(r.id.clone(), r);
        }
        for r in self.store.load::<Role>(Table::Roles).await? {
            state.roles.insert(r.id.clone(), r);
        }
        for p in self.store.load::<Privilege>(Table::Privileges).await? {
            state.privileges.insert(p.name.clone(), p);
        }
        state.realms = self
            .store
            .get(Table::Settings, "realms")
            .await?
            .unwrap_or_else(|| REALMS[..2].iter().map(|r| r.0.to_string()).collect());
        state.anonymous = self
            .store
            .get(Table::Settings, "anonymous")
            .await?
            .unwrap_or_default();
        self.replace(state);
        Ok(())
    }

    /// Reads the model again after another node changed it (see `meta::Changes`). As with
    /// every published change, remembered passwords are forgotten (a changed password or
    /// a disabled user is refused at once), and signed-in UI sessions of users who may no
    /// longer log in end. Bearer tokens need nothing: each request re-checks their user
    /// against the live model ([`Security::token_is_current`]).
    pub async fn refresh(&self) -> Result<(), AuthError> {
        let _write = self.write.lock().await;
        let before: Vec<String> = self.snapshot().users.keys().cloned().collect();
        self.reload().await?;
        for user in before.iter().filter(|u| !self.can_log_in(u)) {
            self.sessions.remove_user(user);
        }
        Ok(())
    }

    /// Whether the Docker Bearer Token realm is active (else clients get Basic challenges).
    pub fn token_realm_active(&self) -> bool {
        self.current().resolved.token_realm
    }

    /// The claims of a bearer access token: from the verified-token cache, or verified in
    /// full and remembered. Whether its user may still act is for the caller to check
    /// ([`Security::can_log_in`], [`Security::permits`]), on every request.
    pub fn access_token(&self, token: &str, now: i64) -> Result<Arc<Claims>, AuthError> {
        if let Some(claims) = self.verified_tokens.get(token, now) {
            return Ok(claims);
        }
        let claims = Arc::new(self.tokens.verify(token, Use::Access, now)?);
        self.verified_tokens.insert(token, &claims, now);
        Ok(claims)
    }

    /// Checks a user name and password, throttled per client (user + address) and per
    /// address, on the bounded verifier pool.
    pub async fn login(
        &self,
        user_id: &str,
        secret: &str,
        client: Option<IpAddr>,
    ) -> Result<Arc<str>, AuthError> {
        let cache_key = self.credential_key(user_id, secret);
        // Nothing to count against and nothing to wait for: the throttle would admit this
        // attempt and forget it again on success, so a remembered password is the answer
        // (the steady state of a Basic client, which sends its password on every request).
        if self.throttle.is_idle() {
            if let Some(user) = self.verified_user(&cache_key) {
                return Ok(user);
            }
        }
        let client_tag = hmac::sign(&self.cache_key, format!("{user_id}\0{client:?}").as_bytes());
        let client_key = client_tag.as_ref().to_vec();
        let known_client = self.is_known_client(&client_key);
        let Ok(attempt) = self.throttle.reserve(user_id, client, known_client).await else {
            tracing::warn!(user = user_id, client = ?client, "login throttled");
            return Err(AuthError::Throttled);
        };
        if let Some(user) = self.verified_user(&cache_key) {
            attempt.succeeded();
            self.remember_client(client_key);
            return Ok(user);
        }
        let (hash, epoch) = {
            let current = self.current();
            let hash = current
                .state
                .users
                .get(user_id)
                .filter(|u| u.status.can_log_in())
                .map(|u| u.password_hash.clone());
            (hash, current.epoch)
        };
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| password::decoy_hash().to_string());
        let Ok(ok) = self.verifier.verify(secret, &hash, known_client).await else {
            // Dropping `attempt` gives its slot back: a refusal for load is no failure.
            tracing::warn!(user = user_id, client = ?client, "login refused: verifier queue full");
            return Err(AuthError::Busy);
        };
        if ok && known {
            attempt.succeeded();
            let user: Arc<str> = user_id.into();
            self.remember(cache_key, &user, epoch);
            self.remember_client(client_key);
            Ok(user)
        } else {
            // The user name and address only: never the password that was tried.
            tracing::warn!(user = user_id, client = ?client, "login failed");
            attempt.failed();
            Err(AuthError::BadCredentials)
        }
    }

    /// The verified-credential cache key: an HMAC under a key that lives in memory only, so
    /// the cache holds no password (the user id goes in length-first: no two pairs collide).
    fn credential_key(&self, user_id: &str, secret: &str) -> [u8; 32] {
        let mut mac = hmac::Context::with_key(&self.cache_key);
        mac.update(&(user_id.len() as u64).to_le_bytes());
        mac.update(user_id.as_bytes());
        mac.update(secret.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(mac.sign().as_ref());
        key
    }

    /// The user a remembered password belongs to, if it was verified lately, under the
    /// model still published, and the user may still log in.
    fn verified_user(&self, cache_key: &[u8; 32]) -> Option<Arc<str>> {
        let hit = self.verified.get(cache_key)?;
        if hit.at.elapsed() >= VERIFIED_TTL {
            return None;
        }
        let current = self.current();
        let live = hit.epoch == current.epoch && current.resolved.grants(&hit.user).is_some();
        live.then(|| hit.user.clone())
    }

    /// Remembers a verified password, unless the model changed while it was being checked
    /// (it was checked against a hash that may be gone).
    fn remember(&self, cache_key: [u8; 32], user: &Arc<str>, epoch: u64) {
        if self.current().epoch != epoch {
            return;
        }
        if self.verified.len() >= VERIFIED_MAX {
            self.verified.retain(|_, v| v.at.elapsed() < VERIFIED_TTL);
        }
        if self.verified.len() < VERIFIED_MAX {
            let (user, at) = (user.clone(), Instant::now());
            self.verified
                .insert(cache_key, Verified { user, at, epoch });
        }
    }

    fn is_known_client(&self, client_key: &[u8]) -> bool {
        self.known_clients
            .get(client_key)
            .is_some_and(|t| t.elapsed() < KNOWN_FOR)
    }

    fn remember_client(&self, client_key: Vec<u8>) {
        if self.known_clients.len() >= VERIFIED_MAX {
            self.known_clients.retain(|_, t| t.elapsed() < KNOWN_FOR);
        }
        if self.known_clients.len() < VERIFIED_MAX {
            self.known_clients.insert(client_key, Instant::now());
        }
    }

    /// Whether a token's subject may still use it: the user exists, may log in, and has the
    /// credential generation the token was issued under (see `User::credential_generation`).
    pub fn token_is_current(&self, claims: &Claims) -> bool {
        let Some(sub) = &claims.sub else {
            return true;
        };
        self.snapshot().users.get(sub).is_some_and(|u| {
            u.status.can_log_in()
                && u.credential_generation == claims.generation.as_deref().unwrap_or_default()
        })
    }

    /// The credential generation to put in a token for `user_id`.
    pub fn credential_generation(&self, user_id: &str) -> Option<String> {
        self.snapshot()
            .users
            .get(user_id)
            .map(|u| u.credential_generation.clone())
    }

    /// Whether `user_id` exists and may log in now.
    pub fn can_log_in(&self, user_id: &str) -> bool {
        self.current().resolved.grants(user_id).is_some()
    }

    /// Whether the principal may do `action` on `repo` *now* (tokens are re-checked against
    /// the live model too, so disabling a user or removing a privilege takes effect at once).
    pub fn permits(&self, who: &Principal, repo: &RepositoryConfig, action: Action) -> bool {
        match who {
            Principal::Anonymous => self.anonymous_permits(repo, action),
            Principal::User(id) => self.user_permits(id, &repo.name, action),
            Principal::Token(claims) => match &claims.sub {
                Some(id) => self.user_permits(id, &repo.name, action),
                None => self.anonymous_permits(repo, action),
            },
        }
    }

    /// Anonymous access: the global switch, the repository's "allow anonymous pull"
    /// (`forceBasicAuth: false`), read-only actions, and the anonymous user's privileges.
    pub fn anonymous_permits(&self, repo: &RepositoryConfig, action: Action) -> bool {
        if repo.force_basic_auth || !matches!(action, Action::Read | Action::Browse) {
            return false;
        }
        self.current()
            .resolved
            .anonymous_grants()
            .is_some_and(|grants| grants.iter().any(|g| g.allows(&repo.name, action)))
    }

    pub fn user_permits(&self, user_id: &str, repository: &str, action: Action) -> bool {
        self.current()
            .resolved
            .grants(user_id)
            .is_some_and(|grants| grants.iter().any(|g| g.allows(repository, action)))
    }

    /// Whether the user holds `nx-metrics-all` or `nx-all`: metrics and `status/check`.
    pub fn may_read_metrics(&self, user_id: &str) -> bool {
        self.current()
            .resolved
            .grants(user_id)
            .is_some_and(|grants| grants.contains(&Grant::All) || grants.contains(&Grant::Metrics))
    }

    /// Whether the user holds `nx-all` (directly or through roles): the admin API.
    pub fn is_admin(&self, user_id: &str) -> bool {
        self.current()
            .resolved
            .grants(user_id)
            .is_some_and(|grants| grants.contains(&Grant::All))
    }
}
