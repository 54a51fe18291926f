//! Item 10's setting: `security.refresh_ttl_secs = 0` issues no refresh (identity) tokens,
//! so `docker login` keeps the credentials themselves and `podman login` can share them.

use reqwest::Method;
use serde_json::Value;

use crate::common::*;
use crate::security_support::*;

async fn password_grant(app: &TestApp) -> Value {
    let r = app
        .req(Method::POST, "/v2/token")
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", ADMIN_PW),
            ("access_type", "offline"),
            ("client_id", "docker"),
            ("service", "berth"),
            ("scope", "repository:app:pull"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn with_refresh_ttl_zero_docker_login_gets_no_identity_token() {
    // Arrange
    let default = spawn_secure(&[]).await;
    let no_refresh = spawn_secure(&["BERTH_SECURITY__REFRESH_TTL_SECS=0"]).await;
    for app in [&default, &no_refresh] {
        activate_token_realm(app).await;
    }
    // Act
    let with = password_grant(&default).await;
    let without = password_grant(&no_refresh).await;
    // Assert
    assert!(with["refresh_token"].is_string(), "{with}");
    assert!(without["refresh_token"].is_null(), "{without}");
    assert!(without["access_token"].is_string(), "{without}");
}
