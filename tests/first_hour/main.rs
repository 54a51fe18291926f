//! A new user's first hour (issue 14), from outside: the README's commands are what CI runs,
//! the CLI works with security on, the health probe of the container image, Nexus clients
//! (nexus3-cli) connect, documented admin endpoints exist, metrics have their own scrape
//! privilege, start-up errors say what to do, and the access log.

#[path = "../common/mod.rs"]
mod common;

#[path = "../security/support.rs"]
#[allow(dead_code)]
mod security_support;

mod access_log;
mod ci;
mod cli;
mod documented_endpoints;
mod health;
mod metrics_access;
mod nexus_clients;
mod recipes;
mod startup_errors;

/// A file of the repository.
pub fn repo_file(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}
