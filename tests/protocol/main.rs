//! Black-box protocol tests: the real `berth` binary on a random port with its own data
//! directory, spoken to with raw HTTP (`reqwest`, or a TCP socket for requests `reqwest`
//! will not send), one module per endpoint group, covering each requirement of the OCI
//! Distribution Spec v1.1 and every bad input we refuse. `/work/notes/spec-coverage.md`
//! maps the spec's requirements to these tests.

#[path = "../common/mod.rs"]
mod common;
mod support;

mod bad_digests;
mod bad_input;
mod bad_manifests;
mod bad_names;
mod base_and_catalog;
mod blobs;
mod deletion;
mod health;
mod manifest_kinds;
mod manifests;
mod mounts;
mod referrers;
mod restart;
mod sparse;
mod tag_params;
mod tags;
mod truncated_bodies;
mod uploads;
mod workflows;
