//! Until authentication exists, the admin API answers only clients listed in
//! `admin_allowed_from` (loopback by default) and only on the main port.

use reqwest::Method;
use serde_json::json;

use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn admin_routes_refuse_clients_outside_admin_allowed_from_with_403() {
    // The test client connects from 127.0.0.1, which this list leaves out.
    let app = spawn_app_with(&[r#"BERTH_ADMIN_ALLOWED_FROM=["10.9.9.9"]"#]).await;

    for path in [
        REPOS,
        STORES,
        "/service/rest/v1/components?repository=x",
        "/service/rest/v1/nothing",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("admin_allowed_from"),
            "{body}"
        );
    }
    let r = app
        .send_json(Method::POST, HOSTED, &hosted_body("h", "default", None))
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.delete(&format!("{REPOS}/docker-hosted")).await, 403);

    // Status and the registry itself stay open.
    assert_eq!(app.get_json("/service/rest/v1/status").await.0, 200);
    assert_eq!(
        app.get_json("/service/rest/v1/status/writable").await.0,
        200
    );
    assert_eq!(app.get_json("/v2/").await.0, 200);
}

#[tokio::test]
async fn loopback_clients_may_use_the_admin_api_by_default() {
    let app = spawn_app().await;
    assert_eq!(app.get_json(REPOS).await.0, 200);
}

#[tokio::test]
async fn the_admin_api_is_not_served_on_connector_ports() {
    let app = spawn_app().await;
    let port = free_port();
    create(&app, "hosted", &hosted_body("h", "default", Some(port))).await;

    let r = app
        .client
        .get(format!("http://127.0.0.1:{port}{REPOS}"))
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["id"], json!("*"));
}
