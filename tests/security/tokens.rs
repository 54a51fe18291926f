//! The Docker token realm: challenge, GET and POST token endpoint, and every way a token
//! must be refused (expired, other repository, other key, `alg: none`, tampered, disabled
//! or deleted user, privilege removed, names that try to escape the scope).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

async fn realm_app() -> TestApp {
    let app = spawn_secure(&[]).await;
    activate_token_realm(&app).await;
    create_hosted(&app, "other", true, None).await;
    create_ci_pusher(&app, "ci-pw-1").await;
    app
}

async fn ci_token(app: &TestApp, scope: &str) -> String {
    let (s, body) = token(app, &basic("ci", "ci-pw-1"), "/v2/token", scope).await;
    assert_eq!(s, 200, "{body}");
    body["token"].as_str().unwrap().to_string()
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

fn sign(key: &[u8], header: &Value, claims: &Value) -> String {
    let signed = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key),
        signed.as_bytes(),
    );
    format!("{signed}.{}", B64.encode(tag.as_ref()))
}

#[tokio::test]
async fn the_realm_challenges_with_bearer_and_its_tokens_push_and_pull() {
    let app = realm_app().await;
    let r = call(&app, &Auth::None, Method::GET, "/v2/")
        .send()
        .await
        .unwrap();
    let challenge = header(&r, "www-authenticate");
    let realm = format!("http://{}/v2/token", app.addr);
    assert_eq!(r.status(), 401);
    assert!(
        challenge.starts_with(&format!("Bearer realm=\"{realm}\",service=")),
        "{challenge}"
    );
    let r = call(&app, &Auth::None, Method::GET, "/v2/app/manifests/1")
        .send()
        .await
        .unwrap();
    assert!(header(&r, "www-authenticate").contains("scope=\"repository:app:pull\""));
    let t = ci_token(&app, "repository:app:pull,push").await;
    let claims = claims_of(&t);
    assert_eq!(claims["access"][0]["actions"], json!(["pull", "push"]));
    assert_eq!(claims["sub"], "ci");
    assert_eq!(
        try_push(&app, &Auth::Bearer(t.clone()), "app", "1").await,
        201
    );
    assert_eq!(
        status(
            &app,
            &Auth::Bearer(t.clone()),
            Method::GET,
            "/v2/app/manifests/1"
        )
        .await,
        200
    );
    assert_eq!(
        status(&app, &Auth::Bearer(t), Method::GET, "/v2/").await,
        200
    );
    // Basic stays accepted directly on /v2 with the realm on.
    assert_eq!(
        status(
            &app,
            &basic("ci", "ci-pw-1"),
            Method::GET,
            "/v2/app/manifests/1"
        )
        .await,
        200
    );
}

#[tokio::test]
async fn tokens_carry_only_held_actions_and_only_for_their_name_and_repository() {
    let app = realm_app().await;
    let t = ci_token(&app, "repository:repository/other/app:pull,push").await;
    assert_eq!(
        claims_of(&t)["access"],
        json!([]),
        "nothing held on 'other'"
    );
    let bearer = Auth::Bearer(t);
    assert_eq!(
        try_push(&app, &bearer, "repository/other/app", "1").await,
        401
    );
    let t = ci_token(&app, "repository:app:pull,push,delete").await;
    assert_eq!(
        claims_of(&t)["access"][0]["actions"],
        json!(["pull", "push"]),
        "no delete held"
    );
    let bearer = Auth::Bearer(t);
    assert_eq!(try_push(&app, &bearer, "app", "1").await, 201);
    assert_eq!(
        try_push(&app, &bearer, "app2", "1").await,
        401,
        "token for another name"
    );
    assert_eq!(
        try_push(&app, &bearer, "repository/other/app", "1").await,
        401
    );
    assert_eq!(
        status(&app, &bearer, Method::DELETE, "/v2/app/manifests/1").await,
        401
    );
    // Names that try to escape the scope never resolve to `app`.
    // (reqwest itself normalises `/./` and `/../`, so only encoded forms reach the server.)
    for path in [
        "/v2/app%2F..%2Fapp2/manifests/1",
        "/v2/app%2f%2e%2e%2fapp2/manifests/1",
        "/v2/%2e%2e/app2/manifests/1",
    ] {
        let s = status(&app, &bearer, Method::GET, path).await;
        assert!((400..500).contains(&s), "{path}: {s}");
    }
    let (_, body) = token(
        &app,
        &basic("ci", "ci-pw-1"),
        "/v2/token",
        "repository:app%2F..%2Fx:pull",
    )
    .await;
    assert_eq!(
        claims_of(body["token"].as_str().unwrap())["access"],
        json!([])
    );
}

#[tokio::test]
async fn forged_expired_and_tampered_tokens_are_refused() {
    let app = realm_app().await;
    let good = ci_token(&app, "repository:app:pull,push").await;
    let key = std::fs::read(app.data_dir().join("token.key")).unwrap();
    let hs = json!({"alg": "HS256", "typ": "JWT"});
    let now = claims_of(&good)["iat"].as_i64().unwrap();
    let mut expired = claims_of(&good);
    expired["exp"] = json!(now - 10);
    let mut wider = claims_of(&good);
    wider["access"][0]["name"] = json!("app2");
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(wider.to_string()),
        parts[2]
    );
    let none = format!("{}.{}.", B64.encode(r#"{"alg":"none"}"#), parts[1]);
    let forged = [
        ("expired", sign(&key, &hs, &expired)),
        (
            "other key",
            sign(
                b"another-key-another-key-another-key",
                &hs,
                &claims_of(&good),
            ),
        ),
        ("alg none", none),
        (
            "alg HS512",
            sign(&key, &json!({"alg": "HS512"}), &claims_of(&good)),
        ),
        ("tampered", tampered),
        ("refresh as access", {
            let mut c = claims_of(&good);
            c["use"] = json!("refresh");
            sign(&key, &hs, &c)
        }),
    ];
    assert_eq!(
        status(&app, &Auth::Bearer(good.clone()), Method::GET, "/v2/").await,
        200
    );
    for (what, t) in forged {
        let s = status(&app, &Auth::Bearer(t), Method::GET, "/v2/app/manifests/1").await;
        assert_eq!(s, 401, "{what}");
    }
    // Control: the same signing code with the real key is accepted (the checks above are real).
    let resigned = sign(&key, &hs, &claims_of(&good));
    assert_eq!(
        status(&app, &Auth::Bearer(resigned), Method::GET, "/v2/").await,
        200
    );
}

#[tokio::test]
async fn disabling_deleting_or_removing_privileges_revokes_live_tokens_at_once() {
    let app = realm_app().await;
    create_user_with(&app, "gone", "gone-pw-1", "docker-hosted", &["read"]).await;
    assert_eq!(try_push(&app, &admin(), "app", "1").await, 201);
    let scope = "repository:app:pull,push";
    let ci = Auth::Bearer(ci_token(&app, scope).await);
    let (_, body) = token(&app, &basic("gone", "gone-pw-1"), "/v2/token", scope).await;
    let gone = Auth::Bearer(body["token"].as_str().unwrap().to_string());
    let pull = "/v2/app/manifests/1";
    assert_eq!(status(&app, &ci, Method::GET, pull).await, 200);
    assert_eq!(status(&app, &gone, Method::GET, pull).await, 200);
    // Privilege removed: the role loses read.
    let role = json!({"id": "ci-role", "name": "ci-role",
        "privileges": ["nx-repository-view-docker-docker-hosted-browse"], "roles": []});
    let r = send_json(
        &app,
        Method::PUT,
        &format!("{SECURITY}/roles/ci-role"),
        &role,
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(status(&app, &ci, Method::GET, pull).await, 403);
    // Deleted user.
    assert_eq!(
        status(
            &app,
            &admin(),
            Method::DELETE,
            &format!("{SECURITY}/users/gone")
        )
        .await,
        204
    );
    assert_eq!(status(&app, &gone, Method::GET, pull).await, 401);
    // Disabled user.
    let body = json!({"userId": "ci", "firstName": "T", "lastName": "U", "emailAddress": "t@example.org",
        "source": "default", "status": "disabled", "roles": ["ci-role"]});
    let r = send_json(&app, Method::PUT, &format!("{SECURITY}/users/ci"), &body).await;
    assert_eq!(r.status(), 204);
    assert_eq!(status(&app, &ci, Method::GET, "/v2/").await, 401);
    assert_eq!(
        token(&app, &basic("ci", "ci-pw-1"), "/v2/token", scope)
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn oauth2_post_issues_refresh_tokens_that_yield_access_tokens() {
    let app = realm_app().await;
    let post = |form: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let r = app
                .req(Method::POST, "/v2/token")
                .form(&form)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (s, body) = post(vec![
        ("grant_type", "password".into()),
        ("username", "ci".into()),
        ("password", "ci-pw-1".into()),
        ("access_type", "offline".into()),
        ("client_id", "test".into()),
        ("service", "berth".into()),
        ("scope", "repository:app:pull,push".into()),
    ])
    .await;
    assert_eq!(s, 200, "{body}");
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    let (s, body) = post(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh.clone()),
        ("client_id", "test".into()),
        ("service", "berth".into()),
        ("scope", "repository:app:pull,push".into()),
    ])
    .await;
    assert_eq!(s, 200, "{body}");
    let access = Auth::Bearer(body["access_token"].as_str().unwrap().to_string());
    assert_eq!(try_push(&app, &access, "app", "1").await, 201);
    assert_eq!(
        status(&app, &Auth::Bearer(refresh), Method::GET, "/v2/").await,
        401,
        "refresh is not access"
    );
    let (s, _) = post(vec![
        ("grant_type", "password".into()),
        ("username", "ci".into()),
        ("password", "bad".into()),
    ])
    .await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn anonymous_tokens_pull_where_allowed_and_nothing_else() {
    let app = realm_app().await;
    create_hosted(&app, "public", false, None).await;
    for repo in ["public", "other"] {
        assert_eq!(
            try_push(&app, &admin(), &format!("repository/{repo}/app"), "1").await,
            201
        );
    }
    set_anonymous(&app, true).await;
    let (s, body) = token(
        &app,
        &Auth::None,
        "/v2/token",
        "repository:repository/public/app:pull,push",
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        claims_of(body["token"].as_str().unwrap())["access"][0]["actions"],
        json!(["pull"])
    );
    let anon = Auth::Bearer(body["token"].as_str().unwrap().to_string());
    assert_eq!(
        status(
            &app,
            &anon,
            Method::GET,
            "/v2/repository/public/app/manifests/1"
        )
        .await,
        200
    );
    assert_eq!(
        try_push(&app, &anon, "repository/public/app", "2").await,
        401
    );
    let (_, body) = token(
        &app,
        &Auth::None,
        "/v2/token",
        "repository:repository/other/app:pull",
    )
    .await;
    let anon = Auth::Bearer(body["token"].as_str().unwrap().to_string());
    assert_eq!(
        status(
            &app,
            &anon,
            Method::GET,
            "/v2/repository/other/app/manifests/1"
        )
        .await,
        401
    );
}

#[tokio::test]
async fn no_password_token_or_authorization_header_reaches_the_log() {
    let app = spawn_secure(&["RUST_LOG=trace"]).await;
    activate_token_realm(&app).await;
    create_user_with(
        &app,
        "ci",
        "Very-Secret-Pw-9",
        "docker-hosted",
        &["add", "edit", "read"],
    )
    .await;
    let (_, body) = token(
        &app,
        &basic("ci", "Very-Secret-Pw-9"),
        "/v2/token",
        "repository:app:pull,push",
    )
    .await;
    let t = body["token"].as_str().unwrap().to_string();
    assert_eq!(
        try_push(&app, &Auth::Bearer(t.clone()), "app", "1").await,
        201
    );
    let _ = status(&app, &basic("ci", "Wrong-Secret-Pw-8"), Method::GET, "/v2/").await;
    let log = app.log();
    assert!(log.contains("login failed"), "the event is logged:\n{log}");
    for secret in [
        "Very-Secret-Pw-9",
        "Wrong-Secret-Pw-8",
        ADMIN_PW,
        &t[..40],
        "Basic ",
        "Bearer ey",
        "uthorization",
    ] {
        assert!(!log.contains(secret), "{secret} appears in the log");
    }
    let sig = t.rsplit('.').next().unwrap();
    assert!(!log.contains(sig));
}

#[tokio::test]
async fn the_realm_under_repository_paths_issues_tokens_for_that_repository() {
    let app = realm_app().await;
    create_user_with(&app, "oc", "oc-pw-1", "other", &["add", "edit", "read"]).await;
    let path = "/repository/other/v2/app/manifests/1";
    let r = call(&app, &Auth::None, Method::GET, path)
        .send()
        .await
        .unwrap();
    let challenge = header(&r, "www-authenticate");
    let realm = format!("http://{}/repository/other/v2/token", app.addr);
    assert!(
        challenge.contains(&format!("realm=\"{realm}\"")),
        "{challenge}"
    );
    let (s, body) = token(
        &app,
        &basic("oc", "oc-pw-1"),
        "/repository/other/v2/token",
        "repository:app:pull,push",
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        claims_of(body["token"].as_str().unwrap())["access"][0]["repository"],
        "other"
    );
    let bearer = Auth::Bearer(body["token"].as_str().unwrap().to_string());
    let blob = b"via path routing";
    let r = call(
        &app,
        &bearer,
        Method::POST,
        &format!(
            "/repository/other/v2/app/blobs/uploads/?digest={}",
            sha256(blob)
        ),
    )
    .body(blob.to_vec())
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    // The same token is worthless for `app` in the default repository.
    assert_eq!(try_push(&app, &bearer, "app", "1").await, 401);
}
