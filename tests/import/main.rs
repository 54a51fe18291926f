//! `berth import nexus` from outside: a second Berth, configured like the seeds' Nexus
//! set-ups over the Nexus REST shapes and filled by real clients, is the source; the
//! import runs as the real `berth` binary into a target Berth; the target is then checked
//! over its admin API and with `docker pull`.

#[path = "../common/mod.rs"]
mod common;

mod configuration;
mod content;
mod proxies;
mod resume;
mod support;
mod throughput;
