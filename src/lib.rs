//! Berth: a container image registry with the Nexus repository model.
//!
//! # Layout
//! Layers, lowest first; a module imports only from its own layer and those below it, and
//! never round a circle (`scripts/import-graph.py` checks both; README "Architecture" has
//! the picture):
//! 1. Vocabulary: [`oci`] (digests, names, manifests, error codes; no I/O), [`model`] (the
//!    plain data several layers share: repository, blob store, proxy, cleanup policy, task
//!    and usage definitions), [`metrics`] (metric names and descriptions only),
//!    [`clock`] (`now()` for stored timestamps and the test clock offset), [`config_env`],
//!    [`datadir`] (one server per data directory, private files), [`process`], [`redact`]
//!    (database URLs as they may be shown).
//! 2. Settings: [`config`] (the settings tree), [`telemetry`], [`tls`].
//! 3. Stores: [`storage`] (blob stores: the `BlobStore` seam, the file store and the S3
//!    store under `storage/s3/`; `ManagedStore` adds the GC reference lock and the quota to
//!    any backend), [`meta`] (metadata traits; SQLite under `meta/sqlite/`, PostgreSQL under
//!    `meta/postgres/` for `[meta] url`), [`auth`] (users, roles, privileges, tokens, sessions),
//!    [`sealed`] (secrets at rest under `<data>/secrets.key` or `secrets_key_file`).
//! 4. Services: [`proxy`] (upstream client), [`usage`] (usage thresholds and actions),
//!    [`cleanup`] (cleanup-policy evaluation).
//! 5. [`registry`]: repositories, their actors (single writers), image state, caches; GC,
//!    cleanup runs, the proxy cache and pre-warming.
//! 6. [`tasks`]: Nexus-style scheduled tasks (GC, compaction, upload purge, cleanup, warm).
//! 7. Ways in: [`http`] (the OCI API with its one addressing resolver, the client address
//!    behind trusted proxies, token realm, gate, admin API, metrics scrape; the only place
//!    errors become HTTP responses), [`ui`] (the web UI), [`import`] (`berth import nexus`),
//!    [`admin_client`], [`preflight`].
//! 8. Composition: [`startup`] (the composition root), [`app`] (the App every port serves),
//!    [`connectors`] (per-repository ports, handed to http as `http::ports::Ports`),
//!    [`coherence`] (applies other nodes' changes, announced by `meta::Changes`).

pub mod admin_client;
pub mod app;
pub mod auth;
pub mod cleanup;
pub mod clock;
pub mod coherence;
pub mod config;
pub mod config_env;
pub mod connectors;
pub mod datadir;
pub mod http;
pub mod import;
pub mod meta;
pub mod metrics;
pub mod model;
pub mod oci;
pub mod preflight;
pub mod process;
pub mod proxy;
pub mod redact;
pub mod registry;
pub mod sealed;
pub mod startup;
pub mod storage;
pub mod tasks;
pub mod telemetry;
pub mod tls;
pub mod ui;
pub mod usage;
