//! The Nexus REST shape of docker proxy repositories: create, read back, update (the
//! write-only password survives a PUT of the GET result), list, and refusals.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

const PROXY: &str = "/service/rest/v1/repositories/docker/proxy";

fn body(remote: &str) -> Value {
    json!({
        "name": "docker-hub", "online": true,
        "storage": {"blobStoreName": "default", "strictContentTypeValidation": true},
        "cleanup": {"policyNames": []},
        "proxy": {"remoteUrl": remote, "contentMaxAge": -1, "metadataMaxAge": 30},
        "negativeCache": {"enabled": true, "timeToLive": 5},
        "httpClient": {"blocked": false, "autoBlock": true,
            "connection": {"retries": 0, "userAgentSuffix": "ci", "timeout": 20,
                           "enableCircularRedirects": false, "enableCookies": false, "useTrustStore": false},
            "authentication": {"type": "username", "username": "svc", "password": "pw-secret", "preemptive": false}},
        "routingRule": null,
        "docker": {"v1Enabled": false, "forceBasicAuth": false, "httpPort": null, "httpsPort": null, "subdomain": null},
        "dockerProxy": {"indexType": "HUB", "indexUrl": null, "cacheForeignLayers": false, "foreignLayerUrlWhitelist": []}
    })
}

async fn send(app: &TestApp, method: Method, path: &str, body: &Value) -> reqwest::Response {
    app.req(method, path)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_proxy_is_created_read_back_and_updated_in_the_nexus_shape() {
    let app = spawn_app().await;
    let r = send(
        &app,
        Method::POST,
        PROXY,
        &body("https://registry-1.docker.io"),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    let (status, got) = app.get_json(&format!("{PROXY}/docker-hub")).await;
    assert_eq!(status, 200);
    assert_eq!(got["type"], "proxy");
    assert_eq!(got["proxy"]["remoteUrl"], "https://registry-1.docker.io");
    assert_eq!(got["proxy"]["metadataMaxAge"], 30);
    assert_eq!(got["proxy"]["contentMaxAge"], -1);
    assert_eq!(
        got["negativeCache"],
        json!({"enabled": true, "timeToLive": 5})
    );
    assert_eq!(got["httpClient"]["autoBlock"], true);
    assert_eq!(got["httpClient"]["connection"]["timeout"], 20);
    assert_eq!(got["httpClient"]["connection"]["userAgentSuffix"], "ci");
    assert_eq!(got["httpClient"]["authentication"]["username"], "svc");
    assert!(got["httpClient"]["authentication"]
        .get("password")
        .is_none());
    assert!(!got.to_string().contains("pw-secret"));
    assert_eq!(got["dockerProxy"]["indexType"], "HUB");
    assert_eq!(got["berthProxyStatus"]["status"], "READY");

    // The GET result PUT back (no password) with one change keeps working.
    let mut changed = got.clone();
    changed["httpClient"]["blocked"] = json!(true);
    let r = send(&app, Method::PUT, &format!("{PROXY}/docker-hub"), &changed).await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let (_, again) = app.get_json(&format!("{PROXY}/docker-hub")).await;
    assert_eq!(again["httpClient"]["blocked"], true);
    assert_eq!(again["berthProxyStatus"]["status"], "BLOCKED");
    // Persisted with the password (it is needed after a restart), shown nowhere.
    assert!(!app.log().contains("pw-secret"));

    let (_, list) = app.get_json("/service/rest/v1/repositories").await;
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "docker-hub")
        .unwrap();
    assert_eq!(entry["type"], "proxy");
    assert_eq!(
        entry["attributes"]["proxy"]["remoteUrl"],
        "https://registry-1.docker.io"
    );
    // Another type's path does not find it.
    let (status, _) = app
        .get_json("/service/rest/v1/repositories/docker/hosted/docker-hub")
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_proxy_definitions_are_refused_with_the_field_named() {
    let app = spawn_app().await;
    let cases = [
        ("/proxy/remoteUrl", json!("not a url"), "proxy.remoteUrl"),
        ("/proxy/remoteUrl", Value::Null, "proxy.remoteUrl"),
        (
            "/dockerProxy/indexType",
            json!("NOPE"),
            "dockerProxy.indexType",
        ),
        ("/proxy/metadataMaxAge", json!(-5), "proxy.metadataMaxAge"),
        (
            "/httpClient/authentication/type",
            json!("ntlm"),
            "httpClient.authentication.type",
        ),
    ];
    for (pointer, value, field) in cases {
        let mut b = body("https://registry-1.docker.io");
        *b.pointer_mut(pointer).unwrap() = value;
        let r = send(&app, Method::POST, PROXY, &b).await;
        assert_eq!(r.status(), 400, "{pointer}");
        let text = r.text().await.unwrap();
        assert!(text.contains(field), "{pointer}: {text}");
    }
    let (_, list) = app.get_json("/service/rest/v1/repositories").await;
    assert!(!list.to_string().contains("docker-hub"));
}
