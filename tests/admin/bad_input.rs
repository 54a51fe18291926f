//! Refused definitions: each answers 400 with Nexus's `[{"id","message"}]` list, and a
//! re-list shows that nothing changed.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

/// Sends `body`, expects a 400 naming `id`, and checks every definition is unchanged.
async fn refused(app: &TestApp, method: Method, path: &str, body: &Value, id: &str) -> String {
    let before = snapshot(app).await;
    let r = app.send_json(method, path, body).await;
    let message = assert_invalid(r, id).await;
    assert_eq!(snapshot(app).await, before, "a refused change left traces");
    message
}

#[tokio::test]
async fn a_duplicate_repository_name_is_refused() {
    let app = spawn_app().await;
    let body = hosted_body("docker-hosted", "default", None);
    let message = refused(&app, Method::POST, HOSTED, &body, "name").await;
    assert!(message.contains("already used"), "{message}");
    // A group may not take a hosted repository's name either.
    create(&app, "hosted", &hosted_body("h", "default", None)).await;
    let body = group_body("docker-hosted", &["h"], None, None);
    refused(&app, Method::POST, GROUP, &body, "name").await;
}

#[tokio::test]
async fn an_unknown_blob_store_is_refused() {
    let app = spawn_app().await;
    let body = hosted_body("h", "nowhere", None);
    let message = refused(&app, Method::POST, HOSTED, &body, "storage.blobStoreName").await;
    assert!(message.contains("nowhere"), "{message}");
}

#[tokio::test]
async fn a_group_member_that_does_not_exist_is_refused() {
    let app = spawn_app().await;
    let body = group_body("g", &["docker-hosted", "ghost"], None, None);
    let message = refused(&app, Method::POST, GROUP, &body, "group.memberNames").await;
    assert!(message.contains("ghost"), "{message}");
}

#[tokio::test]
async fn a_writable_member_that_is_not_a_hosted_member_is_refused() {
    let app = spawn_app().await;
    create_group(&app, "inner", &["docker-hosted"]).await;
    let outside = group_body("g", &["docker-hosted"], Some("inner"), None);
    refused(&app, Method::POST, GROUP, &outside, "group.writableMember").await;
    let a_group = group_body("g", &["inner"], Some("inner"), None);
    refused(&app, Method::POST, GROUP, &a_group, "group.writableMember").await;
}

#[tokio::test]
async fn an_update_that_would_make_groups_cyclic_is_refused() {
    let app = spawn_app().await;
    create_group(&app, "outer", &["docker-hosted"]).await;
    create_group(&app, "inner", &["outer"]).await;

    let cyclic = group_body("outer", &["docker-hosted", "inner"], None, None);
    let message = refused(&app, Method::PUT, &format!("{GROUP}/outer"), &cyclic, "*").await;

    assert!(message.contains("cycle"), "{message}");
    let itself = group_body("outer", &["outer"], None, None);
    refused(
        &app,
        Method::PUT,
        &format!("{GROUP}/outer"),
        &itself,
        "group.memberNames",
    )
    .await;
}

#[tokio::test]
async fn invalid_repository_names_are_refused() {
    let app = spawn_app().await;
    for name in ["Upper", "a/b", "_under", "", "a b", "x%2Fy"] {
        let body = hosted_body(name, "default", None);
        refused(&app, Method::POST, HOSTED, &body, "name").await;
    }
}

#[tokio::test]
async fn renaming_a_repository_through_put_is_refused() {
    let app = spawn_app().await;
    let body = hosted_body("other-name", "default", None);
    let message = refused(
        &app,
        Method::PUT,
        &format!("{HOSTED}/docker-hosted"),
        &body,
        "name",
    )
    .await;
    assert_eq!(message, "Renaming a repository is not supported");
}

#[tokio::test]
async fn changing_a_repositorys_type_through_put_is_refused() {
    let app = spawn_app().await;
    create(&app, "hosted", &hosted_body("h", "default", None)).await;
    let body = group_body("docker-hosted", &["h"], None, None);
    let message = refused(
        &app,
        Method::PUT,
        &format!("{GROUP}/docker-hosted"),
        &body,
        "*",
    )
    .await;
    assert!(message.contains("type cannot change"), "{message}");
}

#[tokio::test]
async fn changing_the_blob_store_of_a_hosted_repository_with_images_is_refused() {
    let app = spawn_app().await;
    create_store(&app, "docker").await;
    app.push_image("app", "1", "store-change").await;
    let body = hosted_body("docker-hosted", "docker", None);
    let message = refused(
        &app,
        Method::PUT,
        &format!("{HOSTED}/docker-hosted"),
        &body,
        "*",
    )
    .await;
    assert!(
        message.contains("blob store of a repository that holds images cannot change"),
        "{message}"
    );
}

#[tokio::test]
async fn an_empty_hosted_repository_may_move_to_another_blob_store() {
    let app = spawn_app().await;
    create_store(&app, "docker").await;
    let body = hosted_body("docker-hosted", "docker", None);
    let r = app
        .req(Method::PUT, &format!("{HOSTED}/docker-hosted"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());

    app.push_image("app", "1", "moved").await;

    let shown: serde_json::Value = app
        .req(Method::GET, &format!("{HOSTED}/docker-hosted"))
        .json_body()
        .await;
    assert_eq!(shown["storage"]["blobStoreName"], "docker");
    let docker_blobs = app.data_dir().join("blobstores/docker/blobs");
    assert!(std::fs::read_dir(docker_blobs).unwrap().count() > 0);
}

#[tokio::test]
async fn missing_required_fields_and_bad_values_are_refused_with_the_field_named() {
    let app = spawn_app().await;
    let mut no_online = hosted_body("h", "default", None);
    no_online.as_object_mut().unwrap().remove("online");
    refused(&app, Method::POST, HOSTED, &no_online, "online").await;

    let mut no_policy = hosted_body("h", "default", None);
    no_policy["storage"]
        .as_object_mut()
        .unwrap()
        .remove("writePolicy");
    refused(
        &app,
        Method::POST,
        HOSTED,
        &no_policy,
        "storage.writePolicy",
    )
    .await;

    let mut bad_policy = hosted_body("h", "default", None);
    bad_policy["storage"]["writePolicy"] = json!("SOMETIMES");
    refused(
        &app,
        Method::POST,
        HOSTED,
        &bad_policy,
        "storage.writePolicy",
    )
    .await;

    let mut https = hosted_body("h", "default", None);
    https["docker"]["httpsPort"] = json!(8443);
    refused(&app, Method::POST, HOSTED, &https, "docker.httpsPort").await;

    let empty_group = group_body("g", &[], None, None);
    refused(&app, Method::POST, GROUP, &empty_group, "group.memberNames").await;

    let mut port_zero = hosted_body("h", "default", None);
    port_zero["docker"]["httpPort"] = json!(0);
    refused(&app, Method::POST, HOSTED, &port_zero, "docker.httpPort").await;
}

#[tokio::test]
async fn malformed_json_is_a_400_list_too() {
    let app = spawn_app().await;
    for body in [
        "{not json",
        "\"a string\"",
        r#"{"name":"h","online":"yes"}"#,
    ] {
        let r = app
            .req(Method::POST, HOSTED)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_invalid(r, "*").await;
    }
    let mut port_too_big = hosted_body("h", "default", None);
    port_too_big["docker"]["httpPort"] = json!(70000);
    refused(&app, Method::POST, HOSTED, &port_too_big, "*").await;
}

#[tokio::test]
async fn unknown_repository_types_and_names_answer_404() {
    let app = spawn_app().await;
    let r = app
        .send_json(Method::POST, &format!("{REPOS}/docker/mirror"), &json!({}))
        .await;
    assert_eq!(r.status(), 404);
    // Proxy repositories exist now: an empty body is a 400 naming what is missing.
    let r = app
        .send_json(Method::POST, &format!("{REPOS}/docker/proxy"), &json!({}))
        .await;
    assert_eq!(r.status(), 400);
    let r = app
        .send_json(
            Method::PUT,
            &format!("{HOSTED}/ghost"),
            &hosted_body("ghost", "default", None),
        )
        .await;
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"], "Repository not found");
}
