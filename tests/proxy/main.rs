//! Proxy repositories against a real upstream (Debian's `docker-registry`), through a
//! counting and fault-injecting front written in `support`: pull-through with skopeo and
//! the Docker Engine, cache hits that never reach the upstream, tag revalidation after the
//! metadata age, outages, coalesced downloads, corrupt and truncated upstream blobs,
//! Docker Hub's `library/` mapping, the negative cache and a token-protected upstream.

#[path = "../common/mod.rs"]
mod common;

mod admin;
mod budget;
mod cache;
mod clients;
mod faults;
mod headers;
mod limits;
mod mirrors;
mod ranges;
mod support;
mod warm;
