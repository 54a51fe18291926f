//! Berth: a container image registry with the Nexus repository model.
//!
//! # Layout
//! Layers depend downwards only: `http` → `registry` → `storage` / `meta` → `oci`.
//! - [`oci`]: protocol vocabulary (digests, names, manifests, error codes); no I/O.
//! - [`storage`]: content-addressed blob files, hashed while written, published atomically.
//! - [`meta`]: the metadata seam: narrow traits per consumer and the [`meta::Meta`] handle;
//!   `meta/sqlite/` is the embedded backend (sqlx + SQLite) with its migrations,
//!   `meta/postgres/` the shared one (sqlx + PostgreSQL, `[meta] url`) with its own.
//! - [`clock`]: `now()` for stored timestamps and the test clock offset; depends on nothing.
//! - [`registry`]: repositories, their actors (single writers) and in-memory image state.
//! - [`http`]: the OCI Distribution API; the only place errors become HTTP responses.
//! - [`tasks`]: GC, compaction and upload purge as Nexus-style scheduled tasks.
//! - [`metrics`]: Prometheus metric names, descriptions and rendering.
//! - [`usage`]: usage thresholds (requests per rolling 24 h, components) and their actions.
//! - [`sealed`]: secrets at rest (AES-256-GCM under `<data>/secrets.key`).
//! - [`ui`]: the web UI (server-rendered HTML on the main port, `/` and `/ui/…`).
//! - [`config`], [`telemetry`], [`startup`], [`datadir`] (one server per data directory,
//!   private files): wiring.

pub mod admin_client;
pub mod auth;
pub mod cleanup;
pub mod clock;
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
pub mod registry;
pub mod sealed;
pub mod startup;
pub mod storage;
pub mod tasks;
pub mod telemetry;
pub mod tls;
pub mod ui;
pub mod usage;
