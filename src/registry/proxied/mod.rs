//! Reads of a proxy repository: what is cached and fresh is served locally; otherwise the
//! upstream is asked, and what it sends is verified and cached before (manifests) or while
//! (blobs) it is served.
//!
//! - A tag is trusted for the metadata max age; after that a `HEAD` asks the upstream where
//!   it points now, and only a changed digest costs a `GET`.
//! - Manifests by digest and blobs are content-addressed, so a cached copy never expires.
//! - Upstream down, blocked or rate-limiting: a cached copy is served and marked stale;
//!   with nothing cached the error names the upstream problem.
//! - Concurrent misses for one blob share one download (see [`blobs`]), across the nodes of
//!   a cluster too (see [`claim`]).
mod blobs;
mod claim;
mod download;
mod manifests;

pub use blobs::{blob_size, fetch_blob, fetch_blob_part, BlobFetch, InFlight, PartFetch};
pub use manifests::find_manifest;
