//! The `berth-load` binary against a started Berth: a short storm of every scenario completes
//! with 0 errors and every pulled byte verified, and a registry serving wrong bytes is caught.
//! Sizes are small and runs are counted, not timed: timings never gate.

#[path = "../common/mod.rs"]
mod common;

mod scenarios;
mod support;
