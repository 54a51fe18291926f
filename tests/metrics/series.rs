//! The series a push and a pull produce, with their labels, and values that grow.

use reqwest::Method;

use crate::common::*;

const REPO: (&str, &str) = ("repository", "docker-hosted");

#[tokio::test]
async fn a_push_and_a_pull_show_up_with_bounded_labels() {
    let app = spawn_app().await;
    let (digest, _) = app.push_image("team/app", "v1", "metrics").await;
    let before = scrape(&app).await;

    let r = app
        .req(Method::GET, "/v2/team/app/manifests/v1")
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let layer = sha256(b"layer of metrics");
    let r = app
        .req(Method::GET, &format!("/v2/team/app/blobs/{layer}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let missing = app
        .req(Method::GET, "/v2/team/app/manifests/nope")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let after = scrape(&app).await;

    let requests = "berth_http_requests_total";
    let get_manifest = [REPO, ("route", "manifest"), ("method", "GET")];
    let ok = |t: &str, extra: &[(&str, &str)]| {
        let mut labels = get_manifest.to_vec();
        labels.extend_from_slice(extra);
        value(t, requests, &labels).unwrap_or(0.0)
    };
    assert_eq!(ok(&before, &[("status_class", "2xx")]), 0.0);
    assert_eq!(ok(&after, &[("status_class", "2xx")]), 1.0);
    assert_eq!(ok(&after, &[("status_class", "4xx")]), 1.0);
    let pushes = [REPO, ("route", "upload_start"), ("method", "POST")];
    assert_eq!(value(&after, requests, &pushes), Some(2.0), "{after}");
    let put = [REPO, ("route", "manifest"), ("method", "PUT")];
    assert_eq!(value(&after, requests, &put), Some(1.0));

    assert_eq!(
        value(&after, "berth_blobs_pushed_total", &[REPO]),
        Some(2.0)
    );
    let pushed_bytes = ("{\"seed\":\"metrics\"}".len() + "layer of metrics".len()) as f64;
    assert_eq!(
        value(&after, "berth_blob_bytes_pushed_total", &[REPO]),
        Some(pushed_bytes)
    );
    assert_eq!(
        value(&after, "berth_manifests_pushed_total", &[REPO]),
        Some(1.0)
    );
    assert_eq!(value(&after, "berth_components", &[REPO]), Some(1.0));
    assert_eq!(value(&after, "berth_uploads_in_progress", &[]), Some(0.0));
    let store = value(&after, "berth_blob_store_bytes", &[("store", "default")]).unwrap();
    assert!(store >= pushed_bytes, "store bytes {store}");

    let blob_out = value(
        &after,
        "berth_http_response_bytes_total",
        &[("route", "blob")],
    );
    assert_eq!(blob_out, Some("layer of metrics".len() as f64));
    let manifest_in = value(
        &after,
        "berth_http_request_bytes_total",
        &[("route", "manifest")],
    );
    assert!(manifest_in.unwrap() > 0.0);
    let latency = [("route", "manifest"), ("method", "GET")];
    let count = value(
        &after,
        "berth_http_request_duration_seconds_count",
        &latency,
    );
    assert_eq!(count, Some(2.0));
    let bucket = [("route", "manifest"), ("method", "GET"), ("le", "+Inf")];
    assert_eq!(
        value(
            &after,
            "berth_http_request_duration_seconds_bucket",
            &bucket
        ),
        Some(2.0)
    );

    for forbidden in [digest.as_str(), "sha256:", "team/app", "\"v1\"", "nope"] {
        assert!(
            !after.contains(forbidden),
            "{forbidden} in metrics:\n{after}"
        );
    }
}

#[tokio::test]
async fn values_only_grow_and_the_nexus_path_serves_the_same_metrics() {
    let app = spawn_app().await;
    let series = [
        ("route", "base"),
        ("method", "GET"),
        ("status_class", "2xx"),
    ];
    let mut last = 0.0;
    for _ in 0..3 {
        let r = app.req(Method::GET, "/v2/").send().await.unwrap();
        assert_eq!(r.status(), 200);
        let text = scrape_at(&app, "/service/metrics/prometheus").await;
        let now = value(&text, "berth_http_requests_total", &series).unwrap();
        assert!(now > last, "{now} after {last}");
        last = now;
    }
    let text = scrape(&app).await;
    assert!(text.contains("# TYPE berth_http_request_duration_seconds histogram"));
    assert!(text.contains("# HELP berth_http_requests_total"));
    let scrapes = [("route", "metrics"), ("repository", "-")];
    assert!(value(&text, "berth_http_requests_total", &scrapes).unwrap() >= 3.0);
}

#[tokio::test]
async fn unknown_paths_and_admin_calls_use_fixed_route_names() {
    let app = spawn_app().await;
    for path in [
        "/some/random/path-123",
        "/service/rest/v1/repositories",
        "/healthz",
        "/v2/repository/no-such-repo/x/tags/list",
    ] {
        app.req(Method::GET, path).send().await.unwrap();
    }
    let text = scrape(&app).await;
    for route in ["other", "admin", "health"] {
        let labels = [("route", route)];
        assert!(
            value(&text, "berth_http_requests_total", &labels).is_some(),
            "{route}:\n{text}"
        );
    }
    for forbidden in ["path-123", "no-such-repo"] {
        assert!(!text.contains(forbidden), "{forbidden} in metrics:\n{text}");
    }
}

#[tokio::test]
async fn connector_ports_do_not_serve_metrics() {
    let app = spawn_app().await;
    let port = free_port();
    let body = serde_json::json!({
        "name": "h",
        "online": true,
        "storage": {"blobStoreName": "default", "strictContentTypeValidation": true,
                    "writePolicy": "ALLOW"},
        "docker": {"v1Enabled": false, "forceBasicAuth": true, "httpPort": port},
    });
    let r = app
        .req(Method::POST, "/service/rest/v1/repositories/docker/hosted")
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let on_connector = |path: &'static str| {
        let client = app.client.clone();
        async move {
            let r = client
                .get(format!("http://127.0.0.1:{port}{path}"))
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }
    };
    assert_eq!(on_connector("/v2/").await, 200);
    assert_eq!(on_connector("/metrics").await, 404);
    assert_eq!(on_connector("/service/metrics/prometheus").await, 404);

    let text = scrape(&app).await;
    let connector = [("repository", "h"), ("route", "base")];
    assert_eq!(
        value(&text, "berth_http_requests_total", &connector),
        Some(1.0),
        "connector traffic is counted under its repository:\n{text}"
    );
    assert_eq!(
        value(&text, "berth_components", &[("repository", "h")]),
        Some(0.0)
    );
}

#[tokio::test]
async fn upload_bytes_in_progress_rise_with_a_chunk_and_fall_when_the_session_ends() {
    let app = spawn_app().await;
    let gauge = "berth_upload_bytes_in_progress";
    assert_eq!(value(&scrape(&app).await, gauge, &[]), Some(0.0));
    let r = app
        .req(Method::POST, "/v2/team/app/blobs/uploads/")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let location = header(&r, "location");
    let r = app
        .req(Method::PATCH, &location)
        .header("Content-Type", "application/octet-stream")
        .body(vec![7u8; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(value(&scrape(&app).await, gauge, &[]), Some(1000.0));

    let r = app.req(Method::DELETE, &location).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(value(&scrape(&app).await, gauge, &[]), Some(0.0));
}

#[tokio::test]
async fn blob_gets_count_as_pulls_and_heads_do_not() {
    let app = spawn_app().await;
    let digest = app.push_blob("team/app", b"pulled").await;
    for method in [Method::GET, Method::HEAD, Method::GET] {
        let r = app
            .req(method, &format!("/v2/team/app/blobs/{digest}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let text = scrape(&app).await;
    assert_eq!(value(&text, "berth_blobs_pulled_total", &[REPO]), Some(2.0));
}

/// Big blobs and ranges are streamed (no sized body): their bytes still count, from the
/// Content-Length they are sent with; a HEAD, which sends no body, counts nothing.
#[tokio::test]
async fn streamed_blob_responses_count_their_bytes() {
    let app = spawn_app().await;
    let big: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
    let digest = app.push_blob("team/big", &big).await;
    let path = format!("/v2/team/big/blobs/{digest}");
    let before = scrape(&app).await;
    let blob_out =
        |t: &str| value(t, "berth_http_response_bytes_total", &[("route", "blob")]).unwrap_or(0.0);

    let r = app.req(Method::GET, &path).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), big.len());
    let r = app
        .req(Method::GET, &path)
        .header("Range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().len(), 100);
    let r = app.req(Method::HEAD, &path).send().await.unwrap();
    assert_eq!(r.status(), 200);

    let after = scrape(&app).await;
    assert_eq!(
        blob_out(&after) - blob_out(&before),
        (big.len() + 100) as f64,
        "{after}"
    );
}

/// Blobs and bytes per repository count a blob once per repository, however many of its
/// images link it.
#[tokio::test]
async fn repository_blob_gauges_count_each_blob_once_per_repository() {
    let app = spawn_app().await;
    app.push_image("team/a", "v1", "one").await;
    app.push_image("team/b", "v1", "two").await;
    // The layer of "one" linked into a second image of the same repository.
    app.push_blob("team/b", b"layer of one").await;
    let text = scrape(&app).await;
    let sizes = [
        "{\"seed\":\"one\"}".len(),
        "layer of one".len(),
        "{\"seed\":\"two\"}".len(),
        "layer of two".len(),
    ];
    assert_eq!(
        value(&text, "berth_repository_blobs", &[REPO]),
        Some(4.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "berth_repository_blob_bytes", &[REPO]),
        Some(sizes.iter().sum::<usize>() as f64),
        "{text}"
    );
}
