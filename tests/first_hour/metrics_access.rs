//! Item 5 and issue 13 item 19: with security on, `/metrics` and `status/check` need the
//! metrics privilege (`nx-metrics-all`, as in Nexus) — a read-only scrape user gets them and
//! nothing else — and, as the README says, they are not limited by `admin_allowed_from`
//! (Prometheus scrapes from another host), unlike the admin API.

use reqwest::Method;
use serde_json::json;

use crate::common::*;
use crate::security_support::*;

/// The README's scrape user: a role holding only `nx-metrics-all`, and a user with it.
pub async fn create_scrape_user(app: &TestApp, user: &str, password: &str) {
    let r = send_json(
        app,
        Method::POST,
        &format!("{SECURITY}/roles"),
        &json!({"id": "metrics-scrape", "name": "metrics-scrape",
                "privileges": ["nx-metrics-all"], "roles": []}),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = send_json(
        app,
        Method::POST,
        &format!("{SECURITY}/users"),
        &json!({"userId": user, "firstName": "Prometheus", "lastName": "Scraper",
                "emailAddress": "metrics@example.org", "password": password,
                "status": "active", "roles": ["metrics-scrape"]}),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn a_scrape_user_reads_metrics_and_status_check_and_nothing_else() {
    // Arrange: the scrape user is made over the admin API, then loopback stops being an
    // admin address.
    let mut app = spawn_secure(&[]).await;
    create_scrape_user(&app, "metrics", "Scrape-Pw-1").await;
    app.restart_with(&[r#"BERTH_ADMIN_ALLOWED_FROM=["10.9.9.9"]"#])
        .await;
    let scraper = basic("metrics", "Scrape-Pw-1");
    // Act + Assert
    for path in [
        "/metrics",
        "/service/metrics/prometheus",
        "/service/rest/v1/status/check",
    ] {
        assert_eq!(
            status(&app, &Auth::None, Method::GET, path).await,
            401,
            "{path}"
        );
        assert_eq!(
            status(&app, &scraper, Method::GET, path).await,
            200,
            "{path}"
        );
    }
    assert_eq!(
        status(&app, &scraper, Method::GET, "/service/rest/v1/repositories").await,
        403
    );
    assert_eq!(
        status(&app, &scraper, Method::GET, "/v2/_catalog").await,
        200
    );
    let catalog = call(&app, &scraper, Method::GET, "/v2/_catalog")
        .text_body()
        .await;
    assert!(catalog.contains("\"repositories\":[]"), "{catalog}");
}

#[tokio::test]
async fn the_metrics_privilege_is_a_built_in_privilege() {
    let app = spawn_secure(&[]).await;
    let r = call(
        &app,
        &admin(),
        Method::GET,
        &format!("{SECURITY}/privileges/nx-metrics-all"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["readOnly"], true);
    assert_eq!(body["type"], "application");
}
