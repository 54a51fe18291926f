//! Black-box protocol tests: the real `berth` binary on a random port with its own data
//! directory, spoken to with raw HTTP (`reqwest`), one module per endpoint group, covering
//! each requirement of the OCI Distribution Spec v1.1 and every bad input we refuse.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod base_and_catalog;
mod blobs;
mod manifests;
mod referrers;
mod tags;
mod uploads;
