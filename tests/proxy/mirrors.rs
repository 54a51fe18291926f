//! Mirror lists: a proxy tries its mirrors in order before its remote, skips a URL that
//! keeps failing (auto-block per URL), and verifies whatever a mirror sends against the
//! digest, so a dead or lying mirror never costs a client a wrong byte.

use reqwest::Method;
use serde_json::json;

use crate::common::*;
use crate::support::*;

const HUB: &str = "/repository/hub/v2";

fn with_mirror(mirror: &str) -> String {
    format!("mirror_urls = [\"{mirror}\"]")
}

/// Pulls `name:v1` and its layer; returns whether both arrived whole and verified.
async fn pull(app: &TestApp, name: &str, layer: &str) -> bool {
    let m = get(app, &format!("{HUB}/{name}/manifests/v1")).await;
    if m.status() != 200 {
        return false;
    }
    match get(app, &format!("{HUB}/{name}/blobs/{layer}"))
        .await
        .bytes()
        .await
    {
        Ok(body) => {
            assert_eq!(
                sha256(&body),
                layer,
                "a complete body is always the right one"
            );
            true
        }
        Err(_) => false,
    }
}

#[tokio::test]
async fn a_dead_mirror_fails_over_to_the_remote_and_is_then_skipped() {
    let upstream = Upstream::start().await;
    let live = Front::start(&upstream.url(), None);
    let dead = Front::start(&upstream.url(), None);
    dead.set_fault(Fault::Down);
    let mut layers = Vec::new();
    for i in 0..5 {
        let layer = noise(40 + i, 50_000);
        layers.push(sha256(&layer));
        upstream
            .push_image(&format!("app{i}"), "v1", &[layer])
            .await;
    }
    let (app, _cfg) = spawn_proxy(&live.url, &with_mirror(&dead.url)).await;

    for (i, layer) in layers.iter().enumerate() {
        assert!(pull(&app, &format!("app{i}"), layer).await, "app{i}");
    }

    // Three failures block the dead mirror; after that only the remote is asked.
    assert_eq!(dead.total(), 3, "{:?}", dead.requests());
    assert_eq!(live.count("GET", "/manifests/v1"), 5);
    let (_, detail) = app
        .get_json("/service/rest/v1/repositories/docker/proxy/hub")
        .await;
    let status = &detail["berthProxyStatus"];
    assert_eq!(status["status"], "READY", "{detail}");
    assert_eq!(status["upstreams"][0]["url"], dead.url);
    assert_eq!(status["upstreams"][0]["status"], "AUTO_BLOCKED");
    assert_eq!(status["upstreams"][1]["status"], "READY");
}

#[tokio::test]
async fn a_mirror_sending_corrupt_blobs_never_gets_a_wrong_byte_to_a_client_and_is_blocked() {
    let upstream = Upstream::start().await;
    let live = Front::start(&upstream.url(), None);
    let liar = Front::start(&upstream.url(), None);
    liar.set_fault(Fault::Corrupt);
    let layer = noise(50, 200_000);
    let digest = sha256(&layer);
    upstream.push_image("app", "v1", &[layer]).await;
    let (app, _cfg) = spawn_proxy(&live.url, &with_mirror(&liar.url)).await;

    let mut attempts = 0;
    while !pull(&app, "app", &digest).await {
        attempts += 1;
        assert!(attempts < 10, "the remote never took over");
    }

    let blob = format!("/blobs/{digest}");
    eprintln!(
        "corrupt mirror: {attempts} failed pulls, then the remote served; mirror GETs {}, remote GETs {}",
        liar.count("GET", &blob),
        live.count("GET", &blob)
    );
    assert_eq!(
        liar.count("GET", &blob),
        3,
        "blocked after three corrupt blobs"
    );
    assert_eq!(live.count("GET", &blob), 1);
    let r = get(&app, &format!("{HUB}/app/blobs/{digest}")).await;
    assert_eq!(header(&r, "x-berth-cache"), "hit");
}

#[tokio::test]
async fn mirror_urls_and_upstream_caps_round_trip_through_the_nexus_shaped_admin_api() {
    let app = spawn_app().await;
    let body = json!({
        "name": "hub-mirrored", "online": true,
        "storage": {"blobStoreName": "default", "strictContentTypeValidation": true},
        "proxy": {"remoteUrl": "https://registry-1.docker.io", "contentMaxAge": -1,
                  "metadataMaxAge": 30, "mirrorUrls": ["https://mirror.example:5000"]},
        "httpClient": {"blocked": false, "autoBlock": true,
            "connection": {"timeout": 20, "maxConnections": 8, "maxRequestsPerSecond": 5}},
        "dockerProxy": {"indexType": "HUB"}
    });
    let path = "/service/rest/v1/repositories/docker/proxy";
    let r = app
        .req(Method::POST, path)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    let (_, got) = app.get_json(&format!("{path}/hub-mirrored")).await;

    assert_eq!(
        got["proxy"]["mirrorUrls"],
        json!(["https://mirror.example:5000"])
    );
    assert_eq!(got["httpClient"]["connection"]["maxConnections"], 8);
    assert_eq!(got["httpClient"]["connection"]["maxRequestsPerSecond"], 5);
    let mut bad = body.clone();
    bad["name"] = json!("hub-bad");
    bad["proxy"]["mirrorUrls"] = json!(["ftp://nope"]);
    let r = app
        .req(Method::POST, path)
        .header("content-type", "application/json")
        .body(bad.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
