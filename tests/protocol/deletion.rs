//! Content management (spec "Deleting tags", "Deleting manifests", "Deleting blobs"): 202
//! on success, the deleted thing is gone (404), and nothing else is.

use reqwest::Method;

use crate::common::*;
use crate::support::*;

async fn delete(app: &TestApp, path: &str) -> reqwest::Response {
    app.req(Method::DELETE, path).send().await.unwrap()
}

#[tokio::test]
async fn deleting_a_tag_removes_only_the_tag_and_keeps_the_manifest_by_digest() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "del/tag", "v1", "a").await;
    let r = app
        .put_manifest("del/tag", "stable", OCI_MANIFEST, &image.manifest)
        .await;
    assert_eq!(r.status(), 201);
    // Act
    let r = delete(&app, "/v2/del/tag/manifests/v1").await;
    // Assert
    assert_eq!(r.status(), 202);
    assert_eq!(head_status(&app, "/v2/del/tag/manifests/v1").await, 404);
    assert_eq!(tags_of(&app, "del/tag").await, vec!["stable"]);
    let path = format!("/v2/del/tag/manifests/{}", image.digest);
    let (status, body) = get_bytes(&app, &path).await;
    assert_eq!((status, body), (200, image.manifest));
}

#[tokio::test]
async fn deleting_a_manifest_by_digest_removes_it_and_every_tag_pointing_at_it() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "del/manifest", "v1", "a").await;
    let other = push_known_image(&app, "del/manifest", "other", "b").await;
    for tag in ["v1.0", "latest"] {
        let r = app
            .put_manifest("del/manifest", tag, OCI_MANIFEST, &image.manifest)
            .await;
        assert_eq!(r.status(), 201);
    }
    let path = format!("/v2/del/manifest/manifests/{}", image.digest);
    // Act
    let r = delete(&app, &path).await;
    // Assert
    assert_eq!(r.status(), 202);
    let get = app.req(Method::GET, &path).send().await.unwrap();
    assert_oci_error(get, 404, "MANIFEST_UNKNOWN").await;
    for tag in ["v1", "v1.0", "latest"] {
        let tag_path = format!("/v2/del/manifest/manifests/{tag}");
        assert_eq!(head_status(&app, &tag_path).await, 404, "{tag}");
    }
    assert_eq!(tags_of(&app, "del/manifest").await, vec!["other"]);
    assert_intact(&app, &other).await;
}

#[tokio::test]
async fn deleting_a_manifest_keeps_its_blobs() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "del/keepblobs", "v1", "a").await;
    // Act
    let r = delete(
        &app,
        &format!("/v2/del/keepblobs/manifests/{}", image.digest),
    )
    .await;
    // Assert
    assert_eq!(r.status(), 202);
    for (digest, bytes) in &image.blobs {
        let (status, body) = get_bytes(&app, &format!("/v2/del/keepblobs/blobs/{digest}")).await;
        assert_eq!((status, &body), (200, bytes));
    }
}

#[tokio::test]
async fn deleting_an_unknown_manifest_or_tag_returns_404_manifest_unknown() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "del/unknown", "v1", "a").await;
    let missing = sha256(b"not a manifest");
    for reference in ["nope", missing.as_str()] {
        // Act
        let r = delete(&app, &format!("/v2/del/unknown/manifests/{reference}")).await;
        // Assert
        assert_oci_error(r, 404, "MANIFEST_UNKNOWN").await;
    }
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn deleting_twice_returns_404_the_second_time() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "del/twice", "v1", "a").await;
    let path = format!("/v2/del/twice/manifests/{}", image.digest);
    assert_eq!(delete(&app, &path).await.status(), 202);
    // Act
    let r = delete(&app, &path).await;
    // Assert
    assert_oci_error(r, 404, "MANIFEST_UNKNOWN").await;
}

#[tokio::test]
async fn deleting_in_an_unknown_image_returns_404() {
    // Arrange
    let app = spawn_app().await;
    let digest = sha256(b"x");
    // Act
    let manifest = delete(&app, "/v2/del/ghost/manifests/v1").await;
    let blob = delete(&app, &format!("/v2/del/ghost/blobs/{digest}")).await;
    // Assert
    assert_oci_error(manifest, 404, "NAME_UNKNOWN").await;
    assert_oci_error(blob, 404, "NAME_UNKNOWN").await;
}

#[tokio::test]
async fn a_deleted_tag_can_be_pushed_again() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "del/again", "v1", "a").await;
    assert_eq!(
        delete(&app, "/v2/del/again/manifests/v1").await.status(),
        202
    );
    // Act
    let r = app
        .put_manifest("del/again", "v1", OCI_MANIFEST, &image.manifest)
        .await;
    // Assert
    assert_eq!(r.status(), 201);
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn deleting_a_blob_returns_202_and_then_it_is_404() {
    // Arrange
    let app = spawn_app().await;
    let digest = app.push_blob("del/blob", b"doomed").await;
    let keep = app.push_blob("del/blob", b"kept").await;
    let path = format!("/v2/del/blob/blobs/{digest}");
    // Act
    let r = delete(&app, &path).await;
    // Assert
    assert_eq!(r.status(), 202);
    let get = app.req(Method::GET, &path).send().await.unwrap();
    assert_oci_error(get, 404, "BLOB_UNKNOWN").await;
    assert_eq!(head_status(&app, &path).await, 404);
    let again = delete(&app, &path).await;
    assert_oci_error(again, 404, "BLOB_UNKNOWN").await;
    let (status, body) = get_bytes(&app, &format!("/v2/del/blob/blobs/{keep}")).await;
    assert_eq!((status, body.as_slice()), (200, &b"kept"[..]));
}

#[tokio::test]
async fn deleting_a_blob_in_one_image_keeps_it_in_another() {
    // Arrange
    let app = spawn_app().await;
    let digest = app.push_blob("del/shared-a", b"shared").await;
    app.push_blob("del/shared-b", b"shared").await;
    // Act
    let r = delete(&app, &format!("/v2/del/shared-a/blobs/{digest}")).await;
    // Assert
    assert_eq!(r.status(), 202);
    assert_eq!(
        head_status(&app, &format!("/v2/del/shared-a/blobs/{digest}")).await,
        404
    );
    let (status, body) = get_bytes(&app, &format!("/v2/del/shared-b/blobs/{digest}")).await;
    assert_eq!((status, body.as_slice()), (200, &b"shared"[..]));
}

#[tokio::test]
async fn a_deleted_blob_can_be_pushed_again() {
    // Arrange
    let app = spawn_app().await;
    let digest = app.push_blob("del/repush", b"phoenix").await;
    let path = format!("/v2/del/repush/blobs/{digest}");
    assert_eq!(delete(&app, &path).await.status(), 202);
    // Act
    app.push_blob("del/repush", b"phoenix").await;
    // Assert
    let (status, body) = get_bytes(&app, &path).await;
    assert_eq!((status, body.as_slice()), (200, &b"phoenix"[..]));
}
