//! Refresh tokens die with the credentials they were issued for (issue 13 item 8): a
//! password change, a lost role, deactivation, and delete + re-create of the same name.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::security_support::*;

/// `POST /v2/token` with a form; (status, body).
async fn post_token(app: &TestApp, form: &[(&str, &str)]) -> (u16, Value) {
    let r = app
        .req(Method::POST, "/v2/token")
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// A refresh token for `user` (OAuth2 password grant, offline access).
async fn refresh_token_of(app: &TestApp, user: &str, password: &str) -> String {
    let (s, body) = post_token(
        app,
        &[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
            ("access_type", "offline"),
            ("client_id", "test"),
            ("service", "berth"),
            ("scope", "repository:app:pull"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    body["refresh_token"].as_str().unwrap().to_string()
}

/// The status of exchanging `refresh` for an access token.
async fn refresh_status(app: &TestApp, refresh: &str) -> u16 {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh),
        ("client_id", "test"),
        ("service", "berth"),
        ("scope", "repository:app:pull"),
    ];
    post_token(app, &form).await.0
}

async fn realm_app_with_ci() -> TestApp {
    let app = spawn_secure(&[]).await;
    activate_token_realm(&app).await;
    create_user_with(&app, "ci", "ci-pw-1", "docker-hosted", &["read"]).await;
    app
}

async fn put_user(app: &TestApp, status: &str, roles: &[&str]) {
    let body = json!({"userId": "ci", "firstName": "T", "lastName": "U",
        "emailAddress": "t@example.org", "status": status, "roles": roles, "source": "default"});
    let r = send_json(app, Method::PUT, &format!("{SECURITY}/users/ci"), &body).await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn a_refresh_token_stops_working_when_the_password_changes() {
    // Arrange
    let app = realm_app_with_ci().await;
    let refresh = refresh_token_of(&app, "ci", "ci-pw-1").await;
    let before = refresh_status(&app, &refresh).await;
    // Act
    let r = call(
        &app,
        &admin(),
        Method::PUT,
        &format!("{SECURITY}/users/ci/change-password"),
    )
    .header("content-type", "text/plain")
    .body("ci-pw-2")
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    // Assert
    assert_eq!(before, 200);
    assert_eq!(refresh_status(&app, &refresh).await, 401);
    let fresh = refresh_token_of(&app, "ci", "ci-pw-2").await;
    assert_eq!(refresh_status(&app, &fresh).await, 200);
}

#[tokio::test]
async fn a_refresh_token_stops_working_when_the_user_loses_a_role_or_is_disabled() {
    // Arrange
    let app = realm_app_with_ci().await;
    let first = refresh_token_of(&app, "ci", "ci-pw-1").await;
    // Act: the role is taken away, then given back.
    put_user(&app, "active", &[]).await;
    let after_role_loss = refresh_status(&app, &first).await;
    put_user(&app, "active", &["ci-role"]).await;
    let second = refresh_token_of(&app, "ci", "ci-pw-1").await;
    put_user(&app, "disabled", &["ci-role"]).await;
    put_user(&app, "active", &["ci-role"]).await;
    // Assert
    assert_eq!(after_role_loss, 401);
    assert_eq!(refresh_status(&app, &first).await, 401, "gone for good");
    assert_eq!(
        refresh_status(&app, &second).await,
        401,
        "disabled in between"
    );
}

#[tokio::test]
async fn a_refresh_token_of_a_deleted_user_does_not_work_for_a_recreated_user_of_that_name() {
    // Arrange
    let app = realm_app_with_ci().await;
    let refresh = refresh_token_of(&app, "ci", "ci-pw-1").await;
    // Act: delete and re-create "ci" with the same password and role.
    let r = call(
        &app,
        &admin(),
        Method::DELETE,
        &format!("{SECURITY}/users/ci"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let body = json!({"userId": "ci", "firstName": "T", "lastName": "U",
        "emailAddress": "t@example.org", "password": "ci-pw-1",
        "status": "active", "roles": ["ci-role"]});
    let r = send_json(&app, Method::POST, &format!("{SECURITY}/users"), &body).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // Assert
    assert_eq!(refresh_status(&app, &refresh).await, 401);
}

#[tokio::test]
async fn a_refresh_token_stops_working_when_its_role_loses_a_privilege() {
    // Arrange
    let app = realm_app_with_ci().await;
    let refresh = refresh_token_of(&app, "ci", "ci-pw-1").await;
    // Act: the user keeps the role, the role loses its privilege.
    let body = json!({"id": "ci-role", "name": "ci-role", "privileges": [], "roles": []});
    let r = send_json(
        &app,
        Method::PUT,
        &format!("{SECURITY}/roles/ci-role"),
        &body,
    )
    .await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    // Assert
    assert_eq!(refresh_status(&app, &refresh).await, 401);
}
