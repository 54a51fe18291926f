//! What a manifest lookup found (hosted or through a proxy): shared by the read path and
//! the proxy cache, which builds these for what it serves.

use std::sync::Arc;

use super::Hosted;
use crate::meta::ManifestRecord;
use crate::oci::Digest;

/// Where a manifest was found.
#[derive(Clone)]
pub struct FoundManifest {
    pub repo: Hosted,
    pub digest: Digest,
    pub record: Arc<ManifestRecord>,
    /// How a proxy repository served it; `None` for hosted content.
    pub proxy: Option<ProxyServe>,
}

/// How a proxy served a manifest, for the response's cache headers.
#[derive(Clone, Debug)]
pub struct ProxyServe {
    /// The `X-Berth-Cache` value: `hit`, `miss`, `revalidated` or `stale`.
    pub cache: &'static str,
    /// When the upstream last sent or confirmed this manifest for this reference, if
    /// known (the bookkeeping is in memory, so not across a restart).
    pub validated: Option<std::time::SystemTime>,
}
