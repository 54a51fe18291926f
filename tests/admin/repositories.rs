//! Creating, reading, updating and deleting repositories over REST, read back the way
//! Terraform does after every write: field by field.

use reqwest::Method;
use serde_json::json;

use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn a_hosted_repository_created_over_rest_reads_back_field_by_field() {
    let app = spawn_app().await;
    create_store(&app, "docker").await;
    let mut body = hosted_body("team-hosted", "docker", None);
    body["storage"]["writePolicy"] = json!("allow_once");
    body["storage"]["latestPolicy"] = json!(true);

    create(&app, "hosted", &body).await;

    let (status, got) = app.get_json(&format!("{HOSTED}/team-hosted")).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["name"], "team-hosted");
    assert_eq!(got["format"], "docker");
    assert_eq!(got["type"], "hosted");
    assert_eq!(got["url"], format!("{}/repository/team-hosted", app.base));
    assert_eq!(got["online"], true);
    assert_eq!(got["storage"]["blobStoreName"], "docker");
    assert_eq!(
        got["storage"]["writePolicy"], "ALLOW_ONCE",
        "upper case out"
    );
    assert_eq!(got["storage"]["latestPolicy"], true);
    assert_eq!(got["storage"]["strictContentTypeValidation"], true);
    assert_eq!(got["docker"]["httpPort"], json!(null));
    assert_eq!(got["docker"]["httpsPort"], json!(null));
    assert_eq!(got["docker"]["v1Enabled"], false);
    assert_eq!(got["component"]["proprietaryComponents"], false);
    assert!(
        got.get("group").is_none(),
        "a hosted repository has no group: {got}"
    );
}

#[tokio::test]
async fn a_group_repository_created_over_rest_reads_back_field_by_field() {
    let app = spawn_app().await;
    create(
        &app,
        "hosted",
        &hosted_body("second-hosted", "default", None),
    )
    .await;
    let body = group_body(
        "team-group",
        &["docker-hosted", "second-hosted"],
        Some("second-hosted"),
        None,
    );

    create(&app, "group", &body).await;

    let (status, got) = app.get_json(&format!("{GROUP}/team-group")).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["name"], "team-group");
    assert_eq!(got["format"], "docker");
    assert_eq!(got["type"], "group");
    assert_eq!(got["url"], format!("{}/repository/team-group", app.base));
    assert_eq!(got["online"], true);
    assert_eq!(got["storage"]["blobStoreName"], "default");
    assert_eq!(
        got["group"]["memberNames"],
        json!(["docker-hosted", "second-hosted"])
    );
    assert_eq!(got["group"]["writableMember"], "second-hosted");
    assert!(got["storage"].get("writePolicy").is_none(), "{got}");
}

#[tokio::test]
async fn a_group_without_a_writable_member_omits_the_field() {
    let app = spawn_app().await;
    create_group(&app, "g", &["docker-hosted"]).await;
    let (_, got) = app.get_json(&format!("{GROUP}/g")).await;
    assert!(got["group"].get("writableMember").is_none(), "{got}");
}

#[tokio::test]
async fn the_repository_list_shows_format_type_and_url_of_each_repository() {
    let app = spawn_app().await;
    create_group(&app, "a-group", &["docker-hosted"]).await;

    let (status, list) = app.get_json(REPOS).await;

    assert_eq!(status, 200);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[0]["name"], "a-group");
    assert_eq!(list[0]["type"], "group");
    assert_eq!(list[1]["name"], "docker-hosted");
    assert_eq!(list[1]["type"], "hosted");
    for repo in list {
        assert_eq!(repo["format"], "docker");
        assert_eq!(
            repo["url"],
            format!("{}/repository/{}", app.base, repo["name"].as_str().unwrap())
        );
    }
    let (status, one) = app.get_json(&format!("{REPOS}/a-group")).await;
    assert_eq!(status, 200);
    assert_eq!(one, list[0]);
}

#[tokio::test]
async fn an_update_replaces_the_definition_and_reads_back() {
    let app = spawn_app().await;
    create(&app, "hosted", &hosted_body("h", "default", None)).await;
    let mut body = hosted_body("h", "default", None);
    body["online"] = json!(false);
    body["storage"]["writePolicy"] = json!("Deny");

    let r = app
        .send_json(Method::PUT, &format!("{HOSTED}/h"), &body)
        .await;

    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let (_, got) = app.get_json(&format!("{HOSTED}/h")).await;
    assert_eq!(got["online"], false);
    assert_eq!(got["storage"]["writePolicy"], "DENY");
}

#[tokio::test]
async fn a_get_result_put_back_unchanged_is_accepted_and_changes_nothing() {
    let app = spawn_app().await;
    create(
        &app,
        "group",
        &group_body("g", &["docker-hosted"], Some("docker-hosted"), None),
    )
    .await;
    let (_, before) = app.get_json(&format!("{GROUP}/g")).await;

    // The GET result carries format/type/url and fields Berth does not model: all ignored.
    let r = app
        .send_json(Method::PUT, &format!("{GROUP}/g"), &before)
        .await;

    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    assert_eq!(app.get_json(&format!("{GROUP}/g")).await.1, before);
}

#[tokio::test]
async fn a_repository_of_another_type_is_not_found_under_the_wrong_type_path() {
    let app = spawn_app().await;

    let (status, body) = app.get_json(&format!("{GROUP}/docker-hosted")).await;

    assert_eq!(status, 404);
    assert_eq!(body["message"], "Repository not found");
    assert_eq!(app.get_json(&format!("{HOSTED}/nothing")).await.0, 404);
    assert_eq!(app.get_json(&format!("{REPOS}/nothing")).await.0, 404);
}

#[tokio::test]
async fn a_deleted_repository_is_gone_from_the_list_and_answers_404() {
    let app = spawn_app().await;
    create(&app, "hosted", &hosted_body("h", "default", None)).await;
    app.push_image("repository/h/app", "1", "deleted").await;

    assert_eq!(app.delete(&format!("{REPOS}/h")).await, 204);

    assert_eq!(app.get_json(&format!("{HOSTED}/h")).await.0, 404);
    let (_, list) = app.get_json(REPOS).await;
    assert!(!list.to_string().contains("\"h\""), "{list}");
    assert_eq!(app.delete(&format!("{REPOS}/h")).await, 404);
    // Re-created under the same name, it starts empty.
    create(&app, "hosted", &hosted_body("h", "default", None)).await;
    let r = app
        .req(Method::GET, "/v2/repository/h/app/tags/list")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn deleting_a_repository_that_a_group_names_is_refused() {
    let app = spawn_app().await;
    create_group(&app, "g", &["docker-hosted"]).await;

    let r = app
        .req(Method::DELETE, &format!("{REPOS}/docker-hosted"))
        .send()
        .await
        .unwrap();

    let message = assert_invalid(r, "*").await;
    assert!(message.contains("member of group g"), "{message}");
    assert_eq!(
        app.get_json(&format!("{HOSTED}/docker-hosted")).await.0,
        200
    );
}

#[tokio::test]
async fn repositories_and_blob_stores_created_over_rest_survive_a_restart() {
    let mut app = spawn_app().await;
    create_store(&app, "docker").await;
    create(&app, "hosted", &hosted_body("h", "docker", None)).await;
    create(&app, "group", &group_body("g", &["h"], Some("h"), None)).await;
    app.push_image("repository/g/app", "1", "kept").await;
    let before = snapshot(&app).await;

    app.restart().await;

    // URLs name the new port; everything else is identical.
    let after = snapshot(&app).await.to_string();
    let before = before.to_string();
    let old_port = before
        .split("127.0.0.1:")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let new_port = app.addr.rsplit(':').next().unwrap();
    assert_eq!(after, before.replace(old_port, new_port));
    let r = app
        .req(Method::GET, "/v2/repository/h/app/manifests/1")
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_hosted_repository_reports_the_bytes_and_blobs_its_images_hold() {
    let app = spawn_app().await;
    let (_, manifest) = app.push_image("app", "1", "usage").await;
    // Same content under a second image: shared blobs count once per repository.
    app.push_image("other", "1", "usage").await;

    let shown: serde_json::Value = app
        .req(Method::GET, "/service/rest/v1/repositories/docker-hosted")
        .json_body()
        .await;

    let expected = "{\"seed\":\"usage\"}".len() + "layer of usage".len() + manifest.len();
    assert_eq!(shown["blobCount"], json!(3));
    assert_eq!(shown["size"], json!(expected));
}
