//! What an upstream sends is bounded: a "manifest" sent chunked without a length is cut off
//! at `limits.manifest_max_bytes`, a blob at the size its descriptor announced; the client
//! gets a clear error and Berth's memory does not grow with the upstream's body.

use crate::common::*;
use crate::support::*;

const HUB: &str = "/repository/hub/v2";
const MIB: u64 = 1 << 20;

#[tokio::test]
async fn a_huge_chunked_upstream_manifest_is_cut_off_at_the_limit_with_a_clear_error() {
    let (upstream, front, app, _cfg) = proxied("").await;
    upstream.push_image("app", "v1", &[b"layer".to_vec()]).await;
    let pid = app.pid();
    front.set_fault(Fault::EndlessManifest);
    let before = rss_kib(pid);

    let r = get(&app, &format!("{HUB}/app/manifests/v1")).await;

    let body = assert_oci_error(r, 503, "UNAVAILABLE").await;
    let after = rss_kib(pid);
    let sent = front.streamed();
    eprintln!(
        "chunked {ENDLESS_MIB} MiB manifest: upstream sent {} MiB before Berth stopped; \
         RSS {} → {} MiB",
        sent / MIB,
        before / 1024,
        after / 1024
    );
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("manifest_max_bytes"), "{message}");
    assert!(sent < 64 * MIB, "Berth read {sent} bytes of the manifest");
    assert!(
        after < before + 64 * 1024,
        "RSS grew from {before} to {after} KiB"
    );
}

#[tokio::test]
async fn a_chunked_upstream_blob_is_cut_off_at_its_descriptor_size_and_not_cached() {
    let (upstream, front, app, _cfg) = proxied("").await;
    let layer = noise(77, 1 << 20);
    let digest = sha256(&layer);
    upstream.push_image("app", "v1", &[layer]).await;
    // The manifest (fetched cleanly) announces the layer's size.
    assert_eq!(
        get(&app, &format!("{HUB}/app/manifests/v1")).await.status(),
        200
    );
    front.set_fault(Fault::EndlessBlob);
    let path = format!("{HUB}/app/blobs/{digest}");

    let pulled = match get(&app, &path).await.bytes().await {
        Ok(body) => Some(body),
        Err(e) => {
            eprintln!("client error, as it should be: {e}");
            None
        }
    };

    let sent = front.streamed();
    eprintln!(
        "chunked blob of 1 MiB + {ENDLESS_MIB} MiB garbage: upstream sent {} MiB before Berth stopped",
        sent / MIB
    );
    assert!(
        pulled.is_none_or(|b| sha256(&b) != digest && b.len() <= 1 << 20),
        "never a complete wrong body"
    );
    assert!(sent < 64 * MIB, "Berth read {sent} bytes of a 1 MiB blob");
    front.set_fault(Fault::None);
    let clean = get(&app, &path).await;
    assert_eq!(clean.status(), 200);
    assert_eq!(sha256(&clean.bytes().await.unwrap()), digest);
}
