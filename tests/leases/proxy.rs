//! Proxy misses coalesced across nodes: two nodes proxying one upstream (a hosted Berth),
//! many concurrent pulls of the same blobs on both, one upstream download per blob.

use reqwest::Method;
use sha2::Digest as _;

use crate::common::cluster::Cluster;
use crate::common::*;
use crate::metric;

/// Concurrent pulls per blob per node.
const PULLS: usize = 4;

/// `len` bytes that do not compress and differ per `seed`.
fn noise(seed: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut block = sha2::Sha256::digest(seed.as_bytes());
    while out.len() < len {
        out.extend_from_slice(&block);
        block = sha2::Sha256::digest(block);
    }
    out.truncate(len);
    out
}

fn proxy_toml(remote: &str) -> String {
    format!(
        "[[repositories]]\nname = \"hub\"\ntype = \"proxy\"\nblob_store = \"s3\"\n\n\
         [repositories.proxy]\nremote_url = \"{remote}\"\n"
    )
}

#[tokio::test]
async fn concurrent_misses_on_two_nodes_make_one_upstream_download_per_blob() {
    // Arrange
    let upstream = spawn_app().await;
    let layers = (0..3)
        .map(|i| noise(&format!("layer {i}"), 4 << 20))
        .collect();
    let image = Image::oci(b"{\"proxied\":true}".to_vec(), layers);
    upstream.push("lib/app", "v1", &image).await;
    let Some(cluster) = Cluster::start(2, &proxy_toml(&upstream.url(""))).await else {
        return;
    };
    let served_before = metric(
        &upstream,
        "berth_blobs_pulled_total",
        &[("repository", "docker-hosted")],
    )
    .await;
    // Act: every pull of every blob on both nodes at once.
    let mut pulls = Vec::new();
    for (digest, bytes) in image.blobs() {
        for node in &cluster.nodes {
            for _ in 0..PULLS {
                let r = node.req(
                    Method::GET,
                    &format!("/repository/hub/v2/lib/app/blobs/{digest}"),
                );
                let want = bytes.clone();
                pulls.push(tokio::spawn(async move {
                    let r = r.send().await.unwrap();
                    let status = r.status().as_u16();
                    (
                        status,
                        r.bytes().await.map(|b| b.as_ref() == want.as_slice()),
                    )
                }));
            }
        }
    }
    let mut outcomes = Vec::new();
    for p in pulls {
        outcomes.push(p.await.unwrap());
    }
    // Assert
    for (status, same) in &outcomes {
        assert_eq!(*status, 200, "{outcomes:?}\n{}", cluster.logs());
        assert!(
            matches!(same, Ok(true)),
            "a pull got other bytes: {outcomes:?}"
        );
    }
    let blobs = image.blobs().count() as f64;
    let served = metric(
        &upstream,
        "berth_blobs_pulled_total",
        &[("repository", "docker-hosted")],
    )
    .await;
    let mut downloads = 0.0;
    for node in &cluster.nodes {
        downloads += metric(
            node,
            "berth_proxy_upstream_downloads_total",
            &[("repository", "hub")],
        )
        .await;
    }
    assert_eq!(
        served - served_before,
        blobs,
        "upstream served blobs more than once"
    );
    assert_eq!(downloads, blobs, "upstream downloads counted by the nodes");
}
