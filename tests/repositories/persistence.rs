//! Repositories declared in the configuration file keep their content and settings across
//! restarts, and starting again with the same file changes nothing.

use reqwest::Method;

use crate::common::*;
use crate::support::*;

const DECLARED: &str = r#"
[[blob_stores]]
name = "kept"
path = "kept"

[[repositories]]
name = "docker-hosted"
type = "hosted"
blob_store = "kept"
write_policy = "ALLOW_ONCE"

[[repositories]]
name = "other-hosted"
type = "hosted"

[[repositories]]
name = "docker-group"
type = "group"
members = ["docker-hosted", "other-hosted"]
writable_member = "docker-hosted"
"#;

#[tokio::test]
async fn declared_repositories_keep_their_content_across_a_restart() {
    // Arrange
    let (mut app, _config) = spawn_with_config(DECLARED).await;
    let hosted = app
        .push_blobs_of("repository/docker-group/app", Image::seeded("hosted"))
        .await;
    let r = app
        .put_image("repository/docker-group/app", "v1", &hosted)
        .await;
    assert_eq!(r.status(), 201);
    let (other, _) = app
        .push_image("repository/other-hosted/app", "v2", "other")
        .await;
    // Act
    app.restart().await;
    // Assert
    assert_eq!(
        digest_of(&app, "repository/docker-hosted/app", "v1").await,
        hosted.digest
    );
    assert_eq!(
        digest_of(&app, "repository/docker-group/app", "v1").await,
        hosted.digest
    );
    assert_eq!(
        digest_of(&app, "repository/docker-group/app", "v2").await,
        other
    );
    let r = app
        .req(
            Method::GET,
            &format!("/v2/repository/docker-group/app/blobs/{}", hosted.layer().0),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), hosted.layer().1);
    let (_, tags) = get_json(&app, "/v2/repository/docker-group/app/tags/list").await;
    assert_eq!(strings(&tags["tags"]), ["v1", "v2"]);
}

#[tokio::test]
async fn starting_twice_with_the_same_configuration_is_idempotent() {
    // Arrange
    let (mut app, _config) = spawn_with_config(DECLARED).await;
    let (digest, _) = app
        .push_image("repository/docker-hosted/app", "v1", "once")
        .await;
    let (_, catalog_before) = get_json(&app, "/repository/docker-group/v2/_catalog").await;
    // Act
    app.restart().await;
    app.restart().await;
    // Assert: same content, same policy, same group wiring.
    let (_, catalog_after) = get_json(&app, "/repository/docker-group/v2/_catalog").await;
    assert_eq!(catalog_after, catalog_before);
    assert_eq!(
        digest_of(&app, "repository/docker-group/app", "v1").await,
        digest
    );
    let moved = app
        .push_blobs_of("repository/docker-hosted/app", Image::seeded("moved"))
        .await;
    let r = app
        .put_image("repository/docker-hosted/app", "v1", &moved)
        .await;
    let body = assert_oci_error(r, 403, "DENIED").await;
    assert!(message(&body).contains("ALLOW_ONCE"), "{body}");
    let (pushed, _) = app
        .push_image("repository/docker-group/new", "v1", "new")
        .await;
    assert_eq!(
        digest_of(&app, "repository/docker-hosted/new", "v1").await,
        pushed
    );
    let kept = app.data_dir().join("blobstores").join("kept");
    assert!(blob_file(&kept, &pushed).is_file());
    assert!(
        !app.log().contains("ERROR"),
        "restarts logged errors:\n{}",
        app.log()
    );
}

#[tokio::test]
async fn a_changed_policy_in_the_file_applies_at_the_next_start() {
    // Arrange
    let (mut app, config) = spawn_with_config(DECLARED).await;
    let name = "repository/docker-hosted/app";
    app.push_image(name, "v1", "first").await;
    let second = app.push_blobs_of(name, Image::seeded("second")).await;
    let r = app.put_image(name, "v1", &second).await;
    assert_oci_error(r, 403, "DENIED").await;
    // Act
    config.rewrite(&DECLARED.replace("ALLOW_ONCE", "ALLOW"));
    app.restart().await;
    // Assert
    let r = app.put_image(name, "v1", &second).await;
    assert_eq!(r.status(), 201);
    assert_eq!(digest_of(&app, name, "v1").await, second.digest);
}
