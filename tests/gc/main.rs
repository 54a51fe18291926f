//! Garbage collection and tasks seen from outside: disk reclaimed exactly after deletes
//! (files and byte counts), pushes racing collections, a crash in the middle of one, the
//! Nexus task API and upload purge, cleanup policies. Time is moved with the test clock
//! (`gc.test_clock`), never waited for.

#[path = "../common/mod.rs"]
mod common;

mod cleanup;
mod crash;
mod docker_cli;
mod proxy_race;
mod race;
mod reclaim;
mod sparse;
mod support;
mod tasks;
