//! `Range` on a blob the proxy has not cached yet: `206` with just the requested bytes
//! (Dragonfly's `bytes=0-0` probe, suffix ranges, lazy-pullers' many ranges), `416` with the
//! spec's error past the end, `HEAD` with the headers a GET would get; all of them served
//! from one upstream download that completes and caches the blob.

use futures_util::future::join_all;
use reqwest::Method;

use crate::common::*;
use crate::support::*;

const HUB: &str = "/repository/hub/v2";

async fn ranged(app: &TestApp, method: Method, path: &str, range: &str) -> reqwest::Response {
    app.req(method, path)
        .header("range", range)
        .send()
        .await
        .unwrap()
}

/// A proxy of `front` with image `app:v1` of one layer of `len` bytes; returns the layer.
async fn one_layer_image(upstream: &Upstream, len: usize) -> (Vec<u8>, String) {
    let layer = noise(len as u64, len);
    let digest = sha256(&layer);
    upstream
        .push_image("app", "v1", std::slice::from_ref(&layer))
        .await;
    (layer, digest)
}

#[tokio::test]
async fn a_bytes_0_0_probe_of_an_uncached_blob_gets_206_with_its_first_byte() {
    let (upstream, _front, app, _cfg) = proxied("").await;
    let (layer, digest) = one_layer_image(&upstream, 3 << 20).await;
    let path = format!("{HUB}/app/blobs/{digest}");

    let r = ranged(&app, Method::GET, &path, "bytes=0-0").await;

    assert_eq!(r.status(), 206);
    assert_eq!(
        header(&r, "content-range"),
        format!("bytes 0-0/{}", layer.len())
    );
    assert_eq!(header(&r, "content-length"), "1");
    assert_eq!(header(&r, "docker-content-digest"), digest);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &layer[..1]);
}

#[tokio::test]
async fn ranges_on_an_uncached_blob_share_one_download_that_caches_it() {
    let (upstream, front, app, _cfg) = proxied("").await;
    let (layer, digest) = one_layer_image(&upstream, 5 << 20).await;
    let path = format!("{HUB}/app/blobs/{digest}");
    let len = layer.len();
    // A slow upstream body: the ranges arrive while the download is under way.
    front.set_fault(Fault::Slow);

    let wanted = [
        ("bytes=0-0".to_string(), 0..1),
        ("bytes=1000-1999".to_string(), 1000..2000),
        (format!("bytes={}-", len - 10), len - 10..len),
        ("bytes=-100".to_string(), len - 100..len),
        (
            format!("bytes={}-{}", len / 2, len / 2 + 4095),
            len / 2..len / 2 + 4096,
        ),
    ];
    let responses = join_all(
        wanted
            .iter()
            .map(|(range, _)| ranged(&app, Method::GET, &path, range)),
    )
    .await;

    for ((range, bytes), r) in wanted.iter().zip(responses) {
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(
            header(&r, "content-range"),
            format!("bytes {}-{}/{len}", bytes.start, bytes.end - 1),
            "{range}"
        );
        let body = r.bytes().await.unwrap();
        assert!(
            body.as_ref() == &layer[bytes.clone()],
            "{range}: wrong bytes"
        );
    }
    front.set_fault(Fault::None);
    let blob_gets = || front.count("GET", &format!("/blobs/{digest}"));
    assert_eq!(blob_gets(), 1, "{:?}", front.requests());
    // The download went on to the end and cached the whole, verified blob.
    let whole = get(&app, &path).await;
    assert_eq!(whole.status(), 200);
    assert_eq!(sha256(&whole.bytes().await.unwrap()), digest);
    assert_eq!(blob_gets(), 1);
}

#[tokio::test]
async fn a_range_past_the_end_of_an_uncached_blob_is_416_range_invalid() {
    let (upstream, _front, app, _cfg) = proxied("").await;
    let (layer, digest) = one_layer_image(&upstream, 100_000).await;
    let path = format!("{HUB}/app/blobs/{digest}");
    let past = format!("bytes={}-{}", layer.len(), layer.len() + 10);

    let head = ranged(&app, Method::HEAD, &path, &past).await;
    let r = ranged(&app, Method::GET, &path, &past).await;

    assert_eq!(head.status(), 416);
    assert_eq!(
        header(&r, "content-range"),
        format!("bytes */{}", layer.len())
    );
    assert_oci_error(r, 416, "RANGE_INVALID").await;
}

#[tokio::test]
async fn head_with_a_range_on_an_uncached_blob_answers_the_206_headers_without_downloading() {
    let (upstream, front, app, _cfg) = proxied("").await;
    let (layer, digest) = one_layer_image(&upstream, 100_000).await;
    let path = format!("{HUB}/app/blobs/{digest}");

    let r = ranged(&app, Method::HEAD, &path, "bytes=-10").await;
    let plain = app.req(Method::HEAD, &path).send().await.unwrap();

    assert_eq!(r.status(), 206);
    let last = layer.len() - 1;
    assert_eq!(
        header(&r, "content-range"),
        format!("bytes {}-{last}/{}", layer.len() - 10, layer.len())
    );
    assert_eq!(header(&r, "content-length"), "10");
    assert_eq!(header(&plain, "accept-ranges"), "bytes");
    assert_eq!(header(&plain, "content-length"), layer.len().to_string());
    assert_eq!(front.count("GET", &format!("/blobs/{digest}")), 0);
}
