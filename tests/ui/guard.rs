//! The UI's gate, over raw HTTP: security headers, cookie attributes, the same privilege
//! checks as the API for non-admins, CSRF and cross-site refusals, throttled sign-in,
//! sign-out and idle expiry.

use reqwest::header::COOKIE;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::*;
use crate::session::*;

const ADMIN_PW: &str = "Initial-Admin-Pw-1";

async fn spawn_secure(extra: &[&str]) -> TestApp {
    let mut args = vec![
        "BERTH_SECURITY__ENABLED=true",
        "BERTH_SECURITY__INITIAL_ADMIN_PASSWORD=Initial-Admin-Pw-1",
    ];
    args.extend_from_slice(extra);
    spawn_app_with(&args).await
}

/// Creates a user with the REST API, as an admin.
async fn create_user(app: &TestApp, id: &str, password: &str, roles: &[&str]) {
    let r = app
        .req(Method::POST, "/service/rest/v1/security/users")
        .basic_auth("admin", Some(ADMIN_PW))
        .json(&json!({"userId": id, "firstName": id, "lastName": "User",
            "emailAddress": format!("{id}@example.org"), "password": password,
            "status": "active", "roles": roles}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

async fn user_exists(app: &TestApp, id: &str) -> bool {
    let users: serde_json::Value = app
        .req(Method::GET, "/service/rest/v1/security/users")
        .basic_auth("admin", Some(ADMIN_PW))
        .json_body()
        .await;
    users.as_array().unwrap().iter().any(|u| u["userId"] == id)
}

/// The form that would create user `id` with the admin role.
fn new_admin_form(csrf: Option<&str>, id: &str) -> Vec<(String, String)> {
    let mut form = vec![
        ("id".to_string(), id.to_string()),
        ("first_name".into(), "Eve".into()),
        ("last_name".into(), "Il".into()),
        ("email".into(), "eve@example.org".into()),
        ("password".into(), "Eve-Pw-123".into()),
        ("role".into(), "nx-admin".into()),
    ];
    if let Some(c) = csrf {
        form.push(("csrf".into(), c.into()));
    }
    form
}

#[tokio::test]
async fn every_ui_response_carries_the_security_headers_and_a_locked_down_cookie() {
    let app = spawn_secure(&[]).await;
    let c = client();
    for path in [
        "/",
        "/ui/",
        "/ui/login",
        "/ui/no-such-page",
        "/ui/static/ui.css",
    ] {
        let r = c.get(app.url(path)).send().await.unwrap();
        let csp = header(&r, "content-security-policy");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&r, "x-frame-options"), "DENY", "{path}");
        assert!(!header(&r, "referrer-policy").is_empty(), "{path}");
    }
    let missing = c.get(app.url("/ui/no-such-page")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.text().await.unwrap().contains("<h1>Error 404</h1>"));
    let (r, session) = sign_in(&app, "admin", ADMIN_PW).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(session.is_some());
    let set = set_cookie_header(&r, "berth_session").unwrap();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    assert!(!set.contains("Secure"), "plain HTTP: no Secure flag: {set}");
}

#[tokio::test]
async fn a_non_admin_cannot_reach_admin_pages_and_gets_403_on_form_posts_token_or_not() {
    let app = spawn_secure(&[]).await;
    create_user(&app, "dev", "Dev-Pw-123", &["nx-anonymous"]).await;
    let (_, session) = sign_in(&app, "dev", "Dev-Pw-123").await;
    let session = session.expect("dev signs in");
    let c = client();
    for path in [
        "/ui/admin",
        "/ui/admin/security",
        "/ui/admin/repositories",
        "/ui/admin/blobstores",
        "/ui/admin/tasks",
        "/ui/usage",
    ] {
        let r = c
            .get(app.url(path))
            .header(COOKIE, &session.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    for csrf in [Some(session.csrf.as_str()), None] {
        for path in [
            "/ui/admin/users",
            "/ui/admin/realms",
            "/ui/admin/blobstores",
        ] {
            let r = c
                .post(app.url(path))
                .header(COOKIE, &session.cookie)
                .form(&new_admin_form(csrf, "eve"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} csrf={csrf:?}");
        }
    }
    assert!(!user_exists(&app, "eve").await);
    // Anonymous visitors are sent to sign in, and cannot post either.
    let r = c.get(app.url("/ui/admin")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(&r, "location"), "/ui/login");
    let r = c
        .post(app.url("/ui/admin/users"))
        .form(&new_admin_form(None, "eve"))
        .send()
        .await
        .unwrap();
    assert!(r.status() == StatusCode::SEE_OTHER || r.status() == StatusCode::FORBIDDEN);
    assert!(!user_exists(&app, "eve").await);
}

#[tokio::test]
async fn a_forged_cross_site_post_is_refused_even_with_the_admin_session_cookie() {
    let app = spawn_secure(&[]).await;
    let (_, session) = sign_in(&app, "admin", ADMIN_PW).await;
    let s = session.unwrap();
    let c = client();
    let post = |csrf: Option<&str>, id: &str| {
        c.post(app.url("/ui/admin/users"))
            .header(COOKIE, &s.cookie)
            .form(&new_admin_form(csrf, id))
    };
    // No token, a wrong token, another site's Origin, a cross-site fetch: all 403.
    let forged = [
        post(None, "eve1"),
        post(Some("0000"), "eve2"),
        post(Some(&s.csrf), "eve3").header("Origin", "http://evil.example"),
        post(Some(&s.csrf), "eve4").header("Sec-Fetch-Site", "cross-site"),
    ];
    for (i, request) in forged.into_iter().enumerate() {
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "forged post {i}");
        assert!(!user_exists(&app, &format!("eve{}", i + 1)).await);
    }
    // The same post from the UI itself goes through.
    let origin = app.base.clone();
    let r = post(Some(&s.csrf), "friend")
        .header("Origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(user_exists(&app, "friend").await);
}

#[tokio::test]
async fn sign_in_is_throttled_together_with_the_api() {
    let app = spawn_secure(&[]).await;
    for _ in 0..5 {
        let (r, s) = sign_in(&app, "admin", "wrong").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(s.is_none());
    }
    let (r, s) = sign_in(&app, "admin", ADMIN_PW).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(s.is_none());
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Too many failed sign-in attempts"));
    // The API refuses the same user too: one throttle.
    let api = app
        .req(Method::GET, "/service/rest/v1/security/users")
        .basic_auth("admin", Some(ADMIN_PW))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// A sign-in through a proxy that forwards for `forwarded_for`; the POST's status.
async fn sign_in_forwarded(
    app: &TestApp,
    forwarded_for: &str,
    user: &str,
    password: &str,
) -> StatusCode {
    let c = client();
    let form = c.get(app.url("/ui/login")).send().await.unwrap();
    let login_cookie = cookie(&form, "berth_login_csrf").expect("login CSRF cookie");
    let token = csrf_of(&form.text().await.unwrap());
    c.post(app.url("/ui/login"))
        .header(COOKIE, login_cookie)
        .header("X-Forwarded-For", forwarded_for)
        .form(&[
            ("csrf", token.as_str()),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn behind_a_trusted_proxy_sign_in_is_throttled_per_forwarded_client() {
    // Arrange: the peer 127.0.0.1 is the trusted proxy.
    let app = spawn_secure(&[
        "BERTH_SECURITY__TRUSTED_PROXIES=[\"127.0.0.1\"]",
        "BERTH_SECURITY__LOGIN_FAILURES_MAX=3",
    ])
    .await;
    let mut attacked = Vec::new();
    for _ in 0..4 {
        attacked.push(sign_in_forwarded(&app, "198.51.100.66", "admin", "wrong").await);
    }
    // Act
    let operator = sign_in_forwarded(&app, "198.51.100.7", "admin", ADMIN_PW).await;
    let attacker_right = sign_in_forwarded(&app, "198.51.100.66", "admin", ADMIN_PW).await;
    let spoofing = sign_in_forwarded(&app, "198.51.100.7, 198.51.100.66", "admin", ADMIN_PW).await;
    // Assert
    let (unauthorized, throttled) = (StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        attacked,
        [unauthorized, unauthorized, unauthorized, throttled]
    );
    assert_eq!(operator, StatusCode::SEE_OTHER, "another client signs in");
    assert_eq!(attacker_right, throttled);
    assert_eq!(spoofing, throttled, "the left-most entry is not believed");
}

#[tokio::test]
async fn signing_out_or_idling_past_the_limit_ends_the_session() {
    let app = spawn_secure(&["BERTH_SECURITY__UI_SESSION_IDLE_SECS=2"]).await;
    let c = client();
    let (_, s) = sign_in(&app, "admin", ADMIN_PW).await;
    let s = s.unwrap();
    let admin_page = || c.get(app.url("/ui/admin")).header(COOKIE, &s.cookie);
    assert_eq!(admin_page().send().await.unwrap().status(), StatusCode::OK);
    let r = c
        .post(app.url("/ui/logout"))
        .header(COOKIE, &s.cookie)
        .form(&[("csrf", s.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let after = admin_page().send().await.unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER, "signed out");
    assert_eq!(header(&after, "location"), "/ui/login");

    let (_, s2) = sign_in(&app, "admin", ADMIN_PW).await;
    let s2 = s2.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let idle = c
        .get(app.url("/ui/admin"))
        .header(COOKIE, &s2.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(idle.status(), StatusCode::SEE_OTHER, "idle session expired");
}
