//! Settings: defaults in code, then `berth.toml` (if given), then `BERTH_…` environment
//! variables, then command-line flags. Unknown keys are refused so a typo never silently
//! falls back to a default.
//!
//! Environment names mirror the TOML path with `__` between levels, e.g. `BERTH_LISTEN`,
//! `BERTH_DATA_DIR`, `BERTH_LOG__FORMAT`, `BERTH_LIMITS__MANIFEST_MAX_BYTES`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::model::{BlobStoreConfig, RepositoryConfig};

/// Everything Berth can be configured with.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address of the main port (Nexus listens on 8081 too).
    pub listen: SocketAddr,
    /// Directory holding the metadata database and the default blob store.
    pub data_dir: PathBuf,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// The hosted repository that serves `/v2/` on the main port.
    pub default_repository: String,
    pub log: LogSettings,
    pub limits: Limits,
    /// Blob stores declared in the file (created or updated at start; `default` always exists).
    pub blob_stores: Vec<BlobStoreConfig>,
    /// Repositories declared in the file (created or updated at start, idempotently). With
    /// none here and none created at run time, one hosted repository named
    /// `default_repository` is created.
    pub repositories: Vec<RepositoryConfig>,
    /// Who may call the admin REST API (`/service/rest/v1/…` other than status): client
    /// addresses, default loopback only. With security on, an admin user is needed too.
    /// Behind a proxy in `security.trusted_proxies` the forwarded client is judged.
    pub admin_allowed_from: Vec<std::net::IpAddr>,
    /// Usage thresholds (`[usage]`): requests per rolling 24 h and components.
    pub usage: crate::model::usage::UsageSettings,
    pub gc: GcSettings,
    pub security: SecuritySettings,
    pub meta: MetaSettings,
    /// The key that seals secrets at rest (proxy upstream passwords). Default
    /// `<data_dir>/secrets.key`, created on first start. Nodes sharing one database must
    /// share this key (README "Running several nodes"): given here, the file must exist.
    pub secrets_key_file: Option<PathBuf>,
    pub cluster: ClusterSettings,
}

/// Running several nodes on one database and blob store (`[cluster]`, README "Running
/// several nodes").
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// This node's name, put in front of its upload session ids (`<node_id>.<uuid>`) so a
    /// load balancer can send every request of a chunked upload to the node holding the
    /// session. Lowercase letters, digits and `-`, at most 32. None: plain uuids.
    pub node_id: Option<String>,
}

impl ClusterSettings {
    fn validate(&self) -> Result<(), String> {
        let Some(id) = &self.node_id else {
            return Ok(());
        };
        let ok = !id.is_empty()
            && id.len() <= 32
            && !id.starts_with('-')
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(())
        } else {
            Err(format!(
                "cluster.node_id {id:?} must be 1 to 32 lowercase letters, digits or '-' (not first)"
            ))
        }
    }
}

/// The metadata database (`[meta]`). Without a URL: the embedded SQLite file
/// `<data_dir>/berth.db`, the default.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetaSettings {
    /// `postgres://user[:password]@host[:port]/database` for a shared PostgreSQL. A password
    /// here is redacted from `berth config` and every log line; prefer `password_file`,
    /// `PGPASSWORD` or `~/.pgpass`.
    pub url: Option<String>,
    /// A file holding the database password (a container secret), used when the URL has
    /// none. Trailing newlines are ignored.
    pub password_file: Option<PathBuf>,
    /// Connections this node keeps to PostgreSQL at most.
    pub max_connections: u32,
    /// Connections this node keeps apart, at most, for cluster locks and leases (each held
    /// lock or lease occupies one: pushes in flight, a running GC, the scheduler's lease,
    /// proxied downloads; leases at most half of them). A push that finds none free within
    /// `acquire_timeout_secs` gets 503.
    pub lock_connections: u32,
    /// How long a request waits for a database connection before it fails with 503.
    pub acquire_timeout_secs: u64,
}

impl Default for MetaSettings {
    fn default() -> Self {
        MetaSettings {
            url: None,
            password_file: None,
            max_connections: 16,
            lock_connections: 16,
            acquire_timeout_secs: 5,
        }
    }
}

impl MetaSettings {
    /// The URL with its password (if any) replaced, for display.
    pub fn redacted_url(&self) -> Option<String> {
        self.url.as_deref().map(crate::redact::redact_url)
    }
}

impl std::fmt::Debug for MetaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaSettings")
            .field("url", &self.redacted_url())
            .field("password_file", &self.password_file)
            .field("max_connections", &self.max_connections)
            .field("lock_connections", &self.lock_connections)
            .field("acquire_timeout_secs", &self.acquire_timeout_secs)
            .finish()
    }
}

/// Garbage collection and its tasks.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcSettings {
    /// Blobs linked (uploaded, mounted) within this many seconds are never collected, even
    /// if no manifest references them yet: it covers pushes in progress. A task's
    /// `deployOffset` property (hours) overrides it.
    pub grace_secs: u64,
    /// Cron expression (Quartz style, seconds first) of the default `blobstore.compact` task
    /// of every blob store; empty for manual only.
    pub compact_schedule: String,
    /// Enables `PUT /service/rest/v1/berth/clock`, which shifts Berth's clock for tests of
    /// grace windows and cleanup criteria. Never enable it in production.
    pub test_clock: bool,
}

impl Default for GcSettings {
    fn default() -> Self {
        GcSettings {
            grace_secs: 24 * 3600,
            compact_schedule: "0 0 3 * * ?".into(),
            test_clock: false,
        }
    }
}

/// Users, roles, privileges and the Docker token realm (README "Security").
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySettings {
    /// Off by default so the README's start command stays an open registry (what the OCI
    /// conformance suite expects); a WARN at start says so. On: deny by default.
    pub enabled: bool,
    /// Lifetime of Docker bearer tokens, in seconds.
    pub token_ttl_secs: u64,
    /// Lifetime of OAuth2 refresh tokens (`docker login` identity tokens), in seconds.
    pub refresh_ttl_secs: u64,
    /// Password of `admin` on first start instead of a random one written to
    /// `<data_dir>/admin.password` (like Nexus's NEXUS_SECURITY_INITIAL_PASSWORD). Redacted
    /// in `berth config`; prefer the environment (`BERTH_SECURITY__INITIAL_ADMIN_PASSWORD`).
    pub initial_admin_password: Option<Secret>,
    /// Reverse proxies (addresses or CIDR ranges) whose forwarded headers are believed:
    /// `X-Forwarded-For` names the client for the login throttle, the per-client upload cap,
    /// the admin allow-list and the access log; `X-Forwarded-Proto`/`-Host` (or
    /// `Forwarded`'s `proto=`/`host=`), right-most value, set the scheme and host of the
    /// URLs Berth hands back: token realm, admin API `url`s, the web UI's pull commands
    /// (`http::origin`). From anyone else these headers are ignored.
    pub trusted_proxies: crate::model::TrustedProxies,
    /// Failed logins allowed per client (user name and address) within `login_window_secs`
    /// before that client's further attempts get 429. Failures from one address never
    /// throttle another.
    pub login_failures_max: u32,
    /// Failed logins allowed per client address, all user names together, in the window.
    pub login_address_failures_max: u32,
    pub login_window_secs: u64,
    /// Threads that check passwords (argon2id, 19 MiB each, reused); 0 = one per core, at
    /// most 4. Bounds both the CPU and the memory that logins can take.
    pub login_verifiers: usize,
    /// Logins waiting for a verifier at most; beyond it a login gets 429 `TOOMANYREQUESTS`
    /// with `Retry-After: 1` at once.
    pub login_queue: usize,
    /// Serve HTTPS (rustls) on the main port and on connector ports from these PEM files.
    pub tls: Option<TlsSettings>,
    /// A web UI session ends after this many seconds without a request...
    pub ui_session_idle_secs: u64,
    /// ...and this many seconds after sign-in, whatever the activity.
    pub ui_session_max_secs: u64,
    /// The key that signs Docker bearer and refresh tokens. Default `<data_dir>/token.key`,
    /// created on first start. Nodes behind one load balancer must share it, or a token
    /// issued by one is refused by the others: given here, the file must exist.
    pub token_key_file: Option<PathBuf>,
}

impl SecuritySettings {
    /// The number of password verifier threads `login_verifiers` asks for.
    pub fn verifier_threads(&self) -> usize {
        match self.login_verifiers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
            n => n,
        }
    }
}

/// PEM files for HTTPS.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// A configured secret: never shown by `Debug`, redacted by `berth config`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings {
            enabled: false,
            token_ttl_secs: 300,
            refresh_ttl_secs: 7 * 24 * 3600,
            initial_admin_password: None,
            trusted_proxies: Default::default(),
            login_failures_max: 5,
            login_address_failures_max: 20,
            login_window_secs: 60,
            login_verifiers: 0,
            login_queue: 32,
            tls: None,
            ui_session_idle_secs: 30 * 60,
            ui_session_max_secs: 12 * 3600,
            token_key_file: None,
        }
    }
}

/// Logging.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `berth=debug,info`; `RUST_LOG` overrides it.
    pub level: String,
    /// The access log (target `berth::access`): `sampled` (every 4xx/5xx up to 50 a second,
    /// one in `access_sample` of the rest), `full` or `off`.
    pub access: AccessLogMode,
    /// In `sampled` mode, one successful request in this many is logged.
    pub access_sample: u64,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Protocol limits.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest manifest accepted, in bytes (the spec suggests 4 MiB).
    pub manifest_max_bytes: usize,
    /// Upload sessions idle for longer than this are removed with their temp files.
    pub upload_expiry_secs: u64,
    /// Memory given to cached manifest bytes.
    pub manifest_cache_bytes: usize,
    /// Memory (estimated) given to loaded image states (tags, manifests, blob links) of all
    /// repositories together; least recently used images are evicted beyond it and reload
    /// from the database on their next use. The default keeps a server with 1,000,000
    /// tagged manifests under 256 MiB of RSS.
    pub image_cache_bytes: usize,
    /// Most entries one `tags/list` or `_catalog` page returns.
    pub page_max: usize,
    /// Memory for manifest bodies being received, shared by all connections (at least
    /// `manifest_max_bytes`); a `PUT` that finds it used up for 5 s gets 429.
    pub manifest_buffer_bytes: usize,
    /// A blob store whose filesystem has less free space than this makes `/readyz` and
    /// `status/writable` answer 503 (0: no check).
    pub store_min_free_bytes: u64,
    /// Most upload sessions open at once in one repository; more get `429 TOOMANYREQUESTS`.
    /// 0 = no cap.
    pub upload_sessions_per_repository: usize,
    /// Most upload sessions one client address has open at once in one repository; more get
    /// `429 TOOMANYREQUESTS`. 0 = no cap.
    pub upload_sessions_per_client: usize,
    /// A request body that sends nothing for this many seconds is cut (what arrived of an
    /// upload chunk is kept, so the client can resume).
    pub body_read_timeout_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "0.0.0.0:8081".parse().expect("valid default address"),
            data_dir: PathBuf::from("berth-data"),
            workers: 0,
            default_repository: "docker-hosted".into(),
            log: LogSettings::default(),
            limits: Limits::default(),
            blob_stores: Vec::new(),
            repositories: Vec::new(),
            admin_allowed_from: vec![
                std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::Ipv6Addr::LOCALHOST.into(),
            ],
            usage: Default::default(),
            gc: GcSettings::default(),
            security: SecuritySettings::default(),
            meta: MetaSettings::default(),
            secrets_key_file: None,
            cluster: ClusterSettings::default(),
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Text,
            level: "info".into(),
            access: Default::default(),
            access_sample: 1000,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            manifest_max_bytes: 4 << 20,
            upload_expiry_secs: 24 * 3600,
            manifest_cache_bytes: 64 << 20,
            image_cache_bytes: 64 << 20,
            page_max: 10_000,
            manifest_buffer_bytes: 16 << 20,
            store_min_free_bytes: 256 << 20,
            upload_sessions_per_repository: 4096,
            upload_sessions_per_client: 256,
            body_read_timeout_secs: 60,
        }
    }
}

/// Command-line values that override every other layer.
#[derive(Debug, Default, Serialize)]
pub struct CliOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

impl Settings {
    /// Builds the effective settings from all layers and validates them.
    pub fn load(file: Option<&Path>, cli: &CliOverrides) -> anyhow::Result<Self> {
        Ok(Self::load_with_warnings(file, cli)?.0)
    }

    /// As [`Settings::load`], plus warnings to log once logging is set up (unknown
    /// top-level `BERTH_…` variables, which are ignored). Every error found is reported at
    /// once, not only the first.
    pub fn load_with_warnings(
        file: Option<&Path>,
        cli: &CliOverrides,
    ) -> anyhow::Result<(Self, Vec<String>)> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            if !path.is_file() {
                anyhow::bail!(
                    "config file {} does not exist or is not a file (--config / BERTH_CONFIG)",
                    path.display()
                );
            }
            figment = figment.merge(Toml::file(path));
        }
        let env = crate::config_env::scan(std::env::vars())?;
        let settings: Settings = figment
            .merge(env.provider())
            .merge(Serialized::defaults(cli))
            .extract()
            .map_err(|e| {
                let all: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
                anyhow::anyhow!("invalid configuration: {}", all.join("; "))
            })?;
        settings.validate()?;
        Ok((settings, env.warnings))
    }

    /// Checks what types alone cannot; every problem is listed, not only the first.
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut errors: Vec<String> = Vec::new();
        let mut check = |ok: bool, message: &str| {
            if !ok {
                errors.push(message.to_string());
            }
        };
        check(
            self.limits.manifest_max_bytes >= 1024,
            "limits.manifest_max_bytes must be at least 1024",
        );
        check(self.limits.page_max > 0, "limits.page_max must be positive");
        check(
            self.limits.body_read_timeout_secs > 0,
            "limits.body_read_timeout_secs must be positive",
        );
        check(
            self.security.token_ttl_secs > 0 && self.security.login_window_secs > 0,
            "security.token_ttl_secs and security.login_window_secs must be positive",
        );
        if let Some(url) = &self.meta.url {
            check(
                url.starts_with("postgres://") || url.starts_with("postgresql://"),
                "meta.url must be a postgres:// URL (leave it out for the embedded SQLite)",
            );
        }
        check(
            self.meta.max_connections > 0
                && self.meta.lock_connections > 0
                && self.meta.acquire_timeout_secs > 0,
            "meta.max_connections, meta.lock_connections and meta.acquire_timeout_secs must be \
             positive",
        );
        if let Some(p) = &self.security.initial_admin_password {
            check(
                !p.0.trim().is_empty(),
                "security.initial_admin_password must not be blank",
            );
        }
        let mut push = |r: anyhow::Result<()>| {
            if let Err(e) = r {
                errors.push(e.to_string());
            }
        };
        push(
            crate::model::validate_name("default_repository", &self.default_repository)
                .map_err(Into::into),
        );
        push(self.usage.validate());
        push(self.cluster.validate().map_err(anyhow::Error::msg));
        // Name the offending entry: the model's messages only name the field.
        for store in &self.blob_stores {
            push(
                store
                    .validate()
                    .map_err(|e| anyhow::anyhow!("blob store {:?}: {e}", store.name)),
            );
        }
        for repo in &self.repositories {
            push(
                repo.validate()
                    .map_err(|e| anyhow::anyhow!("repository {:?}: {e}", repo.name)),
            );
        }
        match errors.len() {
            0 => Ok(()),
            1 => anyhow::bail!("{}", errors[0]),
            n => anyhow::bail!("{n} configuration errors: {}", errors.join("; ")),
        }
    }

    /// The effective settings as TOML, for `berth config`.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        // Upstream credentials of proxy repositories are never printed.
        let mut shown = self.clone();
        for repo in &mut shown.repositories {
            repo.proxy = repo.proxy.as_ref().map(|p| p.redacted());
        }
        for store in &mut shown.blob_stores {
            *store = store.redacted();
        }
        if let Some(p) = shown.security.initial_admin_password.as_mut() {
            p.0 = "<redacted>".into();
        }
        shown.meta.url = shown.meta.redacted_url();
        Ok(toml::to_string_pretty(&shown)?)
    }
}

/// `log.access`.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AccessLogMode {
    /// Every 4xx/5xx (flood-limited) and one in `access_sample` of the others.
    #[default]
    Sampled,
    /// Every request.
    Full,
    Off,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_serialize() {
        let s = Settings::default();
        s.validate().unwrap();
        assert!(s.to_toml().unwrap().contains("listen = \"0.0.0.0:8081\""));
    }

    #[test]
    fn repositories_and_blob_stores_can_be_declared_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.toml");
        std::fs::write(
            &path,
            r#"
[[blob_stores]]
name = "fast"
path = "fast"

[[repositories]]
name = "docker-hosted"
type = "hosted"
blob_store = "fast"
http_port = 8082
write_policy = "ALLOW_ONCE"

[[repositories]]
name = "docker-group"
type = "group"
members = ["docker-hosted"]
writable_member = "docker-hosted"
"#,
        )
        .unwrap();
        let s = Settings::load(Some(&path), &CliOverrides::default()).unwrap();
        assert_eq!(s.repositories.len(), 2);
        assert_eq!(s.repositories[0].http_port, Some(8082));
        assert_eq!(s.blob_stores[0].name, "fast");
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\nlisten_typo = 1\n").unwrap();
        assert!(Settings::load(Some(&path), &CliOverrides::default()).is_err());
    }

    #[test]
    fn trusted_proxies_take_addresses_and_ranges_and_refuse_anything_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.toml");
        let load = |list: &str| {
            std::fs::write(&path, format!("[security]\ntrusted_proxies = {list}\n")).unwrap();
            Settings::load(Some(&path), &CliOverrides::default())
        };
        let s = load(r#"["127.0.0.1", "::1", "10.0.0.0/8", "fd00::/8"]"#).unwrap();
        let trusted = &s.security.trusted_proxies;
        assert!(trusted.trusts("10.3.2.1".parse().unwrap()));
        assert!(trusted.trusts("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!trusted.trusts("127.0.0.2".parse().unwrap()));
        let err = load(r#"["127.0.0.1", "proxy.internal"]"#).unwrap_err();
        assert!(err.to_string().contains("\"proxy.internal\""), "{err}");
    }

    #[test]
    fn file_then_cli_layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\n[limits]\nmanifest_max_bytes = 2048\n",
        )
        .unwrap();
        let cli = CliOverrides {
            data_dir: Some("/tmp/x".into()),
            ..Default::default()
        };
        let s = Settings::load(Some(&path), &cli).unwrap();
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.limits.manifest_max_bytes, 2048);
        assert_eq!(s.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn a_database_password_is_never_shown() {
        let mut s = Settings::default();
        s.meta.url = Some("postgres://berth:hunter2@db/berth".into());
        s.validate().unwrap();
        let shown = format!("{s:?}\n{}", s.to_toml().unwrap());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("postgres://berth:<redacted>@db/berth"),
            "{shown}"
        );
    }

    #[test]
    fn a_meta_url_other_than_postgres_is_refused() {
        let mut s = Settings::default();
        s.meta.url = Some("mysql://db/berth".into());
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("meta.url"), "{err}");
    }
}
