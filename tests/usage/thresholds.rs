//! What each action does once a limit is reached.

use reqwest::Method;
use serde_json::Value;

use crate::common::*;

const ENFORCE_3_COMPONENTS: &[&str] = &[
    "BERTH_USAGE__COMPONENTS__LIMIT=3",
    "BERTH_USAGE__COMPONENTS__ACTION=enforce",
];

pub async fn usage(app: &TestApp) -> Value {
    let r = app
        .req(Method::GET, "/service/rest/v1/usage")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn status_check(app: &TestApp) -> Value {
    let r = app
        .req(Method::GET, "/service/rest/v1/status/check")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn get(app: &TestApp, path: &str) -> u16 {
    let r = app
        .req(Method::GET, path)
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

#[tokio::test]
async fn enforce_refuses_the_fourth_tag_and_new_blobs_but_serves_pulls_deletes_and_retags() {
    let app = spawn_app_with(ENFORCE_3_COMPONENTS).await;
    let (digest, manifest) = app.push_image("team/app", "v1", "one").await;
    app.push_image("team/app", "v2", "two").await;
    app.push_image("team/other", "v1", "three").await;

    // A fourth tag, even of content already stored, is a new component.
    let r = app
        .put_manifest("team/app", "v4", OCI_MANIFEST, &manifest)
        .await;
    let body = assert_oci_error(r, 403, "DENIED").await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("3 components of a limit of 3"),
        "{message}"
    );
    assert!(message.contains("usage.components"), "{message}");
    // New blobs are refused too, through both upload styles.
    let r = app
        .req(Method::POST, "/v2/team/app/blobs/uploads/")
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 403, "DENIED").await;
    let r = app
        .req(
            Method::POST,
            &format!("/v2/team/app/blobs/uploads/?digest={}", sha256(b"new")),
        )
        .body("new")
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 403, "DENIED").await;

    // Pulls keep working; re-tagging an existing tag and pushing by digest add no component.
    assert_eq!(get(&app, "/v2/team/app/manifests/v1").await, 200);
    let layer = sha256(b"layer of one");
    assert_eq!(get(&app, &format!("/v2/team/app/blobs/{layer}")).await, 200);
    let r = app
        .put_manifest("team/app", "v2", OCI_MANIFEST, &manifest)
        .await;
    assert_eq!(r.status(), 201, "moving an existing tag");
    let r = app
        .put_manifest("team/app", &digest, OCI_MANIFEST, &manifest)
        .await;
    assert_eq!(r.status(), 201, "pushing by digest");

    // Deleting gets back under the limit, and the next new tag is accepted.
    let r = app
        .req(Method::DELETE, "/v2/team/other/manifests/v1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = app
        .put_manifest("team/app", "v4", OCI_MANIFEST, &manifest)
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    let u = usage(&app).await;
    assert_eq!(u["components"]["value"], 3);
    assert_eq!(u["components"]["state"], "over");
    assert_eq!(u["components"]["action"], "enforce");
    let text = scrape(&app).await;
    assert!(
        text.contains("berth_usage_refused_total{metric=\"components\"} 3"),
        "{text}"
    );
}

#[tokio::test]
async fn enforce_on_requests_refuses_pushes_after_the_daily_limit_but_serves_pulls() {
    let app = spawn_app_with(&[
        "BERTH_USAGE__REQUESTS__LIMIT=50",
        "BERTH_USAGE__REQUESTS__ACTION=enforce",
    ])
    .await;
    app.push_image("team/app", "v1", "one").await; // 3 requests
    for _ in 0..47 {
        assert_eq!(get(&app, "/v2/").await, 200);
    }
    let r = app
        .req(Method::POST, "/v2/team/app/blobs/uploads/")
        .send()
        .await
        .unwrap();
    let body = assert_oci_error(r, 403, "DENIED").await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("50 requests in the last 24 hours of a limit of 50"),
        "{message}"
    );
    assert_eq!(get(&app, "/v2/team/app/manifests/v1").await, 200);
    // Monitoring traffic is not repository traffic and did not count.
    let u = usage(&app).await;
    assert_eq!(u["counted"], "repository");
    assert_eq!(u["requests"]["value"], 52);
    assert_eq!(u["requests"]["state"], "over");
}

#[tokio::test]
async fn observe_never_refuses_and_keeps_the_status_check_healthy() {
    let app = spawn_app_with(&["BERTH_USAGE__COMPONENTS__LIMIT=3"]).await;
    for tag in ["a", "b", "c", "d", "e"] {
        app.push_image("team/app", tag, tag).await;
    }
    let u = usage(&app).await;
    assert_eq!(u["components"]["value"], 5);
    assert_eq!(u["components"]["state"], "over");
    assert_eq!(u["components"]["action"], "observe");
    let checks = status_check(&app).await;
    assert_eq!(checks["Usage Components"]["healthy"], true, "{checks}");
}

#[tokio::test]
async fn warn_fails_the_status_check_and_logs_the_state_change_once() {
    let app = spawn_app_with(&[
        "BERTH_USAGE__COMPONENTS__LIMIT=4",
        "BERTH_USAGE__COMPONENTS__ACTION=warn",
    ])
    .await;
    let checks = status_check(&app).await;
    assert_eq!(checks["Usage Components"]["healthy"], true, "{checks}");
    for tag in ["a", "b", "c"] {
        app.push_image("team/app", tag, tag).await;
    }
    let checks = status_check(&app).await;
    let usage_check = &checks["Usage Components"];
    assert_eq!(usage_check["healthy"], false, "{checks}");
    let message = usage_check["message"].as_str().unwrap();
    assert!(
        message.contains("3 components of a limit of 4"),
        "{message}"
    );
    assert!(message.contains("near"), "{message}");
    assert_eq!(checks["Usage Requests"]["healthy"], true);
    // Warn never refuses.
    app.push_image("team/app", "d", "d").await;
    app.push_image("team/app", "e", "e").await;
    status_check(&app).await;
    status_check(&app).await;
    let log = app.log();
    let changes = log.matches("usage threshold state changed").count();
    assert_eq!(changes, 2, "under→near, near→over: {log}");
}

#[tokio::test]
async fn bad_usage_settings_stop_the_server_at_start() {
    let message = start_failure(
        &["BERTH_USAGE__REQUESTS__WARN_RATIO=1.5"],
        std::time::Duration::from_secs(10),
    )
    .await;
    assert!(message.contains("usage.requests.warn_ratio"), "{message}");
    let message = start_failure(
        &["BERTH_USAGE__COMPONENTS__ACTION=block"],
        std::time::Duration::from_secs(10),
    )
    .await;
    assert!(message.contains("block"), "{message}");
}

/// Authentication on, with a known admin password and login throttling out of the way (a
/// throttled attempt is answered 429, and this test wants 200 plain 401s).
const ADMIN_PASSWORD: &str = "usage-Admin-1";
const AUTH_ON: &[&str] = &[
    "BERTH_SECURITY__ENABLED=true",
    "BERTH_SECURITY__INITIAL_ADMIN_PASSWORD=usage-Admin-1",
    "BERTH_SECURITY__LOGIN_FAILURES_MAX=100000",
    "BERTH_SECURITY__LOGIN_ADDRESS_FAILURES_MAX=100000",
];

#[tokio::test]
async fn a_flood_of_401s_does_not_count_toward_the_request_limit() {
    let mut env = vec![
        "BERTH_USAGE__REQUESTS__LIMIT=50",
        "BERTH_USAGE__REQUESTS__ACTION=enforce",
    ];
    env.extend_from_slice(AUTH_ON);
    let app = spawn_app_with(&env).await;
    for _ in 0..200 {
        let r = app
            .req(Method::GET, "/v2/")
            .basic_auth("nobody", Some("wrong"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = app
        .req(Method::GET, "/service/rest/v1/usage")
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let u: Value = r.json().await.unwrap();
    assert_eq!(u["unauthorizedRequests"], 200, "{u}");
    assert!(u["requests"]["value"].as_u64().unwrap() < 50, "{u}");
    assert_eq!(u["requests"]["state"], "under", "{u}");
}

#[tokio::test]
async fn enforce_counts_each_new_tag_of_a_push_by_digest_with_tag_parameters() {
    // Arrange: 3 components, the limit.
    let app = spawn_app_with(ENFORCE_3_COMPONENTS).await;
    let (digest, manifest) = app.push_image("team/app", "v1", "one").await;
    app.push_image("team/app", "v2", "two").await;
    app.push_image("team/app", "v3", "three").await;
    let put = |query: &'static str| {
        app.req(
            Method::PUT,
            &format!("/v2/team/app/manifests/{digest}?{query}"),
        )
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest.clone())
        .send()
    };
    // Act
    let new_tag = put("tag=v1&tag=v4").await.unwrap();
    let existing_tags = put("tag=v1&tag=v2").await.unwrap();
    // Assert: a new tag is refused (and nothing set); re-pointing existing ones is not.
    assert_oci_error(new_tag, 403, "DENIED").await;
    assert_eq!(existing_tags.status(), 201);
    assert_eq!(get(&app, "/v2/team/app/manifests/v4").await, 404);
}
