//! Cache semantics: hits never reach the upstream, tags are revalidated with a HEAD after
//! the metadata age, outages are served from the cache, misses are remembered for the
//! negative cache TTL, and Docker Hub names get their `library/` prefix.

use std::time::Duration;

use crate::common::*;
use crate::support::*;

const HUB: &str = "/repository/hub/v2";

#[tokio::test]
async fn a_second_pull_is_served_from_the_cache_without_touching_the_upstream() {
    let (upstream, front, app, _cfg) = proxied("").await;
    let digest = upstream
        .push_image("team/app", "v1", &[noise(1, 100_000), noise(2, 5000)])
        .await;

    let r = get(&app, &format!("{HUB}/team/app/manifests/v1")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "docker-content-digest"), digest);
    let manifest: serde_json::Value = r.json().await.unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let r = get(&app, &format!("{HUB}/team/app/blobs/{layer}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-berth-cache"), "miss");
    assert_eq!(sha256(&r.bytes().await.unwrap()), layer);
    let before = front.total();
    assert!(
        before >= 2,
        "the first pull went upstream: {:?}",
        front.requests()
    );

    for _ in 0..2 {
        let r = get(&app, &format!("{HUB}/team/app/manifests/v1")).await;
        assert_eq!(r.status(), 200);
        let r = get(&app, &format!("{HUB}/team/app/manifests/{digest}")).await;
        assert_eq!(r.status(), 200);
        let r = get(&app, &format!("{HUB}/team/app/blobs/{layer}")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(sha256(&r.bytes().await.unwrap()), layer);
    }
    assert_eq!(
        front.total(),
        before,
        "cached pulls reached the upstream: {:?}",
        front.requests()
    );
}

#[tokio::test]
async fn a_moved_tag_is_seen_after_the_metadata_age_and_not_before() {
    let (upstream, front, app, _cfg) = proxied("metadata_max_age_secs = 2").await;
    let first = upstream
        .push_image("app", "latest", &[noise(3, 1000)])
        .await;
    let tag_url = format!("{HUB}/app/manifests/latest");

    let r = get(&app, &tag_url).await;
    assert_eq!(header(&r, "docker-content-digest"), first);
    let second = upstream
        .push_image("app", "latest", &[noise(4, 1000)])
        .await;
    let r = get(&app, &tag_url).await;
    assert_eq!(
        header(&r, "docker-content-digest"),
        first,
        "within the metadata age the cached tag is served"
    );
    assert_eq!(front.count("GET", "/manifests/latest"), 1);
    assert_eq!(front.count("HEAD", "/manifests/latest"), 0);

    tokio::time::sleep(Duration::from_millis(2300)).await;
    let r = get(&app, &tag_url).await;
    assert_eq!(header(&r, "docker-content-digest"), second);
    assert_eq!(front.count("HEAD", "/manifests/latest"), 1);
    assert_eq!(front.count("GET", "/manifests/latest"), 2);

    // Unchanged after the next expiry: a HEAD confirms it, no GET.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let r = get(&app, &tag_url).await;
    assert_eq!(header(&r, "docker-content-digest"), second);
    assert_eq!(front.count("HEAD", "/manifests/latest"), 2);
    assert_eq!(front.count("GET", "/manifests/latest"), 2);
}

#[tokio::test]
async fn with_the_upstream_down_cached_content_is_served_stale_and_uncached_content_gets_a_clear_error(
) {
    let mut upstream = Upstream::start().await;
    let remote = upstream.url();
    upstream.push_image("app", "v1", &[noise(5, 2000)]).await;
    let (app, _cfg) = spawn_proxy(&remote, "metadata_max_age_secs = 0").await;
    let r = get(&app, &format!("{HUB}/app/manifests/v1")).await;
    assert_eq!(r.status(), 200);
    let manifest: serde_json::Value = r.json().await.unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let r = get(&app, &format!("{HUB}/app/blobs/{layer}")).await;
    assert_eq!(sha256(&r.bytes().await.unwrap()), layer);

    upstream.stop();
    let r = get(&app, &format!("{HUB}/app/manifests/v1")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-berth-cache"), "stale");
    let r = get(&app, &format!("{HUB}/app/blobs/{layer}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(sha256(&r.bytes().await.unwrap()), layer);

    let r = get(&app, &format!("{HUB}/other/manifests/v1")).await;
    let body = assert_oci_error(r, 503, "UNAVAILABLE").await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(&remote) && message.contains("unreachable"),
        "the error names the upstream and the problem: {message}"
    );

    // After repeated failures (this is the third) the upstream is auto-blocked: visible in
    // the admin API and the metrics, and the cache still serves.
    let r = get(&app, &format!("{HUB}/other/manifests/v2")).await;
    assert_oci_error(r, 503, "UNAVAILABLE").await;
    let (_, detail) = app
        .get_json("/service/rest/v1/repositories/docker/proxy/hub")
        .await;
    assert_eq!(
        detail["berthProxyStatus"]["status"], "AUTO_BLOCKED",
        "{detail}"
    );
    let r = get(&app, &format!("{HUB}/other/manifests/v1")).await;
    let body = assert_oci_error(r, 503, "UNAVAILABLE").await;
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("auto-blocked"));
    let metrics = scrape(&app).await;
    assert!(
        metrics.contains("berth_proxy_upstream_blocked{repository=\"hub\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("result=\"stale\""));
    let r = get(&app, &format!("{HUB}/app/manifests/v1")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-berth-cache"), "stale");
}

#[tokio::test]
async fn the_negative_cache_remembers_a_miss_for_its_ttl() {
    let (upstream, front, app, _cfg) = proxied("negative_cache_ttl_secs = 2").await;
    let url = format!("{HUB}/late/manifests/v1");

    for _ in 0..3 {
        let r = get(&app, &url).await;
        assert_oci_error(r, 404, "MANIFEST_UNKNOWN").await;
    }
    assert_eq!(front.count("GET", "/late/manifests/v1"), 1);
    upstream.push_image("late", "v1", &[noise(6, 100)]).await;
    let r = get(&app, &url).await;
    assert_eq!(r.status(), 404, "still remembered as missing");
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let r = get(&app, &url).await;
    assert_eq!(r.status(), 200);
    assert_eq!(front.count("GET", "/late/manifests/v1"), 2);
}

#[tokio::test]
async fn a_hub_proxy_asks_for_single_component_names_under_library() {
    let (upstream, front, app, _cfg) = proxied("index_type = \"HUB\"").await;
    let digest = upstream
        .push_image("library/alpine", "3", &[noise(7, 100)])
        .await;
    // Through the group, as `docker pull host/alpine:3` with the group as default.
    let r = get(&app, "/v2/alpine/manifests/3").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "docker-content-digest"), digest);
    assert_eq!(front.count("GET", "/v2/library/alpine/manifests/3"), 1);
    // Names with a namespace are left alone.
    let r = get(&app, "/v2/someone/alpine/manifests/3").await;
    assert_eq!(r.status(), 404);
    assert_eq!(front.count("GET", "/v2/someone/alpine/manifests/3"), 1);
}

#[tokio::test]
async fn a_rate_limiting_upstream_gets_the_cached_copy_served_and_a_429_when_nothing_is_cached() {
    let (upstream, front, app, _cfg) = proxied("metadata_max_age_secs = 0").await;
    let digest = upstream.push_image("app", "v1", &[noise(15, 100)]).await;
    assert_eq!(
        get(&app, &format!("{HUB}/app/manifests/v1")).await.status(),
        200
    );

    front.set_fault(Fault::RateLimit);
    let r = get(&app, &format!("{HUB}/app/manifests/v1")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-berth-cache"), "stale");
    assert_eq!(header(&r, "docker-content-digest"), digest);
    let r = get(&app, &format!("{HUB}/app/manifests/v2")).await;
    let body = assert_oci_error(r, 429, "TOOMANYREQUESTS").await;
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("rate-limiting"));
}

#[tokio::test]
async fn blob_redirects_to_a_storage_host_are_followed() {
    let (upstream, front, app, _cfg) = proxied("").await;
    let layer = noise(16, 200_000);
    let layer_digest = sha256(&layer);
    upstream.push_image("app", "v1", &[layer]).await;
    front.set_fault(Fault::Redirect);
    let r = get(&app, &format!("{HUB}/app/blobs/{layer_digest}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(sha256(&r.bytes().await.unwrap()), layer_digest);
    assert_eq!(front.count("GET", &format!("/blobs/{layer_digest}")), 1);
}
