//! The Nexus repository model seen from outside: groups, write policies, the three ways of
//! addressing a repository, blob stores with quotas, configuration errors and persistence,
//! each against the real server started with a TOML configuration file.

#[path = "../common/mod.rs"]
mod common;

mod addressing;
mod blob_stores;
mod config_errors;
mod docker_cli;
mod groups;
mod persistence;
mod support;
mod write_policies;
