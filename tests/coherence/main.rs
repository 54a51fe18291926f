//! Several nodes, one truth: what one node changes, the others serve within seconds.
//!
//! Two Berth nodes on one PostgreSQL and one Garage (`common::cluster`). Each node caches
//! image state, definitions and the security model; PostgreSQL `NOTIFY` tells the other
//! node what to forget or reload. Every check polls the other node with a deadline
//! (`eventually`): the deadline bounds the wait, the assertion is what is served. The
//! delays seen are printed (`--nocapture`) for the README's figure.

#[path = "../common/mod.rs"]
mod common;

mod announcements;
mod definitions;
mod images;
mod referrers;
mod security;
mod tags;

use std::time::Duration;

use common::TestApp;
use reqwest::Method;

/// How long another node may take to show a change. Generous for a loaded 2-core CI
/// machine; the typical delay is printed by each test.
pub const WITHIN: Duration = Duration::from_secs(10);

/// `(status, Docker-Content-Digest)` of `HEAD <base>/manifests/<reference>` on `app`.
pub async fn head_manifest(app: &TestApp, base: &str, reference: &str) -> (u16, String) {
    let r = app
        .req(Method::HEAD, &format!("{base}/manifests/{reference}"))
        .header(
            "Accept",
            "application/vnd.oci.image.manifest.v1+json, \
             application/vnd.docker.distribution.manifest.v2+json",
        )
        .send()
        .await
        .unwrap();
    let digest = common::header(&r, "docker-content-digest");
    (r.status().as_u16(), digest)
}

/// Prints how long a node took to show a change.
pub fn report(what: &str, took: Duration) {
    eprintln!("coherence delay: {what}: {} ms", took.as_millis());
}
