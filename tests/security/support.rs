//! Helpers: a Berth with security on, authenticated calls, the seeds' role/user recipe, and
//! an image push with any credentials.

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};

use crate::common::*;

pub const ADMIN_PW: &str = "Initial-Admin-Pw-1";
pub const SECURITY: &str = "/service/rest/v1/security";

/// How a request authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Basic(String, String),
    Bearer(String),
}

pub fn basic(user: &str, password: &str) -> Auth {
    Auth::Basic(user.into(), password.into())
}

pub fn admin() -> Auth {
    basic("admin", ADMIN_PW)
}

/// Berth with `security.enabled = true` and a known initial admin password.
pub async fn spawn_secure(extra: &[&str]) -> TestApp {
    let mut args = vec![
        "BERTH_SECURITY__ENABLED=true",
        "BERTH_SECURITY__INITIAL_ADMIN_PASSWORD=Initial-Admin-Pw-1",
    ];
    args.extend_from_slice(extra);
    spawn_app_with(&args).await
}

pub fn call(app: &TestApp, auth: &Auth, method: Method, path: &str) -> RequestBuilder {
    let r = app.req(method, path);
    match auth {
        Auth::None => r,
        Auth::Basic(u, p) => r.basic_auth(u, Some(p)),
        Auth::Bearer(t) => r.bearer_auth(t),
    }
}

pub async fn send_json(app: &TestApp, method: Method, path: &str, body: &Value) -> Response {
    call(app, &admin(), method, path)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// Creates a hosted repository (`forceBasicAuth` false = anonymous pull allowed).
pub async fn create_hosted(app: &TestApp, name: &str, force_basic_auth: bool, port: Option<u16>) {
    let body = json!({
        "name": name, "online": true,
        "storage": {"blobStoreName": "default", "strictContentTypeValidation": true,
                    "writePolicy": "ALLOW"},
        "docker": {"v1Enabled": false, "forceBasicAuth": force_basic_auth, "httpPort": port},
    });
    let path = "/service/rest/v1/repositories/docker/hosted";
    let r = send_json(app, Method::POST, path, &body).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

/// The seeds' recipe: a role holding `actions` on `repo`, and a user with that role.
pub async fn create_user_with(
    app: &TestApp,
    user: &str,
    password: &str,
    repo: &str,
    actions: &[&str],
) {
    let privileges: Vec<String> = actions
        .iter()
        .map(|a| format!("nx-repository-view-docker-{repo}-{a}"))
        .collect();
    let role = format!("{user}-role");
    let r = send_json(
        app,
        Method::POST,
        &format!("{SECURITY}/roles"),
        &json!({"id": role, "name": role, "privileges": privileges, "roles": []}),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = send_json(
        app,
        Method::POST,
        &format!("{SECURITY}/users"),
        &json!({"userId": user, "firstName": "T", "lastName": "U",
                "emailAddress": "t@example.org", "password": password,
                "status": "active", "roles": [role]}),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// The seeds' CI user `ci`: may push to and pull from `docker-hosted` (add, edit, read,
/// browse) and nothing else.
pub async fn create_ci_pusher(app: &TestApp, password: &str) {
    create_user_with(
        app,
        "ci",
        password,
        "docker-hosted",
        &["add", "edit", "read", "browse"],
    )
    .await;
}

/// Enables anonymous access and/or the DockerToken realm.
pub async fn set_anonymous(app: &TestApp, enabled: bool) {
    let body =
        json!({"enabled": enabled, "userId": "anonymous", "realmName": "NexusAuthorizingRealm"});
    let r = send_json(app, Method::PUT, &format!("{SECURITY}/anonymous"), &body).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

pub async fn activate_token_realm(app: &TestApp) {
    let body = json!([
        "NexusAuthenticatingRealm",
        "NexusAuthorizingRealm",
        "DockerToken"
    ]);
    let r = send_json(
        app,
        Method::PUT,
        &format!("{SECURITY}/realms/active"),
        &body,
    )
    .await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
}

/// Pushes config + layer + manifest under `/v2/<name>` as `auth`; returns the status of
/// the first refused step, or of the manifest PUT (201) if all went through.
pub async fn try_push(app: &TestApp, auth: &Auth, name: &str, tag: &str) -> u16 {
    let image = Image::oci(
        format!("{{\"seed\":\"{name}:{tag}\"}}").into_bytes(),
        vec![format!("layer {name}:{tag}").into_bytes()],
    );
    let r = push_with(
        |method, path| call(app, auth, method, path),
        &format!("/v2/{name}"),
        tag,
        &image,
    )
    .await;
    r.status().as_u16()
}

pub async fn status(app: &TestApp, auth: &Auth, method: Method, path: &str) -> u16 {
    call(app, auth, method, path)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A token from `GET <realm>?scope=…` with `auth` (Basic or none).
pub async fn token(app: &TestApp, auth: &Auth, realm_path: &str, scope: &str) -> (u16, Value) {
    let r = call(
        app,
        auth,
        Method::GET,
        &format!("{realm_path}?service=berth&scope={scope}"),
    )
    .send()
    .await
    .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}
