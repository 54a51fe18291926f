//! [`Security`]: the security model in memory, answering "who is this?" (Basic
//! credentials, checked against argon2 hashes, throttled) and "may they?" (privileges of the
//! user's roles, or of the anonymous user when anonymous access applies).
//!
//! Readers take an `Arc` snapshot of [`State`] (no lock held while deciding); a change
//! builds the next state, writes it to the database, then swaps it in, one change at a time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use ring::hmac;
use serde::{Deserialize, Serialize};

use super::model::{self, Action, Grant, Privilege, Role, User, ANONYMOUS_USER};
use super::throttle::Throttle;
use super::token::{Claims, TokenKeys};
use super::verifier::Verifier;
use super::{password, AuthError};
use crate::config::SecuritySettings;
use crate::meta::{SecurityRecords, SecurityTable as Table};
use crate::model::RepositoryConfig;

/// The realms Berth knows: id and Nexus display name.
pub const REALMS: [(&str, &str); 3] = [
    ("NexusAuthenticatingRealm", "Local Authenticating Realm"),
    ("NexusAuthorizingRealm", "Local Authorizing Realm"),
    ("DockerToken", "Docker Bearer Token Realm"),
];
pub const DOCKER_TOKEN_REALM: &str = "DockerToken";

/// Who made a request.
#[derive(Clone, Debug)]
pub enum Principal {
    Anonymous,
    /// Authenticated with a password (Basic).
    User(String),
    /// Presented a valid bearer token.
    Token(Claims),
}

/// Nexus `/v1/security/anonymous`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AnonymousSettings {
    pub enabled: bool,
    pub user_id: String,
    pub realm_name: String,
}

impl Default for AnonymousSettings {
    fn default() -> Self {
        AnonymousSettings {
            enabled: false,
            user_id: ANONYMOUS_USER.into(),
            realm_name: "NexusAuthorizingRealm".into(),
        }
    }
}

/// The whole security model.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub users: HashMap<String, User>,
    /// Built-in and custom roles.
    pub roles: HashMap<String, Role>,
    /// Custom privileges only; built-in ones are derived from their names.
    pub privileges: HashMap<String, Privilege>,
    pub realms: Vec<String>,
    pub anonymous: AnonymousSettings,
}

impl State {
    /// The privilege `name`: custom, or built-in (`exists` says which repositories exist).
    pub fn privilege(&self, name: &str, exists: impl Fn(&str) -> bool) -> Option<Privilege> {
        self.privileges
            .get(name)
            .cloned()
            .or_else(|| model::builtin_privilege(name, exists))
    }

    fn grants_of(&self, user: &User) -> Vec<Grant> {
        model::effective_grants(&user.roles, &self.roles, |p| {
            self.privilege(p, |_| true).map(|p| p.grant)
        })
    }
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

pub struct Security {
    pub settings: SecuritySettings,
    /// HTTPS configuration for every listener, when `security.tls` is set.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub tokens: TokenKeys,
    pub(super) store: Arc<dyn SecurityRecords>,
    pub(super) data_dir: PathBuf,
    state: RwLock<Arc<State>>,
    pub(super) write: tokio::sync::Mutex<()>,
    throttle: Throttle,
    /// The bounded pool every password check goes through.
    verifier: Verifier,
    /// HMAC(user, password) → (user id, when verified); cleared on every model change.
    /// Consulted only after the throttle admitted the attempt, and a miss goes to the
    /// verifier: it saves repeated checks of right passwords, never bypasses a limit.
    verified: DashMap<Vec<u8>, (String, Instant)>,
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
        let tokens = TokenKeys::load_or_create(&data_dir.join("token.key"))?;
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
            store,
            data_dir: data_dir.to_path_buf(),
            state: RwLock::new(Arc::new(State::default())),
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
        self.state.read().expect("state lock").clone()
    }

    pub(super) fn replace(&self, next: State) {
        *self.state.write().expect("state lock") = Arc::new(next);
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

    /// Whether the Docker Bearer Token realm is active (else clients get Basic challenges).
    pub fn token_realm_active(&self) -> bool {
        self.snapshot()
            .realms
            .iter()
            .any(|r| r == DOCKER_TOKEN_REALM)
    }

    /// Checks a user name and password, throttled per client (user + address) and per
    /// address, on the bounded verifier pool.
    pub async fn login(
        &self,
        user_id: &str,
        secret: &str,
        client: Option<IpAddr>,
    ) -> Result<String, AuthError> {
        let client_tag = hmac::sign(&self.cache_key, format!("{user_id}\0{client:?}").as_bytes());
        let client_key = client_tag.as_ref().to_vec();
        let known_client = self.is_known_client(&client_key);
        let Ok(attempt) = self.throttle.reserve(user_id, client, known_client).await else {
            tracing::warn!(user = user_id, client = ?client, "login throttled");
            return Err(AuthError::Throttled);
        };
        let tag = hmac::sign(&self.cache_key, format!("{user_id}\0{secret}").as_bytes());
        let cache_key = tag.as_ref().to_vec();
        if let Some(hit) = self.verified.get(&cache_key) {
            if hit.1.elapsed() < VERIFIED_TTL && self.can_log_in(user_id) {
                attempt.succeeded();
                self.remember_client(client_key);
                return Ok(hit.0.clone());
            }
        }
        let hash = self
            .snapshot()
            .users
            .get(user_id)
            .filter(|u| u.status.can_log_in())
            .map(|u| u.password_hash.clone());
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| password::decoy_hash().to_string());
        let Ok(ok) = self.verifier.verify(secret, &hash, known_client).await else {
            // Dropping `attempt` gives its slot back: a refusal for load is no failure.
            tracing::warn!(user = user_id, client = ?client, "login refused: verifier queue full");
            return Err(AuthError::Busy);
        };
        if ok && known {
            attempt.succeeded();
            self.remember(cache_key, user_id);
            self.remember_client(client_key);
            Ok(user_id.to_string())
        } else {
            // The user name and address only: never the password that was tried.
            tracing::warn!(user = user_id, client = ?client, "login failed");
            attempt.failed();
            Err(AuthError::BadCredentials)
        }
    }

    fn remember(&self, cache_key: Vec<u8>, user_id: &str) {
        if self.verified.len() >= VERIFIED_MAX {
            self.verified.retain(|_, v| v.1.elapsed() < VERIFIED_TTL);
        }
        if self.verified.len() < VERIFIED_MAX {
            self.verified
                .insert(cache_key, (user_id.to_string(), Instant::now()));
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
        self.snapshot()
            .users
            .get(user_id)
            .is_some_and(|u| u.status.can_log_in())
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
        let state = self.snapshot();
        if !state.anonymous.enabled
            || repo.force_basic_auth
            || !matches!(action, Action::Read | Action::Browse)
        {
            return false;
        }
        let Some(user) = state.users.get(&state.anonymous.user_id) else {
            return false;
        };
        user.status.can_log_in()
            && state
                .grants_of(user)
                .iter()
                .any(|g| g.allows(&repo.name, action))
    }

    pub fn user_permits(&self, user_id: &str, repository: &str, action: Action) -> bool {
        let state = self.snapshot();
        let Some(user) = state.users.get(user_id).filter(|u| u.status.can_log_in()) else {
            return false;
        };
        state
            .grants_of(user)
            .iter()
            .any(|g| g.allows(repository, action))
    }

    /// Whether the user holds `nx-metrics-all` or `nx-all`: metrics and `status/check`.
    pub fn may_read_metrics(&self, user_id: &str) -> bool {
        let state = self.snapshot();
        state
            .users
            .get(user_id)
            .filter(|u| u.status.can_log_in())
            .is_some_and(|u| {
                let grants = state.grants_of(u);
                grants.contains(&Grant::All) || grants.contains(&Grant::Metrics)
            })
    }

    /// Whether the user holds `nx-all` (directly or through roles): the admin API.
    pub fn is_admin(&self, user_id: &str) -> bool {
        let state = self.snapshot();
        state
            .users
            .get(user_id)
            .filter(|u| u.status.can_log_in())
            .is_some_and(|u| state.grants_of(u).contains(&Grant::All))
    }
}
