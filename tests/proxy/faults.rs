//! Downloads: concurrent misses share one upstream fetch; a corrupt or truncated upstream
//! blob is never cached and its client sees an error, not a complete wrong body; pushes
//! to a proxy are refused.

use futures_util::future::join_all;
use reqwest::Method;

use crate::common::*;
use crate::support::*;

const HUB: &str = "/repository/hub/v2";

/// GETs a blob; `Ok(bytes)` only if the whole body arrived.
async fn fetch(app: &TestApp, path: &str) -> Result<(u16, Vec<u8>), String> {
    fetch_with_cache_header(app, path)
        .await
        .map(|(s, b, _)| (s, b))
}

/// Like `fetch`, with the `X-Berth-Cache` header.
async fn fetch_with_cache_header(
    app: &TestApp,
    path: &str,
) -> Result<(u16, Vec<u8>, String), String> {
    let r = app
        .req(Method::GET, path)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let cache = header(&r, "x-berth-cache");
    let body = r.bytes().await.map_err(|e| e.to_string())?;
    Ok((status, body.to_vec(), cache))
}

#[tokio::test]
async fn twenty_concurrent_pulls_of_an_uncached_64_mib_layer_make_one_upstream_fetch() {
    let (upstream, front, app, _cfg) = proxied("").await;
    let layer = noise(64, 64 << 20);
    let layer_digest = sha256(&layer);
    upstream.push_image("big", "v1", &[layer]).await;
    assert_eq!(
        get(&app, &format!("{HUB}/big/manifests/v1")).await.status(),
        200
    );

    let path = format!("{HUB}/big/blobs/{layer_digest}");
    let results = join_all((0..20).map(|_| fetch_with_cache_header(&app, &path))).await;
    let mut how = std::collections::BTreeMap::new();
    for result in results {
        let (status, body, cache) = result.expect("every pull completes");
        assert_eq!(status, 200);
        assert_eq!(body.len(), 64 << 20);
        assert_eq!(sha256(&body), layer_digest);
        *how.entry(if cache.is_empty() {
            "cached".into()
        } else {
            cache
        })
        .or_insert(0) += 1;
    }
    assert_eq!(
        how.get("miss"),
        Some(&1),
        "one request leads the download: {how:?}"
    );
    let gets = front.count("GET", &format!("/blobs/{layer_digest}"));
    eprintln!("coalescing: 20 concurrent pulls → {gets} upstream blob GET(s); served as {how:?}");
    assert_eq!(gets, 1, "{:?}", front.requests());
}

async fn a_faulty_blob_is_not_cached(fault: Fault) {
    let (upstream, front, app, _cfg) = proxied("").await;
    let layer = noise(9, 3 << 20);
    let layer_digest = sha256(&layer);
    upstream.push_image("app", "v1", &[layer]).await;
    assert_eq!(
        get(&app, &format!("{HUB}/app/manifests/v1")).await.status(),
        200
    );
    let path = format!("{HUB}/app/blobs/{layer_digest}");

    front.set_fault(fault);
    // Three concurrent pulls: the download's first client and those following it all see an
    // error, never a complete body.
    let results = join_all((0..3).map(|_| fetch(&app, &path))).await;
    for result in results {
        match result {
            Err(e) => eprintln!("{fault:?}: client error: {e}"),
            Ok((status, body)) => assert!(
                status >= 400,
                "{fault:?}: a client got a complete body ({} bytes, digest {}) instead of an error",
                body.len(),
                sha256(&body)
            ),
        }
    }
    front.set_fault(Fault::None);
    let faulty_fetches = front.count("GET", &format!("/blobs/{layer_digest}"));
    let (status, body) = fetch(&app, &path).await.expect("a clean download");
    assert_eq!(status, 200);
    assert_eq!(sha256(&body), layer_digest);
    assert_eq!(
        front.count("GET", &format!("/blobs/{layer_digest}")),
        faulty_fetches + 1,
        "the faulty copy was not cached, so the blob was fetched again"
    );
    let (_, again) = fetch(&app, &path).await.unwrap();
    assert_eq!(sha256(&again), layer_digest);
    assert_eq!(
        front.count("GET", &format!("/blobs/{layer_digest}")),
        faulty_fetches + 1
    );
}

#[tokio::test]
async fn a_corrupt_upstream_blob_is_not_cached_and_its_client_sees_an_error() {
    a_faulty_blob_is_not_cached(Fault::Corrupt).await;
}

#[tokio::test]
async fn a_truncated_upstream_blob_is_not_cached_and_its_client_sees_an_error() {
    a_faulty_blob_is_not_cached(Fault::Truncate).await;
}

#[tokio::test]
async fn pushes_to_a_proxy_are_denied_and_a_group_sends_them_to_its_hosted_member() {
    let upstream = Upstream::start().await;
    let (app, _cfg) = spawn_proxy(&upstream.url(), "").await;
    let r = app
        .req(Method::POST, &format!("{HUB}/app/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let body = assert_oci_error(r, 403, "DENIED").await;
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("proxy"));
    let r = app
        .req(Method::PUT, &format!("{HUB}/app/manifests/v1"))
        .header("content-type", OCI_MANIFEST)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 403, "DENIED").await;
    // The group (hosted first, then the proxy) takes the push into its hosted member and
    // serves it before asking the upstream.
    let (digest, _) = app.push_image("mine", "v1", "pushed").await;
    let r = get(&app, "/v2/mine/manifests/v1").await;
    assert_eq!(header(&r, "docker-content-digest"), digest);
}
