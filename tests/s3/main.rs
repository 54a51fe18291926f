//! The S3 blob store against a real S3 server (Garage, started per test on free ports; see
//! `tests/common/garage.rs`): the store itself (streaming multipart uploads, verification,
//! ranges, pre-signed URLs, an outage), and a registry whose repositories live on it, driven
//! by the Docker Engine and raw HTTP; and the storage conformance suite every backend passes. Without a Garage binary these tests fail, unless
//! `BERTH_SKIP_S3=1`.

#[path = "../common/mod.rs"]
mod common;

#[macro_use]
#[path = "../storage/conformance.rs"]
mod conformance;

mod conformance_s3;
mod registry;
mod store;
