//! Honest cache headers: `X-Berth-Cache` says how each response was served (`miss`, `hit`,
//! `revalidated`, `coalesced`, `stale`), proxied manifests carry `Age` and
//! `X-Berth-Last-Validated`, and stale serves are counted per repository.

use std::time::Duration;

use crate::common::*;
use crate::support::*;

const HUB: &str = "/repository/hub/v2";

fn age(r: &reqwest::Response) -> u64 {
    header(r, "age").parse().expect("an Age header")
}

#[tokio::test]
async fn proxied_manifests_say_how_they_were_served_and_how_old_the_confirmation_is() {
    let (upstream, front, app, _cfg) = proxied("metadata_max_age_secs = 2").await;
    let digest = upstream.push_image("app", "v1", &[noise(8, 5000)]).await;
    let tag = format!("{HUB}/app/manifests/v1");

    let first = get(&app, &tag).await;
    let cached = get(&app, &tag).await;
    let by_digest = get(&app, &format!("{HUB}/app/manifests/{digest}")).await;
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let revalidated = get(&app, &tag).await;
    front.set_fault(Fault::Down);
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let stale = get(&app, &tag).await;

    assert_eq!(header(&first, "x-berth-cache"), "miss");
    assert!(age(&first) <= 1);
    assert!(!header(&first, "x-berth-last-validated").is_empty());
    assert_eq!(header(&cached, "x-berth-cache"), "hit");
    assert_eq!(header(&by_digest, "x-berth-cache"), "hit");
    assert_eq!(header(&revalidated, "x-berth-cache"), "revalidated");
    assert!(age(&revalidated) <= 1, "the HEAD just confirmed it");
    assert_eq!(header(&stale, "x-berth-cache"), "stale");
    assert!(age(&stale) >= 2, "unconfirmed since the revalidation");
    assert_eq!(
        header(&stale, "x-berth-last-validated"),
        header(&revalidated, "x-berth-last-validated")
    );
    let metrics = scrape(&app).await;
    let stale_serves = metric(
        &metrics,
        "berth_proxy_requests_total{repository=\"hub\",result=\"stale\"}",
    );
    assert_eq!(stale_serves, 1.0, "{metrics}");
}

#[tokio::test]
async fn proxied_blobs_say_miss_then_hit() {
    let (upstream, _front, app, _cfg) = proxied("").await;
    let layer = noise(9, 100_000);
    let digest = sha256(&layer);
    upstream.push_image("app", "v1", &[layer]).await;
    let path = format!("{HUB}/app/blobs/{digest}");

    let miss = get(&app, &path).await;
    let miss_cache = header(&miss, "x-berth-cache");
    assert_eq!(sha256(&miss.bytes().await.unwrap()), digest);
    let hit = get(&app, &path).await;

    assert_eq!(miss_cache, "miss");
    assert_eq!(header(&hit, "x-berth-cache"), "hit");
}
