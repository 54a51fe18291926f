//! The upstream budget: Docker Hub's `ratelimit-*` headers become metrics, a `429` pauses
//! the upstream for its `Retry-After` while cached content is served stale, revalidations
//! are skipped when the budget is tight (operator caps, or the upstream's own budget
//! nearly spent) while cold misses wait their turn, and saved requests are counted.

use futures_util::future::join_all;

use crate::common::*;
use crate::support::*;

const HUB: &str = "/repository/hub/v2";

async fn cache_image(app: &TestApp, upstream: &Upstream, layer: &[u8]) -> String {
    upstream.push_image("app", "v1", &[layer.to_vec()]).await;
    let r = get(app, &format!("{HUB}/app/manifests/v1")).await;
    assert_eq!(r.status(), 200);
    let digest = sha256(layer);
    let r = get(app, &format!("{HUB}/app/blobs/{digest}")).await;
    assert_eq!(sha256(&r.bytes().await.unwrap()), digest);
    digest
}

#[tokio::test]
async fn a_429_storm_is_served_stale_for_the_advertised_time_without_asking_again() {
    let (upstream, front, app, _cfg) = proxied("metadata_max_age_secs = 0").await;
    front.set_ratelimit(Some((100, 42)));
    let layer = cache_image(&app, &upstream, &noise(21, 10_000)).await;
    let metrics = scrape(&app).await;
    assert_eq!(
        metric(
            &metrics,
            "berth_proxy_upstream_ratelimit_remaining{repository=\"hub\"}"
        ),
        42.0,
        "{metrics}"
    );
    front.set_fault(Fault::RateLimit);
    front.set_retry_after(Some(30));

    let first = get(&app, &format!("{HUB}/app/manifests/v1")).await;
    let asked = front.total();
    let tag = format!("{HUB}/app/manifests/v1");
    let storm = join_all((0..20).map(|_| get(&app, &tag))).await;
    let blob = get(&app, &format!("{HUB}/app/blobs/{layer}")).await;
    let uncached = get(&app, &format!("{HUB}/other/manifests/v1")).await;

    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "x-berth-cache"), "stale");
    for r in &storm {
        assert_eq!(r.status(), 200);
        assert_eq!(header(r, "x-berth-cache"), "stale");
    }
    assert_eq!(blob.status(), 200);
    assert_eq!(uncached.status(), 429);
    let retry: u64 = header(&uncached, "retry-after").parse().unwrap();
    assert!((1..=30).contains(&retry), "Retry-After {retry}");
    assert_oci_error(uncached, 429, "TOOMANYREQUESTS").await;
    assert_eq!(
        front.total(),
        asked,
        "nothing was asked during the pause: {:?}",
        front.requests()
    );
    let (_, detail) = app
        .get_json("/service/rest/v1/repositories/docker/proxy/hub")
        .await;
    assert_eq!(
        detail["berthProxyStatus"]["status"], "RATE_LIMITED",
        "{detail}"
    );
}

#[tokio::test]
async fn with_every_upstream_slot_busy_a_revalidation_is_skipped_and_a_cold_miss_waits() {
    let (upstream, front, app, _cfg) =
        proxied("metadata_max_age_secs = 0\nmax_connections = 1").await;
    let big = noise(22, 4 << 20);
    let big_digest = sha256(&big);
    let small = noise(23, 1000);
    let small_digest = sha256(&small);
    upstream
        .push_image("app", "v1", &[big.clone(), small.clone()])
        .await;
    let tag = format!("{HUB}/app/manifests/v1");
    assert_eq!(get(&app, &tag).await.status(), 200);
    front.set_fault(Fault::Slow);

    // The big layer's download holds the only upstream slot through the front's pause.
    let downloading = get(&app, &format!("{HUB}/app/blobs/{big_digest}")).await;
    let during = get(&app, &tag).await;
    let heads_during = front.count("HEAD", "/manifests/v1");
    let waited = get(&app, &format!("{HUB}/app/blobs/{small_digest}")).await;
    let big_body = downloading.bytes().await.unwrap();
    let waited_status = waited.status();
    let small_body = waited.bytes().await.unwrap();
    front.set_fault(Fault::None);
    let after = get(&app, &tag).await;

    assert_eq!(during.status(), 200);
    assert_eq!(header(&during, "x-berth-cache"), "stale");
    assert_eq!(heads_during, 0, "the revalidation was skipped");
    assert_eq!(waited_status, 200);
    assert_eq!(sha256(&small_body), small_digest);
    assert_eq!(sha256(&big_body), big_digest);
    assert_eq!(header(&after, "x-berth-cache"), "revalidated");
    let metrics = scrape(&app).await;
    let skipped = metric(
        &metrics,
        "berth_proxy_upstream_requests_saved_total{repository=\"hub\",reason=\"revalidation_skipped\"}",
    );
    assert_eq!(skipped, 1.0, "{metrics}");
}

#[tokio::test]
async fn when_the_upstream_budget_is_nearly_spent_revalidations_stop_and_misses_go_on() {
    let (upstream, front, app, _cfg) = proxied("metadata_max_age_secs = 0").await;
    front.set_ratelimit(Some((100, 3)));
    cache_image(&app, &upstream, &noise(24, 1000)).await;
    let layer = noise(25, 1000);
    upstream
        .push_image("other", "v1", std::slice::from_ref(&layer))
        .await;

    let tag = get(&app, &format!("{HUB}/app/manifests/v1")).await;
    let miss = get(&app, &format!("{HUB}/other/manifests/v1")).await;
    let blob = get(&app, &format!("{HUB}/other/blobs/{}", sha256(&layer))).await;

    assert_eq!(header(&tag, "x-berth-cache"), "stale");
    assert_eq!(front.count("HEAD", "/manifests/"), 0);
    assert_eq!(header(&miss, "x-berth-cache"), "miss");
    assert_eq!(sha256(&blob.bytes().await.unwrap()), sha256(&layer));
}

#[tokio::test]
async fn cache_hits_and_coalesced_downloads_are_counted_as_saved_upstream_requests() {
    let (upstream, front, app, _cfg) = proxied("").await;
    let layer = noise(26, 2 << 20);
    let digest = sha256(&layer);
    upstream.push_image("app", "v1", &[layer]).await;
    assert_eq!(
        get(&app, &format!("{HUB}/app/manifests/v1")).await.status(),
        200
    );
    front.set_fault(Fault::Slow);

    let pulls = join_all((0..4).map(|_| async {
        get(&app, &format!("{HUB}/app/blobs/{digest}"))
            .await
            .bytes()
            .await
            .unwrap()
    }))
    .await;
    get(&app, &format!("{HUB}/app/manifests/v1")).await;

    assert!(pulls.iter().all(|b| sha256(b) == digest));
    let metrics = scrape(&app).await;
    let saved = |reason: &str| {
        metric(
            &metrics,
            &format!(
                "berth_proxy_upstream_requests_saved_total{{repository=\"hub\",reason=\"{reason}\"}}"
            ),
        )
    };
    assert_eq!(saved("coalesced"), 3.0, "{metrics}");
    assert_eq!(saved("hit"), 1.0, "{metrics}");
    let sent = metric(
        &metrics,
        "berth_proxy_upstream_requests_total{repository=\"hub\"}",
    );
    assert_eq!(sent as usize, front.total(), "{metrics}");
}
