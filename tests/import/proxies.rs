//! `--warm-proxies`: what a Nexus proxy has cached is pulled through the imported proxy on
//! Berth, so Berth's cache holds it too (checked after the upstream is gone).

use reqwest::Method;
use serde_json::json;

use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn warm_proxies_fills_the_target_proxy_cache_with_what_the_source_proxy_had() {
    let mut upstream = spawn_app().await;
    let layer = b"proxied layer".repeat(3000);
    let digest = push_raw_image(
        &upstream,
        false,
        "docker-hosted",
        "warm/app",
        "1",
        std::slice::from_ref(&layer),
    )
    .await;
    let source = spawn_app().await;
    ok(
        &source,
        Method::POST,
        "/v1/repositories/docker/proxy",
        json!({
        "name": "docker-proxy", "online": true,
        "storage": {"blobStoreName": "default", "strictContentTypeValidation": true},
        "proxy": {"remoteUrl": upstream.base, "contentMaxAge": -1, "metadataMaxAge": -1},
        "negativeCache": {"enabled": true, "timeToLive": 30},
        "httpClient": {"blocked": false, "autoBlock": false},
        "docker": {"v1Enabled": false, "forceBasicAuth": false, "httpPort": null},
        "dockerProxy": {"indexType": "REGISTRY"}}),
    )
    .await;
    // A client pulled the image through the source proxy: manifest and layer are cached.
    assert_eq!(
        digest_of(&source, false, "docker-proxy", "warm/app", "1").await,
        digest
    );
    let layer_digest = sha256(&layer);
    let r = fresh(
        &source,
        Method::GET,
        &format!("/repository/docker-proxy/v2/warm/app/blobs/{layer_digest}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.bytes().await.unwrap().len(), layer.len());
    let target = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();

    let (success, report, stderr) = run_import(&source, &target, dir.path(), &["--warm-proxies"]);

    assert!(success, "{report:#}\n{stderr}");
    assert!(
        stderr.contains("warmed proxy docker-proxy: 1 tags, 0 errors"),
        "{stderr}"
    );
    // With the upstream gone, the target's proxy still serves the image from its cache.
    upstream.kill9();
    assert_eq!(
        digest_of(&target, false, "docker-proxy", "warm/app", "1").await,
        digest
    );
    let r = fresh(
        &target,
        Method::GET,
        &format!("/repository/docker-proxy/v2/warm/app/blobs/{layer_digest}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), layer.len());
}
