//! Bootstrap, the admin security API, Basic authentication and the authorization table.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn first_start_writes_a_private_random_admin_password_that_changing_it_removes() {
    // Arrange: no initial password configured, security on.
    let app = spawn_app_with(&["BERTH_SECURITY__ENABLED=true"]).await;
    let file = app.data_dir().join("admin.password");
    let password = std::fs::read_to_string(&file).expect("admin.password exists");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    let me = basic("admin", password.trim());
    // Act
    let before = status(&app, &me, Method::GET, &format!("{SECURITY}/users")).await;
    let wrong = status(
        &app,
        &basic("admin", "admin123"),
        Method::GET,
        &format!("{SECURITY}/users"),
    )
    .await;
    let changed = call(
        &app,
        &me,
        Method::PUT,
        &format!("{SECURITY}/users/admin/change-password"),
    )
    .header("Content-Type", "text/plain")
    .body("N3w-Passw0rd")
    .send()
    .await
    .unwrap()
    .status();
    let after = status(
        &app,
        &basic("admin", "N3w-Passw0rd"),
        Method::GET,
        &format!("{SECURITY}/users"),
    )
    .await;
    let old = status(&app, &me, Method::GET, &format!("{SECURITY}/users")).await;
    // Assert
    assert_eq!(mode, 0o600);
    assert!(password.trim().len() >= 20, "a long random password");
    assert_eq!((before, wrong), (200, 401));
    assert_eq!(changed, 204);
    assert!(
        !file.exists(),
        "admin.password is removed once the password changes"
    );
    assert_eq!((after, old), (200, 401));
}

#[tokio::test]
async fn security_is_off_by_default_and_says_so_in_the_log() {
    let app = spawn_app().await;
    let pushed = try_push(&app, &Auth::None, "open/app", "1").await;
    assert_eq!(pushed, 201, "the default start stays an open registry");
    assert!(app.log().contains("security disabled"), "{}", app.log());
    assert!(
        app.data_dir().join("admin.password").exists(),
        "bootstrap happens anyway"
    );
}

#[tokio::test]
async fn unauthenticated_requests_get_401_with_a_basic_challenge_and_wrong_passwords_too() {
    let app = spawn_secure(&[]).await;
    for auth in [
        Auth::None,
        basic("admin", "wrong"),
        basic("nobody", "x"),
        Auth::Bearer("junk".into()),
    ] {
        let r = call(&app, &auth, Method::GET, "/v2/").send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        assert_eq!(header(&r, "www-authenticate"), "Basic realm=\"Berth\"");
        assert_oci_error(r, 401, "UNAUTHORIZED").await;
    }
    assert_eq!(status(&app, &admin(), Method::GET, "/v2/").await, 200);
    assert_eq!(try_push(&app, &Auth::None, "app", "1").await, 401);
}

#[tokio::test]
async fn the_admin_api_needs_a_user_with_the_admin_role() {
    let app = spawn_secure(&[]).await;
    create_user_with(&app, "dev", "dev-pw-1", "docker-hosted", &["read"]).await;
    let users = format!("{SECURITY}/users");
    let r = call(&app, &Auth::None, Method::GET, &users)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(header(&r, "www-authenticate").starts_with("BASIC realm="));
    assert_eq!(
        status(&app, &basic("dev", "dev-pw-1"), Method::GET, &users).await,
        403
    );
    assert_eq!(status(&app, &admin(), Method::GET, &users).await, 200);
    assert_eq!(
        status(&app, &Auth::None, Method::GET, "/service/rest/v1/status").await,
        200
    );
    assert_eq!(
        status(
            &app,
            &Auth::None,
            Method::GET,
            "/service/metrics/prometheus"
        )
        .await,
        401
    );
}

#[tokio::test]
async fn the_seeds_recipe_lets_a_user_push_to_one_repository_only() {
    // Arrange: the role holds add+edit+read+browse on docker-hosted only.
    let app = spawn_secure(&[]).await;
    create_hosted(&app, "other", true, None).await;
    create_ci_pusher(&app, "ci-pw-1").await;
    let ci = basic("ci", "ci-pw-1");
    // Act
    let own = try_push(&app, &ci, "team/app", "1").await;
    let again = try_push(&app, &ci, "team/app", "1").await;
    let other = try_push(&app, &ci, "repository/other/team/app", "1").await;
    let pull = status(&app, &ci, Method::GET, "/v2/team/app/manifests/1").await;
    let delete = status(&app, &ci, Method::DELETE, "/v2/team/app/manifests/1").await;
    // Assert
    assert_eq!((own, again), (201, 201));
    assert_eq!(other, 403, "no privilege on 'other'");
    assert_eq!(pull, 200);
    assert_eq!(delete, 403, "no delete privilege");
    let r = call(&app, &ci, Method::DELETE, "/v2/team/app/manifests/1")
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 403, "DENIED").await;
    assert_eq!(
        status(&app, &admin(), Method::GET, "/v2/team/app/manifests/1").await,
        200,
        "data intact"
    );
}

#[tokio::test]
async fn catalog_and_tag_lists_show_only_what_the_caller_may_browse() {
    let app = spawn_secure(&[]).await;
    assert_eq!(try_push(&app, &admin(), "secret/app", "1").await, 201);
    create_user_with(&app, "reader", "reader-pw-1", "docker-hosted", &["read"]).await;
    create_user_with(
        &app,
        "browser",
        "browser-pw-1",
        "docker-hosted",
        &["browse"],
    )
    .await;
    let catalog = |auth: Auth| {
        let app = &app;
        async move {
            let r = call(app, &auth, Method::GET, "/v2/_catalog")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()["repositories"].clone()
        }
    };
    assert_eq!(catalog(basic("reader", "reader-pw-1")).await, json!([]));
    assert_eq!(
        catalog(basic("browser", "browser-pw-1")).await,
        json!(["secret/app"])
    );
    let tags = "/v2/secret/app/tags/list";
    assert_eq!(
        status(&app, &basic("reader", "reader-pw-1"), Method::GET, tags).await,
        403
    );
    assert_eq!(
        status(&app, &basic("browser", "browser-pw-1"), Method::GET, tags).await,
        200
    );
    assert_eq!(
        status(
            &app,
            &basic("browser", "browser-pw-1"),
            Method::GET,
            "/v2/secret/app/manifests/1"
        )
        .await,
        403,
        "browse is not read"
    );
}

#[tokio::test]
async fn routes_outside_the_table_are_denied() {
    let app = spawn_secure(&[]).await;
    // `/` is the public landing page Nexus clients probe (tests/first_hour).
    assert_eq!(
        status(&app, &Auth::None, Method::GET, "/favicon.ico").await,
        401
    );
    assert_eq!(status(&app, &Auth::None, Method::GET, "/v1/").await, 401);
    assert_eq!(status(&app, &admin(), Method::GET, "/anything").await, 403);
    // A bad path tells an anonymous caller nothing about which repositories exist.
    assert_eq!(
        status(
            &app,
            &Auth::None,
            Method::GET,
            "/repository/nope/v2/a/tags/list"
        )
        .await,
        401
    );
}

#[tokio::test]
async fn anonymous_pull_works_only_where_allowed_and_never_pushes() {
    // Arrange
    let app = spawn_secure(&[]).await;
    create_hosted(&app, "public", false, None).await;
    create_hosted(&app, "private", true, None).await;
    for repo in ["public", "private"] {
        let name = format!("repository/{repo}/app");
        assert_eq!(try_push(&app, &admin(), &name, "1").await, 201);
    }
    let pull = |repo: &str| format!("/v2/repository/{repo}/app/manifests/1");
    let before = status(&app, &Auth::None, Method::GET, &pull("public")).await;
    // Act
    set_anonymous(&app, true).await;
    let public = status(&app, &Auth::None, Method::GET, &pull("public")).await;
    let private = status(&app, &Auth::None, Method::GET, &pull("private")).await;
    let push = try_push(&app, &Auth::None, "repository/public/app", "2").await;
    let delete = status(&app, &Auth::None, Method::DELETE, &pull("public")).await;
    // Assert
    assert_eq!(before, 401, "anonymous access is off until enabled");
    assert_eq!((public, private), (200, 401));
    assert_eq!((push, delete), (401, 401));
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_per_user_and_client() {
    let app = spawn_secure(&["BERTH_SECURITY__LOGIN_FAILURES_MAX=3"]).await;
    for _ in 0..3 {
        assert_eq!(
            status(&app, &basic("admin", "guess"), Method::GET, "/v2/").await,
            401
        );
    }
    let r = call(&app, &admin(), Method::GET, "/v2/")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        429,
        "even the right password waits out the window"
    );
    assert_oci_error(r, 429, "TOOMANYREQUESTS").await;
}

#[tokio::test]
async fn a_remembered_password_does_not_pass_a_throttled_client() {
    let app = spawn_secure(&["BERTH_SECURITY__LOGIN_FAILURES_MAX=3"]).await;
    // The right password is checked once, then remembered (no argon2 per request).
    for _ in 0..3 {
        assert_eq!(status(&app, &admin(), Method::GET, "/v2/").await, 200);
    }
    for _ in 0..3 {
        assert_eq!(
            status(&app, &basic("admin", "guess"), Method::GET, "/v2/").await,
            401
        );
    }
    assert_eq!(
        status(&app, &admin(), Method::GET, "/v2/").await,
        429,
        "the remembered password does not skip the throttle of a client that failed"
    );
}

#[tokio::test]
async fn a_remembered_password_stops_working_at_once_when_changed_or_its_user_is_disabled() {
    let app = spawn_secure(&[]).await;
    create_user_with(&app, "ci", "Ci-Pw-1", "docker-hosted", &["read"]).await;
    let old = basic("ci", "Ci-Pw-1");
    for _ in 0..3 {
        assert_eq!(status(&app, &old, Method::GET, "/v2/").await, 200);
    }
    let r = call(
        &app,
        &admin(),
        Method::PUT,
        &format!("{SECURITY}/users/ci/change-password"),
    )
    .header("Content-Type", "text/plain")
    .body("Ci-Pw-2")
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(status(&app, &old, Method::GET, "/v2/").await, 401);
    let new = basic("ci", "Ci-Pw-2");
    for _ in 0..3 {
        assert_eq!(status(&app, &new, Method::GET, "/v2/").await, 200);
    }
    let body = json!({"userId": "ci", "firstName": "C", "lastName": "I",
        "emailAddress": "ci@example.org", "source": "default", "status": "disabled",
        "roles": ["ci-role"]});
    let r = send_json(&app, Method::PUT, &format!("{SECURITY}/users/ci"), &body).await;
    assert_eq!(r.status(), 204);
    assert_eq!(status(&app, &new, Method::GET, "/v2/").await, 401);
}

#[tokio::test]
async fn roles_and_privileges_are_validated_like_nexus() {
    let app = spawn_secure(&[]).await;
    let (s, list) = {
        let r = call(
            &app,
            &admin(),
            Method::GET,
            &format!("{SECURITY}/privileges"),
        )
        .send()
        .await
        .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(s, 200);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for n in [
        "nx-all",
        "nx-repository-view-docker-docker-hosted-add",
        "nx-repository-view-*-*-read",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    let role = |privs: Value| json!({"id": "r1", "name": "r1", "privileges": privs, "roles": []});
    let r = send_json(
        &app,
        Method::POST,
        &format!("{SECURITY}/roles"),
        &role(json!(["nx-nope"])),
    )
    .await;
    assert_eq!(r.status(), 400);
    let r = send_json(
        &app,
        Method::PUT,
        &format!("{SECURITY}/roles/nx-admin"),
        &json!({"id": "nx-admin", "name": "x", "privileges": [], "roles": []}),
    )
    .await;
    assert_eq!(r.status(), 400, "built-in roles are read-only");
    let custom = json!({"name": "team-pull", "format": "docker", "repository": "docker-*",
                        "actions": ["READ", "BROWSE"]});
    let r = send_json(
        &app,
        Method::POST,
        &format!("{SECURITY}/privileges/repository-view"),
        &custom,
    )
    .await;
    assert_eq!(r.status(), 201);
    let r = send_json(
        &app,
        Method::POST,
        &format!("{SECURITY}/privileges/repository-view"),
        &custom,
    )
    .await;
    assert_eq!(r.status(), 400, "duplicate name");
    let r = send_json(
        &app,
        Method::POST,
        &format!("{SECURITY}/roles"),
        &role(json!(["team-pull"])),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = send_json(
        &app,
        Method::PUT,
        &format!("{SECURITY}/realms/active"),
        &json!(["Nope"]),
    )
    .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn the_initial_password_is_redacted_from_berth_config() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("config")
        .env("BERTH_SECURITY__INITIAL_ADMIN_PASSWORD", "Do-Not-Print-Me")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("[security]") && text.contains("<redacted>"),
        "{text}"
    );
    assert!(!text.contains("Do-Not-Print-Me"));
}
